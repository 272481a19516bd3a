"""Agent lifecycle: create, send, read, delete, and the runtime protocol that does the talking.

An :class:`AgentManager` owns the agents of one Orchestrator. It numbers each agent's events, keeps its metrics
(summed per turn) and tells the observers. The runtime (a plugin, ``orc_claude`` by default) does the talking.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

import anyio
import attrs
import pluggy

from .config import Config
from .errors import UsageError
from .events import Event, EventKind
from .plugins import notify
from .records import Agent, AgentStatus, Metrics, Role, TurnResult, new_id
from .secrets import redactor_for

log = logging.getLogger("orc.agents")
#: What the runtime calls for each thing it sees: ``emit(kind, payload)``.
Emit = Callable[[EventKind, dict[str, Any]], None]


class AgentSession(Protocol):
    """An agent's open session (for Claude: a running CLI process). Lives inside ``AgentRuntime.session``."""

    #: The OS process id behind the session, if there is one.
    pid: int | None
    #: When :meth:`send` was cancelled: what the cut-short turn had spent, if the runtime could tell (set before
    #: the cancellation goes on), else None. Optional: a runtime without it records nothing for such turns.
    cut_short: TurnResult | None

    async def send(self, message: str, agent: Agent) -> TurnResult:
        """Send ``message`` and wait for the answer, emitting events as they come.

        Errors of the model or the CLI are a TurnResult with ``is_error`` set, not an exception.
        """


