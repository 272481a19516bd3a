"""The README's Python example: run a team, then use an agent directly.

    python examples/quickstart.py                  # agents use Claude (ANTHROPIC_API_KEY or a logged-in CLI)
    ORC_SCRIPTED=1 python examples/quickstart.py   # offline: orc's scripted model, no credentials, no cost

Tests run it both ways: with ORC_SCRIPTED=1, and with ANTHROPIC_BASE_URL pointing at a test's scripted model.
"""

import asyncio
import sys

from orchestrator_core import AgentRole, OrcError, Orchestrator


async def main() -> None:
    async with Orchestrator(enable_monitoring=True) as orc:
        result = await orc.execute(
            prompt="Add CSV export", task_type="feature_implementation", execution_mode="sequential"
        )
        print(result.success, result.metrics.total_cost, result.metrics.total_tokens)
        print(result.output)

        scout = await orc.create_agent(role=AgentRole.SCOUT, name="My scout")
        print(await orc.send_to_agent(scout.id, "Find all Python files"))
        print(orc.get_agent_details(scout.id)["context_usage"])
        await orc.delete_agent(scout.id)

        await orc.execute_custom_workflow(
            "Add CSV export", roles=[AgentRole.SCOUT, AgentRole.BUILDER], parallel=False
        )


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OrcError as error:  # one line that says what to do (and orc's exit code), not a traceback
        error.show()
        sys.exit(error.exit_code)
