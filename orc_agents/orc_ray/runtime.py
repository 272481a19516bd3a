"""RayRuntime: the head's side of agents on a Ray cluster, an :class:`~orchestrator_core.AgentRuntime`.

A session picks a node (:class:`~orc_agents.orc_ray.cluster.Placement`), packs the agent's working directory
(:mod:`orc_agents.orc_ray.workspace`), and opens the session on that node's AgentHost, whose items it reads one by one: each
event is handed to ``emit`` here, on the head, so the head process alone numbers and stores events. A host that dies
mid-turn (its worker or its node is gone) moves the session to another node, which continues the agent's conversation
from the lines the store kept (#25), with a note saying what happened; with nothing kept, or no other node up, the
turn is a retryable failure: orc's retry policy decides, Ray never replays it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio
import attrs

import orchestrator_core
from orchestrator_core import Agent, Config, Emit, EventKind, OrcError, Role, RuntimeUnavailable, TurnResult

from . import ADDRESS, workspace
from .cluster import HOSTS, Placement, connect, import_ray, live_nodes
from .environment import split_env

#: What an agent whose node was lost mid-turn is told, before its message again, on the node it moved to.
NODE_LOST_NOTE = (
    "The machine you worked on was lost while you worked on this; you continue on another one. Check what you "
    "already did (files changed since your last answer may be gone), then finish. Your message, again:"
)


def _error(name: str, message: str) -> OrcError:
    cls = getattr(orchestrator_core, name, None)
    if not (isinstance(cls, type) and issubclass(cls, OrcError)):
        cls = RuntimeUnavailable
    return cls(message)


class RaySession:
    """An agent's session on a node: ``pid`` is its CLI's process id there, ``node_id`` the node."""

    def __init__(
        self, runtime: RayRuntime, node_id: str, host: Any, key: str, agent: Agent, packed: dict, emit: Emit
    ) -> None:
        self.runtime = runtime
        #: The session's spec (role, budget) as opened, to open it again on another node.
        self.spec: dict[str, Any] = {}
        self.node_id = node_id
        self.host = host
        self.key = key
        self.agent = agent
        self.packed = packed
        self.emit = emit
        self.pid: int | None = None
        self.node_cwd: str | None = None
        self.node_root: str = ""
        self.stream: Any = None
        self.ended = False

    async def _next(self) -> tuple:
        """The next item from the node; transcript lines are kept on the way (the head alone writes the store)."""
        while True:
            try:
                ref = await self.stream.__anext__()
            except StopAsyncIteration:
                self.ended = True
                return ("closed", None)
            item = await ref
            if item[0] == "transcript":
                if self.runtime.transcripts is not None:
                    self.runtime.transcripts.append(self.agent, *item[1:])
                continue
            if item[0] in ("closed", "failed"):
                self.ended = True
            return item

    def _relay(self, kind: str, payload: dict[str, Any], node_time: float) -> None:
        """Hand one node event to ``emit``, with node paths turned into the head's."""
        if kind == EventKind.FILE_ACCESS and isinstance(payload.get("path"), str):
            payload = {**payload, "path": payload["path"].replace(self.node_root, self.packed["root"], 1)}
        if kind == EventKind.SESSION:
            payload = {
                **payload,
                "cwd": self.agent.cwd,
                "node_id": self.node_id,
                "node_cwd": payload.get("cwd"),
            }
        self.emit(EventKind(kind), payload)
        self.runtime.latencies.append(time.time() - node_time)

    async def open(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.stream = self.host.serve.remote(self.key, spec)
        item = await self._next()
        if item[0] == "failed":
            raise _error(item[1], item[2])
        if item[0] != "opened":
            raise RuntimeUnavailable(f"the agent host on node {self.node_id[:12]} closed the session at once")
        _, self.pid, self.node_cwd, self.node_root = item

    async def send(self, message: str, agent: Agent, *, moved: bool = False) -> TurnResult:
        ray = import_ray()
        try:
            await self.host.send.remote(self.key, message, agent)
            while True:
                item = await self._next()
                if item[0] == "event":
                    self._relay(*item[1:])
                elif item[0] == "turn":
                    _, result, changes = item
                    return await self._bring_back(result, changes)
                elif item[0] == "failed":
                    raise _error(item[1], item[2])
                else:
                    return TurnResult(
                        text="", is_error=True, error="the session closed before answering", retryable=True
                    )
        except ray.exceptions.RayActorError as exc:
            self.ended = True
            lost = self.node_id
            self.runtime.lose(lost)
            why = f"node {lost[:12]} was lost while the agent worked ({type(exc).__name__})"
            if not moved and await self._move():
                self.emit(
                    EventKind.NOTICE,
                    {
                        "message": f"{why}; its session continues on node {self.node_id[:12]}, with its "
                        "conversation so far from the store",
                        "node_id": lost,
                    },
                )
                return await self.send(f"{NODE_LOST_NOTE}\n\n{message}", agent, moved=True)
            error = f"{why}; its turn may be run again elsewhere (--retries)"
            self.emit(EventKind.ERROR, {"error": error, "node_id": lost})
            return TurnResult(
                text="", is_error=True, error=error, session_id=agent.session_id, retryable=True
            )

    async def _move(self) -> bool:
        """After this session's node was lost: open it again on another node, from the conversation the store
        kept. False (and nothing changed) when nothing is kept or no other node is up."""
        runtime, agent = self.runtime, self.agent
        if runtime.transcripts is None or not agent.session_id:
            return False
        if not runtime.transcripts.load(agent, agent.session_id, ""):
            return False
        if not [n for n in await anyio.to_thread.run_sync(live_nodes) if n not in runtime.placement.lost]:
            return False
        runtime.placement.release(self.node_id)
        self.node_id = await runtime.placement.acquire()
        self.packed = await anyio.to_thread.run_sync(workspace.pack, agent.cwd, agent.id)
        self.host = HOSTS.get(self.node_id)
        self.key = f"{agent.id}:{uuid.uuid4().hex[:8]}"
        self.ended = False
        runtime.place(agent, self.node_id, self.packed)
        try:
            await self.open(runtime.spec(agent, self.spec["role"], self.spec["max_budget_usd"], self.packed))
        except (OrcError, import_ray().exceptions.RayActorError):
            self.ended = True
            return False
        runtime.node_cwds[agent.id] = self.node_cwd
        return True

    async def _bring_back(self, result: TurnResult, changes: dict | None) -> TurnResult:
        problem = await anyio.to_thread.run_sync(workspace.apply, self.packed, self.agent.id, changes)
        if problem:
            self.emit(EventKind.ERROR, {"error": problem})
            return attrs.evolve(result, is_error=True, error=problem, retryable=False)
        return result

    async def close(self) -> None:
        """Stop the remote session (its CLI is gone when this returns) and bring back what it changed last."""
        if self.ended or self.stream is None:
            return
        ray = import_ray()
        with contextlib.suppress(ray.exceptions.RayActorError):
            await self.host.stop.remote(self.key)
            while not self.ended:
                item = await self._next()
                if item[0] == "event":
                    self._relay(*item[1:])
                elif item[0] == "closed" and item[1]:
                    await self._bring_back(TurnResult(text=""), item[1])


class RayRuntime:
    """Agents on a Ray cluster's nodes, each through orc_claude's runtime on its node's AgentHost."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.placement = Placement()
        #: Where each agent's last session ran, so a later session of the agent (resume) goes back there.
        self.nodes: dict[str, str] = {}
        self.node_cwds: dict[str, str | None] = {}
        self.roots: dict[str, str | None] = {}
        #: What plugins add to each agent's environment (orc_agent_environment), for every node its session opens on.
        self.envs: dict[str, dict[str, str]] = {}
        #: Seconds from an event on its node to its hand-over to the observers here (the store), per event.
        self.latencies: list[float] = []
        #: Like orc_claude's ``session_extras`` (callables ``(agent, role)`` giving an async context manager of extra
        #: session options), but called on the node where the session opens: each must pickle (the governor's
        #: node relay, #23).
        self.node_extras: list[Callable[[Agent, Role], Any]] = []
        #: Where agents' transcripts are kept (orc's store, set by the plugin when the Orchestrator starts): a
        #: session continues on any node, and from a later process, from there (#25). None: not kept.
        self.transcripts: Any = None

    def check(self) -> None:
        connect(self.config.get(ADDRESS))

    def lose(self, node_id: str) -> None:
        """A node's host died: send agents elsewhere while another node is up."""
        self.placement.lost.add(node_id)
        HOSTS.forget(node_id)

    @contextlib.asynccontextmanager
    async def session(
        self,
        agent: Agent,
        role: Role,
        emit: Emit,
        *,
        max_budget_usd: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> AsyncIterator[RaySession]:
        node_id = await self.placement.acquire(prefer=self.nodes.get(agent.id))
        session: RaySession | None = None
        try:
            packed = await anyio.to_thread.run_sync(workspace.pack, agent.cwd, agent.id)
            self.place(agent, node_id, packed)
            spec = self.spec(agent, role, max_budget_usd, packed, env)
            session = RaySession(
                self, node_id, HOSTS.get(node_id), f"{agent.id}:{uuid.uuid4().hex[:8]}", agent, packed, emit
            )
            try:
                await session.open(spec)
                self.node_cwds[agent.id] = session.node_cwd
                yield session
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(30):
                    await session.close()
        except import_ray().exceptions.RayActorError as exc:
            node_id = session.node_id if session is not None else node_id
            self.lose(node_id)
            raise RuntimeUnavailable(
                f"the agent host on node {node_id[:12]} died ({type(exc).__name__})"
            ) from None
        finally:
            # The node the session ended on: a session moved off a lost node holds the new one's slot.
            self.placement.release(session.node_id if session is not None else node_id)

    def place(self, agent: Agent, node_id: str, packed: dict[str, Any]) -> None:
        """Note where the agent's session runs: a later session of it goes back there."""
        self.nodes[agent.id] = node_id
        self.roots[agent.id] = packed["root"] if packed["kind"] == "git" else None

    def spec(
        self,
        agent: Agent,
        role: Role,
        max_budget_usd: float | None,
        packed: dict[str, Any],
        env: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """What a node needs to open the agent's session: secrets by name only, the conversation kept so far, and
        what plugins add to its environment (orc_agent_environment: a tracer's TRACEPARENT), kept for a reopening
        on another node."""
        if env is not None:
            self.envs[agent.id] = dict(env)
        # What plugins add travels with the run's own.
        values, names = split_env({**self.envs.get(agent.id, {}), **self.config.runtime_env})
        kept = self.transcripts is not None
        return {
            "agent": agent,
            "role": role,
            "max_budget_usd": max_budget_usd,
            "workspace": packed,
            "env": values,
            "env_names": names,
            "keep_transcript": kept,
            "session_extras": list(self.node_extras),
            "transcript": self.transcripts.load(agent, agent.session_id, "")
            if kept and agent.session_id
            else None,
        }

    def has_session(self, agent: Agent) -> bool:
        """True if the store keeps the agent's conversation: any node can continue it (``orc resume``)."""
        if self.transcripts is None or not agent.session_id:
            return False
        return bool(self.transcripts.load(agent, agent.session_id, ""))

    async def delete(self, agent: Agent) -> None:
        ray = import_ray()
        node_id = self.nodes.pop(agent.id, None)
        await anyio.to_thread.run_sync(workspace.forget, self.roots.pop(agent.id, None), agent.id)
        node_cwd = self.node_cwds.pop(agent.id, None)
        if node_id is None or node_cwd is None or node_id in self.placement.lost:
            return
        values, _ = split_env(self.config.runtime_env)
        with contextlib.suppress(ray.exceptions.RayActorError):
            await HOSTS.get(node_id).delete.remote(attrs.evolve(agent, cwd=node_cwd), values)
