"""The Orchestrator: the one object a program (or the CLI) needs to plan, run and inspect tasks and agents."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from . import stall_policy
from .agent_handle import AgentHandle
from .agents import AgentManager, AgentRuntime
from .config import Config, load_config, with_declared
from .errors import RunFailed, RuntimeUnavailable, UsageError
from .lifecycle import HANDOVER_PROMPT, RUN_LIMITS, TaskLifecycle
from .options import collect_options
from .plugins import OrcPluginManager, collect, make_plugin_manager, notify
from .records import Agent, Metrics, Plan, Role, Task, TaskResult, TaskType, money
from .registration import role_check
from .run import Executor, Run, executor_problem
from .steps import steps_plan
from .task_request import BUILTIN_TASK_TYPES, TaskRequest, check_request
from .task_request import role_name as _role_name

log = logging.getLogger("orc")

#: Settings of other agent APIs that a Claude Code session has no knob for: taken, warned about once, unused (#19).
NO_EFFECT_SETTINGS = ("temperature", "top_p", "top_k")

#: Names other modules imported from here before the task lifecycle had its own module (#18).
__all__ = ["BUILTIN_TASK_TYPES", "HANDOVER_PROMPT", "NO_EFFECT_SETTINGS", "RUN_LIMITS", "Orchestrator"]


class Orchestrator:
    """Plans tasks, runs them with teams of agents, and manages agents directly.

    ``Orchestrator()`` reads settings the way the CLI does (:func:`load_config`); pass ``config`` to give them
    yourself. Use ``async with Orchestrator() as orc:`` or call :meth:`start` and :meth:`stop`.

    :param enable_monitoring: run periodic status checks while tasks run.
    :param plugin_options: ``-p`` values, e.g. ``["no:orc_store"]``.
    :param plugins: extra plugin objects to register.
    :param scripted: agents talk to orc's built-in scripted model (a local server, started with the Orchestrator
        and stopped with it): no credentials, no cost. Shorthand for the ``ORC_SCRIPTED`` setting, which the
        built-in scripted-model plugin declares.
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
            settings = {**self.config.plugin_settings, "ORC_SCRIPTED": scripted}
            self.config = attrs.evolve(self.config, plugin_settings=settings)
        #: What ``orc_model_environment`` started (a scripted model), closed by :meth:`stop`.
        self._scripted = contextlib.ExitStack()
        self.enable_monitoring = enable_monitoring
        self.roles: dict[str, Role] = {
            name: attrs.evolve(role, provided_by=plugin)
            for name, (role, plugin) in collect(
                self.pm, "orc_register_roles", lambda r: r.name, role_check(self.pm)
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
        #: The tasks: planning, running, resuming, hand-overs (the Orchestrator is a facade over it).
        self.lifecycle = TaskLifecycle(self)

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`stop`: plugins configured, runtime made."""
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
            if self.config.needs_model:
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
        """Let plugins serve the agents' model until :meth:`stop` (``orc_model_environment``: the scripted model
        with ``scripted``), and point the agents at it."""
        found = self.pm.hook.orc_model_environment(config=self.config, pm=self.pm, stack=self._scripted)
        env = {k: v for answer in reversed(found) if answer for k, v in answer.items()}
        if not env:
            return
        self._scripted.callback(setattr, self, "config", self.config)  # the endpoint goes with the model
        self.config = attrs.evolve(self.config, runtime_env={**self.config.runtime_env, **env})
        if self._agents is not None:
            # Started again after a stop: the agents made before talk to the new model (their sessions stay).
            self._agents.use(self.config, self.pm.hook.orc_make_runtime(config=self.config))

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

    def _request(
        self,
        prompt: str | None,
        task_type: str = "auto",
        roles: Sequence[Any] = (),
        *,
        execution_mode: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        plan: Plan | None = None,
    ) -> TaskRequest:
        """Check what a task asks for, once, against what the plugins registered (:func:`check_request`).

        :raises UsageError: an empty prompt, an unknown role, task type or mode, a directory that does not exist.
        :raises PlanError: a given plan that cannot run.
        """
        return check_request(
            prompt,
            task_type,
            roles,
            cwd=cwd,
            mode=execution_mode,
            plan=plan,
            known_roles=self.roles,
            task_types=self.task_types,
            executors=self.executors,
        )

    def plan(self, prompt: str, task_type: str = "auto", roles: Sequence[Any] = ()) -> Plan:
        """Turn a prompt into a checked plan without spending anything (template planners only).

        :raises UsageError: empty prompt, unknown task type or role; a planner that must run an agent (use
            :meth:`make_plan`).
        :raises PlanError: the planner's plan cannot run.
        """
        planned = self.lifecycle.plan(self._request(prompt, task_type, roles)).plan
        assert planned is not None
        return planned

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
        planned = (await self.lifecycle.make_plan(self._request(prompt, task_type, roles, cwd=cwd))).plan
        assert planned is not None
        return planned

    # -- running ----------------------------------------------------------------------------------------------

    async def execute(
        self,
        prompt: str | None,
        task_type: str = "auto",
        execution_mode: str = "sequential",
        *,
        roles: Sequence[Any] = (),
        cwd: str | os.PathLike[str] | None = None,
        plan: Plan | None = None,
    ) -> TaskResult:
        """Plan ``prompt``, run the plan with a team of agents, delete them, and return the result.

        Before anything is spent: the request is checked (:meth:`request`), plugins may refuse it
        (``orc_check_request``), the plan is made and checked, and the ``orc_plan_gate`` hooks may refuse or edit
        it (``--approve plan`` is one).

        :param task_type: a registered task type, ``auto`` (choose from the prompt) or ``custom`` (use ``roles``).
        :param execution_mode: a registered executor: ``sequential`` and whatever plugins add.
        :param roles: with ``custom`` (or instead of a task type), the roles to run in order.
        :param cwd: the agents' working directory (default: the current directory).
        :param plan: run this plan instead of making one (``prompt`` may then be None: the plan's own).
        :raises UsageError: bad input, found before anything is spent.
        :raises PlanError: the plan cannot run, or a gate refused it.
        """
        request = self._request(prompt, task_type, roles, execution_mode=execution_mode, cwd=cwd, plan=plan)
        return await self.lifecycle.execute(request)

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
        return await self.lifecycle.resume(task_id, execution_mode, dict(limits or {}))

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
        steps = steps_plan(task, dependencies, roles=roles, prompt=prompt, cwd=cwd)
        return await self.execute(steps.prompt, "custom", "dag", plan=steps.plan, cwd=steps.cwd)

    async def execute_custom_workflow(
        self, prompt: str, roles: Sequence[Any], parallel: bool = False
    ) -> TaskResult:
        """Run ``roles`` in order (or side by side with ``parallel``) on ``prompt``: the seed API's custom team."""
        return await self.execute(prompt, "custom", "parallel" if parallel else "sequential", roles=roles)

    def run_of(self, task_id: str) -> Run | None:
        """The :class:`Run` of a task this Orchestrator is running now (its limits, agents, results), or None."""
        return self.lifecycle.run_of(task_id)

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
        return self.lifecycle.stop_task(task_id, reason, resumable=resumable)

    def cancel(self, message: str = "interrupted") -> bool:
        """Stop every running task: no new agents, running ones interrupted. ``execute`` then returns.

        :returns: False if no task was running (it may be planning: cancel that yourself).
        """
        return self.lifecycle.cancel(message)

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
        return await self.lifecycle.hand_over(agent_id)

    @property
    def last_handover(self) -> dict[str, str]:
        """After a hand-over: {old agent id: new agent id}."""
        return self.lifecycle.last_handover

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
            "running_tasks": sorted(run.task.id for run in self.lifecycle.runs),
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
            for a in (self._agents.records() if self._agents else ())
            if (role_name is None or a.role == role_name)
            and (status_name is None or a.status.value == status_name)
        ]
        recorded = self.pm.hook.orc_query_agents(role=role_name, status=status_name) or []
        merged = {a.id: a for a in recorded}
        merged.update({a.id: a for a in local})
        return sorted(merged.values(), key=lambda a: a.created_at, reverse=True)
