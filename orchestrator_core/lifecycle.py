"""The task lifecycle (#18): plan a checked request, put the plan to the gates, run it, resume it, hand an agent
over to a fresh one, stop what runs.

One :class:`TaskLifecycle` per :class:`~orchestrator_core.Orchestrator`, which is a thin facade over it. The
lifecycle reaches the Orchestrator only through its public API (``pm``, ``config``, ``agents``, ``roles``,
``task_types``, ``executors``, ``start()``), as a plugin would. The path of one task::

    check_request (task_request.py) -> orc_check_request -> orc_make_plan -> orc_plan_gate -> start() -> run

Every check is made once, in :func:`~orchestrator_core.task_request.check_request` (the request) and
:meth:`TaskRequest.with_plan <orchestrator_core.task_request.TaskRequest.with_plan>` (the plan).
"""

from __future__ import annotations

import inspect
import os
import time
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .errors import OrcError, PlanError, RunFailed, UsageError, leaves
from .planners import Answer
from .planners import ask as ask_planner
from .plugins import notify
from .records import (
    Agent,
    AgentStatus,
    Metrics,
    Plan,
    StopReason,
    SubtaskStatus,
    Task,
    TaskResult,
    TaskStatus,
    check_plan,
    new_id,
    utcnow,
)
from .run import Executor, Run
from .task_lock import task_lock
from .task_request import TaskRequest, check_mode

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

#: What an agent is asked before a fresh one takes over from it.
HANDOVER_PROMPT = (
    "Your context is nearly full and a fresh agent will take over your work. Write a complete, self-contained "
    "summary: the goal, what you did, what you found (files, decisions, open questions) and what is left to do."
)

#: The Config attributes a task keeps and a resumed task runs under again, unless the resume overrides them (#17).
RUN_LIMITS = ("max_parallel_agents", "max_cost_usd", "max_agents", "timeout_seconds", "fail_fast", "retries")


