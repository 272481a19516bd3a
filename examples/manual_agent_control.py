"""The specification's manual agent control: create, read, update (send) and delete an agent yourself.

    python examples/manual_agent_control.py                  # agents use Claude (ANTHROPIC_API_KEY or a logged-in CLI)
    ORC_SCRIPTED=1 python examples/manual_agent_control.py   # offline: orc's scripted model, no credentials, no cost

``create_agent`` returns the agent's id (a ``str``: print it, store it, pass it to ``orc agents send``), which also
works as the agent: ``await agent.execute_task(...)``, ``agent.get_context_window_usage()``.
"""

import asyncio
import sys

from orchestrator_core import AgentRole, OrcError, Orchestrator


async def main() -> None:
    async with Orchestrator() as orchestrator:
        # CREATE
        scout_id = await orchestrator.create_agent(role=AgentRole.SCOUT, name="My Planner")
        print(f"created {scout_id}")

        # READ
        details = orchestrator.get_agent_details(scout_id)
        print(f"{details['name']}: {details['role']}, {details['status']}")

        # UPDATE (send messages)
        response = await orchestrator.send_to_agent(scout_id, "Find all Python files")
        print(response)

        # DELETE
        await orchestrator.delete_agent(scout_id)

        # The same, with the agent as an object
        try:
            agent = await orchestrator.create_agent(role=AgentRole.SCOUT, name="Second scout")
            result = await agent.execute_task("Find all Python files")
            usage = agent.get_context_window_usage()
            print(
                f"{agent.name} answered {len(result)} characters; context {usage['usage_percentage']}% used"
            )
        finally:
            await orchestrator.delete_agent(agent.agent_id)
        print(f"{agent.agent_id} is {agent.status.value}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OrcError as error:
        error.show()
        sys.exit(error.exit_code)
