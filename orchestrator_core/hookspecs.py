"""Every hook orc calls, in the order a run meets them.

Hooks are named ``orc_*``. pluggy cannot await: each docstring ends with a **Sync or async** section that says
whether an implementation may be ``async def`` and how the core treats it. Observer hooks (the "Observation"
section) are called one implementation at a time: an exception in one is logged (once per plugin and hook, naming
the plugin, its distribution and how to disable it) and the run goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import click

    from .agents import AgentRuntime
    from .config import Config
    from .events import Event
    from .options import Parser
    from .orchestrator import Orchestrator
    from .records import (
        Agent,
        Plan,
        Role,
        StatusSnapshot,
        Subtask,
        SubtaskResult,
        Task,
        TaskRecord,
        TaskResult,
        TaskType,
    )
    from .run import Executor
    from .testing.scripted_server import ScriptedModel

hookspec = pluggy.HookspecMarker("orc")
hookimpl = pluggy.HookimplMarker("orc")


# ---------------------------------------------------------------------------------------------------------------
# Setup and registration
# ---------------------------------------------------------------------------------------------------------------


@hookspec(historic=True)
def orc_addhooks(pm: pluggy.PluginManager) -> None:
    """Add hook specifications of your own, for other plugins to implement (pytest's ``pytest_addhooks``).

    Called when your plugin is registered, before the core checks that every implementation matches a spec, so
    implementations of your hooks in other plugins load without ``optionalhook``. Call
    ``pm.add_hookspecs(module_or_class)``. Historic: a plugin registered later is called too; it cannot be
    combined with firstresult.

    :param pm: the plugin manager.

    **Sync or async**: sync only.
    """


@hookspec
def orc_addoption(parser: Parser) -> None:
    """Declare this plugin's settings and the command-line options that set them (pytest's ``pytest_addoption``).

    Called once per plugin manager, before settings are read and before a command line is parsed. Call
    ``parser.add_setting("ORC_THING_DIR", parse=Path, default=None, help="...")`` for each setting (read from
    ``orc.toml``, ``.env`` and the environment like the core's, listed by ``orc init``, read back with
    ``config.get("ORC_THING_DIR")``), and ``parser.add_option("--thing-dir", setting="ORC_THING_DIR",
    commands=("execute",))`` to let a command line set one; the option's value wins over every source. Options
    exist only while the plugin is loaded. A name another plugin (or the core) declares is a PluginError.

    :param parser: the :class:`~orchestrator_core.options.Parser` to declare on.

    **Sync or async**: sync only.
    """


@hookspec
def orc_register_roles(register: Callable[[Role], None]) -> None:
    """Register the agent roles this plugin provides.

    Called once when an Orchestrator (or the CLI) is built, after every plugin is loaded. Call ``register(role)``
    for each :class:`~orchestrator_core.Role`; the core records your plugin as the role's ``provided_by`` and
    refuses a name another plugin already registered with a :class:`PluginError` naming both.

    :param register: the callback that takes one Role.

    **Sync or async**: sync only.
    """


@hookspec
def orc_register_task_types(register: Callable[[TaskType], None]) -> None:
    """Register task types: named templates that turn a prompt into a plan (``feature_implementation``, ...).

    Called once when an Orchestrator is built. Call ``register(task_type)`` for each
    :class:`~orchestrator_core.TaskType`; its subtasks' instructions may use ``{prompt}``. Duplicate names are a
    :class:`PluginError`.

    :param register: the callback that takes one TaskType.

    **Sync or async**: sync only.
    """


@hookspec
def orc_register_executors(register: Callable[[str, Executor], None]) -> None:
    """Register executors: the objects that decide in which order and how many subtasks of a plan run at once.

    Called once when an Orchestrator is built. Call ``register(name, executor)``; ``name`` is what ``--mode``
    takes. An executor has ``async def run(self, run: Run) -> None`` and runs subtasks with ``await
    run.run_subtask(subtask)`` (see :class:`~orchestrator_core.Run`).

    :param register: the callback that takes a mode name and an executor.

    **Sync or async**: sync only; the executor's ``run`` is async and awaited by the core.
    """


@hookspec
def orc_register_commands(cli: click.Group) -> None:
    """Add commands to the ``orc`` command line.

    Called the first time the CLI needs its command list. Add commands with ``@cli.command()`` or
    ``cli.add_command(...)``. Import heavy modules inside your command functions, not at module level: ``orc
    --help`` must stay fast.

    :param cli: the root click group.

    **Sync or async**: sync only.
    """


@hookspec
def orc_configure(config: Config, pm: pluggy.PluginManager) -> None:
    """Check the configuration and set up per-run plugin state.

    Called by :meth:`Orchestrator.start` after every plugin is registered and before the first task. Raise an
    :class:`OrcError` to refuse to run (for example a store that cannot write its database path); register stateful
    helper objects on ``pm`` here (``pm.register(obj, "orc-monitor")``).

    :param config: the settings for this Orchestrator.
    :param pm: the plugin manager of this Orchestrator.

    **Sync or async**: sync only.
    """


@hookspec
def orc_unconfigure(config: Config, pm: pluggy.PluginManager) -> None:
    """Release what ``orc_configure`` set up (flush and close files, stop threads).

    Called by :meth:`Orchestrator.stop`, once, even when a task failed. Raise an :class:`OrcError` when what
    your plugin was given could not be kept (the store raises StoreError for rows it lost); make such an impl
    ``trylast`` so the other plugins close first.

    :param config: the settings the Orchestrator ran with.
    :param pm: its plugin manager.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_make_runtime(config: Config) -> AgentRuntime | None:
    """Make the agent runtime: the object that opens, talks to and deletes agent sessions.

    Called once by :meth:`Orchestrator.start`. The call stops at the first non-None result; return None to
    decline. The built-in ``orc_claude`` runtime is ``trylast``, so a plugin can replace it.

    :param config: the settings for this Orchestrator.
    :returns: an :class:`~orchestrator_core.AgentRuntime`, or None.

    **Sync or async**: sync only (an async impl would return a coroutine, which counts as an answer).
    """