class TaskLifecycle:
    """The tasks of one Orchestrator: planning, gating, running, resuming, hand-overs and stopping."""

    def __init__(self, orc: Orchestrator) -> None:
        self.orc = orc
        #: The runs going on now.
        self.runs: set[Run] = set()
        #: Agents the latest planning created (planner agents); the next task adopts them (its cost, its records).
        self.planners: list[str] = []
        #: After a hand-over: {old agent id: new agent id}.
        self.last_handover: dict[str, str] = {}

    # -- planning ---------------------------------------------------------------------------------------------

    def plan(self, request: TaskRequest) -> TaskRequest:
        """``request`` with a checked plan from a planner that answers without running an agent.

        :raises UsageError: the planner must run an agent (use :meth:`make_plan`).
        :raises PlanError: no planner answered, or its plan cannot run.
        """
        answer = self._ask_planners(request)
        if inspect.isawaitable(answer.value):
            if inspect.iscoroutine(answer.value):
                answer.value.close()
            raise UsageError("this planner runs an agent to plan; use `await orc.make_plan(...)`")
        return request.with_plan(answer.plan(self.orc.pm, request.task_type), self.orc.roles)

    async def make_plan(self, request: TaskRequest) -> TaskRequest:
        """``request`` with a checked plan; a planner may run a planner agent, which the next task adopts."""
        before = self._agent_ids()
        try:
            answer = await self._ask_planners(request).settled()
        finally:
            self.planners = [a for a in self._agent_ids() if a not in before]
        return request.with_plan(answer.plan(self.orc.pm, request.task_type), self.orc.roles)

    def _agent_ids(self) -> list[str]:
        try:
            agents = self.orc.agents
        except UsageError:  # never started: no agents yet
            return []
        return [a.id for a in agents.records()]

    def _ask_planners(self, request: TaskRequest) -> Answer:
        """The planner the user named (``--planner``), else the ``orc_make_plan`` hook, and whose answer it is."""
        orc = self.orc
        return ask_planner(
            orc.pm,
            orc.config,
            {
                "prompt": request.prompt,
                "task_type": request.task_type,
                "roles": request.roles,
                "task_types": orc.task_types,
                "config": orc.config,
                "orc": orc,
                "cwd": request.cwd,
            },
        )

    def gate(self, request: TaskRequest) -> TaskRequest:
        """Put the request's plan to the ``orc_plan_gate`` hooks; a gate's edited plan is checked and put to them
        again. Returns the request with the plan that may run.

        :raises PlanError: a gate refused (or edited the plan into one that cannot run).
        """
        assert request.plan is not None
        orc = self.orc
        while True:
            plan = request.plan
            answer = orc.pm.hook.orc_plan_gate(
                plan=plan, prompt=request.prompt, cwd=request.cwd, config=orc.config, roles=orc.roles
            )
            if answer is None or answer == plan:
                return request
            if isinstance(answer, Plan):
                request = request.with_plan(answer, orc.roles)
                continue
            raise PlanError(str(answer))

    # -- running ----------------------------------------------------------------------------------------------

    async def execute(self, request: TaskRequest) -> TaskResult:
        """Run a checked request: let plugins refuse it, plan it (unless it has its plan), put the plan to the
        gates, then start the Orchestrator and run the plan with its mode."""
        orc = self.orc
        orc.pm.hook.orc_check_request(request=request, config=orc.config)
        if request.plan is None:
            request = await self.make_plan(request)
        request = self.gate(request)
        plan, mode = request.plan, request.mode
        assert plan is not None and mode is not None, "execute takes a request checked with its mode"
        await orc.start()
        task = Task(
            id=new_id("task"),
            prompt=request.prompt,
            task_type=plan.task_type,
            mode=mode,
            cwd=request.cwd,
            status=TaskStatus.RUNNING,
            plan=plan,
            limits={name: getattr(orc.config, name) for name in RUN_LIMITS},
            pid=os.getpid(),
            client=orc.config.client,
        )
        # The planner agents that made this plan belong to the task: their cost counts, their records say so.
        planners, self.planners = self.planners, []
        run = Run(task, plan, orc.agents, orc.pm, orc.config, inherited=planners)
        with task_lock(task.id):
            return await self._carry_out(run, mode)

    async def resume(self, task_id: str, execution_mode: str | None, limits: dict[str, Any]) -> TaskResult:
        """Carry on a stopped task (see :meth:`Orchestrator.resume`)."""
        unknown = sorted(set(limits) - set(RUN_LIMITS))
        if unknown:
            raise UsageError(f"not a run limit: {', '.join(unknown)}; limits are {', '.join(RUN_LIMITS)}")
        await self.orc.start()
        # Before anything changes (#17): a second resume of the same task leaves the first one's agents alone.
        with task_lock(task_id):
            return await self._resume(task_id, execution_mode, limits)

    async def _resume(self, task_id: str, execution_mode: str | None, limits: dict[str, Any]) -> TaskResult:
        orc = self.orc
        agents = orc.agents
        record = orc.pm.hook.orc_load_task(task_id=task_id)
        if record is None:
            raise UsageError(f"no task {task_id!r}; `orc list-tasks` shows the tasks")
        if record.task.status is TaskStatus.SUCCEEDED:
            raise UsageError(f"task {task_id} already succeeded; there is nothing to resume")
        if record.task.plan is None:
            raise UsageError(f"task {task_id} has no recorded plan; run it again with `orc execute`")
        mode = check_mode(execution_mode or record.task.mode, orc.executors)
        check_plan(record.task.plan, orc.roles)
        if not os.path.isdir(record.task.cwd):
            raise UsageError(
                f"task {task_id}'s working directory {record.task.cwd!r} is gone; restore it first"
            )
        recorded = {k: v for k, v in record.task.limits.items() if k in RUN_LIMITS}
        config = attrs.evolve(orc.config, **{**recorded, **limits})
        task = attrs.evolve(
            record.task,
            status=TaskStatus.RUNNING,
            mode=mode,
            finished_at=None,
            pid=os.getpid(),
            limits={name: getattr(config, name) for name in RUN_LIMITS},
        )
        kept = {sid: r for sid, r in record.results.items() if r.succeeded}
        has_session = getattr(agents.runtime, "has_session", None)
        resumable = {
            sid: agent_id
            for sid, agent_id in record.agent_ids.items()
            if sid not in kept and has_session is not None and has_session(agents.get(agent_id))
        }
        for agent_id in resumable.values():
            # Its session exists, even if its first turn was cut short: the next turn resumes it.
            agents.update(attrs.evolve(agents.get(agent_id), session_started=True))
        run = Run(
            task,
            task.plan,
            agents,
            orc.pm,
            config,
            kept=kept,
            resumable=resumable,
            inherited=record.agents,
        )
        return await self._carry_out(run, mode)

    async def _carry_out(self, run: Run, execution_mode: str) -> TaskResult:
        orc = self.orc
        agents = orc.agents
        task, plan = run.task, run.plan
        notify(orc.pm, "orc_task_started", task=task)
        for agent_id in run.inherited:
            agent = agents.get(agent_id)
            if agent.task_id != task.id:
                agents.update(attrs.evolve(agent, task_id=task.id))
        self.runs.add(run)
        try:
            await self._run(run, orc.executors[execution_mode])
        finally:
            # Shielded: a run cancelled from outside (Ctrl-C) still deletes its agents and records its end.
            with anyio.CancelScope(shield=True):
                self.runs.discard(run)
                reason = run.stop_message or "cancelled"
                for subtask in plan.subtasks:
                    if subtask.id not in run.results:
                        run.skip(subtask, reason, SubtaskStatus.CANCELLED)
                reports = await self._complete(task, run)
                if not (orc.config.keep_agents or run.keep_agents):
                    for agent_id in [*run.inherited, *run.created]:
                        if agents.get(agent_id).status is not AgentStatus.DELETED:
                            await agents.delete(agent_id)
                result = attrs.evolve(self._result(task, run), reports=reports)
                notify(
                    orc.pm,
                    "orc_task_finished",
                    task=attrs.evolve(task, status=result.status, finished_at=utcnow()),
                    result=result,
                )
        return result

    async def _complete(self, task: Task, run: Run) -> dict[str, Any]:
        """Ask every ``orc_task_complete`` impl for its report; one that raises becomes an error entry (the plugin
        manager isolates each implementation, see hookcalls)."""
        reports: dict[str, Any] = {}
        agents = {sid: self.orc.agents.get(aid) for sid, aid in run.agent_ids.items()}
        answers = self.orc.pm.hook.orc_task_complete(task=task, results=dict(run.results), agents=agents)
        for answer in answers:
            reports.update((await answer if inspect.isawaitable(answer) else answer) or {})
        return reports

    async def _run(self, run: Run, executor: Executor) -> None:
        try:
            await self._run_in_scope(run, executor)
        except BaseExceptionGroup as group:
            # A user's error raised inside an executor's task group reaches the caller as itself.
            inner = leaves(group)
            if len(inner) == 1 and isinstance(inner[0], OrcError):
                raise inner[0] from None
            raise

    async def _run_in_scope(self, run: Run, executor: Executor) -> None:
        with run.scope:
            async with anyio.create_task_group() as group:
                if run.config.timeout_seconds is not None:
                    group.start_soon(self._time_limit, run, run.config.timeout_seconds)
                if self.orc.enable_monitoring:
                    group.start_soon(self._status_checks, run)
                async with anyio.create_task_group() as sessions:
                    with run.sessions_in(sessions):
                        await executor.run(run)
                group.cancel_scope.cancel()
        notify(self.orc.pm, "orc_status", snapshot=run.snapshot())

    @staticmethod
    async def _time_limit(run: Run, seconds: float) -> None:
        # Stopped through run.stop, not a deadline on its scope, so every subtask cut short records why (#17).
        await anyio.sleep(seconds)
        run.stop(StopReason.TIMEOUT, f"stopped: timed out after {seconds:g}s (--timeout)")

    async def _status_checks(self, run: Run) -> None:
        while True:
            await anyio.sleep(self.orc.config.monitor_interval_seconds)
            notify(self.orc.pm, "orc_status", snapshot=run.snapshot())

    def _result(self, task: Task, run: Run) -> TaskResult:
        agents = self.orc.agents
        ordered = tuple(run.results[s.id] for s in run.plan.subtasks if s.id in run.results)
        # Every agent counts: retried attempts, and those of earlier runs of a resumed task.
        metrics = sum(
            (agents.get(a).metrics for a in dict.fromkeys([*run.inherited, *run.created])), Metrics()
        )
        failed = [r for r in ordered if not r.succeeded]
        success = not failed and len(ordered) == len(run.plan.subtasks) and run.stopped is None
        output = next((r.output for r in reversed(ordered) if r.succeeded and r.output), "")
        # Say why it stopped, then each subtask that failed itself (skipped and cancelled ones follow from those).
        culprits = [r for r in failed if r.status is SubtaskStatus.FAILED] or ([] if run.stopped else failed)
        lines = [run.stop_message] if run.stop_message else []
        lines += [
            f"{r.subtask_id} ({r.role}) {r.status.value}: {r.error or 'no reason given'}" for r in culprits
        ]
        error = "; ".join(lines)
        return TaskResult(
            task_id=task.id,
            success=success,
            output=output,
            metrics=metrics,
            subtasks=ordered,
            status=TaskStatus.SUCCEEDED
            if success
            else run.stopped.task_status
            if run.stopped
            else TaskStatus.FAILED,
            error=error or None,
            stopped=run.stopped,
            elapsed_s=time.monotonic() - run.monotonic_start,
        )

    # -- agents between turns -----------------------------------------------------------------------------------

    async def hand_over(self, agent_id: str) -> Agent:
        """Replace an agent whose context is filling up (see :meth:`Orchestrator.hand_over`)."""
        orc = self.orc
        await orc.start()
        agents = orc.agents
        old = agents.get(agent_id)
        summary = await agents.send(agent_id, HANDOVER_PROMPT)
        if summary.is_error:
            raise RunFailed(f"agent {agent_id} could not summarise itself for a hand-over: {summary.error}")
        new = agents.create(
            old.role,
            name=f"{old.name} (continued)",
            cwd=old.cwd,
            model=old.model,
            task_id=old.task_id,
            custom_role=old.custom_role,
        )
        async with agents.open(new.id) as fresh:
            await fresh.send(
                f"You continue the work of an earlier agent whose context was full. Its summary:\n\n"
                f"{summary.text}\n\nReply only with: ready."
            )
        await agents.delete(agent_id)
        self.last_handover = {agent_id: new.id}
        notify(
            orc.pm,
            "orc_agent_flagged",
            agent=agents.get(new.id),
            kind="handover",
            message=f"took over from {agent_id}, whose context was full",
        )
        return agents.get(new.id)

    # -- stopping ---------------------------------------------------------------------------------------------

    def run_of(self, task_id: str) -> Run | None:
        """The :class:`Run` of a task going on now, or None."""
        return next((run for run in self.runs if run.task.id == task_id), None)

    def stop_task(self, task_id: str, reason: str, *, resumable: bool = False) -> bool:
        """Stop one running task (a policy's decision); False if it is not running here. With ``resumable`` its
        agents are kept for ``orc resume``."""
        run = self.run_of(task_id)
        if run is None:
            return False
        run.keep_agents = run.keep_agents or resumable
        run.stop(StopReason.POLICY, reason)
        return True

    def cancel(self, message: str) -> bool:
        """Stop every running task; False if none was running."""
        for run in list(self.runs):
            run.stop(StopReason.INTERRUPTED, message)
        return bool(self.runs)
