"""What ``orc mcp`` does for its host, without MCP: plan, run in the background, watch, read, message, cancel.

One :class:`Service` per server. Each execution gets an Orchestrator of its own (its limits are the call's), sharing
the command line's plugin manager; it runs as an asyncio task of the server's loop and the call that started it
returns as soon as the task has an id. Everything the host reads comes from the run store, so a task run by a
previous server, or by ``orc execute`` in a terminal, can be watched and read too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from orchestrator_core import OrcError, Plan, TaskResult, UsageError, hookimpl, plan_from_dict

log = logging.getLogger("orc.mcp")

#: The most characters of a result, an output or a transcript slice one call returns: the host's context is
#: precious; it asks for the next piece with ``offset``.
READ_LIMIT = 4000
#: The most transcript entries one call returns.
TRANSCRIPT_LIMIT = 50
#: The longest one wait_for_task call blocks (the host asks again).
WAIT_LIMIT_S = 60.0


class ToolRefused(OrcError):
    """A call the server refuses: bad input, outside its bounds, an unknown id. The host sees the message."""


@attrs.frozen
class Bounds:
    """The run limits the server's user fixed: each call may ask for less, never more.

    ``None`` means unbounded (a call may then set any value, or none).
    """

    max_cost_usd: float | None = None
    max_agents: int | None = None
    max_parallel_agents: int = 5
    timeout_seconds: float | None = None

    def limits(self, asked: dict[str, Any]) -> dict[str, Any]:
        """The Config overrides for a call that asked for ``asked`` (None: the bound).

        :raises ToolRefused: a value above its bound, or not positive.
        """
        chosen: dict[str, Any] = {}
        for name, ceiling in attrs.asdict(self).items():
            value = asked.get(name)
            if value is None:
                chosen[name] = ceiling
                continue
            if value <= 0:
                raise ToolRefused(f"{name} must be positive, got {value}")
            if ceiling is not None and value > ceiling:
                raise ToolRefused(
                    f"{name} {value} is above this server's bound {ceiling} (set on `orc mcp`'s command line)"
                )
            chosen[name] = value
        return chosen


@attrs.define
class Job:
    """An execution or resumption this server runs."""

    task_id: str
    client: str | None
    orc: Any
    runner: asyncio.Task[Any]
    result: TaskResult | None = None
    error: str | None = None


@attrs.define
class Pending:
    """A plan waiting for ``approve_plan``."""

    id: str
    prompt: str
    plan: Plan
    cwd: str
    mode: str
    limits: dict[str, Any]
    keep_agents: bool
    client: str | None


class TaskStarts:
    """An observer plugin: hands the id of each task that starts to whoever is waiting for the next one.

    Starts are serialised by :attr:`Service._starting`, so the next task to start is the one being waited for.
    """

    NAME = "orc_mcp.starts"

    def __init__(self) -> None:
        self.waiting: asyncio.Future[str] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @hookimpl
    def orc_task_started(self, task: Any) -> None:
        waiting, loop = self.waiting, self.loop
        if waiting is not None and loop is not None:
            loop.call_soon_threadsafe(_resolve, waiting, task.id)


def _resolve(future: asyncio.Future[str], value: str) -> None:
    if not future.done():
        future.set_result(value)


class Service:
    """The fleet's operations for one MCP server.

    :param make_orchestrator: makes an Orchestrator with Config overrides (the command's own settings, plus these);
        given ``task_id`` or ``agent_id``, with the settings that task or agent was made with. They share one plugin
        manager, on which a start observer is registered.
    :param allowed: the directories tasks may work in (and below).
    :param approve: every execution waits for :meth:`approve` first.
    :param database: opens the run store (``orchestrator_core.storage.Database``'s constructor).
    """

    def __init__(
        self,
        make_orchestrator: Callable[..., Any],
        bounds: Bounds,
        allowed: list[Path],
        *,
        approve: bool = False,
        database: Callable[[], Any],
    ) -> None:
        self.make_orchestrator = make_orchestrator
        self.bounds = bounds
        self.allowed = [p.resolve() for p in allowed]
        self.approve_all = approve
        self.database = database
        self.jobs: dict[str, Job] = {}
        self.pending: dict[str, Pending] = {}
        self._starting = asyncio.Lock()
        #: The Orchestrator whose roles, task types and modes the host sees; plans are made with it.
        self._catalogue = make_orchestrator()
        pm = self._catalogue.pm
        if not pm.has_plugin(TaskStarts.NAME):
            pm.register(TaskStarts(), TaskStarts.NAME)
        self._starts: TaskStarts = pm.get_plugin(TaskStarts.NAME)

    # -- inputs ------------------------------------------------------------------------------------------------

    def workdir(self, cwd: str | None) -> str:
        """``cwd`` resolved, refused unless it is one of the allowed directories or below one."""
        path = Path(cwd).expanduser() if cwd else self.allowed[0]
        if not path.is_absolute():
            path = self.allowed[0] / path
        path = path.resolve()
        if not any(path == root or path.is_relative_to(root) for root in self.allowed):
            raise ToolRefused(
                f"{str(path)!r} is outside the directories this server allows "
                f"({', '.join(map(str, self.allowed))}); start `orc mcp --allow-dir DIR` to allow another"
            )
        if not path.is_dir():
            raise ToolRefused(f"{str(path)!r} is not a directory")
        return str(path)

    # -- reading the catalogue -----------------------------------------------------------------------------------

    def roles(self) -> list[dict[str, Any]]:
        return [
            {"name": r.name, "description": r.description, "tools": list(r.tools), "plugin": r.provided_by}
            for r in sorted(self._catalogue.roles.values(), key=lambda r: r.name)
        ]

    def task_types(self) -> list[dict[str, Any]]:
        return [
            {
                "name": t.name,
                "description": t.description,
                "roles": [s.role for s in t.subtasks],
                "plugin": t.provided_by,
            }
            for t in sorted(self._catalogue.task_types.values(), key=lambda t: t.name)
        ]

    def modes(self) -> list[str]:
        return sorted(self._catalogue.executors)

    def plan(self, prompt: str, task_type: str = "auto", roles: list[str] | None = None) -> Plan:
        """A checked plan from a template planner: nothing is spent."""
        try:
            return self._catalogue.plan(prompt, task_type, roles or ())
        except OrcError as exc:
            raise ToolRefused(str(exc)) from exc

    # -- running -------------------------------------------------------------------------------------------------

    async def execute(
        self,
        prompt: str,
        *,
        task_type: str = "auto",
        mode: str = "sequential",
        roles: list[str] | None = None,
        plan: dict[str, Any] | None = None,
        cwd: str | None = None,
        limits: dict[str, Any] | None = None,
        keep_agents: bool = False,
        approval: bool = False,
        client: str | None = None,
    ) -> dict[str, Any]:
        """Start a run in the background: ``{"task_id"}``, or ``{"approval_id", "plan"}`` when it waits for
        approval (asked for, or the server approves every run)."""
        workdir = self.workdir(cwd)
        chosen = self.bounds.limits(limits or {})
        if mode not in self._catalogue.executors:
            raise ToolRefused(f"unknown mode {mode!r}; choose one of: {', '.join(self.modes())}")
        if plan is not None:
            try:
                made = plan_from_dict(plan, "the plan argument")
            except OrcError as exc:
                raise ToolRefused(str(exc)) from exc
            prompt = prompt or made.prompt or ""
        else:
            made = self.plan(prompt, task_type, roles)
        if approval or self.approve_all:
            pending = Pending(
                id=f"approval-{secrets.token_hex(5)}",
                prompt=prompt,
                plan=made,
                cwd=workdir,
                mode=mode,
                limits=chosen,
                keep_agents=keep_agents,
                client=client,
            )
            self.pending[pending.id] = pending
            return {"status": "awaiting_approval", "approval_id": pending.id, "plan": made.to_dict()}
        return await self._start(
            lambda orc: orc.execute(prompt, execution_mode=mode, cwd=workdir, plan=made),
            chosen,
            keep_agents,
            client,
        )

    async def approve(self, approval_id: str, approve: bool, client: str | None = None) -> dict[str, Any]:
        pending = self.pending.pop(approval_id, None)
        if pending is None:
            raise ToolRefused(
                f"no plan {approval_id!r} waits for approval (it ran, was rejected, or never was)"
            )
        if not approve:
            return {"status": "rejected", "approval_id": approval_id}
        p = pending
        return await self._start(
            lambda orc: orc.execute(p.prompt, execution_mode=p.mode, cwd=p.cwd, plan=p.plan),
            p.limits,
            p.keep_agents,
            client or p.client,
        )

    async def resume(
        self, task_id: str, *, limits: dict[str, Any] | None = None, client: str | None = None
    ) -> dict[str, Any]:
        if task_id in self.jobs and not self.jobs[task_id].runner.done():
            raise ToolRefused(f"task {task_id} is running in this server already")
        asked = {k: v for k, v in (limits or {}).items() if v is not None}
        chosen = self.bounds.limits(asked)
        return await self._start(
            lambda orc: orc.resume(task_id, limits={k: chosen[k] for k in asked}),
            chosen,
            False,
            client,
            task_id=task_id,
        )

    async def _start(
        self,
        work: Callable[[Any], Awaitable[TaskResult]],
        limits: dict[str, Any],
        keep_agents: bool,
        client: str | None,
        *,
        task_id: str | None = None,
    ) -> dict[str, Any]:
        remembered = {"task_id": task_id} if task_id is not None else {}
        orc = self.make_orchestrator(keep_agents=keep_agents, client=client, **remembered, **limits)
        loop = asyncio.get_running_loop()
        async with self._starting:
            started: asyncio.Future[str] = loop.create_future()
            self._starts.waiting, self._starts.loop = started, loop
            runner = asyncio.create_task(self._run(orc, work))
            try:
                either: list[asyncio.Future[Any]] = [started, runner]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._starts.waiting = None
            if not started.done():
                # It ended before a task started: bad input found before anything was spent.
                exc = runner.exception()
                raise ToolRefused(str(exc) if exc else "the run ended before it started") from exc
            task_id = started.result()
        self.jobs[task_id] = Job(task_id=task_id, client=client, orc=orc, runner=runner)
        runner.add_done_callback(lambda done: self._finished(task_id, done))
        return {"task_id": task_id, "status": "running"}

    async def _run(self, orc: Any, work: Callable[[Any], Awaitable[TaskResult]]) -> TaskResult:
        async with orc:
            return await work(orc)

    def _finished(self, task_id: str, runner: asyncio.Task[Any]) -> None:
        job = self.jobs[task_id]
        if runner.cancelled():
            job.error = "cancelled"
        elif runner.exception() is not None:
            job.error = str(runner.exception())
            log.warning("task %s: %s", task_id, job.error)
        else:
            job.result = runner.result()

    async def cancel(self, task_id: str, reason: str = "cancelled by the MCP host") -> dict[str, Any]:
        job = self.jobs.get(task_id)
        if job is None or job.runner.done():
            raise ToolRefused(
                f"task {task_id} is not running in this server; only runs this server started can be cancelled"
            )
        job.orc.stop_task(task_id, reason)
        return {"task_id": task_id, "status": "cancelling"}

    async def close(self) -> None:
        """Stop every run still going (the host went away): each ends cancelled, resumable."""
        running = [job for job in self.jobs.values() if not job.runner.done()]
        for job in running:
            job.orc.stop_task(job.task_id, "the MCP server stopped")
        if running:
            await asyncio.wait([job.runner for job in running])

    # -- watching and reading ------------------------------------------------------------------------------------

    async def status(self, task_id: str) -> dict[str, Any]:
        details = await self._read("get_task", task_id)
        if details is None:
            raise ToolRefused(f"no task {task_id!r} in the run store")
        task = details["task"]
        subtasks = details["subtasks"]
        done = sum(1 for s in subtasks if s["status"] in ("succeeded", "failed", "cancelled", "skipped"))
        job = self.jobs.get(task_id)
        answer = {
            "task_id": task_id,
            "status": task.get("status"),
            "subtasks_done": done,
            "subtasks": len(details["plan"]["subtasks"]) if details.get("plan") else len(subtasks),
            "cost_usd": task.get("cost_usd"),
            "error": task.get("error") or (job.error if job else None),
            "agents": [
                {
                    "agent_id": a.get("agent_id"),
                    "role": a.get("role"),
                    "status": a.get("status"),
                    "cost_usd": a.get("cost_usd"),
                    "turns": a.get("turns"),
                }
                for a in details["agents"]
            ],
        }
        if job is not None:
            answer["running_here"] = not job.runner.done()
        return answer

    async def wait(
        self,
        task_id: str,
        timeout: float,
        progress: Callable[[float, float, str], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Block until the task ends or ``timeout`` (at most :data:`WAIT_LIMIT_S`) passes, reporting progress."""
        timeout = max(0.0, min(timeout, WAIT_LIMIT_S))
        job = self.jobs.get(task_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            status = await self.status(task_id)
            if progress is not None:
                await progress(
                    status["subtasks_done"], status["subtasks"], f"{status['status']}: "
                    f"{status['subtasks_done']}/{status['subtasks']} subtasks"
                )  # fmt: skip
            left = deadline - loop.time()
            if job is None or job.runner.done() or left <= 0:
                return status
            await asyncio.wait({job.runner}, timeout=min(left, 1.0))

    async def read_result(
        self, *, task_id: str | None = None, agent_id: str | None = None, offset: int = 0
    ) -> dict[str, Any]:
        """A task's output or an agent's latest result, :data:`READ_LIMIT` characters from ``offset``."""
        if (task_id is None) == (agent_id is None):
            raise ToolRefused("give task_id or agent_id (one of them)")
        if task_id is not None:
            details = await self._read("get_task", task_id)
            if details is None:
                raise ToolRefused(f"no task {task_id!r} in the run store")
            text = details.get("output") or ""
        else:
            if await self._read("get_agent", agent_id) is None:
                raise ToolRefused(f"no agent {agent_id!r} in the run store")
            text = await self._read("get_agent_result", agent_id) or ""
        return piece(text, offset)

    async def transcript(self, agent_id: str, offset: int = 0, limit: int = 20) -> dict[str, Any]:
        """Entries ``offset``.. of the agent's conversation (messages and tool calls), each bounded."""
        entries = await self._read("get_conversation", agent_id)
        if not entries and await self._read("get_agent", agent_id) is None:
            raise ToolRefused(f"no agent {agent_id!r} in the run store")
        limit = max(1, min(limit, TRANSCRIPT_LIMIT))
        chosen = entries[offset : offset + limit]
        budget = READ_LIMIT
        shown: list[dict[str, Any]] = []
        for entry in chosen:
            item = {k: v for k, v in entry.items() if v is not None and k not in ("agent_id",)}
            for key in ("text", "input", "result"):
                if isinstance(item.get(key), str) and len(item[key]) > 500:
                    item[key] = item[key][:500] + f" [... {len(item[key]) - 500} more characters]"
            budget -= len(json.dumps(item))
            if budget < 0 and shown:
                break
            shown.append(item)
        following = offset + len(shown)
        return {
            "agent_id": agent_id,
            "entries": shown,
            "total": len(entries),
            "next_offset": following if following < len(entries) else None,
        }

    async def send(self, agent_id: str, message: str) -> dict[str, Any]:
        """Message a kept agent (its session continues) and return its reply, bounded."""
        if not message.strip():
            raise ToolRefused("the message is empty")
        orc = self.make_orchestrator(agent_id=agent_id)
        try:
            async with orc:
                reply = await orc.send_to_agent(agent_id, message)
        except OrcError as exc:
            raise ToolRefused(str(exc)) from exc
        return {"agent_id": agent_id, **piece(reply, 0)}

    async def _read(self, method: str, *args: Any) -> Any:
        async with self.database() as db:
            return await getattr(db, method)(*args)


def piece(text: str, offset: int) -> dict[str, Any]:
    """``text[offset:offset + READ_LIMIT]`` with where to go on."""
    if offset < 0:
        raise UsageError("offset must be 0 or more")
    end = offset + READ_LIMIT
    return {
        "text": text[offset:end],
        "length": len(text),
        "next_offset": end if end < len(text) else None,
    }
