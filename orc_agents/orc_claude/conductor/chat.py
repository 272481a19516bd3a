"""``orc chat``: talk to the orchestrator agent on the terminal; it creates and commands the team for you.

Lines from stdin go to the orchestrator; its replies are printed. ``/status``, ``/agents`` and ``/cost`` are
answered from the fleet without asking the model; ``/quit`` (or end of input) leaves and deletes the agents.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from orchestrator_core.terminal import printable

HELP = "/status  the fleet at a glance\n/agents  each agent\n/cost    what it cost so far\n/quit    leave"


@click.command()
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
    help="Record the session here (overrides ORCHESTRATOR_DB_PATH).",
)
@click.option("--keep-agents", is_flag=True, help="Keep the agents' sessions and transcripts when you leave.")
@click.option("--max-parallel", type=click.IntRange(min=1), help="At most N agents working at once.")
@click.option(
    "--max-cost", type=click.FloatRange(min=0, min_open=True), help="Refuse new work past this many USD."
)
@click.option("--max-agents", type=click.IntRange(min=1), help="Create at most N agents.")
@click.pass_context
def chat(
    ctx: click.Context,
    cwd: Path,
    model: str | None,
    db_path: Path | None,
    keep_agents: bool,
    max_parallel: int | None,
    max_cost: float | None,
    max_agents: int | None,
) -> None:
    """Talk to the orchestrator agent: it creates, commands and deletes agents for you.

    /status, /agents and /cost show the fleet without asking the model; /quit leaves (the agents are deleted).
    """
    import anyio

    from orchestrator_core import UsageError
    from orchestrator_core.cli import make_orchestrator

    from .plugin import SETTING

    if not cwd.is_dir():
        raise UsageError(f"working directory {str(cwd)!r} does not exist; create it or pass another --cwd")
    orc = make_orchestrator(
        ctx,
        {SETTING: "agent"},
        default_model=model,
        db_path=db_path,
        keep_agents=keep_agents,
        max_parallel_agents=max_parallel,
        max_cost_usd=max_cost,
        max_agents=max_agents,
    )
    orc.enable_monitoring = False
    anyio.run(_talk, orc, cwd)


async def _talk(orc: Any, cwd: Path) -> None:
    """The conversation; SIGTERM, SIGHUP (terminal closed) or SIGQUIT ends it as /quit does, agents deleted (#17)."""
    import anyio

    from orchestrator_core import Interrupted
    from orchestrator_core.stop_signals import on_stop_signals

    stopped: list[str] = []

    def stop(name: str) -> None:
        stopped.append(name)
        scope.cancel()

    with anyio.CancelScope() as scope:
        async with on_stop_signals(stop):
            await _converse(orc, cwd)
    if stopped:
        raise Interrupted(f"chat ended by {stopped[0]}; its agents were stopped")


async def _converse(orc: Any, cwd: Path) -> None:
    import anyio

    from orchestrator_core import AgentStatus, UsageError

    from .plugin import conductor_for
    from .role import NAME

    interactive = sys.stdin.isatty()
    try:
        await orc.start()
        conductor = conductor_for(orc)
        reason = conductor.install()
        if reason:
            raise UsageError(reason)
        agent = orc.agents.create(NAME, name="orchestrator (chat)", cwd=cwd)
        try:
            async with orc.agents.open(agent.id) as session:
                fleet = conductor.fleets[agent.id]
                click.echo(
                    f"orc chat with the orchestrator agent {agent.id}; /help for commands, /quit to leave"
                )
                while True:
                    if interactive:
                        click.echo("> ", nl=False)
                    line = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
                    if not line:
                        break
                    line = line.strip()
                    if not line:
                        continue
                    if line.startswith("/"):
                        if line in ("/quit", "/exit"):
                            break
                        click.echo(printable(answer(line, fleet, orc, agent.id)))
                        continue
                    fleet.task = fleet.task or line
                    turn = await session.send(line)
                    # Redacted at the source; its escape codes are shown, never sent to the terminal (#16).
                    click.echo(
                        printable(
                            turn.text if not turn.is_error else f"(the orchestrator failed: {turn.error})"
                        )
                    )
        finally:
            with anyio.CancelScope(shield=True):
                if not orc.config.keep_agents and orc.agents.get(agent.id).status is not AgentStatus.DELETED:
                    await orc.agents.delete(agent.id)
    finally:
        await orc.stop()


def answer(line: str, fleet: Any, orc: Any, orchestrator_id: str) -> str:
    """A slash command's answer, from the fleet's records: no model call."""
    me = orc.agents.get(orchestrator_id)
    members = [orc.agents.get(a) for a in fleet.members]
    if line == "/agents":
        if not members:
            return "no agents yet"
        rows = []
        for agent in members:
            working = fleet.members[agent.id].working
            rows.append(
                f"{agent.id}  {agent.role:<10}  {'working' if working else agent.status.value:<8}  "
                f"turns {fleet.members[agent.id].turns}  ${agent.metrics.cost_usd:.4f}  {agent.name}"
            )
        return "\n".join(rows)
    if line == "/status":
        counts: dict[str, int] = {}
        for agent in members:
            state = "working" if fleet.members[agent.id].working else agent.status.value
            counts[state] = counts.get(state, 0) + 1
        listed = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
        usage = me.context_usage
        return (
            f"agents: {len(members)} ({listed}); cost ${fleet.cost():.4f}; orchestrator context "
            f"{usage['used_tokens']:,} tokens ({usage['usage_percentage']:g}%)"
        )
    if line == "/cost":
        team = sum(a.metrics.cost_usd for a in members)
        tokens = sum(a.metrics.total_tokens for a in members)
        return (
            f"orchestrator ${me.metrics.cost_usd:.4f} ({me.metrics.total_tokens:,} tokens) + agents "
            f"${team:.4f} ({tokens:,} tokens) = ${me.metrics.cost_usd + team:.4f}"
        )
    if line == "/help":
        return HELP
    return f"unknown command {line}; try:\n{HELP}"