@hookspec
def orc_scripted_model(model: ScriptedModel) -> None:
    """Teach orc's scripted model what the roles you provide do in an ``orc execute --scripted`` run.

    Called once when ``--scripted`` starts the scripted model, before any agent runs. Add a script per role with
    ``model.script(replies, match=role.system_prompt)`` so the demo shows your role working with its tools.

    :param model: the :class:`~orchestrator_core.testing.ScriptedModel` about to serve the run.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_storage_api(name: str) -> Any | None:
    """Give the public object called ``name`` of the run store's Python API (``Database``).

    Called when a program imports it from :mod:`orchestrator_core.storage` (``from orchestrator_core.storage
    import Database``): the core names no store, so the loaded store plugin answers.
    The call stops at the first non-None result; return None to decline (a name you do not provide).

    :param name: the attribute asked for, e.g. ``"Database"``.
    :returns: the object (a class, usually), or None.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_find_agent(agent_id: str) -> Agent | None:
    """Look up an agent this process did not create (an earlier ``orc`` process made it).

    Called by the agent manager when asked for an id it does not hold, e.g. ``orc agents send ID`` in a new
    process. The call stops at the first non-None result; return None if you do not know the id. The built-in
    store answers from its ``agents`` table.

    :param agent_id: the agent's id.
    :returns: the agent as last recorded (status, session id, metrics, ``started``), or None.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_load_task(task_id: str) -> TaskRecord | None:
    """Load a recorded task (its plan, its subtasks' results and agents) so that it can be resumed.

    Called by :meth:`Orchestrator.resume` (``orc resume TASK_ID``), in a process that may not be the one that ran
    it. The call stops at the first non-None result; return None if you do not know the id.

    :param task_id: the task's id.
    :returns: a :class:`~orchestrator_core.records.TaskRecord`, or None.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_query_agents(role: str | None, status: str | None) -> list[Agent] | None:
    """List recorded agents, newest first, optionally only of one role and/or status.

    Called by :meth:`Orchestrator.list_agents` and ``orc agents list``.
    The call stops at the first non-None result; return None to decline (then only this process's agents are
    listed).

    :param role: only agents of this role, or None for all.
    :param status: only agents with this status value, or None for all.
    :returns: the agents, newest first, or None.

    **Sync or async**: sync only.
    """


# ---------------------------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def orc_make_plan(
    prompt: str,
    task_type: str,
    roles: tuple[str, ...],
    task_types: dict[str, TaskType],
    config: Config,
    orc: Orchestrator,
    cwd: str,
) -> Plan | Awaitable[Plan] | None:
    """Turn a prompt into a :class:`~orchestrator_core.Plan`.

    Called by :meth:`Orchestrator.make_plan` (and so by ``execute`` and ``orc plan``) before anything is spent on
    the task itself. The core validates the plan afterwards (known roles, no cycles, no unknown dependencies).
    The call stops at the first non-None result; return None to decline, e.g. for a task type you do not handle.
    A planner that must work to answer (ask a planner agent) returns an awaitable of the Plan; it decides to
    answer synchronously, so declining is always a plain None.

    :param prompt: what the user asked for.
    :param task_type: a registered task type, ``auto`` or ``custom``.
    :param roles: the roles the user asked for (``--roles``), in order; empty when none were given.
    :param task_types: every registered task type (templates from any plugin), by name.
    :param config: the settings (a planner plugin's own, such as the one naming the planner the user asked
        for, are read with ``config.get(NAME)``).
    :param orc: the Orchestrator, for a planner that runs an agent (``await orc.start()``, ``orc.agents``).
        Agents created while planning belong to the task that runs the plan (its cost, its records).
    :param cwd: the directory the task will work in (absolute): where a planner agent should look.
    :returns: a Plan, an awaitable of one, or None.

    **Sync or async**: the impl is a plain function; it may return an awaitable, which the core awaits. An
    ``async def`` impl would answer (with a coroutine) even when it means to decline.
    """


