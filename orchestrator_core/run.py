"""One task being carried out: what executors call to run a subtask, and the run-wide limits.

Executors (plugins) decide the order and how many subtasks run at once; the :class:`Run` does the rest the same
way for all of them: the limit on agents working at once, the veto and retry hooks, creating the agent, handing it
its upstream results (bounded), the run-wide budgets (cost, agents, wall clock), stopping early (fail-fast, Ctrl-C),
and reporting each subtask to the observers.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import anyio
import anyio.abc
import pluggy

from .agents import AgentManager
from .config import Config
from .errors import OrcError
from .plugins import notify
from .records import (
    Agent,
    Metrics,
    Plan,
    StatusSnapshot,
    StopReason,
    Subtask,
    SubtaskResult,
    SubtaskStatus,
    Task,
    TurnResult,
)

#: What an interrupted agent is told when a resumed task continues its session.
RESUME_NOTE = (
    "The run was interrupted while you worked on this, and now continues. Check what you already did (files may "
    "be half-written), then finish your part. Your part, again:"
)


class Executor(Protocol):
    """Runs a plan's subtasks through ``await run.run_subtask(subtask)``; registered with ``orc_register_executors``."""

    async def run(self, run: Run) -> None: ...


def executor_problem(item: Any) -> str | None:
    """What is wrong with a registered ``(name, executor)`` (see ``orc_register_executors``), or None."""
    name, executor = item
    if not isinstance(name, str) or not name:
        return f"an executor's name must be a non-empty string, got {name!r}"
    if inspect.isclass(executor):
        return (
            f"executor {name!r} is the class {executor.__name__}; register an instance: {executor.__name__}()"
        )
    if not inspect.iscoroutinefunction(getattr(executor, "run", None)):
        return f"executor {name!r} has no `async def run(self, run)`"
    try:
        inspect.signature(executor.run).bind(None)
    except TypeError:
        return f"the run method of executor {name!r} does not take the run: write `async def run(self, run)`"
    except ValueError:  # no signature to read: let the call tell
        pass
    return None


