"""The specification's specialised agents: a team you choose, one after another, each getting the last's result.

    python examples/specialized_agents.py                  # agents use Claude (ANTHROPIC_API_KEY or a logged-in CLI)
    ORC_SCRIPTED=1 python examples/specialized_agents.py   # offline: orc's scripted model, no credentials, no cost

The agents work in the current directory (the builder writes a file there).
"""

import asyncio
import sys

from orchestrator_core import AgentRole, OrcError, Orchestrator


async def main() -> None:
    async with Orchestrator() as orchestrator:
        result = await orchestrator.execute_custom_workflow(
            prompt="Add factorial calculation feature",
            roles=[
                AgentRole.SCOUT,  # Find relevant files
                AgentRole.BUILDER,  # Implement feature
                AgentRole.TESTER,  # Write tests
                AgentRole.REVIEWER,  # Review code
            ],
            parallel=False,
        )
        for subtask in result.subtasks:
            print(f"{subtask.role:<9} {subtask.status.value:<9} ${subtask.metrics.total_cost:.4f}")
        print(f"Success: {result.success}, cost ${result.metrics.total_cost:.4f}")
        print(result.output)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OrcError as error:
        error.show()
        sys.exit(error.exit_code)
