"""The ``orc`` command line (also installed as ``orchestrator``). Plugins add commands through a hook.

Plugins load the first time click asks for a command, honouring ``-p no:NAME`` given on the same command line.
Heavy modules (claude_agent_sdk, datasette, ray) are imported inside the commands that use them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import click

from .cli_agents import agents as agents_command
from .cli_trust import safety_overrides, session_safety
from .errors import InternalError, Interrupted, OrcError, PluginError, UsageError, leaves
from .plugin_listing import plugins as plugins_command
from .plugins import DISTRIBUTION
from .terminal import printable

log = logging.getLogger("orc")


class OrcGroup(click.Group):
    """A click group whose commands include those plugins register, loaded when first needed."""

    def _plugin_manager(self, ctx: click.Context) -> Any:
        root = ctx.find_root()
        root.ensure_object(dict)
        if "pm" not in root.obj:
            from .plugins import call_one, make_plugin_manager

            options = root.params.get("plugin_options") or _early_plugin_options(sys.argv[1:])
            pm = make_plugin_manager(options)
            root.obj["pm"] = pm
            # One plugin at a time, so a command name two plugins want is an error naming both.
            for impl in reversed(pm.hook.orc_register_commands.get_hookimpls()):
                self._registering = impl.plugin_name
                try:
                    call_one(pm, "orc_register_commands", impl, {"cli": self})
                finally:
                    self._registering = None
        return root.obj["pm"]

    _registering: str | None = None
    #: Which plugin added each plugin command (core commands are not listed).
    _providers: dict[str, str] = {}

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        plugin = self._registering
        if plugin is not None and name is not None:
            owner = self._providers.get(name, "orc" if name in self.commands else None)
            if owner is not None and owner != plugin:
                raise PluginError(
                    f'plugin "{plugin}" adds the command {name!r}, which {owner!r} already provides; '
                    f"disable one with -p no:NAME"
                )
            self._providers[name] = plugin
        super().add_command(cmd, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._plugin_manager(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        pm = self._plugin_manager(ctx)
        command = super().get_command(ctx, cmd_name)
        if command is None:
            return None
        from .options import collect_options
        from .planners import listed_in_help

        given = ctx.find_root().obj.setdefault("given", {})
        extra = collect_options(pm).click_options(cmd_name, given.__setitem__)
        extra = [listed_in_help(option, pm) for option in extra]  # --planner's help names the planners
        modes = any(p.name == "mode" for p in command.params) and _modes(pm)
        if not extra and not modes:
            return command
        # A copy per invocation: the options of this command line's plugins, never left on the shared command.
        command = copy.copy(command)
        command.params = [*(_with_modes(p, modes) for p in command.params), *extra]
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke(ctx)
        except click.ClickException as exc:
            if os.environ.get("ORC_DEBUG") and isinstance(exc, PluginError) and exc.__cause__ is not None:
                traceback.print_exception(exc.__cause__)
            # An error can quote a model's or a tool's words (a failed turn's reason): no secret, no escape codes.
            exc.message = printable(_scrub()(exc.message))  # type: ignore[misc]  # click's stub says Final
            raise

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseExceptionGroup as group:
            # anyio task groups wrap what their tasks raised: a user's error inside stays a user's error (B8).
            inner = leaves(group)
            errors = [e for e in inner if isinstance(e, click.ClickException | click.exceptions.Exit)]
            if errors and len(errors) == len(inner):
                raise errors[0] from None
            if any(isinstance(e, KeyboardInterrupt) for e in inner):
                raise Interrupted("interrupted; what finished before is recorded in the run store") from None
            raise _internal(group, ctx) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # `orc watch ... | head`: the reader left; stop quietly, as Unix tools do.
            sys.stderr.close()
            raise SystemExit(0) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted; what finished before is recorded in the run store") from None
        except Exception as exc:
            raise _internal(exc, ctx) from None


def _modes(pm: Any) -> list[str]:
    """The execution modes the loaded plugins register (what ``--mode`` takes)."""
    from .plugins import collect

    try:
        return sorted(collect(pm, "orc_register_executors", lambda item: item[0]))
    except OrcError:
        return []  # a plugin's registration error is reported when the command runs


def _with_modes(param: click.Parameter, modes: list[str] | Literal[False]) -> click.Parameter:
    """``--mode`` with the registered modes in its help."""
    if not modes or param.name != "mode" or not isinstance(param, click.Option):
        return param
    param = copy.copy(param)
    listed = ", ".join(modes)
    help_text = param.help or ""
    param.help = (
        help_text.replace("sequential, ...", listed)
        if "sequential, ..." in help_text
        else f"{help_text} Modes: {listed}."
    )
    return param


def _internal(exc: BaseException, ctx: click.Context) -> OrcError:
    """A bug, not the user's doing: one line that says so (naming the plugin whose code raised it, if a third
    party's), the traceback with ORC_DEBUG=1."""
    from .plugins import blame

    if os.environ.get("ORC_DEBUG"):
        traceback.print_exception(exc)
    else:
        log.debug("%s", "".join(traceback.format_exception(exc)))
    inner = leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    first = inner[0] if inner else exc
    culprit = blame((ctx.find_root().obj or {}).get("pm"), first)
    if culprit is not None:
        return culprit
    return InternalError(
        f"internal error: {type(first).__name__}: {first}. This is a bug in orc or a plugin; "
        "run again with ORC_DEBUG=1 for the traceback and report it"
    )