def bound(text: str, limit: int, redact: Callable[[str], str] | None = None) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    :param redact: applied before the cut, so a cut never leaves part of a secret (#16): a runtime bounding
        tool output passes its :class:`~orchestrator_core.secrets.Redactor`.
    """
    if redact is not None:
        text = redact(text)
    if len(text) <= limit:
        return text
    cut = max(limit - 40, 0)
    return f"{text[:cut]}\n[... {len(text) - cut} more characters not shown]"


class Run:
    """The state of one task while an executor works through its plan."""

    def __init__(
        self,
        task: Task,
        plan: Plan,
        agents: AgentManager,
        pm: pluggy.PluginManager,
        config: Config,
        *,
        kept: dict[str, SubtaskResult] | None = None,
        resumable: dict[str, str] | None = None,
        inherited: Sequence[str] = (),
    ):
        self.task = task
        self.plan = plan
        self.agents = agents
        self.pm = pm
        self.config = config
        #: Results by subtask id, in the order they ended (a resumed task starts with those that succeeded).
        self.results: dict[str, SubtaskResult] = dict(kept or {})
        #: A resumed task's subtasks that succeeded before: never run again, whatever the executor asks (#17).
        self.kept: frozenset[str] = frozenset(kept or ())
        #: A resumed task's interrupted subtasks whose agent's session can be continued: subtask id -> agent id.
        self.resumable: dict[str, str] = dict(resumable or {})
        #: The agents earlier runs of a resumed task created (deleted with this run's; counted in its metrics).
        self.inherited: list[str] = list(inherited)
        #: The latest agent of each subtask that has one.
        self.agent_ids: dict[str, str] = {}
        #: Every agent this run created (retries make more than one per subtask), oldest first.
        self.created: list[str] = []
        #: Why the run stopped before its plan was done, and the line that says so; None while it goes on.
        self.stopped: StopReason | None = None
        self.stop_message: str | None = None
        #: Keep the agents (their sessions) when the run ends, so ``orc resume`` continues them: a stop that
        #: expects to go on later sets it (a spent usage quota, #23).
        self.keep_agents = False
        #: Cancelled by :meth:`stop`; the Orchestrator runs the executor inside it.
        self.scope = anyio.CancelScope()
        #: ``time.monotonic()`` when the run began: its wall-clock ``elapsed_s`` counts from here.
        self.monotonic_start = time.monotonic()
        self._running: set[str] = set()
        self._limiter = anyio.CapacityLimiter(config.max_parallel_agents)
        #: Sessions opened ahead of their subtask (see :meth:`prepare`), by subtask id.
        self._warm: dict[str, _Warm] = {}
        #: Where warm sessions live while the executor runs (:meth:`sessions_in`).
        self.group: anyio.abc.TaskGroup | None = None

    # -- what executors ask ---------------------------------------------------------------------------------------

    def ready(self) -> list[Subtask]:
        """Subtasks not started whose dependencies have all ended, in plan order."""
        return [
            s
            for s in self.plan.subtasks
            if s.id not in self.results
            and s.id not in self._running
            and all(d in self.results for d in s.depends_on)
        ]

    @property
    def cost(self) -> float:
        """What the task's agents have cost so far (finished turns), planners and earlier runs included."""
        return sum(
            self.agents.get(a).metrics.cost_usd for a in dict.fromkeys([*self.inherited, *self.created])
        )

    def snapshot(self) -> StatusSnapshot:
        """The task's state now: every agent it made, each subtask's status, the summed metrics."""
        agents = tuple(self.agents.get(a) for a in self.created)
        statuses = {
            s.id: self.results[s.id].status.value
            if s.id in self.results
            else SubtaskStatus.RUNNING.value
            if s.id in self._running
            else SubtaskStatus.PENDING.value
            for s in self.plan.subtasks
        }
        return StatusSnapshot(
            task_id=self.task.id,
            agents=agents,
            subtasks=statuses,
            metrics=sum((a.metrics for a in agents), Metrics()),
            elapsed_s=time.monotonic() - self.monotonic_start,
        )

    def message_for(self, subtask: Subtask, independent: bool = False) -> str:
        """The first message a subtask's agent receives: the task, its part, and its upstream results (bounded)."""
        parts = [f"Task: {self.task.prompt}", "", f"Your part ({subtask.role}): {subtask.instruction}"]
        upstream = [] if independent else [self.results[d] for d in subtask.depends_on if d in self.results]
        if upstream:
            share = self.config.max_result_chars // len(upstream)
            parts += ["", "Results from the agents before you:"]
            for result in upstream:
                parts += [
                    f"## {result.subtask_id} ({result.role})",
                    bound(result.output, share, self.agents.redact),
                ]
        return "\n".join(parts)

    def prepare(self, subtask: Subtask) -> None:
        """Hint that ``subtask`` runs next: open its agent's session now, while others work.

        A Claude session takes about half a second (and a CPU-second) to start; a sequential executor hides that
        by preparing the next subtask while the current one runs. Nothing is prepared when a budget needs the
        exact remaining amount at start (``max_cost_usd``), when the agent limit is near, or when it would start
        a process the run may not need (the run is stopping).
        """
        limit = self.config.max_agents
        if (
            self.group is None
            or self.stopped
            or self.config.max_cost_usd is not None
            or subtask.id in self._warm
            or subtask.id in self.results
            or subtask.id in self._running
            or (limit is not None and len(self.created) + len(self._warm) >= limit)
        ):
            return
        agent = self._create_agent(subtask)
        warm = _Warm(agent.id)
        self._warm[subtask.id] = warm
        self.group.start_soon(warm.serve, self.agents)

    @contextlib.contextmanager
    def sessions_in(self, group: anyio.abc.TaskGroup) -> Iterator[None]:
        """While the executor runs: sessions opened ahead of their subtask (:meth:`prepare`) live in ``group``;
        on leaving, those prepared for subtasks that did not run are closed."""
        self.group = group
        try:
            yield
        finally:
            self.group = None
            self.release_prepared()

    def release_prepared(self) -> None:
        """Close the sessions prepared for subtasks that did not run."""
        for warm in self._warm.values():
            warm.inbox_send.close()
        self._warm.clear()

    # -- stopping -------------------------------------------------------------------------------------------------

    def stop(self, reason: StopReason, message: str) -> None:
        """Stop the run: start no more agents and interrupt the running ones. The first reason given wins."""
        if self.stopped is None:
            self.stopped, self.stop_message = StopReason(reason), message
        self.scope.cancel()

    def _check_budget(self) -> None:
        limit = self.config.max_cost_usd
        if limit is not None and self.cost >= limit:
            self.stop(
                StopReason.MAX_COST,
                f"stopped: the run cost ${self.cost:.4f}, reaching --max-cost ${limit:.4f}",
            )

    # -- running --------------------------------------------------------------------------------------------------

    def finish(self, subtask: Subtask, result: SubtaskResult) -> SubtaskResult:
        self.results[subtask.id] = result
        self._running.discard(subtask.id)
        notify(self.pm, "orc_subtask_finished", task=self.task, subtask=subtask, result=result)
        return result

    def skip(
        self, subtask: Subtask, reason: str, status: SubtaskStatus = SubtaskStatus.SKIPPED
    ) -> SubtaskResult:
        """Record that ``subtask`` will not run (a dependency failed, the run was stopped)."""
        return self.finish(subtask, SubtaskResult(subtask.id, subtask.role, status, error=reason))

    async def run_subtask(
        self, subtask: Subtask, *, independent: bool = False, then: Subtask | None = None
    ) -> SubtaskResult:
        """Run one subtask to its end and return its result; a failed agent is a result, not an exception.

        A subtask whose dependencies did not all succeed is skipped, unless ``independent`` (the parallel mode,
        which runs every subtask on the task alone). At most ``max_parallel_agents`` agents work at once, whatever
        the executor asks for. A failed attempt is tried again while the ``orc_subtask_retry`` hook says so.
        ``then`` names the subtask expected next: its session is opened (:meth:`prepare`) once this one's agent
        has started. A subtask a resumed task kept (it succeeded before) is not run again: its result is returned.
        """
        if subtask.id in self.kept:
            return self.results[subtask.id]
        if subtask.id in self.results or subtask.id in self._running:
            raise RuntimeError(
                f"subtask {subtask.id!r} was already run; an executor must run each subtask once"
            )
        if self.stopped:
            return self.skip(subtask, self.stop_message or "stopped", SubtaskStatus.CANCELLED)
        failed = [d for d in subtask.depends_on if d in self.results and not self.results[d].succeeded]
        if failed and not independent:
            return self.skip(subtask, f"skipped: {', '.join(failed)} did not succeed")
        self._running.add(subtask.id)
        message = self.message_for(subtask, independent)
        try:
            attempt = 0
            while True:
                attempt += 1
                result = await self._attempt(subtask, message, attempt, then)
                if result.succeeded or self.stopped:
                    break
                if not self.pm.hook.orc_subtask_retry(
                    task=self.task, subtask=subtask, result=result, attempt=attempt, config=self.config
                ):
                    break
        except OrcError as exc:
            # Nothing another agent could do better (refused credentials, a session another process holds): the
            # subtask failed, the run stops, and the error reaches the caller as itself (#17).
            agent_id = self.agent_ids.get(subtask.id)
            self.finish(
                subtask,
                SubtaskResult(
                    subtask.id,
                    subtask.role,
                    SubtaskStatus.FAILED,
                    agent_id=agent_id,
                    error=exc.message,
                    metrics=self.agents.get(agent_id).metrics if agent_id else Metrics(),
                ),
            )
            self.stop(StopReason.ERROR, f"stopped: {exc.message}")
            raise
        except anyio.get_cancelled_exc_class():
            agent_id = self.agent_ids.get(subtask.id)
            self.finish(
                subtask,
                SubtaskResult(
                    subtask.id,
                    subtask.role,
                    SubtaskStatus.CANCELLED,
                    agent_id=agent_id,
                    error=self.stop_message or "cancelled",
                    metrics=self.agents.get(agent_id).metrics if agent_id else Metrics(),
                ),
            )
            raise
        self.finish(subtask, result)
        if not result.succeeded and self.config.fail_fast:
            self.stop(
                StopReason.FAIL_FAST,
                f"stopped at the first failure (--fail-fast): {subtask.id} ({subtask.role})",
            )
        self._check_budget()
        return result

    def _create_agent(self, subtask: Subtask) -> Agent:
        workdir = self.pm.hook.orc_agent_workdir(task=self.task, subtask=subtask, config=self.config)
        agent = self.agents.create(
            subtask.role,
            name=f"{subtask.role} ({subtask.id})",
            cwd=workdir or self.task.cwd,
            task_id=self.task.id,
        )
        self.created.append(agent.id)
        return agent

    async def _attempt(
        self, subtask: Subtask, message: str, attempt: int, then: Subtask | None
    ) -> SubtaskResult:
        async with self._limiter:
            warm = self._warm.get(subtask.id)
            resumed = self.resumable.get(subtask.id) if attempt == 1 and not warm else None
            limit = self.config.max_agents
            # Only a new agent counts against the limit: a prepared one was counted when it was made.
            if limit is not None and not (warm or resumed) and len(self.created) >= limit:
                self.stop(
                    StopReason.MAX_AGENTS,
                    f"stopped: the run created {len(self.created)} agents, --max-agents {limit}",
                )
            if self.stopped:
                return SubtaskResult(
                    subtask.id, subtask.role, SubtaskStatus.CANCELLED, error=self.stop_message
                )
            # Asked once the agent holds its slot, right before it starts: a store that failed while this subtask
            # waited for a slot stops it here, in every executor (#17).
            veto = self.pm.hook.orc_subtask_veto(task=self.task, subtask=subtask)
            if veto:
                return SubtaskResult(subtask.id, subtask.role, SubtaskStatus.FAILED, error=veto)
            self._warm.pop(subtask.id, None)
            if resumed:
                self.resumable.pop(subtask.id, None)
            if resumed:
                agent = self.agents.get(resumed)
                message = f"{RESUME_NOTE}\n\n{message}"
            else:
                agent = self.agents.get(warm.agent_id) if warm else self._create_agent(subtask)
            self.agent_ids[subtask.id] = agent.id
            notify(self.pm, "orc_subtask_started", task=self.task, subtask=subtask, agent=agent)
            if then is not None:
                self.prepare(then)
            if warm:
                turn = await warm.send(message)
            else:
                budget = (
                    None
                    if self.config.max_cost_usd is None
                    else max(self.config.max_cost_usd - self.cost, 0.0)
                )
                turn = await self.agents.send(agent.id, message, max_budget_usd=budget)
        return SubtaskResult(
            subtask.id,
            subtask.role,
            SubtaskStatus.FAILED if turn.is_error else SubtaskStatus.SUCCEEDED,
            agent_id=agent.id,
            output=turn.text,
            error=turn.error,
            metrics=self.agents.get(agent.id).metrics,
            attempts=attempt,
            retryable=turn.retryable,
            stalled=turn.stalled,
        )


class _Warm:
    """A session opened ahead of its subtask: it waits for the message, answers it, and closes."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.inbox_send, self.inbox = anyio.create_memory_object_stream[str](1)
        self.outbox_send, self.outbox = anyio.create_memory_object_stream[TurnResult | OrcError](1)

    async def serve(self, agents: AgentManager) -> None:
        with self.inbox, self.outbox_send:
            try:
                async with agents.open(self.agent_id) as agent:
                    try:
                        message = await self.inbox.receive()
                    except anyio.EndOfStream:
                        return
                    await self.outbox_send.send(await agent.send(message))
            except OrcError as exc:
                # Raised where the subtask waits for its answer, so it is recorded there.
                with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    self.outbox_send.send_nowait(exc)

    async def send(self, message: str) -> TurnResult:
        with self.inbox_send, self.outbox:
            try:
                await self.inbox_send.send(message)
            except anyio.BrokenResourceError:
                pass  # the session failed to open: its error is in the outbox
            try:
                answer = await self.outbox.receive()
            except anyio.EndOfStream:
                return TurnResult(
                    text="", is_error=True, error="the prepared session closed before answering"
                )
            if isinstance(answer, OrcError):
                raise answer
            return answer
