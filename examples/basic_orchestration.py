"""The specification's basic orchestration: one prompt, and orc picks the team (task type ``auto``).

    python examples/basic_orchestration.py                  # agents use Claude (ANTHROPIC_API_KEY or a logged-in CLI)
    ORC_SCRIPTED=1 python examples/basic_orchestration.py   # offline: orc's scripted model, no credentials, no cost

The agents work in the current directory. An orc error ends the script with its one line (and orc's exit code).
"""

import asyncio
import sys

from orchestrator_core import OrcError, Orchestrator


async def main() -> None:
    orchestrator = Orchestrator(enable_monitoring=True)
    try:
        await orchestrator.start()

        result = await orchestrator.execute(
            prompt="Find all Python files and analyze their structure", task_type="auto"
        )

        print(f"Success: {result.success}")
        print(f"Cost: ${result.metrics.total_cost:.4f}")
        print(f"Agents: {', '.join(s.role for s in result.subtasks)}")
        print(f"Output: {result.output}")
    finally:
        await orchestrator.stop()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OrcError as error:
        error.show()
        sys.exit(error.exit_code)
