"""The specification's observability: the fleet, files consumed vs produced, per-agent metrics, and the run store.

    python examples/observability_demo.py                  # agents use Claude (ANTHROPIC_API_KEY or a logged-in CLI)
    ORC_SCRIPTED=1 python examples/observability_demo.py   # offline: orc's scripted model, no credentials, no cost

The agents work in the current directory; every run is recorded in ORCHESTRATOR_DB_PATH (see `orc browse`).
"""

import asyncio
import sys

from orchestrator_core import AgentRole, OrcError, Orchestrator
from orchestrator_core.storage import Database


async def main() -> None:
    async with Orchestrator(enable_monitoring=True) as orchestrator:
        await orchestrator.execute_custom_workflow(
            prompt="Add CSV export", roles=[AgentRole.BUILDER, AgentRole.REVIEWER]
        )

        # Get comprehensive status
        status = orchestrator.get_status()

        # Fleet metrics
        print(status["fleet"])

        # Files consumed vs produced
        print(status["monitoring"]["files"])

        # Per-agent breakdown
        agents = orchestrator.list_agents()
        for agent in agents:
            print(agent["metrics"])

        # Everything recorded, in every process so far
        async with Database(orchestrator.config.db_path) as db:
            print(f"total cost ${await db.get_total_cost()}, by role {await db.get_cost_by_role()}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OrcError as error:
        error.show()
        sys.exit(error.exit_code)