@hookspec(firstresult=True)
def orc_plan_gate(plan: Plan, prompt: str, cwd: str, config: Config) -> str | None:
    """Stop a plan before anything is spent on it: an approval gate, a policy check.

    Called by :meth:`Orchestrator.execute` after the plan is made and checked, before the first agent. The call
    stops at the first non-None result: a one-line reason, which ``execute`` raises as a :class:`PlanError`.

    :param plan: the plan about to run.
    :param prompt: the task's prompt.
    :param cwd: the task's working directory (absolute).
    :param config: the settings.
    :returns: a reason to refuse, or None to let it run.

    **Sync or async**: sync only.
    """


# ---------------------------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def orc_agent_workdir(task: Task, subtask: Subtask, config: Config) -> str | None:
    """Choose the working directory of a subtask's agent (e.g. a git worktree of its own).

    Called by the run just before the subtask's agent is created. The call stops at the first non-None result;
    return None to leave it in the task's directory (``task.cwd``).

    :param task: the task being run.
    :param subtask: the subtask whose agent is about to be created.
    :param config: the settings (a plugin reads its own with ``config.get(NAME)``).
    :returns: a directory path, or None.

    **Sync or async**: sync only.
    """


@hookspec
def orc_task_complete(task: Task, results: dict[str, SubtaskResult], agents: dict[str, Agent]) -> dict | None:
    """Finish a task's work once the executor is done, before its agents are deleted: merge branches, collect.

    Called once per task, even when it failed or was stopped. Return a report (JSON-able values) to attach to the
    task's result under ``result.reports``; keys should start with your plugin's name. An exception is logged
    and becomes an ``error`` entry in the reports; the task still ends.

    :param task: the task.
    :param results: the subtask results by subtask id.
    :param agents: the agents of each subtask by subtask id (the last attempt's agent).
    :returns: a dict to merge into ``result.reports``, or None.

    **Sync or async**: the impl may return an awaitable of the dict; the core awaits it.
    """


