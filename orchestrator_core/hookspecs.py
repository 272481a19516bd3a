"""Every hook orc calls, in the order a run meets them.

Hooks are named ``orc_*``. pluggy cannot await: each docstring ends with a **Sync or async** section that says
whether an implementation may be ``async def`` and how the core treats it. Every hook is called through pluggy, so
``wrapper=True`` and ``hookwrapper=True`` implementations work; an observer implementation (the "Observation"
section) that raises is logged (once per plugin and hook, naming the plugin, its distribution and how to disable
it) and the call goes on with the others, as does the run (see :mod:`orchestrator_core.hookcalls`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Awaitable, Callable, Iterable, Mapping

    import click

    from .agents import AgentRuntime
    from .config import Config
    from .events import Event
    from .options import Parser
    from .orchestrator import Orchestrator
    from .planners import Planner
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
    from .task_request import TaskRequest
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
def orc_register_runtimes(register: Callable[[str], None]) -> None:
    """Register the names ``--runtime`` (``ORC_RUNTIME``) takes: the places your runtime runs agents.

    Called when a command checks ``--runtime``, before anything starts: a name no loaded plugin registers is a
    usage error listing the registered ones. Register every name your ``orc_make_runtime`` answers to.

    :param register: the callback that takes one runtime name.

    **Sync or async**: sync only.
    """


@hookspec
def orc_register_planners(register: Callable[[str, Planner], None]) -> None:
    """Register planners the user can ask for by name: ``--planner NAME`` (the ``ORC_PLANNER`` setting).

    Called when a plan is asked for with a planner named, and by ``orc plugins`` and ``--planner``'s help. Call
    ``register(name, planner)``: ``planner`` is a callable taking any of :func:`orc_make_plan`'s arguments by
    name and returning what it returns (a Plan, an awaitable of one, or None). A name another plugin registered
    is a :class:`PluginError` naming both; ``--planner`` with a name nobody registered is a usage error listing
    the names. Without ``--planner``, :func:`orc_make_plan` decides as before.

    :param register: the callback that takes a planner's name and the planner.

    **Sync or async**: sync only; the planner may return an awaitable, which the core awaits.
    """


@hookspec
def orc_tool_names() -> Iterable[str] | None:
    """Name the tools an agent of this runtime can be given (a role's ``tools``).

    Called when roles are registered. The core refuses a role listing a tool no plugin names (a typo such as
    ``Writ`` would otherwise fail only when an agent starts); ``mcp__*`` names are always accepted (MCP servers
    add them at run time). Answer from a runtime plugin, and from any plugin that adds tools of its own.
    When no plugin answers, tool names are not checked.

    :returns: tool names, or None.

    **Sync or async**: sync only.
    """


@hookspec
def orc_register_commands(cli: click.Group) -> None:
    """Add commands to the ``orc`` command line.

    Called once per invocation of ``orc``, the first time it needs its command list. Add commands with
    ``@cli.command()`` or ``cli.add_command(...)``; they belong to this invocation only. A name the core or another
    plugin has is an error naming both. Import heavy modules inside your command functions, not at module level:
    ``orc --help`` must stay fast.

    :param cli: a click group that takes this invocation's plugin commands (``orc`` runs them as its own).

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
def orc_model_environment(
    config: Config, pm: pluggy.PluginManager, stack: contextlib.ExitStack
) -> Mapping[str, str] | None:
    """Give every agent's Claude CLI more environment for as long as an Orchestrator runs: a model endpoint you
    serve, for example (orc_scripted's ``--scripted``).

    Called by :meth:`Orchestrator.start`, before the runtime is made and its credentials checked. Start what you
    serve with ``stack.enter_context(...)``: the Orchestrator closes ``stack`` when it stops. Leave an endpoint the
    configuration already has (``ANTHROPIC_BASE_URL`` in ``config.runtime_env``) alone. Every result is merged
    into ``Config.runtime_env``; return None to add nothing.

    :param config: the settings for this Orchestrator.
    :param pm: its plugin manager.
    :param stack: closed when the Orchestrator stops.
    :returns: environment variables, or None.

    **Sync or async**: sync only.
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
def orc_remembered_settings(
    config: Config, task_id: str | None, agent_id: str | None
) -> dict[str, Any] | None:
    """Give the remembered settings (``add_setting(..., remember=True)``) a recorded task or agent was made with.

    Called by ``orc resume``, ``orc agents send`` and ``orc agents delete`` before they build their Orchestrator:
    the values come back as the settings' values unless the command line gives others (a task made with
    ``--scripted`` resumes scripted). The call stops at the first non-None result; return None when you do not
    know the task or agent. The built-in store answers from its ``tasks`` and ``agents`` rows.

    :param config: the settings of the command (where the store is).
    :param task_id: the task's id, or None.
    :param agent_id: the agent's id, or None.
    :returns: setting name -> value, or None.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_find_agent(agent_id: str) -> Agent | None:
    """Look up an agent this process did not create (an earlier ``orc`` process made it).

    Called by the agent manager when asked for an id it does not hold, e.g. ``orc agents send ID`` in a new
    process. The call stops at the first non-None result; return None if you do not know the id. The built-in
    store answers from its ``agents`` table.

    :param agent_id: the agent's id.
    :returns: the agent as last recorded (status, session id, metrics, ``session_started``), or None.

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


@hookspec
def orc_transcript_append(agent: Agent, session_id: str, subpath: str, entries: list[dict[str, Any]]) -> None:
    """Keep lines of an agent's session transcript, as the session writes them.

    Called by the runtime (on the machine that runs orc, also for agents on other nodes) each time the session's
    transcript grows, so that the conversation can be continued on any machine or node that can open the store
    (``orc resume``, ``orc agents send``; #25). Store them in order; a line with a ``uuid`` sent again is kept
    once. They go when the agent is deleted (``orc_agent_deleted``).

    :param agent: the agent whose session it is.
    :param session_id: the session the lines belong to.
    :param subpath: ``""`` for the session's own transcript, else the path of a subagent's transcript in it.
    :param entries: the lines, JSON-safe dicts, in the order written.

    **Sync or async**: sync only, and quick: it runs on the run's event loop.
    """


@hookspec(firstresult=True)
def orc_transcript_load(agent: Agent, session_id: str, subpath: str) -> list[dict[str, Any]] | None:
    """Give back the lines of an agent's session transcript kept by :func:`orc_transcript_append`.

    Called by the runtime before it continues a session, in any process on any machine. The call stops at the
    first non-None result; return None if you keep nothing for that session (the runtime then continues from
    its own files, if it has them).

    :param agent: the agent whose session it is.
    :param session_id: the session.
    :param subpath: ``""`` for the session's own transcript, else a subagent's path.
    :returns: the lines in the order they were written, or None.

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
    Not called when the user names a planner (``--planner NAME``): the one registered under that name with
    :func:`orc_register_planners` answers instead. An answer that is not a Plan (or an awaitable of one) is a
    :class:`PluginError` naming your plugin.
    A planner that must work to answer (ask a planner agent) returns an awaitable of the Plan; it decides to
    answer synchronously, so declining is always a plain None.

    :param prompt: what the user asked for.
    :param task_type: a registered task type, ``auto`` or ``custom``; ``auto`` with roles arrives as ``custom``
        (the core checked the request: the prompt is not empty, the roles and the task type exist).
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


@hookspec
def orc_check_request(request: TaskRequest, config: Config) -> None:
    """Refuse a task before anything is spent on it, planning included: a setting this task cannot use.

    Called by :meth:`Orchestrator.execute` once the core has checked the request (prompt, roles, task type,
    mode, working directory) and before the planners run. Every impl is called; raise an :class:`OrcError`
    (one line saying what to do) to refuse. The approval plugin refuses ``--approve plan`` here when there is no
    terminal to ask on.

    :param request: the checked request: ``prompt``, ``task_type`` (``auto`` with roles is ``custom`` by now),
        ``roles``, ``cwd`` (absolute), ``mode``, and ``plan`` when one was given.
    :param config: the settings (a plugin reads its own with ``config.get(NAME)``).

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_plan_gate(
    plan: Plan, prompt: str, cwd: str, config: Config, roles: dict[str, Role]
) -> str | Plan | None:
    """Stop a plan before anything is spent on it, or change it: an approval gate, a policy check.

    Called by :meth:`Orchestrator.execute` after the plan is made and checked, before the first agent. The call
    stops at the first non-None result: a one-line reason, which ``execute`` raises as a :class:`PlanError`, or
    an edited :class:`Plan`, which the core checks and puts to every gate again (return None, or the plan you
    were given, to let it run). A gate may also raise an :class:`OrcError` of its own: the approval plugin
    raises :class:`Interrupted` when the user says no. Built-in gates are asked last, so a policy refuses
    before a person is asked.

    :param plan: the plan about to run.
    :param prompt: the task's prompt.
    :param cwd: the task's working directory (absolute).
    :param config: the settings.
    :param roles: the registered roles by name (to check an edited plan with :func:`check_plan`).
    :returns: a reason to refuse, a plan to run instead, or None to let it run.

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
def orc_agent_environment(agent: Agent, role: Role) -> dict[str, str] | None:
    """Add environment variables to the process an agent's session starts (for Claude: its Claude Code CLI).

    Called by the agent manager each time it opens an agent's session, just before the runtime starts the
    process; a tracing plugin gives the agent the W3C trace context of its span here (``TRACEPARENT``). Every
    implementation's answer is merged (a later-registered plugin's value wins for the same name) and handed to
    :meth:`AgentRuntime.session <orchestrator_core.AgentRuntime.session>` as ``env``; the run's own environment
    (``Config.runtime_env``) wins over it. Return None to add nothing. The agent's tools see these values and
    orc does not redact them: put no secret here.

    :param agent: the agent whose session is about to open.
    :param role: its role.
    :returns: variable names to values, or None.

    **Sync or async**: sync only.
    """


@hookspec
def orc_task_complete(task: Task, results: dict[str, SubtaskResult], agents: dict[str, Agent]) -> dict | None:
    """Finish a task's work once the executor is done, before its agents are deleted: merge branches, collect.

    Called once per task, even when it failed or was stopped. Return a report (JSON-able values) to attach to the
    task's result under ``result.reports``; keys should start with your plugin's name. An exception (raised, or
    by the awaitable you return) becomes a ``<plugin>.error`` entry in the reports; the task still ends.

    :param task: the task.
    :param results: the subtask results by subtask id.
    :param agents: the agents of each subtask by subtask id (the last attempt's agent).
    :returns: a dict to merge into ``result.reports``, or None.

    **Sync or async**: the impl may return an awaitable of the dict. Every implementation is called first (one
    pluggy call), then the core awaits the awaitables one by one in call order: do your slow work inside the
    awaitable, not before returning it.
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


#: The hooks whose implementations must never break a run: each implementation is isolated from the others.
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