def _early_plugin_options(argv: list[str]) -> list[str]:
    """``-p`` values before the command name, for when click has not parsed them yet (``orc -p no:x --help``)."""
    values = []
    for i, arg in enumerate(argv):
        if arg == "-p" and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith("-p") and len(arg) > 2:
            values.append(arg[2:])
        elif not arg.startswith("-"):
            break
    return values


@click.group(cls=OrcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name="orc")
@click.option(
    "-p",
    "plugin_options",
    multiple=True,
    metavar="no:NAME",
    help="Disable a plugin (built-in or installed) for this command; `orc plugins --all` lists their names.",
)
@click.pass_context
def cli(ctx: click.Context, plugin_options: tuple[str, ...]) -> None:
    """orc runs teams of Claude agents: it plans the work, runs specialised agents one after another or side by
    side, passes each one's result to the next, records everything in SQLite, and deletes the agents when done.

    Try it with no credentials: orc execute --scripted "Add CSV export" --cwd "$(mktemp -d)"
    """
    ctx.ensure_object(dict)
    logging.basicConfig(format="orc: %(levelname)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, CleanLogs) for f in handler.filters):
            handler.addFilter(CleanLogs())


class CleanLogs(logging.Filter):
    """Log lines can quote a model's or a tool's words (a failed write, an error): redact them and show their
    control characters, as everything else orc prints (#16)."""

    def __init__(self) -> None:
        super().__init__()
        self.scrub = _scrub()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(self.scrub(record.getMessage())), None
        return True


def _pm(ctx: click.Context) -> Any:
    group = ctx.find_root().command
    assert isinstance(group, OrcGroup)
    return group._plugin_manager(ctx)


def make_orchestrator(ctx: click.Context, settings: Mapping[str, Any] | None = None, **overrides: Any) -> Any:
    """The Orchestrator a command works with: this command line's plugins, and the settings from every source,
    the plugins' options included. For plugin commands too.

    :param settings: plugin settings this command fixes, by name (they win over the command line).
    :param overrides: Config attributes the command's own options set.
    """
    from .orchestrator import Orchestrator

    return Orchestrator(current_config(ctx, settings, **overrides), pm=_pm(ctx))


def current_config(
    ctx: click.Context | None = None, settings: Mapping[str, Any] | None = None, **overrides: Any
) -> Any:
    """The settings a command runs with: every source, this command line's plugins' settings and options, then
    ``settings`` (plugin settings by name) and ``overrides`` (Config attributes). Outside a command: every
    source, without plugin settings. Plugin commands use it too.
    """
    from .config import load_config
    from .options import collect_options

    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None or not isinstance(ctx.find_root().command, OrcGroup):
        return load_config(**overrides)
    pm = _pm(ctx)
    given = {**(ctx.find_root().obj or {}).get("given", {}), **(settings or {})}
    return load_config(declared=collect_options(pm).settings.values(), given=given, **overrides)


@contextlib.contextmanager
def scripted_if(orc: Any, scripted: bool) -> Iterator[None]:
    """With ``--scripted``: the Orchestrator's agents talk to orc's scripted model for the length of the block."""
    if not scripted:
        yield
        return
    import attrs

    from .testing.scripted_run import scripted_environment

    with scripted_environment(orc.pm) as env:
        orc.config = attrs.evolve(orc.config, runtime_env=env, scripted=True)
        yield


def _utf8(value: Any, what: str) -> None:
    """Refuse text that is not UTF-8 (bytes the shell passed through, surrogate-escaped by Python) in one line:
    orc could neither record it nor send it to a model (#17)."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raw = text[exc.start : exc.end].encode("utf-8", "surrogateescape")
        raise UsageError(
            f"the {what} is not UTF-8 text (byte {raw[:1].hex()} at character {exc.start}); pass it as UTF-8"
        ) from None


def _runtime(runtime: str | None, old_executor: str | None) -> str | None:
    """``--runtime``, or the deprecated ``--executor`` it replaced (kept for one release, with a warning)."""
    if old_executor is not None:
        log.warning("--executor is deprecated: it is --runtime now (--runtime %s)", old_executor)
        if runtime is not None and runtime != old_executor:
            raise UsageError(
                f"--runtime {runtime} and --executor {old_executor} disagree; give --runtime alone"
            )
        return runtime or old_executor
    return runtime


def _split_roles(roles: str | None) -> tuple[str, ...]:
    return tuple(r.strip() for r in (roles or "").split(",") if r.strip())


@cli.command()
@click.argument("prompt", required=False)
@click.option(
    "-t", "--task-type", default="auto", show_default=True, help="A task type (see `orc task-types`)."
)
@click.option(
    "-m", "--mode", default="sequential", show_default=True, help="How subtasks run: sequential, ..."
)
@click.option("--roles", help="Run these roles in order instead of a task type, e.g. scout,builder,reviewer.")
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The agents' working directory.",
)
@click.option("--model", help="Model for agents whose role names none (overrides DEFAULT_MODEL).")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record the run here (overrides ORCHESTRATOR_DB_PATH).",
)
@click.option("--scripted", is_flag=True, help="Use orc's built-in scripted model: no credentials, no cost.")
@click.option(
    "--keep-agents", is_flag=True, help="Keep the agents' sessions and transcripts when the task ends."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout, no progress lines."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the result.")
@click.option("-v", "--verbose", is_flag=True, help="Also show what the agents say as they work.")
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    help="At most N agents at once (overrides ORCHESTRATOR_MAX_PARALLEL_AGENTS).",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop the run once it has cost this many USD.",
)
@click.option("--max-agents", type=click.IntRange(min=1), help="Create at most N agents in this run.")
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), help="Stop the run after this many seconds."
)
@click.option("--fail-fast", is_flag=True, help="Stop everything at the first failed subtask.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Run a subtask again up to N times after a transient failure (overloaded model, crash).",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Run exactly this plan (written by `orc plan --output`, maybe edited).",
)
@click.option("--approve", type=click.Choice(["plan"]), help="Show the plan and ask before running it.")
@click.option(
    "--runtime",
    help="Where agents run: local (default; ORC_RUNTIME), or the name a runtime plugin answers to, e.g. ray.",
)
@click.option("--executor", "old_executor", hidden=True, help="Deprecated: --runtime.")
@click.option(
    "--add-dir",
    "add_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True),
    help="Let the agents' file tools use this directory too (they are confined to --cwd otherwise).",
)
@session_safety
@click.pass_context
def execute(
    ctx: click.Context,
    prompt: str | None,
    task_type: str,
    mode: str,
    roles: str | None,
    cwd: Path,
    model: str | None,
    db_path: Path | None,
    scripted: bool,
    keep_agents: bool,
    as_json: bool,
    quiet: bool,
    verbose: bool,
    max_parallel: int | None,
    max_cost: float | None,
    max_agents: int | None,
    timeout: float | None,
    fail_fast: bool,
    retries: int,
    plan_file: Path | None,
    approve: str | None,
    runtime: str | None,
    old_executor: str | None,
    add_dirs: tuple[str, ...],
    trust_project_settings: bool,
    no_bash_sandbox: bool,
) -> None:
    """Plan PROMPT, run it with a team of agents, and print the result. With --plan, PROMPT may be left out: a
    plan file written by `orc plan --output` carries its prompt.

    Ctrl-C (or SIGTERM) stops the run: running agents are interrupted, what finished is kept, exit code 130.
    """
    if plan_file is not None:
        # A plan file decides the team: a task type or roles beside it would be ignored, so they are refused (#19).
        clashing = [
            flag
            for flag, name in (("--task-type", "task_type"), ("--roles", "roles"))
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        ]
        if clashing:
            raise UsageError(
                f"--plan runs exactly the plan in {plan_file}; {' and '.join(clashing)} cannot change "
                "it: drop them, or make a new plan with `orc plan ... --output`"
            )
    elif prompt is None:
        raise UsageError(
            'say what the agents should do, e.g. orc execute "Add CSV export"; or run a saved plan '
            "with --plan plan.json"
        )
    prompt = prompt or ""
    _utf8(prompt, "prompt")
    _utf8(cwd, "--cwd directory")
    for name, value in (("--db path", db_path), ("--roles", roles), *(("--add-dir", d) for d in add_dirs)):
        if value is not None:
            _utf8(value, name)
    orc = make_orchestrator(
        ctx,
        default_model=model,
        db_path=db_path,
        keep_agents=keep_agents,
        progress="off" if (quiet or as_json) else "live" if sys.stderr.isatty() else "plain",
        verbose=verbose,
        max_parallel_agents=max_parallel,
        max_cost_usd=max_cost,
        max_agents=max_agents,
        timeout_seconds=timeout,
        fail_fast=fail_fast,
        retries=retries,
        runtime=_runtime(runtime, old_executor),
        add_dirs=tuple(str(Path(d).resolve()) for d in add_dirs),
        **safety_overrides(trust_project_settings, no_bash_sandbox),
    )
    if not cwd.is_dir():
        raise UsageError(f"working directory {str(cwd)!r} does not exist; create it or pass another --cwd")
    role_names = _split_roles(roles)
    if mode not in orc.executors:
        raise UsageError(
            f"unknown execution mode {mode!r}; choose one of: {', '.join(sorted(orc.executors))}"
        )
    if approve and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "--approve plan needs a terminal to ask on; review it with `orc plan ... --output plan.json`, "
            "then run `orc execute --plan plan.json`"
        )
    from .plan_file import load_plan

    given = load_plan(plan_file) if plan_file else None
    if given is not None:
        from .records import check_plan

        check_plan(given, orc.roles)
        prompt = prompt or given.prompt or ""
        if not prompt.strip():
            raise UsageError(
                f'{plan_file} does not say what the task is (no "prompt"); give it as PROMPT, or '
                "make the plan with `orc plan PROMPT --output`"
            )
    elif not prompt.strip():
        orc.plan(prompt)  # the one-line "prompt is empty" error, before anything starts

    async def work() -> Any:
        the_plan = given or await orc.make_plan(
            prompt, "custom" if role_names and task_type == "auto" else task_type, role_names, cwd=cwd
        )
        if approve:
            the_plan = _approve(the_plan, orc)
        return await orc.execute(prompt, the_plan.task_type, mode, cwd=cwd, plan=the_plan)

    _run_task(orc, work, scripted, as_json)


@cli.command()
@click.argument("task_id")
@click.option("-m", "--mode", help="Run the rest in this mode (default: the task's own).")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run store the task is in (overrides ORCHESTRATOR_DB_PATH).",
)
@click.option("--scripted", is_flag=True, help="For a task started with --scripted.")
@click.option(
    "--keep-agents", is_flag=True, help="Keep the agents' sessions and transcripts when the task ends."
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    help="Run a subtask again up to N times after a transient failure (default: the task's own).",
)
@click.option(
    "--max-parallel", type=click.IntRange(min=1), help="At most N agents at once (default: the task's own)."
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop once the task has cost this many USD, earlier runs included (default: the task's own).",
)
@click.option(
    "--max-agents", type=click.IntRange(min=1), help="Create at most N agents (default: the task's own)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds (default: the task's own).",
)
@click.option(
    "--fail-fast/--no-fail-fast",
    default=None,
    help="Stop at the first failed subtask (default: the task's own).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout, no progress lines."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the result.")
@session_safety
@click.pass_context
def resume(
    ctx: click.Context,
    task_id: str,
    mode: str | None,
    db_path: Path | None,
    scripted: bool,
    keep_agents: bool,
    retries: int | None,
    max_parallel: int | None,
    max_cost: float | None,
    max_agents: int | None,
    timeout: float | None,
    fail_fast: bool | None,
    as_json: bool,
    quiet: bool,
    trust_project_settings: bool,
    no_bash_sandbox: bool,
) -> None:
    """Carry on TASK_ID after orc was killed, a node was lost, a budget or Ctrl-C stopped it.

    Succeeded subtasks are reused, interrupted agents continue their own sessions where they still exist. The task
    runs under the limits it was started with, except those given here.
    """
    orc = make_orchestrator(
        ctx,
        db_path=db_path,
        keep_agents=keep_agents,
        progress="off" if (quiet or as_json) else "live" if sys.stderr.isatty() else "plain",
        **safety_overrides(trust_project_settings, no_bash_sandbox),
    )
    given = {
        "retries": retries,
        "max_parallel_agents": max_parallel,
        "max_cost_usd": max_cost,
        "max_agents": max_agents,
        "timeout_seconds": timeout,
        "fail_fast": fail_fast,
    }
    limits = {k: v for k, v in given.items() if v is not None}
    _run_task(orc, lambda: orc.resume(task_id, mode, limits=limits), scripted, as_json)


def _run_task(orc: Any, work: Any, scripted: bool, as_json: bool) -> None:
    """Run ``work()`` (which returns a TaskResult) with Ctrl-C handling, print the result, exit with its code."""
    import anyio

    from .stop_signals import on_stop_signals

    async def go() -> Any:
        # work() starts the Orchestrator itself, after its input checks: bad input leaves no store behind.
        stopped: list[str] = []

        def stop(name: str) -> None:
            stopped.append(name)
            if not orc.cancel(f"interrupted by {name}"):
                scope.cancel()  # no task runs yet (a planner agent may): stop that, or the signal is lost

        try:
            with anyio.CancelScope() as scope:
                async with on_stop_signals(stop):
                    return await work()
            raise Interrupted(f"interrupted by {stopped[0]}; what finished is recorded in the run store")
        finally:
            await orc.stop()

    with scripted_if(orc, scripted or orc.config.scripted):
        result = anyio.run(go)
    _print_result(result, as_json)
    if not result.success:
        from .errors import LimitReached, RunFailed

        if result.stopped == "interrupted":
            raise Interrupted(f"task {result.task_id} {result.error}; what finished is recorded")
        if result.stopped in ("max_cost", "max_agents", "timeout"):
            raise LimitReached(f"task {result.task_id} {result.error}")
        raise RunFailed(f"task {result.task_id} failed: {result.error}")


def _approve(plan: Any, orc: Any) -> Any:
    """Show the plan and ask: y runs it, n stops, e opens it in $EDITOR (as JSON) and asks again."""
    from .errors import Interrupted
    from .plan_file import plan_from_dict, render_plan
    from .records import check_plan

    while True:
        click.echo(printable(render_plan(plan)), err=True)
        answer = click.prompt(
            "Run this plan? [y]es, [n]o, [e]dit", type=click.Choice(["y", "n", "e"]), err=True
        )
        if answer == "y":
            return plan
        if answer == "n":
            raise Interrupted("not run: the plan was not approved; nothing was spent")
        edited = click.edit(json.dumps(plan.to_dict(), indent=2), extension=".json")
        if edited is not None:
            try:
                candidate = plan_from_dict(json.loads(edited), "the edited plan")
                check_plan(candidate, orc.roles)
                plan = candidate
            except (ValueError, OrcError) as exc:
                click.echo(
                    f"Error: {getattr(exc, 'message', exc)}; showing the plan before the edit", err=True
                )


def _scrub() -> Any:
    """A Redactor for this process's secret environment values: nothing orc prints may hold one."""
    from .secrets import redactor_for

    return redactor_for()


def _print_result(result: Any, as_json: bool) -> None:
    """Print a TaskResult. Its texts were redacted at the source; this is the second line, on values (#16)."""
    scrub = _scrub()
    if as_json:
        # json.dumps escapes control characters; redacting before encoding catches what escaping would disguise.
        click.echo(json.dumps(scrub.value(result.to_dict()), indent=2))
        return
    m = result.metrics
    done = sum(1 for s in result.subtasks if s.succeeded)
    click.echo(
        f"{'Success' if result.success else 'Failed'}: {done}/{len(result.subtasks)} subtasks, task {result.task_id}"
    )
    click.echo(
        f"Cost: ${m.cost_usd:.4f}   Tokens: {m.total_tokens:,} (input {m.input_tokens:,}, output {m.output_tokens:,}, "
        f"cache read {m.cache_read_tokens:,}, cache write {m.cache_creation_tokens:,})   "
        f"Time: {result.elapsed_s:.1f}s (agents {m.duration_s:.1f}s)"
    )
    for name, report in result.reports.items():
        click.echo(printable(scrub(f"{name}: {_one_line(report)}")))
    if result.output:
        click.echo("Output:")
        click.echo(printable(scrub(result.output)))


def _one_line(report: Any) -> str:
    """A plugin's end-of-task report in one line (``--json`` has it whole)."""
    if isinstance(report, dict):
        summary = report.get("summary") or report.get("message")
        if summary:
            return str(summary)
        return ", ".join(f"{k}={v}" for k, v in report.items() if isinstance(v, str | int | float | bool))[
            :300
        ]
    return str(report)[:300]


@cli.command()
@click.argument("prompt")
@click.option(
    "-t", "--task-type", default="auto", show_default=True, help="A task type (see `orc task-types`)."
)
@click.option("--roles", help="Plan these roles in order instead of a task type.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan as JSON here, to edit and run with `orc execute --plan`.",
)
@click.option("--scripted", is_flag=True, help="A planner agent talks to orc's scripted model.")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record a planner agent here (overrides ORCHESTRATOR_DB_PATH).",
)
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=".",
    show_default=True,
    help="The directory the task will work in (a planner agent looks there).",
)
@click.pass_context
def plan(
    ctx: click.Context,
    prompt: str,
    task_type: str,
    roles: str | None,
    as_json: bool,
    output: Path | None,
    scripted: bool,
    db_path: Path | None,
    cwd: Path,
) -> None:
    """Show the plan orc would run for PROMPT and how many agents it takes, without running it."""
    import anyio

    _utf8(prompt, "prompt")
    _utf8(cwd, "--cwd directory")

    from .plan_file import render_plan

    orc = make_orchestrator(ctx, db_path=db_path, plan_only=True)
    role_names = _split_roles(roles)

    async def make() -> Any:
        try:
            return await orc.make_plan(
                prompt, "custom" if role_names and task_type == "auto" else task_type, role_names, cwd=cwd
            )
        finally:
            await orc.stop()

    with scripted_if(orc, scripted or orc.config.scripted):
        the_plan = anyio.run(make)
    if output:
        try:
            output.write_text(json.dumps(the_plan.to_dict(), indent=2) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    # A planner agent wrote the instructions: print them, never the escape codes they may hold.
    click.echo(json.dumps(the_plan.to_dict(), indent=2) if as_json else printable(render_plan(the_plan)))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the roles as JSON.")
@click.pass_context
def roles(ctx: click.Context, as_json: bool) -> None:
    """List the agent roles and the plugin that provides each."""
    orc = make_orchestrator(ctx)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in orc.roles.values()], indent=2))
        return
    width = max(len(n) for n in orc.roles) if orc.roles else 4
    for role in orc.roles.values():
        click.echo(f"{role.name:<{width}}  {role.provided_by:<12}  {role.description}")
        click.echo(
            f"{'':<{width}}  {'':<12}  tools: {', '.join(role.tools) or '(none)'}; "
            f"permission mode: {role.permission_mode}"
        )


