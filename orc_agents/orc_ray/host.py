"""AgentHost: the async Ray actor on each node that runs agents' Claude sessions with orc_claude's runtime.

One session is one call of :meth:`AgentHost.serve`, an async generator whose items stream back to the head as they
happen: ``("opened", pid, cwd, root)``, then for each turn ``("event", kind, payload, node_time)``... and
``("turn", TurnResult, changes)``, and at the end ``("closed", changes)`` or ``("failed", error_class, message)``;
``("transcript", session_id, subpath, lines)`` whenever the session's transcript grows (the head keeps them, #25).
The Claude session lives in one asyncio task of its own (the SDK's client must not cross tasks); ``send`` and
``stop`` talk to it through a queue and an anyio cancel scope, whose close is shielded, so no CLI outlives it.

This is the one place another built-in plugin is imported (DESIGN.md, "Who may import whom"): orc_claude's runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import attrs

from orc_agents.orc_claude.private import private_subdir
from orc_agents.orc_claude.runtime import ClaudeRuntime
from orchestrator_core import Agent, Config, OrcError

from .workspace import NodeWorkspace


def node_root(node_id: str) -> Path:
    """Where a node keeps agents' directories and repository mirrors: ``ORC_RAY_NODE_DIR`` in the node's
    environment, else node-local temporary space."""
    # The default sits in orc's checked private folder: a shared temp folder would let another local user plant
    # the repository an agent works on (#16).
    base = (
        Path(os.environ["ORC_RAY_NODE_DIR"]) if os.environ.get("ORC_RAY_NODE_DIR") else private_subdir("ray")
    )
    root = base / node_id[:12]
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


class RelayedTranscripts:
    """A node session's transcript: the lines the head kept (the session resumes from them) and new lines sent
    back to the head, which alone writes the store."""

    def __init__(self, session_id: str | None, kept: list[dict[str, Any]] | None, out: asyncio.Queue) -> None:
        self.session_id = session_id
        self.kept = kept
        self.out = out

    def load(self, agent: Agent, session_id: str, subpath: str) -> list[dict[str, Any]] | None:
        return self.kept if session_id == self.session_id and not subpath else None

    def append(self, agent: Agent, session_id: str, subpath: str, entries: list[dict[str, Any]]) -> None:
        self.out.put_nowait(("transcript", session_id, subpath, entries))


@attrs.define
class _Session:
    agent_id: str
    inbox: asyncio.Queue
    scope: anyio.CancelScope | None = None
    done: asyncio.Event = attrs.field(factory=asyncio.Event)
    started: float = attrs.field(factory=time.time)
    pid: int | None = None


class AgentHost:
    """Runs agents on its node; created by the head, one per node, with Ray's restarts and retries off."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.root = node_root(node_id)
        self.sessions: dict[str, _Session] = {}

    async def info(self) -> dict[str, Any]:
        """This host's node, worker pid and running sessions (for ``orc nodes`` and the tests)."""
        return {
            "node_id": self.node_id,
            "pid": os.getpid(),
            "sessions": [
                {"agent_id": s.agent_id, "pid": s.pid, "started": s.started} for s in self.sessions.values()
            ],
        }

    async def serve(self, key: str, spec: dict[str, Any]) -> AsyncIterator[tuple]:
        """One agent session, streamed: see the module docstring for the items."""
        out: asyncio.Queue = asyncio.Queue()
        session = _Session(spec["agent"].id, asyncio.Queue())
        self.sessions[key] = session
        worker = asyncio.get_running_loop().create_task(self._session(session, spec, out))
        try:
            while True:
                item = await out.get()
                yield item
                if item[0] in ("closed", "failed"):
                    return
        finally:
            # The head went away (or cancelled us): end the session; the CLI is gone before this returns.
            if session.scope is not None:
                session.scope.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.shield(worker)
            self.sessions.pop(key, None)

    async def send(self, key: str, message: str, agent: Agent) -> None:
        """Give a session its next message; the turn's events and result come through :meth:`serve`."""
        await self.sessions[key].inbox.put((message, agent))

    async def stop(self, key: str) -> None:
        """End a session now (interrupting a turn); returns once its CLI process is gone."""
        session = self.sessions.get(key)
        if session is None:
            return
        await session.inbox.put(None)
        if session.scope is not None:
            session.scope.cancel()
        await session.done.wait()

    async def delete(self, agent: Agent, env: dict[str, str]) -> None:
        """Remove an agent's session transcript (``agent.cwd`` is its directory here) and that directory."""
        work = self.root / "work" / agent.id
        await ClaudeRuntime(Config(runtime_env=env)).delete(agent)
        mirrors = self.root / "mirrors"
        for mirror in mirrors.glob("*.git") if mirrors.exists() else ():
            await asyncio.to_thread(_remove_worktree, mirror, work)
        shutil.rmtree(work, ignore_errors=True)

    async def _session(self, session: _Session, spec: dict[str, Any], out: asyncio.Queue) -> None:
        workspace: NodeWorkspace | None = None
        try:
            with anyio.CancelScope() as session.scope:
                workspace = await asyncio.to_thread(
                    NodeWorkspace, self.root, spec["agent"].id, spec["workspace"]
                )
                env = {**spec["env"], **{n: os.environ[n] for n in spec["env_names"] if n in os.environ}}
                # orc_claude's runtime starts the CLI with a parent-death signal (orc_agents.orc_claude.lifeline): a silent
                # CLI dies with this worker instead of outliving it (FACTS §10).
                runtime = ClaudeRuntime(Config(runtime_env=env))
                runtime.check()
                runtime.session_extras.extend(spec.get("session_extras") or ())
                if spec.get("keep_transcript"):
                    runtime.transcripts = RelayedTranscripts(
                        spec["agent"].session_id, spec.get("transcript"), out
                    )
                agent = attrs.evolve(spec["agent"], cwd=workspace.cwd)

                def emit(kind: Any, payload: dict[str, Any]) -> None:
                    out.put_nowait(("event", str(kind), payload, time.time()))

                async with runtime.session(
                    agent, spec["role"], emit, max_budget_usd=spec["max_budget_usd"]
                ) as s:
                    session.pid = s.pid
                    out.put_nowait(("opened", s.pid, workspace.cwd, str(workspace.path)))
                    while (item := await session.inbox.get()) is not None:
                        message, head_agent = item
                        result = await s.send(message, attrs.evolve(head_agent, cwd=workspace.cwd))
                        changes = await asyncio.to_thread(workspace.collect)
                        out.put_nowait(("turn", result, changes))
            # Stopped mid-turn, or closed: what the agent changed since its last turn goes back too.
            changes = await asyncio.to_thread(workspace.collect) if workspace is not None else None
            out.put_nowait(("closed", changes))
        except Exception as exc:
            name = type(exc).__name__ if isinstance(exc, OrcError) else "RuntimeUnavailable"
            out.put_nowait(("failed", name, f"on node {self.node_id[:12]}: {exc}"))
        finally:
            session.done.set()


def _remove_worktree(mirror: Path, work: Path) -> None:
    import subprocess

    subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=mirror, capture_output=True)
    subprocess.run(["git", "worktree", "prune"], cwd=mirror, capture_output=True)
