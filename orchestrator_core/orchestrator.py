"""The Orchestrator: the one object a program (or the CLI) needs to plan, run and inspect tasks and agents."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs

from . import stall_policy
from .agent_handle import AgentHandle
from .agents import AgentManager, AgentRuntime
from .config import Config, load_config, with_declared
from .errors import OrcError, PlanError, RunFailed, RuntimeUnavailable, UsageError, leaves
from .options import collect_options
from .plugins import OrcPluginManager, collect, make_plugin_manager, notify
from .records import (
    Agent,
    AgentStatus,
    Metrics,
    Plan,
    Role,
    Subtask,
    SubtaskStatus,
    Task,
    TaskResult,
    TaskStatus,
    TaskType,
    check_plan,
    money,
    new_id,
    utcnow,
)
from .run import Executor, Run, executor_problem
from .task_lock import task_lock

#: What an agent is asked before a fresh one takes over from it.
HANDOVER_PROMPT = (
    "Your context is nearly full and a fresh agent will take over your work. Write a complete, self-contained "
    "summary: the goal, what you did, what you found (files, decisions, open questions) and what is left to do."
)

#: The Config attributes a task keeps and a resumed task runs under again, unless the resume overrides them (#17).
RUN_LIMITS = ("max_parallel_agents", "max_cost_usd", "max_agents", "timeout_seconds", "fail_fast", "retries")

log = logging.getLogger("orc")

#: Settings of other agent APIs that a Claude Code session has no knob for: taken, warned about once, unused (#19).
NO_EFFECT_SETTINGS = ("temperature", "top_p", "top_k")

#: Task types every Orchestrator understands, whatever plugins add: choose for me, and "the roles I named".
BUILTIN_TASK_TYPES = ("auto", "custom")


def _role_name(role: Any) -> str:
    return str(getattr(role, "value", role))


class Orchestrator:
    """Plans tasks, runs them with teams of agents, and manages agents directly.

    ``Orchestrator()`` reads settings the way the CLI does (:func:`load_config`); pass ``config`` to give them
    yourself. Use ``async with Orchestrator() as orc:`` or call :meth:`start` and :meth:`stop`.

    :param enable_monitoring: run periodic status checks while tasks run.
    :param plugin_options: ``-p`` values, e.g. ``["no:orc_store"]``.
    :param plugins: extra plugin objects to register.
    :param scripted: agents talk to orc's built-in scripted model (a local server, started with the Orchestrator
        and stopped with it): no credentials, no cost. Default: the ``ORC_SCRIPTED`` setting.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        enable_monitoring: bool = True,
        plugin_options: Iterable[str] = (),
        plugins: Iterable[object] = (),
        pm: OrcPluginManager | None = None,
        scripted: bool | None = None,
    ) -> None:
        self.pm = pm or make_plugin_manager(plugin_options, plugins=plugins)
        declared = collect_options(self.pm).settings.values()
        self.config = with_declared(config, declared) if config else load_config(declared=declared)
        if scripted is not None:
            self.config = attrs.evolve(self.config, scripted=scripted)
        #: The scripted model this Orchestrator started (``scripted``), stopped by :meth:`stop`.
        self._scripted = contextlib.ExitStack()
        self.enable_monitoring = enable_monitoring
        self.roles: dict[str, Role] = {
            name: attrs.evolve(role, provided_by=plugin)
            for name, (role, plugin) in collect(
                self.pm, "orc_register_roles", lambda r: r.name, Role.problem
            ).items()
        }
        self.task_types: dict[str, TaskType] = {
            name: attrs.evolve(tt, provided_by=plugin)
            for name, (tt, plugin) in collect(
                self.pm, "orc_register_task_types", lambda t: t.name, TaskType.problem
            ).items()
        }
        self.executors: dict[str, Executor] = {
            name: executor
            for name, ((_, executor), _plugin) in collect(
                self.pm, "orc_register_executors", lambda x: x[0], executor_problem
            ).items()
        }
        self._agents: AgentManager | None = None
        self._configured = False
        self._runs: set[Run] = set()
        #: After a hand-over: {old agent id: new agent id}.
        self.last_handover: dict[str, str] = {}
        #: Agents the latest make_plan created (planner agents); the next execute adopts them.
        self._planners: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._configured

    async def start(self) -> None:
        """Let plugins check the settings and set up, and make the agent runtime. Idempotent; after a failure
        (a plugin refused, no runtime, no credentials) the next call tries again from the start."""
        if self._configured:
            return
        self._start_scripted_model()
        try:
            self._configure()
        except BaseException:
            self._stop_scripted_model()
            raise

    def _configure(self) -> None:
        # The runtime is checked (credentials, ...) before plugins set up: a run that cannot start leaves nothing
        # behind, no store file in particular (#17).
        runtime: AgentRuntime | None = None
        if self._agents is None:
            runtime = self.pm.hook.orc_make_runtime(config=self.config)
            if runtime is None and self.config.runtime != "local":
                raise RuntimeUnavailable(
                    f"no plugin runs agents with --runtime {self.config.runtime}; install the plugin that provides "
                    "it (and do not disable it with -p no:NAME); `orc plugins --all` lists what is loaded"
                )
            if runtime is None:
                blocked = [name for name, plugin in self.pm.list_name_plugin() if plugin is None]
                disabled = f" (disabled here: {', '.join(f'-p no:{n}' for n in blocked)})" if blocked else ""
                raise RuntimeUnavailable(
                    f"no agent runtime plugin is loaded{disabled}; do not disable the one that runs agents, or "
                    "install a plugin that provides one (`orc plugins --all` lists what is loaded)"
                )
            runtime.check()
        self.pm.hook.orc_configure(config=self.config, pm=self.pm)
        try:
            if runtime is not None:
                self._agents = AgentManager(self.pm, runtime, self.roles, self.config)
            self._use_stall_policy(True)
        except BaseException:
            self.pm.hook.orc_unconfigure(config=self.config, pm=self.pm)
            raise
        self._configured = True
        notify(self.pm, "orc_orchestrator_started", orc=self)

    async def stop(self) -> None:
        """Let plugins flush and close what they opened. Agents kept with ``keep_agents`` stay."""
        if not self._configured:
            return
        self._configured = False
        self._use_stall_policy(False)
        try:
            self.pm.hook.orc_unconfigure(config=self.config, pm=self.pm)
        finally:
            self._stop_scripted_model()

    def _start_scripted_model(self) -> None:
        """With ``scripted`` (ORC_SCRIPTED) and no model endpoint given yet: start orc's scripted model, taught
        by every loaded plugin, and point the agents at it until :meth:`stop`. The CLI's ``--scripted`` and the
        test fixtures give their own endpoint, so nothing is started twice."""
        if not self.config.scripted or "ANTHROPIC_BASE_URL" in self.config.runtime_env:
            return
        from .testing.scripted_run import scripted_environment

        env = self._scripted.enter_context(scripted_environment(self.pm))
        self._scripted.callback(setattr, self, "config", self.config)  # the endpoint goes with the model
        self.config = attrs.evolve(self.config, runtime_env={**self.config.runtime_env, **env})
        if self._agents is not None:
            # Started again after a stop: the agents made before talk to the new model (their sessions stay).
            self._agents.config = self.config
            self._agents.runtime = self.pm.hook.orc_make_runtime(config=self.config)

    def _stop_scripted_model(self) -> None:
        self._scripted.close()

    def _use_stall_policy(self, use: bool) -> None:
        """Let the default stall policy (#17) interrupt this Orchestrator's agents, or stop letting it."""
        if self.pm.is_blocked(stall_policy.NAME) or self._agents is None:
            return
        policy = self.pm.get_plugin(stall_policy.NAME)
        if policy is None and use:
            policy = stall_policy.StallPolicy()
            self.pm.register(policy, stall_policy.NAME)
        if policy is not None:
            if use and self._agents not in policy.managers:
                policy.managers.append(self._agents)
            elif not use and self._agents in policy.managers:
                policy.managers.remove(self._agents)

    async def __aenter__(self) -> Orchestrator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def agent_manager(self) -> Orchestrator:
        """The seed API's agent manager (``await agent_manager.create_agent(...)``): the Orchestrator itself, whose
        :meth:`create_agent`, :meth:`send_to_agent`, :meth:`list_agents` and :meth:`delete_agent` it had."""
        return self

    @property
    def executor(self) -> Orchestrator:
        """The seed API's workflow executor (``await executor.execute_with_dependencies(...)``): the Orchestrator
        itself. The executors that order subtasks (sequential, parallel, dag) are plugins: :attr:`executors`."""
        return self

    @property
    def agents(self) -> AgentManager:
        if self._agents is None:
            raise UsageError("the Orchestrator is not started; call `await orc.start()` or use `async with`")
        return self._agents

    # -- planning ---------------------------------------------------------------------------------------------

    def plan(self, prompt: str, task_type: str = "auto", roles: Sequence[Any] = ()) -> Plan:
        """Turn a prompt into a checked plan without spending anything (template planners only).

        :raises UsageError: empty prompt, unknown task type or role; a planner that must run an agent (use
            :meth:`make_plan`).
        :raises PlanError: the planner's plan cannot run.
        """
        answer = self._ask_planners(prompt, task_type, roles, None)
        if inspect.isawaitable(answer):
            if inspect.iscoroutine(answer):
                answer.close()
            raise UsageError("this planner runs an agent to plan; use `await orc.make_plan(...)`")
        return self._checked(answer, task_type, prompt)

    async def make_plan(
        self,
        prompt: str,
        task_type: str = "auto",
        roles: Sequence[Any] = (),
        *,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Plan:
        """Turn a prompt into a checked plan; a planner plugin may run a planner agent to make it.

        Agents created while planning belong to the next task :meth:`execute` runs (its cost and budget).

        :param cwd: the directory the task will work in (default: the current directory).
        :raises UsageError: empty prompt, unknown task type or role.
        :raises PlanError: the planner's plan cannot run.
        """
        before = set(self._agents.agents) if self._agents else set()
        try:
            answer = self._ask_planners(prompt, task_type, roles, cwd)
            if inspect.isawaitable(answer):
                answer = await answer
        finally:
            self._planners = [a for a in (self._agents.agents if self._agents else ()) if a not in before]
        return self._checked(answer, task_type, prompt)

    def _checked(self, plan: Plan | None, task_type: str, prompt: str) -> Plan:
        if plan is None:
            raise PlanError(
                f"no planner made a plan for task type {task_type!r}; is a planner plugin disabled?"
            )
        check_plan(plan, self.roles)
        return plan if plan.prompt else attrs.evolve(plan, prompt=prompt)

    def _ask_planners(self, prompt: str, task_type: str, roles: Sequence[Any], cwd: Any) -> Any:
        if not prompt or not prompt.strip():
            raise UsageError(
                'the prompt is empty; say what the agents should do, e.g. orc execute "Add CSV export"'
            )
        role_names = tuple(_role_name(r) for r in roles)
        unknown = [r for r in role_names if r not in self.roles]
        if unknown:
            raise UsageError(
                f"unknown role(s) {', '.join(unknown)}; known roles: {', '.join(sorted(self.roles))} (see `orc roles`)"
            )
        if task_type not in self.task_types and task_type not in BUILTIN_TASK_TYPES:
            known = sorted({*self.task_types, *BUILTIN_TASK_TYPES})
            raise UsageError(f"unknown task type {task_type!r}; choose one of: {', '.join(known)}")
        if task_type == "custom" and not role_names:
            raise UsageError("task type 'custom' needs the roles to run, e.g. --roles scout,builder,reviewer")
        return self.pm.hook.orc_make_plan(
            prompt=prompt,
            task_type=task_type,
            roles=role_names,
            task_types=self.task_types,
            config=self.config,
            orc=self,
            cwd=str(Path(cwd or ".").resolve()),
        )

    # -- running ----------------------------------------------------------------------------------------------

    async def execute(
        self,
        prompt: str,
        task_type: str = "auto",
        execution_mode: str = "sequential",
        *,
        roles: Sequence[Any] = (),
        cwd: str | os.PathLike[str] | None = None,
        plan: Plan | None = None,
    ) -> TaskResult:
        """Plan ``prompt``, run the plan with a team of agents, delete them, and return the result.

        :param task_type: a registered task type, ``auto`` (choose from the prompt) or ``custom`` (use ``roles``).
        :param execution_mode: a registered executor: ``sequential`` and whatever plugins add.
        :param roles: with ``custom`` (or instead of a task type), the roles to run in order.
        :param cwd: the agents' working directory (default: the current directory).
        :param plan: run this plan instead of making one.
        :raises UsageError: bad input, found before anything is spent.
        """
        if execution_mode not in self.executors:
            raise UsageError(
                f"unknown execution mode {execution_mode!r}; choose one of: {', '.join(sorted(self.executors))}"
            )
        if roles and task_type == "auto":
            task_type = "custom"
        if plan is None:
            plan = await self.make_plan(prompt, task_type, roles, cwd=cwd)
        else:
            check_plan(plan, self.roles)
        workdir = Path(cwd or ".").resolve()
        if not workdir.is_dir():
            raise UsageError(
                f"working directory {str(workdir)!r} does not exist; create it or pass another --cwd"
            )
        refusal = self.pm.hook.orc_plan_gate(plan=plan, prompt=prompt, cwd=str(workdir), config=self.config)
        if refusal:
            raise PlanError(refusal)
        await self.start()
        task = Task(
            id=new_id("task"),
            prompt=prompt,
            task_type=plan.task_type,
            mode=execution_mode,
            cwd=str(workdir),
            status=TaskStatus.RUNNING,
            plan=plan,
            limits={name: getattr(self.config, name) for name in RUN_LIMITS},
            pid=os.getpid(),
        )
        # The planner agents that made this plan belong to the task: their cost counts, their records say so.
        planners, self._planners = self._planners, []
        run = Run(task, plan, self.agents, self.pm, self.config, inherited=planners)
        with task_lock(task.id):
            return await self._carry_out(run, execution_mode)

    async def resume(
        self, task_id: str, execution_mode: str | None = None, *, limits: dict[str, Any] | None = None
    ) -> TaskResult:
        """Carry on a task that stopped before its end (orc killed, a node lost, a budget or Ctrl-C).

        Succeeded subtasks are not run again: their results are reused. An interrupted subtask whose agent's
        session still exists continues that session; any other starts afresh. The task keeps its id, so the store
        shows its whole history. It runs under the limits it was started with (:data:`RUN_LIMITS`), except those
        given in ``limits``.

        :param limits: Config attributes of :data:`RUN_LIMITS` to change for this run, e.g. ``{"max_cost_usd": 2}``.
        :raises UsageError: unknown task id, a task that already succeeded, an unknown mode.
        :raises TaskBusy: another process is running the task; nothing was changed.
        """
        unknown = sorted(set(limits or {}) - set(RUN_LIMITS))
        if unknown:
            raise UsageError(f"not a run limit: {', '.join(unknown)}; limits are {', '.join(RUN_LIMITS)}")
        await self.start()
        # Before anything changes (#17): a second resume of the same task leaves the first one's agents alone.
        with task_lock(task_id):
            return await self._resume(task_id, execution_mode, dict(limits or {}))

    async def _resume(self, task_id: str, execution_mode: str | None, limits: dict[str, Any]) -> TaskResult:
        record = self.pm.hook.orc_load_task(task_id=task_id)
        if record is None:
            raise UsageError(f"no task {task_id!r}; `orc list-tasks` shows the tasks")
        if record.task.status is TaskStatus.SUCCEEDED:
            raise UsageError(f"task {task_id} already succeeded; there is nothing to resume")
        if record.task.plan is None:
            raise UsageError(f"task {task_id} has no recorded plan; run it again with `orc execute`")
        mode = execution_mode or record.task.mode
        if mode not in self.executors:
            raise UsageError(
                f"unknown execution mode {mode!r}; choose one of: {', '.join(sorted(self.executors))}"
            )
        check_plan(record.task.plan, self.roles)
        if not Path(record.task.cwd).is_dir():
            raise UsageError(
                f"task {task_id}'s working directory {record.task.cwd!r} is gone; restore it first"
            )
        recorded = {k: v for k, v in record.task.limits.items() if k in RUN_LIMITS}
        config = attrs.evolve(self.config, **{**recorded, **limits})
        task = attrs.evolve(
            record.task,
            status=TaskStatus.RUNNING,
            mode=mode,
            finished_at=None,
            pid=os.getpid(),
            limits={name: getattr(config, name) for name in RUN_LIMITS},
        )
        kept = {sid: r for sid, r in record.results.items() if r.succeeded}
        has_session = getattr(self.agents.runtime, "has_session", None)
        resumable = {
            sid: agent_id
            for sid, agent_id in record.agent_ids.items()
            if sid not in kept and has_session is not None and has_session(self.agents.get(agent_id))
        }
        for agent_id in resumable.values():
            # Its session exists, even if its first turn was cut short: the next turn resumes it.
            self.agents.agents[agent_id] = attrs.evolve(self.agents.get(agent_id), started=True)
        run = Run(
            task,
            task.plan,
            self.agents,
            self.pm,
            config,
            kept=kept,
            resumable=resumable,
            inherited=record.agents,
        )
        return await self._carry_out(run, mode)

    async def _carry_out(self, run: Run, execution_mode: str) -> TaskResult:
        task, plan = run.task, run.plan
        notify(self.pm, "orc_task_started", task=task)
        for agent_id in run.inherited:
            agent = self.agents.get(agent_id)
            if agent.task_id != task.id:
                self.agents._update(attrs.evolve(agent, task_id=task.id))
        self._runs.add(run)
        try:
            await self._run(run, self.executors[execution_mode])
        finally:
            # Shielded: a run cancelled from outside (Ctrl-C) still deletes its agents and records its end.
            with anyio.CancelScope(shield=True):
                self._runs.discard(run)
                reason = run.stop_message or "cancelled"
                for subtask in plan.subtasks:
                    if subtask.id not in run.results:
                        run.skip(subtask, reason, SubtaskStatus.CANCELLED)
                reports = await self._complete(task, run)
                if not (self.config.keep_agents or run.keep_agents):
                    for agent_id in [*run.inherited, *run.created]:
                        if self.agents.get(agent_id).status is not AgentStatus.DELETED:
                            await self.agents.delete(agent_id)
                result = attrs.evolve(self._result(task, run), reports=reports)
                notify(
                    self.pm,
                    "orc_task_finished",
                    task=attrs.evolve(task, status=result.status, finished_at=utcnow()),
                    result=result,
                )
        return result

    async def _complete(self, task: Task, run: Run) -> dict[str, Any]:
        """Ask every ``orc_task_complete`` impl for its report; one that raises becomes an error entry."""
        reports: dict[str, Any] = {}
        agents = {sid: self.agents.get(aid) for sid, aid in run.agent_ids.items()}
        for impl in reversed(self.pm.hook.orc_task_complete.get_hookimpls()):
            try:
                answer: Any = impl.function(
                    **{
                        k: {"task": task, "results": dict(run.results), "agents": agents}[k]
                        for k in impl.argnames
                    }
                )
                if inspect.isawaitable(answer):
                    answer = await answer
                reports.update(answer or {})
            except Exception as exc:
                reports[f"{impl.plugin_name}.error"] = f"{type(exc).__name__}: {exc}"
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
                if self.enable_monitoring:
                    group.start_soon(self._status_checks, run)
                async with anyio.create_task_group() as sessions:
                    run.group = sessions
                    try:
                        await executor.run(run)
                    finally:
                        run.group = None
                        run.release_prepared()
                group.cancel_scope.cancel()
        notify(self.pm, "orc_status", snapshot=run.snapshot())

    @staticmethod
    async def _time_limit(run: Run, seconds: float) -> None:
        # Stopped through run.stop, not a deadline on its scope, so every subtask cut short records why (#17).
        await anyio.sleep(seconds)
        run.stop("timeout", f"stopped: timed out after {seconds:g}s (--timeout)")

    def run_of(self, task_id: str) -> Run | None:
        """The :class:`Run` of a task this Orchestrator is running now (its limits, agents, results), or None."""
        return next((run for run in self._runs if run.task.id == task_id), None)

    # -- the policy API: what a plugin may do to a running fleet (#21) ------------------------------------------

    def flag_agent(self, agent_id: str, kind: str, message: str) -> None:
        """Flag an agent (``orc_agent_flagged``): observers record and show it, policies may act on it."""
        notify(self.pm, "orc_agent_flagged", agent=self.agents.get(agent_id), kind=kind, message=message)

    def interrupt_agent(self, agent_id: str, reason: str, *, retryable: bool = False) -> bool:
        """Stop an agent's running turn: it ends as a failed turn whose error is ``reason``; with ``retryable``
        the retry policy may run its subtask again. False if the agent is not in a turn here. Call it on the run's
        event loop (from a hook, for example)."""
        return self.agents.interrupt(agent_id, reason, retryable=retryable, stalled=False)

    def stop_task(self, task_id: str, reason: str, *, resumable: bool = False) -> bool:
        """Stop a running task: no new agents, running ones interrupted, each subtask cut short records ``reason``
        (the task's error too). With ``resumable`` its agents are kept, so ``orc resume`` continues their sessions
        where they stopped. False if this Orchestrator is not running that task."""
        run = self.run_of(task_id)
        if run is None:
            return False
        run.keep_agents = run.keep_agents or resumable
        run.stop("policy", reason)
        return True

    def cancel(self, message: str = "interrupted") -> bool:
        """Stop every running task: no new agents, running ones interrupted. ``execute`` then returns.

        :returns: False if no task was running (it may be planning: cancel that yourself).
        """
        for run in list(self._runs):
            run.stop("interrupted", message)
        return bool(self._runs)

    async def _status_checks(self, run: Run) -> None:
        while True:
            await anyio.sleep(self.config.monitor_interval_seconds)
            notify(self.pm, "orc_status", snapshot=run.snapshot())

    async def execute_with_dependencies(
        self,
        task: Task | Plan | str | Sequence[Any],
        dependencies: dict[int, Sequence[int]],
        *,
        roles: Sequence[Any] = (),
        prompt: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> TaskResult:
        """Run steps as a dependency graph (the dag mode): a step starts once the steps it depends on succeeded,
        and receives exactly their results. Every agent is given the task's goal (the prompt) with its step.

        :param task: a :class:`Task` (its prompt, and its plan's subtasks as the steps), a :class:`Plan` (its
            subtasks), the steps as a list (role names or ``AgentRole``, ``(role, instruction)`` pairs, or
            Subtasks), or the prompt itself with the steps' roles in ``roles``.
        :param dependencies: step index -> the indices it depends on, e.g. ``{1: [0], 2: [0, 1], 3: [2]}``. They
            replace the steps' own ``depends_on``.
        :param prompt: the task's goal; needed unless ``task`` is a Task, a Plan made for a prompt or the prompt
            itself, or every step is a ``(role, instruction)`` pair (their instructions then make the goal).
        :raises PlanError: an unknown step index, a cycle, an unknown role.
        :raises UsageError: no goal to give the agents.
        """
        if isinstance(task, Task):
            prompt = prompt or task.prompt
            steps: list[Any] = list(task.plan.subtasks if task.plan else roles)
            cwd = cwd or task.cwd
        elif isinstance(task, Plan):
            prompt = prompt or task.prompt
            steps = list(task.subtasks)
        elif isinstance(task, str):
            prompt, steps = prompt or task, list(roles)
        else:
            steps = list(task)
        unknown = sorted(set(dependencies) - set(range(len(steps))))
        if unknown:
            raise PlanError(
                f"dependencies name step(s) {unknown} but there are {len(steps)} steps (0 to "
                f"{len(steps) - 1})"
            )
        # A (role, instruction) pair is the caller's own words; a role or a template's Subtask says nothing of
        # the goal, so the goal must come from somewhere: a Task, a Plan made for a prompt, or prompt=.
        vague = [s for s in steps if not isinstance(s, tuple)]
        if vague and not (prompt and prompt.strip()):
            role = vague[0].role if isinstance(vague[0], Subtask) else _role_name(vague[0])
            raise UsageError(
                "execute_with_dependencies: give the task's goal (prompt=...), or a Task or Plan "
                f"made for it, so the {role} knows what to work on"
            )
        subtasks = []
        for i, step in enumerate(steps):
            after = [str(d) for d in dependencies.get(i, ())]
            if isinstance(step, Subtask):
                subtasks.append(attrs.evolve(step, id=str(i), depends_on=after))
            elif isinstance(step, tuple):
                subtasks.append(Subtask(str(i), _role_name(step[0]), str(step[1]), after))
            else:
                subtasks.append(
                    Subtask(str(i), _role_name(step), f"As the {_role_name(step)}: {prompt}", after)
                )
        plan = Plan(subtasks, task_type="custom")
        text = prompt or "; ".join(s.instruction for s in subtasks)
        return await self.execute(text, "custom", "dag", plan=plan, cwd=cwd)

    async def execute_custom_workflow(
        self, prompt: str, roles: Sequence[Any], parallel: bool = False
    ) -> TaskResult:
        """Run ``roles`` in order (or side by side with ``parallel``) on ``prompt``: the seed API's custom team."""
        return await self.execute(prompt, "custom", "parallel" if parallel else "sequential", roles=roles)

    def _result(self, task: Task, run: Run) -> TaskResult:
        ordered = tuple(run.results[s.id] for s in run.plan.subtasks if s.id in run.results)
        # Every agent counts: retried attempts, and those of earlier runs of a resumed task.
        metrics = sum(
            (self.agents.get(a).metrics for a in dict.fromkeys([*run.inherited, *run.created])), Metrics()
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
            else TaskStatus.CANCELLED
            if run.stopped not in (None, "fail_fast", "error")
            else TaskStatus.FAILED,
            error=error or None,
            stopped=run.stopped,
            elapsed_s=time.monotonic() - run.started,
        )

    # -- agents as resources ----------------------------------------------------------------------------------

    async def create_agent(
        self,
        role: Any,
        name: str | None = None,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        tools: Sequence[str] | None = None,
        permission_mode: str | None = None,
        max_turns: int | None = None,
        max_tokens: int | None = None,
        **settings: Any,
    ) -> AgentHandle:
        """Make an agent of ``role``; its session opens with the first :meth:`send_to_agent`.

        With ``AgentRole.CUSTOM`` (or ``"custom"``), ``system_prompt`` and ``tools`` make the role.
        ``max_tokens`` is the most tokens one response may have (the Claude Code CLI's output limit).
        ``temperature`` (and ``top_p``, ``top_k``) are taken with a warning: a Claude Code session has no such
        setting, so they change nothing. Any other setting is refused, never silently dropped.

        :returns: the agent's id, as an :class:`AgentHandle`: a ``str`` that works wherever an id is taken, and
            also ``.name``, ``.status``, ``await .execute_task(message)``, ``.get_context_window_usage()``.
        :raises UsageError: unknown role, a setting the SDK has no knob for, a custom role without a prompt.
        """
        unknown = sorted(set(settings) - set(NO_EFFECT_SETTINGS))
        if unknown:
            raise UsageError(
                f"{', '.join(unknown)}: not a setting a Claude Code session takes (claude-agent-sdk has no such "
                "option); remove it. Agents take model, system_prompt, tools, permission_mode, max_turns and "
                "max_tokens"
            )
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise UsageError(f"max_tokens={max_tokens!r}: give a whole number of tokens, 1 or more")
        if settings:
            given = ", ".join(f"{k}={v!r}" for k, v in sorted(settings.items()))
            log.warning(
                "%s: no effect on Claude Code agents (a Claude Code session has no such setting); the agent "
                "is created without it",
                given,
            )
        await self.start()
        role_name = _role_name(role)
        if role_name == "custom":
            if not system_prompt:
                raise UsageError("a custom agent needs a system_prompt (and usually tools)")
            custom = Role(
                "custom",
                name or "Custom agent",
                system_prompt,
                tuple(tools or ()),
                model=model,
                max_turns=max_turns,
                permission_mode=permission_mode or "default",
                max_output_tokens=max_tokens,
            )
            agent = self.agents.create("custom", name=name, cwd=cwd, model=model, custom_role=custom)
            return AgentHandle(self, agent.id)
        if (
            system_prompt is not None
            or tools is not None
            or permission_mode is not None
            or max_turns is not None
        ):
            raise UsageError(
                f"system_prompt, tools, permission_mode and max_turns are the {role_name} role's; "
                "use role=AgentRole.CUSTOM to give your own"
            )
        registered = self.roles.get(role_name)
        own = attrs.evolve(registered, max_output_tokens=max_tokens) if registered and max_tokens else None
        agent = self.agents.create(role_name, name=name, cwd=cwd, model=model, custom_role=own)
        return AgentHandle(self, agent.id)

    async def send_to_agent(self, agent_id: str, message: str) -> str:
        """Send a message to an agent and return its answer.

        An agent whose context is past ``ORC_CONTEXT_THRESHOLD`` is first handed over (:meth:`hand_over`): the
        message goes to a fresh agent of the same role that starts from the old one's summary.
        :attr:`last_handover` then maps the old id to the new one.

        :raises RunFailed: the turn failed (the model or the CLI gave an error); the agent stays usable.
        """
        await self.start()
        agent_id = str(agent_id)
        agent = self.agents.get(agent_id)
        if agent.context_usage["usage_percentage"] >= self.config.context_threshold:
            agent_id = (await self.hand_over(agent_id)).id
        turn = await self.agents.send(agent_id, message)
        if turn.is_error:
            raise RunFailed(f"agent {agent_id} could not answer: {turn.error}")
        return turn.text

    async def hand_over(self, agent_id: str) -> Agent:
        """Replace an agent whose context is filling up: it writes a summary, a fresh agent of the same role
        starts from it, and the old agent is deleted. Returns the new agent.
        """
        await self.start()
        old = self.agents.get(agent_id)
        summary = await self.agents.send(agent_id, HANDOVER_PROMPT)
        if summary.is_error:
            raise RunFailed(f"agent {agent_id} could not summarise itself for a hand-over: {summary.error}")
        new = self.agents.create(
            old.role,
            name=f"{old.name} (continued)",
            cwd=old.cwd,
            model=old.model,
            task_id=old.task_id,
            custom_role=old.custom_role,
        )
        async with self.agents.open(new.id) as fresh:
            await fresh.send(
                f"You continue the work of an earlier agent whose context was full. Its summary:\n\n"
                f"{summary.text}\n\nReply only with: ready."
            )
        await self.agents.delete(agent_id)
        self.last_handover = {agent_id: new.id}
        notify(
            self.pm,
            "orc_agent_flagged",
            agent=self.agents.get(new.id),
            kind="handover",
            message=f"took over from {agent_id}, whose context was full",
        )
        return self.agents.get(new.id)

    def get_agent_details(self, agent_id: str) -> dict[str, Any]:
        """An agent as a dict: status, session id, cwd, ``metrics`` and ``context_usage``."""
        return self.agents.get(str(agent_id)).to_dict()

    def get_status(self) -> dict[str, Any]:
        """The fleet and what is being watched.

        ``fleet``: agents by status and by role, summed cost and tokens. ``monitoring``: the tasks running now,
        the status-check interval, and ``files`` (files consumed vs produced). The flat keys (``agents``,
        ``by_status``, ``by_role``, ``metrics``, ``files_consumed``, ``files_produced``) are kept as they were.
        """
        agents = self.list_agents()
        totals = sum((a.metrics for a in agents), Metrics())
        by_status: dict[str, int] = {}
        by_role: dict[str, int] = {}
        for agent in agents:
            by_status[agent.status.value] = by_status.get(agent.status.value, 0) + 1
            by_role[agent.role] = by_role.get(agent.role, 0) + 1
        files = {"files_consumed": totals.files_read, "files_produced": totals.files_written}
        fleet = {
            "total_agents": len(agents),
            "by_status": by_status,
            "by_role": by_role,
            "total_cost_usd": money(totals.cost_usd),
            "total_tokens": totals.total_tokens,
            "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens,
            "messages": totals.messages,
            "tool_calls": totals.tool_calls,
        }
        monitoring = {
            "enabled": self.enable_monitoring,
            "interval_seconds": self.config.monitor_interval_seconds,
            "running_tasks": sorted(run.task.id for run in self._runs),
            "files": files,
        }
        return {
            "fleet": fleet,
            "monitoring": monitoring,
            "agents": len(agents),
            "by_status": by_status,
            "by_role": by_role,
            "metrics": totals.to_dict(),
            **files,
        }

    async def delete_agent(self, agent_id: str) -> None:
        """Delete an agent's session and transcript; its records stay."""
        await self.start()
        await self.agents.delete(str(agent_id))

    def list_agents(self, role: Any = None, status: Any = None) -> list[Agent]:
        """Agents of this process and, through the store, earlier ones; newest first."""
        role_name = _role_name(role) if role is not None else None
        status_name = str(getattr(status, "value", status)) if status is not None else None
        local = [
            a
            for a in (self._agents.agents.values() if self._agents else ())
            if (role_name is None or a.role == role_name)
            and (status_name is None or a.status.value == status_name)
        ]
        recorded = self.pm.hook.orc_query_agents(role=role_name, status=status_name) or []
        merged = {a.id: a for a in recorded}
        merged.update({a.id: a for a in local})
        return sorted(merged.values(), key=lambda a: a.created_at, reverse=True)
