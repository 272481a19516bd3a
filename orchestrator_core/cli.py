"""The ``orc`` command line (also installed as ``orchestrator``): the core's commands. Plugins add theirs through
a hook (:mod:`orchestrator_core.command_group`); a plugin command builds its Orchestrator with
:func:`make_orchestrator` and reads settings with :func:`current_config`, both importable from here.

Heavy modules (claude_agent_sdk, datasette, ray) are imported inside the commands that use them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from .cli_trust import safety_overrides, session_safety
from .command_group import OrcGroup, make_orchestrator
from .command_group import current_config as current_config  # for plugin commands (CONTRIBUTING)
from .command_group import plugin_manager as plugin_manager  # for plugin commands that call hooks
from .command_group import remembered as remembered  # for plugin commands
from .command_group import scrub as _scrub
from .errors import Interrupted, OrcError, UsageError
from .plugin_listing import plugins as plugins_command
from .plugins import DISTRIBUTION
from .terminal import printable

log = logging.getLogger("orc")


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


def _check_runtime(pm: Any, runtime: str) -> None:
    """A runtime no loaded plugin registers is bad usage (exit 2) listing those that are, before anything runs.
    The default (``local``) is left to the Orchestrator, whose error says that no runtime plugin is loaded."""
    from .plugins import collect

    names = sorted(collect(pm, "orc_register_runtimes", str))
    if runtime not in names and runtime != "local":
        blocked = [name for name, plugin in pm.list_name_plugin() if plugin is None]
        disabled = f"; disabled here: {', '.join(f'-p no:{n}' for n in blocked)}" if blocked else ""
        raise UsageError(
            f"unknown runtime {runtime!r} (--runtime or ORC_RUNTIME); choose one of: {', '.join(names) or '(none)'}"
            f" (`orc plugins --all` lists the loaded plugins{disabled})"
        )


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
    _check_runtime(orc.pm, orc.config.runtime)
    from .plan_file import load_plan

    given = load_plan(plan_file) if plan_file else None
    role_names = _split_roles(roles)
    # Everything else is checked once, by Orchestrator.execute, before anything is spent (#18).
    _run_task(
        orc,
        lambda: orc.execute(prompt, task_type, mode, roles=role_names, cwd=cwd, plan=given),
        as_json,
    )


@cli.command()
@click.argument("task_id")
@click.option("-m", "--mode", help="Run the rest in this mode (default: the task's own).")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run store the task is in (overrides ORCHESTRATOR_DB_PATH).",
)
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
        # The task runs the way it was started (--scripted), unless this command line says otherwise.
        recorded=remembered(ctx, task_id=task_id, db_path=db_path),
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
    _run_task(orc, lambda: orc.resume(task_id, mode, limits=limits), as_json)


def _run_task(orc: Any, work: Any, as_json: bool) -> None:
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

    result = anyio.run(go)
    from .summary import exit_error, print_result, resume_command

    params = click.get_current_context().params
    resume = resume_command(result.task_id, db_path=params.get("db_path"))
    print_result(result, as_json, resume=resume)
    error = exit_error(result, resume)
    if error is not None:
        raise error


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
            return await orc.make_plan(prompt, task_type, role_names, cwd=cwd)
        finally:
            await orc.stop()

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
        target.write_text(render_config_file(collect_options(plugin_manager(ctx)).settings.values()))
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"wrote {target}")


cli.add_command(plugins_command)


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
    # plugin commands import (`from orchestrator_core.cli import make_orchestrator`): run that one, so there is one
    # command group (#17).
    from orchestrator_core.cli import main as _main

    _main()
