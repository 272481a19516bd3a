"""Conformance checks for plugin authors: one call in your test says your role, executor or observer keeps orc's rules.

In the spirit of claude-agent-sdk's ``run_session_store_conformance`` (STYLE.md, B9)::

    from orchestrator_core.testing.conformance import check_executor, check_observer, check_role

    def test_role():
        check_role(MY_ROLE)

    async def test_executor():                 # with pytestmark = pytest.mark.anyio
        await check_executor(MyExecutor())

    def test_observer():
        check_observer(my_plugin_module)

``check_executor`` and ``check_observer`` run a real Orchestrator, the real claude-agent-sdk and the Claude Code CLI
against orc's scripted model (a real HTTP server on 127.0.0.1), in a temporary directory they remove afterwards.
Each check raises AssertionError with one line saying what broke the rule.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import logging
import re
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ..hookspecs import hookimpl

__all__ = ["KNOWN_TOOLS", "PERMISSION_MODES", "check_executor", "check_observer", "check_role"]

#: Claude Code's built-in tool names a role may list. MCP tools (``mcp__server__tool``) are allowed too.
KNOWN_TOOLS = frozenset(
    {
        "Agent", "AskUserQuestion", "Bash", "BashOutput", "Edit", "ExitPlanMode", "Glob", "Grep", "KillShell",
        "ListMcpResources", "MultiEdit", "NotebookEdit", "NotebookRead", "Read", "ReadMcpResource", "Skill",
        "SlashCommand", "Task", "TodoWrite", "ToolSearch", "WebFetch", "WebSearch", "Write",
    }
)  # fmt: skip
#: The permission modes Claude Code takes (claude_agent_sdk's ``PermissionMode``).
PERMISSION_MODES = frozenset({"default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"})
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def _fail(message: str) -> None:
    __tracebackhide__ = True
    raise AssertionError(message)


# -- roles ----------------------------------------------------------------------------------------------------------


def check_role(role: Any, *, extra_tools: Iterable[str] = ()) -> None:
    """Check that ``role`` is a valid :class:`~orchestrator_core.Role`.

    A lowercase name usable in ``--roles``, a one-line description, a system prompt, known tool names without
    duplicates (``mcp__*`` tools and ``extra_tools`` are accepted too), a known permission mode and sane limits.

    :param role: the role your plugin registers.
    :param extra_tools: further tool names your runtime provides.
    :raises AssertionError: naming the first rule the role breaks.
    """
    __tracebackhide__ = True
    from orchestrator_core import Role

    if not isinstance(role, Role):
        _fail(f"expected an orchestrator_core.Role, got {type(role).__name__}")
    where = f"role {role.name!r}"
    if not isinstance(role.name, str) or not _NAME.match(role.name):
        _fail(f"{where}: the name must be lowercase letters, digits, '-' or '_' (it is typed in --roles a,b)")
    if role.name in ("auto", "custom"):
        _fail(f"{where}: the name is a task type orc reserves; choose another")
    if (
        not isinstance(role.description, str)
        or not role.description.strip()
        or "\n" in role.description.strip()
    ):
        _fail(f"{where}: the description must be one non-empty line (`orc roles` shows it)")
    if not isinstance(role.system_prompt, str) or not role.system_prompt.strip():
        _fail(f"{where}: the system prompt is empty")
    known = KNOWN_TOOLS | set(extra_tools)
    for tool_name in role.tools:
        if not isinstance(tool_name, str) or not (tool_name in known or tool_name.startswith("mcp__")):
            _fail(f"{where}: unknown tool {tool_name!r}; known tools: {', '.join(sorted(known))}")
    duplicates = sorted({t for t in role.tools if role.tools.count(t) > 1})
    if duplicates:
        _fail(f"{where}: tools listed twice: {', '.join(duplicates)}")
    if role.permission_mode not in PERMISSION_MODES:
        _fail(
            f"{where}: unknown permission mode {role.permission_mode!r}; "
            f"choose one of {', '.join(sorted(PERMISSION_MODES))}"
        )
    if role.max_turns is not None and (not isinstance(role.max_turns, int) or role.max_turns < 1):
        _fail(f"{where}: max_turns must be None or a positive int, got {role.max_turns!r}")
    if role.model is not None and (not isinstance(role.model, str) or not role.model.strip()):
        _fail(f"{where}: model must be None (the run's default) or a model name, got {role.model!r}")


# -- a scripted run for the executor and observer checks -----------------------------------------------------------

_ROLE_PROMPT = "You are conformance agent {}. Answer in one line."


class _Team:
    """Three roles only the checks use, so they never depend on which role plugins are installed."""

    def __init__(self, executors: dict[str, Any], veto: set[str]) -> None:
        self.executors = executors
        self.veto = veto

    @hookimpl
    def orc_register_roles(self, register: Any) -> None:
        from orchestrator_core import Role

        for letter in "abc":
            register(
                Role(
                    f"conformance-{letter}",
                    f"Conformance agent {letter}.",
                    _ROLE_PROMPT.format(letter.upper()),
                )
            )

    @hookimpl
    def orc_register_executors(self, register: Any) -> None:
        for name, executor in self.executors.items():
            register(name, executor)

    @hookimpl
    def orc_subtask_veto(self, task: Any, subtask: Any) -> str | None:
        return "refused by the conformance check" if subtask.id in self.veto else None


def _team_plugin(executors: dict[str, Any], veto: Iterable[str] = ()) -> _Team:
    return _Team(executors, set(veto))


class _Order:
    """Records the order subtasks start and finish in, and how often each does."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    @hookimpl
    def orc_subtask_started(self, task: Any, subtask: Any, agent: Any) -> None:
        self.log.append(("started", subtask.id))

    @hookimpl
    def orc_subtask_finished(self, task: Any, subtask: Any, result: Any) -> None:
        self.log.append(("finished", subtask.id))


