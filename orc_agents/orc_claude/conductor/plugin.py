"""The orchestrator agent's hooks: its role, the one-subtask plan of ``--orchestrator agent``, ``orc chat``, its demo.

Per-Orchestrator state lives in a :class:`Conductor` registered on that Orchestrator's plugin manager as
``orc-conductor``; it gives every ``orchestrator`` session a :class:`~.fleet.Fleet` and its tools.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import click

from orchestrator_core import Agent, EventKind, Orchestrator, Plan, Role, Subtask, hookimpl
from orchestrator_core.config import choice

from .fleet import Fleet
from .role import INSTRUCTION, ROLE, SERVER
from .role import NAME as ORCHESTRATOR
from .tools import fleet_server, tool_names

PLUGIN_NAME = "orc-conductor"


class Conductor:
    """Serves the fleet tools to the ``orchestrator`` sessions of one Orchestrator."""

    def __init__(self, orc: Orchestrator) -> None:
        self.orc = orc
        #: Orchestrator agent id -> its fleet, while its session is open.
        self.fleets: dict[str, Fleet] = {}
        self._installed = False

    def install(self) -> str | None:
        """Hook into the runtime (the Orchestrator must be started); a reason if the runtime cannot serve tools."""
        if self._installed:
            return None
        extras = getattr(self.orc.agents.runtime, "session_extras", None)
        if extras is None:
            return (
                "the orchestrator agent needs orc_claude's runtime, which serves its fleet tools in-process; "
                "run without another runtime plugin, or use --orchestrator plan"
            )
        extras.append(self._extras)
        self._installed = True
        return None

    def _extras(self, agent: Agent, role: Role) -> Any:
        return self._serve(agent) if role.name == ORCHESTRATOR else None

    @contextlib.asynccontextmanager
    async def _serve(self, agent: Agent) -> AsyncIterator[dict[str, Any]]:
        fleet = Fleet(self.orc.agents, self.orc.config, agent, self._run_of(agent))
        self.fleets[agent.id] = fleet
        try:
            async with fleet.running():
                yield {"mcp_servers": {SERVER: fleet_server(fleet)}, "allowed_tools": tool_names()}
        finally:
            self.fleets.pop(agent.id, None)

    def _run_of(self, agent: Agent) -> Any:
        return self.orc.run_of(agent.task_id) if agent.task_id else None

    @hookimpl
    def orc_subtask_veto(self, task: Any, subtask: Subtask) -> str | None:
        """Not a veto unless the runtime cannot serve the tools: the last moment before the session opens."""
        return self.install() if subtask.role == ORCHESTRATOR else None

    @hookimpl
    def orc_event(self, event: Any) -> None:
        if event.kind is EventKind.FILE_ACCESS and self.fleets:
            for fleet in self.fleets.values():
                fleet.file_access(event.agent_id, event.payload.get("path"), event.payload.get("operation"))


def conductor_for(orc: Orchestrator) -> Conductor:
    """The Conductor of ``orc``, registered on its plugin manager the first time it is needed.

    The ``orchestrator`` role joins ``orc.roles`` here, not through ``orc_register_roles``: it only works with its
    fleet tools, so it is no role for a planner's team, and ``orc roles`` lists the team roles only.
    """
    orc.roles.setdefault(ORCHESTRATOR, attrs.evolve(ROLE, provided_by="orc_claude"))
    found = orc.pm.get_plugin(PLUGIN_NAME)
    if found is not None and found.orc is not orc and not found.fleets:
        # A plugin manager shared by a later Orchestrator (tests do this): serve the new one.
        orc.pm.unregister(found)
        found = None
    if found is None:
        found = Conductor(orc)
        orc.pm.register(found, PLUGIN_NAME)
    return found


#: Who runs the fleet: ``plan`` (a plan made up front, run by an executor) or ``agent`` (the orchestrator agent).
SETTING = "ORC_ORCHESTRATOR"


@hookimpl
def orc_addoption(parser):
    parser.add_setting(
        SETTING,
        parse=choice("plan", "agent"),
        default="plan",
        help="agent: an orchestrator agent creates and commands the team as it goes; plan: a plan "
        "made up front.",
    )
    parser.add_option("--orchestrator", setting=SETTING, type=click.Choice(["plan", "agent"]))


@hookimpl(tryfirst=True)
def orc_make_plan(prompt, roles, config, orc):
    """tryfirst: with ``--orchestrator agent`` the plan is the orchestrator agent alone; no planner is asked."""
    if config.get(SETTING) != "agent":
        return None
    conductor_for(orc)
    instruction = INSTRUCTION + (f" Prefer these roles: {', '.join(roles)}." if roles else "")
    return Plan([Subtask(ORCHESTRATOR, ORCHESTRATOR, instruction)], task_type="agent")


@hookimpl
def orc_register_commands(cli):
    from .chat import chat

    cli.add_command(chat)


@hookimpl
def orc_scripted_model(model):
    from .scripted import demo

    model.script(demo(), match=ROLE.system_prompt, name=ORCHESTRATOR)
