"""``orc agents``: agents as resources you create, talk to, inspect and delete, across processes (#5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from orchestrator_core import Interrupted, RunFailed, UsageError
from orchestrator_core.cli import make_orchestrator, remembered
from orchestrator_core.cli_trust import safety_overrides, session_safety

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run store (overrides ORCHESTRATOR_DB_PATH).",
)


def _run(orc: Any, work: Any) -> Any:
    """Run ``work(orc)``; a stop signal (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT) interrupts it and the agent's record says
    so, instead of staying 'running' (#17)."""
    import anyio

    from orchestrator_core.stop_signals import on_stop_signals

    async def go() -> Any:
        stopped: list[str] = []
        scope = anyio.CancelScope()

        def stop(name: str) -> None:
            stopped.append(name)
            scope.cancel()

        async with orc:
            with scope:
                async with on_stop_signals(stop):
                    return await work(orc)
        raise Interrupted(
            f"interrupted by {stopped[0]}; the agent keeps what it did and can be sent another message"
        )

    return anyio.run(go)


def _store_command(ctx: click.Context, name: str) -> click.Command:
    root = ctx.find_root().command  # `orc` itself, an OrcGroup
    command = root.get_command(ctx, name) if isinstance(root, click.Group) else None
    if command is None:
        raise UsageError(
            f"`orc agents {ctx.info_name}` reads the run store, and no loaded plugin provides "
            f"`orc {name}`; do not disable the store plugin (`orc plugins --all` lists them)"
        )
    return command


@click.group()
def agents() -> None:
    """Create agents, talk to them (from any later process too), inspect and delete them."""


@agents.command()
@click.option("--role", required=True, help="The agent's role (see `orc roles`).")
@click.option("--name", help="A name for people; the id is printed.")
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=".",
    show_default=True,
    help="The agent's working directory.",
)
@click.option("--model", help="The model (default: the role's, DEFAULT_MODEL, or the CLI's).")
@db_option
@click.pass_context
def create(
    ctx: click.Context, role: str, name: str | None, cwd: Path, model: str | None, db_path: Path | None
) -> None:
    """Create an agent and print its id. Its session opens with the first message."""
    orc = make_orchestrator(ctx, db_path=db_path)
    agent = _run(orc, lambda o: o.create_agent(role, name, cwd=cwd, model=model))
    click.echo(agent.id)


@agents.command()
@click.argument("agent_id")
@click.argument("message")
@db_option
@session_safety
@click.pass_context
def send(
    ctx: click.Context,
    agent_id: str,
    message: str,
    db_path: Path | None,
    trust_project_settings: bool,
    no_bash_sandbox: bool,
) -> None:
    """Send MESSAGE to AGENT_ID and print the reply as it comes."""
    from orchestrator_core import EventKind, hookimpl
    from orchestrator_core.secrets import redactor_for
    from orchestrator_core.terminal import printable

    scrub = redactor_for()

    if not message.strip():
        raise UsageError("the message is empty; say what the agent should do")

    class Printer:
        """Prints the reply of the agent being talked to as it streams (not a hand-over's summary)."""

        target: str | None = None

        @hookimpl
        def orc_event(self, event: Any) -> None:
            if (
                event.agent_id == self.target
                and event.kind is EventKind.MESSAGE
                and event.payload.get("role") == "assistant"
            ):
                # The emitter redacted the text already; a model's escape codes are shown, not sent (#16).
                click.echo(printable(scrub(str(event.payload.get("text", "")))))

    printer = Printer()
    orc = make_orchestrator(
        ctx,
        # The agent talks to the model it was made with (--scripted), unless this command line says otherwise.
        recorded=remembered(ctx, agent_id=agent_id, db_path=db_path),
        db_path=db_path,
        **safety_overrides(trust_project_settings, no_bash_sandbox),
    )
    orc.pm.register(printer, "orc-agents-send-printer")

    async def talk(o: Any) -> Any:
        target = agent_id
        if o.agents.get(agent_id).context_usage["usage_percentage"] >= o.config.context_threshold:
            target = (await o.hand_over(agent_id)).id
            click.echo(f"agent {agent_id}'s context was full: {target} took over", err=True)
        printer.target = target
        return await o.agents.send(target, message)

    turn = _run(orc, talk)
    if turn.is_error:
        raise RunFailed(f"agent {printer.target} could not answer: {turn.error}")


@agents.command()
@click.argument("agent_id")
@click.option(
    "--transcript",
    is_flag=True,
    help="Show what the agent was told and said, in order: messages, tool calls with their input and result.",
)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, agent_id: str, transcript: bool, db_path: Path | None, as_json: bool) -> None:
    """Show an agent: status, session, metrics, context use, tool calls, files; --transcript: its conversation."""
    ctx.invoke(
        _store_command(ctx, "agent-details"),
        agent_id=agent_id,
        transcript=transcript,
        db_path=db_path,
        as_json=as_json,
    )


@agents.command("list")
@click.option("--role", help="Only agents of this role.")
@click.option("--status", help="Only agents with this status (idle, running, deleted, ...).")
@click.option("--task", "task_id", help="Only the agents of this task.")
@click.option(
    "--since",
    help="Only those created since then: a date (2026-11-01, UTC unless it names an offset) or "
    "a duration back from now (30m, 2h, 3d, 1w).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many rows, newest first.",
)
@click.option("--all", "show_all", is_flag=True, help="Show every row that matches.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, **options: Any) -> None:
    """List agents, newest first (the newest 20 unless --limit or --all)."""
    ctx.invoke(_store_command(ctx, "list-agents"), **options)


@agents.command()
@click.argument("agent_id")
@db_option
@click.pass_context
def delete(ctx: click.Context, agent_id: str, db_path: Path | None) -> None:
    """Delete an agent's session and transcript; its records stay."""
    # No model is asked anything, so no credentials are needed; a scripted agent's session lives with the
    # scripted model's sessions, which its remembered settings point at.
    recorded = remembered(ctx, agent_id=agent_id, db_path=db_path)
    orc = make_orchestrator(ctx, recorded=recorded, db_path=db_path, needs_model=False)
    _run(orc, lambda o: o.delete_agent(agent_id))
    click.echo(f"deleted {agent_id}")