@cli.command("task-types")
@click.option("--json", "as_json", is_flag=True, help="Print the task types as JSON.")
@click.pass_context
def task_types(ctx: click.Context, as_json: bool) -> None:
    """List the task types `--task-type` takes."""
    orc = make_orchestrator(ctx)
    types = [
        {
            "name": "auto",
            "description": "choose a task type from the prompt",
            "roles": [],
            "provided_by": "orc",
        },
        {
            "name": "custom",
            "description": "the roles given with --roles, in order",
            "roles": [],
            "provided_by": "orc",
        },
        *(
            {
                "name": tt.name,
                "description": tt.description,
                "roles": [s.role for s in tt.subtasks],
                "provided_by": tt.provided_by,
            }
            for tt in orc.task_types.values()
        ),
    ]
    if as_json:
        click.echo(json.dumps(types, indent=2))
        return
    for tt in types:
        suffix = f" ({tt['provided_by']})" if tt["provided_by"] != "orc" else ""
        click.echo(f"{tt['name']}  {tt['description']}{suffix}")


@cli.command()
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it (default: ./orc.toml).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
def init(ctx: click.Context, path: Path | None, force: bool) -> None:
    """Write a config file with every setting (orc's and the loaded plugins') and its default."""
    from .config import CONFIG_FILE, render_config_file
    from .options import collect_options

    target = path or Path(CONFIG_FILE)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; edit it, or pass --force to overwrite it")
    try:
        target.write_text(render_config_file(collect_options(_pm(ctx)).settings.values()))
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"wrote {target}")


cli.add_command(plugins_command)
cli.add_command(agents_command)


def main() -> None:
    """The console-script entry point."""
    try:
        cli()
    except OrcError as exc:  # raised while click resolves a command, outside the group's invoke
        if os.environ.get("ORC_DEBUG") and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    # `python -m orchestrator_core.cli` runs this file as __main__, a second copy of the module beside the one the
    # other modules import (`from .cli import _pm`): run that one, so there is one command group (#17).
    from orchestrator_core.cli import main as _main

    _main()