@hookspec(firstresult=True)
def orc_subtask_veto(task: Task, subtask: Subtask) -> str | None:
    """Refuse to run a subtask.

    Called by the run just before a subtask's agent is created (each attempt), once the subtask holds its place
    among ``max_parallel_agents``: whatever happened while it waited for a place is seen. The call stops at the
    first non-None result: a one-line reason. The subtask is then marked failed with that reason and nothing is
    spent on it.

    :param task: the task being run.
    :param subtask: the subtask about to start.
    :returns: a reason to refuse, or None to let it run.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_subtask_retry(
    task: Task, subtask: Subtask, result: SubtaskResult, attempt: int, config: Config
) -> bool | None:
    """Decide whether a failed subtask runs again, with a fresh agent.

    Called by the run after each failed attempt (not after a cancelled one).
    The call stops at the first non-None result. The built-in policy (``orc_executors``, trylast) retries while ``result.retryable`` (an overloaded
    model, a network error, a crashed CLI) and ``attempt <= config.retries`` (``--retries N``).

    :param task: the task being run.
    :param subtask: the subtask that failed.
    :param result: the failed attempt's result (``error``, ``retryable``).
    :param attempt: how many attempts were made so far, from 1.
    :param config: the run's settings (``retries``).
    :returns: True to run it again, False to let it fail, None to leave it to the next implementation.

    **Sync or async**: sync only.
    """


# ---------------------------------------------------------------------------------------------------------------
# Observation
# ---------------------------------------------------------------------------------------------------------------


@hookspec
def orc_task_started(task: Task) -> None:
    """A task has a valid plan and is about to run its first subtask.

    :param task: the task, with its plan; status running.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_task_finished(task: Task, result: TaskResult) -> None:
    """A task ended (succeeded, failed or cancelled); ``result`` is what :meth:`Orchestrator.execute` returns.

    :param task: the task with its final status and finish time.
    :param result: the TaskResult.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_subtask_started(task: Task, subtask: Subtask, agent: Agent) -> None:
    """A subtask's agent was created and is about to receive its instruction.

    :param task: the task.
    :param subtask: the subtask.
    :param agent: the agent that works on it.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_subtask_finished(task: Task, subtask: Subtask, result: SubtaskResult) -> None:
    """A subtask ended: succeeded, failed, skipped (a dependency failed) or cancelled.

    :param task: the task.
    :param subtask: the subtask.
    :param result: its SubtaskResult (status, output, error, metrics).

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_agent_created(agent: Agent) -> None:
    """An agent exists (its session opens with its first message).

    :param agent: the new agent.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_agent_updated(agent: Agent) -> None:
    """An agent's status, session id or metrics changed (after every turn).

    :param agent: the agent as it is now.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_agent_deleted(agent: Agent) -> None:
    """An agent's session and transcript were removed; its records stay.

    :param agent: the agent, status deleted.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_status(snapshot: StatusSnapshot) -> None:
    """A periodic status check of a running task.

    Called every ``MONITOR_INTERVAL_SECONDS`` while a task runs (when the Orchestrator's ``enable_monitoring`` is
    on), and once more when it ends. The store writes it as a snapshot; the monitor uses it to find stalled agents.

    :param snapshot: the task's StatusSnapshot: agents, subtask statuses, metrics, elapsed time.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_orchestrator_started(orc: Orchestrator) -> None:
    """An Orchestrator has started (plugins configured, runtime made): keep ``orc`` to act on its fleet.

    The policy API: ``orc.flag_agent(agent_id, kind, message)``, ``orc.interrupt_agent(agent_id, reason,
    retryable=False)`` and ``orc.stop_task(task_id, reason, resumable=False)``, called from your hooks (``orc_event``,
    ``orc_agent_flagged``, ``orc_status``) on the run's event loop. A plugin that keeps several Orchestrators
    (one plugin manager may serve more than one) acts on the one running the agent or task.

    :param orc: the :class:`~orchestrator_core.Orchestrator`.

    **Sync or async**: sync only; an exception is reported and the Orchestrator goes on.
    """


@hookspec
def orc_agent_flagged(agent: Agent, kind: str, message: str) -> None:
    """Something about an agent needs attention: ``kind`` is ``stall``, ``stalled``, ``loop``, ``context`` or a
    plugin's own.

    Called by whichever plugin or policy noticed it (the monitor's stall and loop detectors, the context
    threshold). Observers record or show it; a policy plugin may act on it (e.g. interrupt the agent). ``stalled``
    (silent for ``ORC_STALL_INTERVALS`` stall periods) is acted on by the core's default stall policy
    (``orc-stall-policy``, trylast), which interrupts the agent's turn with ``message`` as its error.

    :param agent: the agent as it is now.
    :param kind: a short word for what was noticed.
    :param message: one line for people.

    **Sync or async**: sync only; an exception is reported and the run goes on.
    """


@hookspec
def orc_event(event: Event) -> None:
    """Something happened inside an agent's session: a message, a tool call, a file access, usage, ...

    Called as the runtime sees it, in ``seq`` order per agent. See :class:`~orchestrator_core.EventKind` for the
    kinds and their payloads.

    :param event: the event.

    **Sync or async**: sync only, and quick: it runs on the run's event loop. An exception is reported and the run
    goes on.
    """


#: The hooks whose implementations must never break a run: the core calls them one implementation at a time.
OBSERVER_HOOKS = frozenset(
    {
        "orc_task_started",
        "orc_task_finished",
        "orc_subtask_started",
        "orc_subtask_finished",
        "orc_agent_created",
        "orc_agent_updated",
        "orc_agent_deleted",
        "orc_event",
        "orc_status",
        "orc_agent_flagged",
        "orc_orchestrator_started",
    }
)