@asynccontextmanager
async def _scripted_orchestrator(
    plugins: Iterable[object], executor_name: str = "sequential"
) -> AsyncIterator[Any]:
    from orchestrator_core import Config, Orchestrator, make_plugin_manager
    from orchestrator_core.testing import ScriptedModel, text, tool

    with tempfile.TemporaryDirectory(prefix="orc-conformance-") as tmp, ScriptedModel() as model:
        base = Path(tmp)
        (base / "work").mkdir()
        (base / "work" / "notes.txt").write_text("orc conformance\n")
        model.script(
            [tool("Read", {"file_path": "notes.txt"}), text("A read the notes.")], match="agent A.", name="a"
        )
        model.script([text("B is done.")], match="agent B.", name="b")
        model.script([text("C is done.")], match="agent C.", name="c")
        config = Config(
            db_path=base / "orchestrator.db",
            runtime_env=model.env(base / "claude-config"),
            plugin_settings={"ORC_SCRIPTED": True},
            progress="off",
        )
        # Only orc's built-ins and the plugins under test: the author's other plugins must not change the outcome.
        pm = make_plugin_manager(plugins=plugins, environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
        orc = Orchestrator(config, pm=pm, enable_monitoring=False)
        async with orc:
            yield orc, model, base / "work"


def _plan() -> Any:
    from orchestrator_core import Plan, Subtask

    return Plan(
        (
            Subtask("a", "conformance-a", "Read notes.txt."),
            Subtask("b", "conformance-b", "Say you are done."),
            Subtask("c", "conformance-c", "Say you are done.", depends_on=("a", "b")),
        )
    )


# -- executors ------------------------------------------------------------------------------------------------------


async def check_executor(executor: Any, *, timeout: float = 120.0) -> None:
    """Run a three-subtask plan (``c`` depends on ``a`` and ``b``) with ``executor`` and check its contract.

    Twice, through a real Orchestrator against the scripted model: once where every subtask succeeds, once where
    ``a`` fails (vetoed). Checks that every subtask ran (or was skipped) exactly once, that ``c`` started only after
    ``a`` and ``b`` finished, that ``c`` is skipped when ``a`` failed while ``b`` still runs, and that the
    executor's ``run`` returned.

    :param executor: an object with ``async def run(self, run)``, as you register it with ``orc_register_executors``.
    :param timeout: seconds each of the two runs may take.
    :raises AssertionError: naming the rule the executor broke.
    """
    __tracebackhide__ = True
    import anyio

    from orchestrator_core import SubtaskStatus

    if not inspect.iscoroutinefunction(getattr(executor, "run", None)):
        _fail(f"{type(executor).__name__}.run must be `async def run(self, run)`")
    name = "under-test"
    for veto in ((), ("a",)):
        order = _Order()
        async with _scripted_orchestrator([_team_plugin({name: executor}, veto), order]) as (
            orc,
            model,
            work,
        ):
            try:
                with anyio.fail_after(timeout):
                    result = await orc.execute("conformance", execution_mode=name, plan=_plan(), cwd=work)
            except Exception as exc:
                leaf = _leaf(exc)
                _fail(f"the run raised {type(leaf).__name__}: {leaf}")
        got = {s.subtask_id: s.status for s in result.subtasks}
        if sorted(got) != ["a", "b", "c"]:
            _fail(f"every subtask must end once with a result; got results for {sorted(got)}")
        finished = [sid for kind, sid in order.log if kind == "finished"]
        started = [sid for kind, sid in order.log if kind == "started"]
        if sorted(finished) != ["a", "b", "c"]:
            _fail(f"each subtask must finish exactly once; finished: {finished}")
        if len(started) != len(set(started)):
            _fail(f"a subtask ran twice: started {started}")
        if not veto:
            never = sorted(set("abc") - set(started))
            if never:
                _fail(f"the executor never ran subtask(s) {', '.join(never)}; run every subtask of the plan")
            if got != dict.fromkeys("abc", SubtaskStatus.SUCCEEDED):
                _fail(
                    f"with nothing failing every subtask must succeed; got { {k: v.value for k, v in got.items()} }"
                )
            c_start = order.log.index(("started", "c"))
            for dep in "ab":
                if order.log.index(("finished", dep)) > c_start:
                    _fail(f"subtask c started before its dependency {dep} finished: {order.log}")
            for script in ("a", "b", "c"):
                sessions = {r.session_id for r in model.requests_for(script)}
                if len(sessions) != 1:
                    _fail(
                        f"subtask {script} must run one agent once; the model saw {len(sessions)} session(s)"
                    )
        else:
            expected = {"a": SubtaskStatus.FAILED, "b": SubtaskStatus.SUCCEEDED, "c": SubtaskStatus.SKIPPED}
            if got != expected:
                _fail(
                    "when a fails, b must still run and c (after a) be skipped; "
                    f"got { {k: v.value for k, v in got.items()} }"
                )
            if model.requests_for("c"):
                _fail("subtask c ran although its dependency a failed")


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


# -- observers ------------------------------------------------------------------------------------------------------


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def check_observer(plugin: object, *, timeout: float = 120.0) -> dict[str, int]:
    """Check an observer plugin: its observer hooks are plain functions (or pluggy wrappers), take only known
    arguments, and do not raise on the calls of a real run.

    Registers ``plugin`` on a fresh plugin manager (orc's built-ins only), runs a three-subtask scripted task with a
    tool call, then reports one ``orc_agent_flagged`` about one of its agents. Call it from a sync test; it runs
    its own event loop in a worker thread.

    :param plugin: a module or object with ``@hookimpl`` observer functions.
    :param timeout: seconds the run may take.
    :returns: how many times each observer hook the plugin implements was called.
    :raises AssertionError: naming the hook and the error.
    """
    __tracebackhide__ = True
    import pluggy

    from orchestrator_core import PluginError, make_plugin_manager
    from orchestrator_core.hookspecs import OBSERVER_HOOKS

    try:
        pm = make_plugin_manager(plugins=[plugin], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    except (PluginError, pluggy.PluginValidationError) as exc:
        _fail("the plugin does not register: " + "; ".join(line.strip() for line in str(exc).splitlines()))
    implemented = sorted(
        caller.name for caller in pm.get_hookcallers(plugin) or () if caller.name in OBSERVER_HOOKS
    )
    if not implemented:
        _fail(
            "the plugin implements no observer hook (orc_task_*, orc_subtask_*, orc_agent_*, orc_event, orc_status)"
        )
    for hook_name in implemented:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is not plugin:
                continue
            function = inspect.unwrap(impl.function)
            if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
                _fail(f"{hook_name} must be a plain (sync) function: orc never awaits observers")
            if inspect.isgeneratorfunction(function) and not (impl.hookwrapper or impl.wrapper):
                _fail(f"{hook_name} must return, not yield (or be declared @hookimpl(wrapper=True))")

    counts = dict.fromkeys(implemented, 0)

    class Counter:
        pass

    counter = Counter()
    plugin_name = pm.get_name(plugin)
    for hook_name in implemented:

        def count(*args: Any, _name: str = hook_name, **kwargs: Any) -> None:
            counts[_name] += 1

        count.__wrapped__ = getattr(pm.hook, hook_name).spec.function  # type: ignore[attr-defined]
        setattr(counter, hook_name, hookimpl(count))

    failures = _Failures()
    logger = logging.getLogger("orc.plugins")
    logger.addHandler(failures)

    async def run() -> None:
        import anyio

        from orchestrator_core.plugins import notify

        async with _scripted_orchestrator([_team_plugin({}), plugin, counter]) as (orc, _model, work):
            with anyio.fail_after(timeout):
                result = await orc.execute("conformance", plan=_plan(), cwd=work)
            agent = orc.agents.get(result.subtasks[0].agent_id)
            notify(orc.pm, "orc_agent_flagged", agent=agent, kind="stall", message="conformance check")

    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(_run_anyio, run).result()
    finally:
        logger.removeHandler(failures)
    mine = [line for line in failures.lines if line.startswith(f'plugin "{plugin_name}" ')]
    slow = [line for line in mine if " took " in line and "must return at once" in line]
    if slow:
        _fail(f"an observer hook is slow: {slow[0]}")
    mine = [line for line in mine if line not in slow]
    if mine:
        _fail(
            f"the observer raised during a real run: {mine[0]}"
            + (f" (and {len(mine) - 1} more)" if mine[1:] else "")
        )
    return counts


def _run_anyio(fn: Any) -> None:
    import anyio

    anyio.run(fn)
