"""The specification's parallel execution: three agents on the same task at once, each on the task alone.

    python examples/parallel_execution.py                  # agents use Claude (ANTHROPIC_API_KEY or a logged-in CLI)
    ORC_SCRIPTED=1 python examples/parallel_execution.py   # offline: orc's scripted model, no credentials, no cost

At most ORCHESTRATOR_MAX_PARALLEL_AGENTS (5) agents work at once. The agents work in the current directory.
"""

import asyncio
import sys

from orchestrator_core import AgentRole, OrcError, Orchestrator


async def main() -> None:
    async with Orchestrator() as orchestrator:
        result = await orchestrator.execute_custom_workflow(
            prompt="Analyze code quality",
            roles=[AgentRole.REVIEWER, AgentRole.ANALYST, AgentRole.TESTER],
            parallel=True,  # 3x faster!
        )
        busy = sum(s.metrics.duration_s for s in result.subtasks)
        print(
            f"Success: {result.success}: {len(result.subtasks)} agents, {busy:.1f}s of agent time "
            f"in {result.elapsed_s:.1f}s"
        )
        for subtask in result.subtasks:
            print(f"--- {subtask.role}\n{subtask.output}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OrcError as error:
        error.show()
        sys.exit(error.exit_code)
