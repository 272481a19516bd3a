"""RayRuntime: the head's side of agents on a Ray cluster, an :class:`~orchestrator_core.AgentRuntime`.

A session picks a node (:class:`~orc_agents.orc_ray.cluster.Placement`), packs the agent's working directory
(:mod:`orc_agents.orc_ray.workspace`), and opens the session on that node's AgentHost, whose items it reads one by one: each
event is handed to ``emit`` here, on the head, so the head process alone numbers and stores events. A host that dies
mid-turn (its worker or its node is gone) makes the turn a retryable failure: orc's retry policy decides, Ray never
replays it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import attrs

import orchestrator_core
from orchestrator_core import Agent, Config, Emit, EventKind, OrcError, Role, RuntimeUnavailable, TurnResult

from . import ADDRESS, workspace
from .cluster import HOSTS, Placement, connect, import_ray
from .environment import split_env


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
        try:
            ref = await self.stream.__anext__()
        except StopAsyncIteration:
            self.ended = True
            return ("closed", None)
        item = await ref
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
        self.stream = self.host.serve.remote(self.key, spec)
        item = await self._next()
        if item[0] == "failed":
            raise _error(item[1], item[2])
        if item[0] != "opened":
            raise RuntimeUnavailable(f"the agent host on node {self.node_id[:12]} closed the session at once")
        _, self.pid, self.node_cwd, self.node_root = item

    async def send(self, message: str, agent: Agent) -> TurnResult:
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
            self.runtime.lose(self.node_id)
            error = (
                f"node {self.node_id[:12]} was lost while the agent worked ({type(exc).__name__}); "
                "its turn may be run again elsewhere (--retries)"
            )
            self.emit(EventKind.ERROR, {"error": error, "node_id": self.node_id})
            return TurnResult(
                text="", is_error=True, error=error, session_id=agent.session_id, retryable=True
            )

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
        #: Seconds from an event on its node to its hand-over to the observers here (the store), per event.
        self.latencies: list[float] = []

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
        try:
            packed = await anyio.to_thread.run_sync(workspace.pack, agent.cwd, agent.id)
            self.nodes[agent.id] = node_id
            self.roots[agent.id] = packed["root"] if packed["kind"] == "git" else None
            # What plugins add (orc_agent_environment: a tracer's TRACEPARENT) travels with the run's own.
            values, names = split_env({**(env or {}), **self.config.runtime_env})
            spec = {
                "agent": agent,
                "role": role,
                "max_budget_usd": max_budget_usd,
                "workspace": packed,
                "env": values,
                "env_names": names,
            }
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
            self.lose(node_id)
            raise RuntimeUnavailable(
                f"the agent host on node {node_id[:12]} died ({type(exc).__name__})"
            ) from None
        finally:
            self.placement.release(node_id)

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
