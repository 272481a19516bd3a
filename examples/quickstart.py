"""The README's Python example: run a team, then use an agent directly.

    python examples/quickstart.py

With ANTHROPIC_API_KEY set (or a logged-in Claude CLI) it talks to Claude; tests run it against orc's scripted
model by pointing ANTHROPIC_BASE_URL at it.
"""

import asyncio

from orchestrator_core import AgentRole, Orchestrator


async def main() -> None:
    async with Orchestrator(enable_monitoring=True) as orc:
        result = await orc.execute(prompt="Add CSV export", task_type="feature_implementation",
                                   execution_mode="sequential")
        print(result.success, result.metrics.total_cost, result.metrics.total_tokens)
        print(result.output)

        scout = await orc.create_agent(role=AgentRole.SCOUT, name="My scout")
        print(await orc.send_to_agent(scout.id, "Find all Python files"))
        print(orc.get_agent_details(scout.id)["context_usage"])
        await orc.delete_agent(scout.id)

        await orc.execute_custom_workflow("Add CSV export", roles=[AgentRole.SCOUT, AgentRole.BUILDER],
                                          parallel=False)


if __name__ == "__main__":
    asyncio.run(main())