class AgentRuntime(Protocol):
    """Opens, talks to and deletes agent sessions. ``orc_make_runtime`` returns one."""

    def check(self) -> None:
        """Raise :class:`RuntimeUnavailable` (one line: what is missing, how to fix it) if agents cannot run."""

    def session(
        self,
        agent: Agent,
        role: Role,
        emit: Emit,
        *,
        max_budget_usd: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[AgentSession]:
        """Open the agent's session (its first one, or resume it). Leaving the context closes it: a turn still
        running is interrupted and the process is gone, even when the caller was cancelled.

        :param max_budget_usd: stop the session's turns once it has cost this much.
        :param env: environment variables plugins add to the agent's process (``orc_agent_environment``); a
            runtime that starts a process sets them under the run's own (``Config.runtime_env``). Passed only
            when a plugin adds some, so a runtime without this parameter works while none does.
        """

    async def delete(self, agent: Agent) -> None:
        """Remove the agent's session and transcript. Deleting what is already gone is not an error."""


def _takes_env(runtime: AgentRuntime) -> bool:
    """True if ``runtime.session`` accepts ``env=`` (by name, or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(runtime.session).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "env" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class OpenAgent:
    """An agent with its session open: send it messages with :meth:`send`."""

    def __init__(self, manager: AgentManager, agent_id: str, session: AgentSession) -> None:
        self.manager = manager
        self.agent_id = agent_id
        self.session = session

    async def send(self, message: str) -> TurnResult:
        """Send one message and wait for its answer; the agent's metrics grow by the turn's."""
        manager = self.manager
        agent = manager.update(attrs.evolve(manager.get(self.agent_id), status=AgentStatus.RUNNING))
        manager.emitter(self.agent_id)(EventKind.MESSAGE, {"role": "user", "text": message})
        try:
            with manager.turn(self.agent_id) as turn, turn.scope:
                result = manager.redacted(await self.session.send(message, agent))
        except BaseException:
            spent = getattr(self.session, "cut_short", None)
            current = manager.get(self.agent_id)
            manager.update(
                attrs.evolve(
                    current,
                    status=AgentStatus.FAILED,
                    metrics=current.metrics + spent.metrics if spent is not None else current.metrics,
                    session_started=True if spent is not None else current.session_started,
                )
            )
            raise
        session_started = True
        if turn.scope.cancelled_caught:
            # Stopped by :meth:`AgentManager.interrupt` (the stall policy): a failed turn that says why, with what
            # it spent if the runtime could tell.
            spent = getattr(self.session, "cut_short", None)
            session_started = spent is not None or agent.session_started
            manager.emitter(self.agent_id)(EventKind.ERROR, {"error": turn.reason})
            result = TurnResult(
                text="",
                is_error=True,
                error=turn.reason,
                session_id=agent.session_id,
                metrics=spent.metrics if spent is not None else Metrics(),
                retryable=turn.retryable,
                stalled=turn.stalled,
            )
        updated = manager.update(
            attrs.evolve(
                manager.get(self.agent_id),
                status=AgentStatus.FAILED if result.is_error else AgentStatus.IDLE,
                session_id=result.session_id or agent.session_id,
                metrics=agent.metrics + result.metrics,
                session_started=session_started,
            )
        )
        threshold = manager.config.context_threshold
        before, after = agent.context_usage["usage_percentage"], updated.context_usage["usage_percentage"]
        if before < threshold <= after:
            notify(
                manager.pm,
                "orc_agent_flagged",
                agent=updated,
                kind="context",
                message=f"context {after:.0f}% full (threshold {threshold:g}%)",
            )
        return result


class Turn:
    """A turn in progress: the scope :meth:`AgentManager.interrupt` cancels, and why it did."""

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.reason = "interrupted"
        self.retryable = False
        #: Stopped by the stall policy (the retry policy treats a stalled turn by ORC_STALL_ACTION).
        self.stalled = True


class AgentManager:
    """The agents of one Orchestrator: their records, their event numbering and their lifecycle hooks."""

    def __init__(
        self, pm: pluggy.PluginManager, runtime: AgentRuntime, roles: dict[str, Role], config: Config
    ):
        self.pm = pm
        self.runtime = runtime
        self.roles = roles
        self.config = config
        self.agents: dict[str, Agent] = {}
        self._seq: dict[str, int] = {}
        self._open: set[str] = set()
        #: Agents an earlier (or another) process recorded: their record may change under us.
        self._recorded: set[str] = set()
        #: The turns running now, by agent id.
        self._turns: dict[str, Turn] = {}
        #: Replaces the secrets every agent's tools could see, in events and answers, before anyone else sees them.
        self.redact = redactor_for(config.runtime_env)
        #: The runtime's session() takes no ``env`` and plugins offered some (said once).
        self._env_refused = False

    def get(self, agent_id: str) -> Agent:
        """The agent with this id: one of ours, or one an earlier process recorded (``orc_find_agent``)."""
        if agent_id not in self.agents:
            found = self.pm.hook.orc_find_agent(agent_id=agent_id)
            if found is None:
                raise UsageError(f"no agent {agent_id!r}; `orc agents list` shows the agents")
            self.agents[agent_id] = found
            self._recorded.add(agent_id)
            # Events go on numbering where the earlier process stopped.
            self._seq.setdefault(agent_id, found.last_seq)
        return self.agents[agent_id]

    def records(self) -> list[Agent]:
        """The records of the agents this manager knows (made here or looked up), oldest first."""
        return list(self.agents.values())

    def update(self, agent: Agent) -> Agent:
        """Replace the record of an agent of ours with ``agent`` (same id) and tell the observers
        (``orc_agent_updated``). The one way to change an agent's record.

        :raises UsageError: no agent with that id.
        """
        self.get(agent.id)
        return self._update(agent)

    def use(self, config: Config, runtime: AgentRuntime) -> None:
        """Talk to the agents through ``runtime`` with ``config`` from now on (the Orchestrator started again with
        another model endpoint); the agents and their sessions stay."""
        self.config = config
        self.runtime = runtime

    @contextlib.contextmanager
    def turn(self, agent_id: str) -> Iterator[Turn]:
        """A turn of the agent in progress: :meth:`interrupt` cancels its scope while the block runs."""
        turn = Turn()
        self._turns[agent_id] = turn
        try:
            yield turn
        finally:
            self._turns.pop(agent_id, None)

    def _update(self, agent: Agent, hook: str = "orc_agent_updated") -> Agent:
        self.agents[agent.id] = agent
        notify(self.pm, hook, agent=agent)
        return agent

    def create(
        self,
        role: str,
        *,
        name: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        task_id: str | None = None,
        custom_role: Role | None = None,
        parent_id: str | None = None,
    ) -> Agent:
        """Make an agent of ``role`` (or of ``custom_role``). Its Claude session opens with its first message."""
        if custom_role is not None:
            role = custom_role.name
        elif role not in self.roles:
            raise UsageError(
                f"unknown role {role!r}; known roles: {', '.join(sorted(self.roles))} (see `orc roles`)"
            )
        agent_id = new_id(role)
        agent = Agent(
            id=agent_id,
            name=name or agent_id,
            role=role,
            cwd=str(Path(cwd or ".").resolve()),
            model=model or (custom_role or self.roles[role]).model or self.config.default_model,
            task_id=task_id,
            # Chosen here, so the session id is known (and stored) before the CLI starts.
            session_id=str(uuid.uuid4()),
            custom_role=custom_role,
            parent_id=parent_id,
        )
        self._seq[agent_id] = 0
        return self._update(agent, "orc_agent_created")

    def redacted(self, result: TurnResult) -> TurnResult:
        """``result`` with its text and error redacted: what an agent answered becomes outputs, messages to other
        agents and printed lines."""
        redact = self.redact
        if not redact.active:
            return result
        return attrs.evolve(
            result, text=redact(result.text), error=None if result.error is None else redact(result.error)
        )

    def emitter(self, agent_id: str) -> Emit:
        """The ``emit`` callback for one agent: redacts secrets in the payload, numbers the event and hands it to
        the observers."""
        redact = self.redact

        def emit(kind: EventKind, payload: dict[str, Any]) -> None:
            # Every observer (store, monitor, exporters) sees the same payload: redact its values once, here,
            # before anyone encodes or cuts them (#16).
            payload = redact.value(payload)
            self._seq[agent_id] = self._seq.get(agent_id, 0) + 1
            agent = self.agents[agent_id]
            event = Event(
                task_id=agent.task_id, agent_id=agent_id, seq=self._seq[agent_id], kind=kind, payload=payload
            )
            notify(self.pm, "orc_event", event=event)

        return emit

    @contextlib.asynccontextmanager
    async def open(self, agent_id: str, *, max_budget_usd: float | None = None) -> AsyncIterator[OpenAgent]:
        """Open the agent's session for one or more :meth:`OpenAgent.send` calls; closed on leaving."""
        agent = self.get(agent_id)
        if agent.status is AgentStatus.DELETED:
            raise UsageError(f"agent {agent_id!r} was deleted; create a new one")
        if agent_id in self._open:
            raise UsageError(f"agent {agent_id!r} is busy with another message; wait for it to finish")
        role = agent.custom_role or self.roles.get(agent.role)
        if role is None:
            raise UsageError(f"agent {agent_id!r} has role {agent.role!r}, which no loaded plugin provides")
        self._open.add(agent_id)
        try:
            env = self.environment(agent, role)
            async with self.runtime.session(
                agent,
                role,
                self.emitter(agent_id),
                max_budget_usd=max_budget_usd,
                **({"env": env} if env else {}),
            ) as session:
                if agent_id in self._recorded:
                    # Read again now that the session is ours: another process may have deleted it meanwhile (#17).
                    latest = self.pm.hook.orc_find_agent(agent_id=agent_id)
                    if latest is not None and latest.status is AgentStatus.DELETED:
                        self.agents[agent_id] = latest
                        raise UsageError(f"agent {agent_id!r} was deleted; create a new one")
                if session.pid is not None:
                    self._update(attrs.evolve(self.agents[agent_id], pid=session.pid))
                yield OpenAgent(self, agent_id, session)
        finally:
            self._open.discard(agent_id)

    def environment(self, agent: Agent, role: Role) -> dict[str, str]:
        """What plugins add to the environment of the agent's process (``orc_agent_environment``), merged; empty
        for a runtime whose ``session`` takes no ``env`` (one written before the hook), which is said once."""
        merged: dict[str, str] = {}
        for answer in reversed(self.pm.hook.orc_agent_environment(agent=agent, role=role)):
            merged.update({str(k): str(v) for k, v in (answer or {}).items()})
        if merged and not _takes_env(self.runtime):
            if not self._env_refused:
                self._env_refused = True
                log.warning(
                    "the agent runtime %s takes no env in session(), so what plugins add to agents' environment "
                    "(%s) is left out",
                    type(self.runtime).__name__,
                    ", ".join(sorted(merged)),
                )
            return {}
        return merged

    async def send(self, agent_id: str, message: str, *, max_budget_usd: float | None = None) -> TurnResult:
        """Open the agent's session, send one message, wait for the answer, close it."""
        async with self.open(agent_id, max_budget_usd=max_budget_usd) as agent:
            return await agent.send(message)

    def interrupt(self, agent_id: str, reason: str, *, retryable: bool = False, stalled: bool = True) -> bool:
        """Stop the agent's running turn: it ends as a failed turn whose error is ``reason`` (``stalled`` set).
        Returns False if the agent is not in a turn of this process. Call it on the event loop's thread.

        :param retryable: whether the retry policy may run the subtask again.
        :param stalled: the stall policy stops it (False: a policy plugin does, see Orchestrator.interrupt_agent).
        """
        turn = self._turns.get(agent_id)
        if turn is None:
            return False
        turn.reason, turn.retryable, turn.stalled = reason, retryable, stalled
        turn.scope.cancel()
        return True

    async def delete(self, agent_id: str) -> Agent:
        """Remove the agent's session and transcript; its record (and the store's rows) stay."""
        agent = self.get(agent_id)
        if agent.status is AgentStatus.DELETED:
            raise UsageError(f"agent {agent_id!r} is already deleted")
        await self.runtime.delete(agent)
        return self._update(attrs.evolve(agent, status=AgentStatus.DELETED), "orc_agent_deleted")
