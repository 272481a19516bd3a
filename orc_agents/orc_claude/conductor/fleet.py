"""The fleet an orchestrator agent commands: its agents, their turns in the background, and the run's limits.

Every method a tool calls returns JSON-able data or raises :class:`FleetError`, whose message goes back to the
model as an error result: a refused call says why, an unknown id is the model's mistake, not a crash (#13).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import anyio.abc
import attrs

from orchestrator_core import Agent, AgentManager, AgentStatus, Config, EventKind, OrcError, Run, bound

from .role import NAME as ORCHESTRATOR

#: How much of an agent's latest result ``agent_status`` shows; ``read_result`` gives the rest.
SUMMARY_CHARS = 300
#: How many touched files ``agent_status`` lists per agent.
FILES_SHOWN = 20
#: The longest one ``wait_for_agents`` call blocks (the CLI times out MCP tool calls); the model can wait again.
MAX_WAIT_SECONDS = 240.0
DEFAULT_WAIT_SECONDS = 60.0


class FleetError(Exception):
    """A tool call the fleet refuses; the message tells the model why and what to do instead."""


@attrs.define
class Member:
    """One agent of the fleet, as the orchestrator sees it."""

    agent_id: str
    instructions: str
    turns: int = 0
    working: bool = False
    #: True once the agent got its first message (the task and its part).
    briefed: bool = False
    last_text: str = ""
    last_error: str | None = None
    #: Path -> the last operation on it (read, write, edit, search), from the agent's file events.
    files: dict[str, str] = attrs.field(factory=dict)
    done: anyio.Event = attrs.field(factory=anyio.Event)
    scope: anyio.CancelScope | None = None


class Fleet:
    """The agents one orchestrator agent created, bound to its run's limits.

    :param agents: the Orchestrator's agent manager.
    :param parent: the orchestrator agent.
    :param run: the run the orchestrator agent works in (``orc execute``); None for ``orc chat``.
    """

    def __init__(self, agents: AgentManager, config: Config, parent: Agent, run: Run | None = None) -> None:
        self.agents = agents
        self.config = config
        self.parent_id = parent.id
        self.cwd = parent.cwd
        self.task_id = parent.task_id
        self.run = run
        #: The task every agent's first message names: the run's prompt, or (in a chat) the user's first words.
        self.task: str | None = run.task.prompt if run is not None else None
        self.members: dict[str, Member] = {}
        self.started = run.monotonic_start if run is not None else time.monotonic()
        self._group: anyio.abc.TaskGroup | None = None

    # -- lifetime ---------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Fleet]:
        """While inside, commanded agents work in the background; leaving stops them and deletes every agent."""
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                try:
                    yield self
                finally:
                    self._group = None
                    group.cancel_scope.cancel()
        finally:
            # After the group: no agent's session is still closing when its transcript goes.
            with anyio.CancelScope(shield=True):
                if not self.config.keep_agents:
                    for member in self.members.values():
                        with contextlib.suppress(OrcError):
                            if self.agents.get(member.agent_id).status is not AgentStatus.DELETED:
                                await self.agents.delete(member.agent_id)

    # -- limits -----------------------------------------------------------------------------------------------

    def cost(self) -> float:
        """What the run (or, in a chat, the orchestrator and its fleet) has cost in finished turns."""
        if self.run is not None:
            return self.run.cost
        ids = [self.parent_id, *self.members]
        return sum(self.agents.get(a).metrics.cost_usd for a in ids)

    def remaining_seconds(self) -> float | None:
        limit = self.config.timeout_seconds
        return None if limit is None else limit - (time.monotonic() - self.started)

    def _check_budget(self, doing: str) -> None:
        limit = self.config.max_cost_usd
        cost = self.cost()
        if limit is not None and cost >= limit:
            raise FleetError(
                f"refused to {doing}: the run has cost ${cost:.4f}, reaching its limit of ${limit:.4f} (max cost); "
                "finish with what you have"
            )
        remaining = self.remaining_seconds()
        if remaining is not None and remaining <= 0:
            raise FleetError(
                f"refused to {doing}: the run is out of time (timeout {self.config.timeout_seconds:g}s)"
            )

    # -- what the tools call ----------------------------------------------------------------------------------

    def list_roles(self) -> list[dict[str, Any]]:
        return [
            {"role": r.name, "description": r.description, "tools": list(r.tools)}
            for r in self.agents.roles.values()
            if r.name != ORCHESTRATOR
        ]

    def create(self, role: str, name: str | None, instructions: str) -> dict[str, Any]:
        known = [r for r in self.agents.roles if r != ORCHESTRATOR]
        if role not in known:
            raise FleetError(f"unknown role {role!r}; the roles are: {', '.join(known)}")
        limit = self.config.max_agents
        if limit is not None and len(self.members) >= limit:
            raise FleetError(
                f"refused to create an agent: this run may create at most {limit} (max agents) and you created "
                f"{len(self.members)}; command the agents you have, or finish"
            )
        self._check_budget("create an agent")
        agent = self.agents.create(
            role, name=name or None, cwd=self.cwd, task_id=self.task_id, parent_id=self.parent_id
        )
        self.members[agent.id] = Member(agent.id, instructions)
        self.members[agent.id].done.set()
        if self.run is not None:
            # The run's own accounting: its cost, its status snapshots, its end-of-task deletion and metrics.
            self.run.created.append(agent.id)
        # The orchestrator's own events name each child too, for people reading its timeline.
        self.agents.emitter(self.parent_id)(
            EventKind.NOTICE,
            {
                "message": f"created agent {agent.id} ({role})",
                "child_agent_id": agent.id,
                "role": role,
                "parent_agent_id": self.parent_id,
            },
        )
        return self.describe(agent.id)

    def command(self, agent_id: str, message: str) -> dict[str, Any]:
        member = self._member(agent_id, for_work=True)
        if member.working:
            raise FleetError(
                f"agent {agent_id} is still working on its last command; wait_for_agents, then command it"
            )
        working = sum(m.working for m in self.members.values())
        if working >= self.config.max_parallel_agents:
            raise FleetError(
                f"refused to command {agent_id}: {working} agents are working, the run's limit (max parallel "
                f"agents {self.config.max_parallel_agents}); wait_for_agents, then command it"
            )
        self._check_budget(f"command {agent_id}")
        if self._group is None:
            raise FleetError("the fleet is closed; no agent can be commanded any more")
        if not member.briefed:
            message = self._first_message(member, message)
            member.briefed = True
        member.working = True
        member.done = anyio.Event()
        self._group.start_soon(self._work, member, message)
        return self.describe(agent_id)

    def status(self, agent_id: str | None = None) -> dict[str, Any]:
        if agent_id:
            return self.describe(self._member(agent_id).agent_id)
        agents = [self.describe(a) for a in self.members]
        return {
            "agents": agents,
            "working": sum(m.working for m in self.members.values()),
            "run_cost_usd": round(self.cost(), 6),
        }

    def read(self, agent_id: str, offset: int = 0) -> dict[str, Any]:
        member = self._member(agent_id)
        text = member.last_text
        if offset < 0 or (offset > len(text)):
            raise FleetError(f"offset {offset} is outside the result ({len(text)} characters)")
        piece = text[offset : offset + self.config.max_result_chars]
        end = offset + len(piece)
        answer: dict[str, Any] = {
            "agent_id": agent_id,
            "offset": offset,
            "total_chars": len(text),
            "next_offset": end if end < len(text) else None,
            "text": piece,
        }
        if member.working:
            answer["note"] = "the agent is still working: this is its previous result"
        if member.last_error:
            answer["error"] = bound(member.last_error, SUMMARY_CHARS)
        return answer

    async def wait(
        self, agent_ids: Sequence[str] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        members = (
            [self._member(a) for a in agent_ids]
            if agent_ids
            else [m for m in self.members.values() if m.working]
        )
        limit = min(timeout if timeout and timeout > 0 else DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS)
        remaining = self.remaining_seconds()
        if remaining is not None:
            limit = max(min(limit, remaining), 0.0)
        with anyio.move_on_after(limit) as scope:
            for member in members:
                await member.done.wait()
        return {
            "timed_out": scope.cancelled_caught,
            "waited_s": round(limit, 1) if scope.cancelled_caught else None,
            "agents": [self.describe(m.agent_id) for m in members],
        }

    async def delete(self, agent_id: str) -> dict[str, Any]:
        member = self._member(agent_id)
        if self.agents.get(agent_id).status is AgentStatus.DELETED:
            raise FleetError(f"agent {agent_id} is already deleted")
        if member.working and member.scope is not None:
            member.scope.cancel()
        await member.done.wait()
        await self.agents.delete(agent_id)
        return self.describe(agent_id)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _member(self, agent_id: str, for_work: bool = False) -> Member:
        member = self.members.get(agent_id)
        if member is None:
            known = ", ".join(self.members) or "none yet"
            raise FleetError(f"no agent {agent_id!r} in your team (your agents: {known})")
        if for_work and self.agents.get(agent_id).status is AgentStatus.DELETED:
            raise FleetError(f"agent {agent_id} was deleted; create a new one")
        return member

    def _first_message(self, member: Member, message: str) -> str:
        agent = self.agents.get(member.agent_id)
        task = self.task or member.instructions
        # "Task: ..." first, as every agent of a planned run gets it (the roles' scripted demos read it too).
        parts = [f"Task: {task}", "", f"Your part ({agent.role}): {member.instructions}"]
        if message.strip() and message.strip() != member.instructions.strip():
            parts += ["", message]
        return "\n".join(parts)

    async def _work(self, member: Member, message: str) -> None:
        limit = self.config.max_cost_usd
        budget = None if limit is None else max(limit - self.cost(), 0.0)
        try:
            with anyio.CancelScope() as scope:
                member.scope = scope
                turn = await self.agents.send(member.agent_id, message, max_budget_usd=budget)
                member.turns += 1
                member.last_text = turn.text
                member.last_error = turn.error if turn.is_error else None
            if scope.cancelled_caught:
                member.last_error = "stopped: deleted while working"
        except Exception as exc:  # a refused send (busy, deleted) is the model's to know, not a crash
            member.last_error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
        finally:
            member.working = False
            member.scope = None
            member.done.set()

    def file_access(self, agent_id: str, path: str, operation: str) -> None:
        member = self.members.get(agent_id)
        if member is not None and path:
            member.files[path] = operation

    def describe(self, agent_id: str) -> dict[str, Any]:
        """One agent for the model: bounded, never its transcript."""
        member = self.members[agent_id]
        agent = self.agents.get(agent_id)
        files = list(member.files.items())
        return {
            "agent_id": agent.id,
            "name": agent.name,
            "role": agent.role,
            "status": "working" if member.working else agent.status.value,
            "turns": member.turns,
            "cost_usd": round(agent.metrics.cost_usd, 6),
            "files": [f"{op} {path}" for path, op in files[:FILES_SHOWN]]
            + ([f"... {len(files) - FILES_SHOWN} more"] if len(files) > FILES_SHOWN else []),
            "result_summary": bound(member.last_text, SUMMARY_CHARS),
            "result_chars": len(member.last_text),
            "error": bound(member.last_error, SUMMARY_CHARS) if member.last_error else None,
        }
