"""``orc mcp``: the command. Light to import (click only): the MCP SDK loads when the command runs."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import click

from orchestrator_core import UsageError

#: Where ``orc mcp --http`` keeps its bearer token unless told (made once, 0600, reused so hosts stay configured).
DEFAULT_TOKEN_FILE = Path("~/.local/share/orc/mcp.token")
TOKEN_ENV = "ORC_MCP_TOKEN"


@click.command("mcp")
@click.option(
    "--http",
    "port",
    type=click.IntRange(0, 65535),
    default=None,
    metavar="PORT",
    help="Serve streamable HTTP on 127.0.0.1:PORT (0: a free port, printed) instead of stdio.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"With --http: the bearer token clients must send (made if missing; default {DEFAULT_TOKEN_FILE}, "
    f"or ${TOKEN_ENV}).",
)
@click.option(
    "--allow-dir",
    "allowed",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory tasks may work in, and below it (repeatable; default: the current directory).",
)
@click.option(
    "--max-cost", type=float, default=None, help="The most a task may cost, in USD (calls may ask less)."
)
@click.option("--max-agents", type=int, default=None, help="The most agents a task may create.")
@click.option("--max-parallel", type=int, default=None, help="The most agents a task runs at once.")
@click.option("--timeout", type=float, default=None, help="The longest a task may run, in seconds.")
@click.option(
    "--approve", is_flag=True, help="Every execution waits for the host's approve_plan before it runs."
)
@click.pass_context
def mcp(
    ctx: click.Context,
    port: int | None,
    token_file: Path | None,
    allowed: tuple[Path, ...],
    max_cost: float | None,
    max_agents: int | None,
    max_parallel: int | None,
    timeout: float | None,
    approve: bool,
) -> None:
    """Serve orc's fleet to an MCP host: over stdio (`claude mcp add orc -- orc mcp`) or --http on 127.0.0.1.

    The host plans, executes in the background, watches, reads results and transcripts, messages agents,
    cancels, approves and resumes. The limits given here (or in orc.toml / the environment) bound every call.
    """
    from orchestrator_core.cli import current_config, make_orchestrator, remembered

    from .service import Bounds

    # --scripted (orc_scripted's option) is among this command line's settings: every Orchestrator gets it.
    config = current_config(ctx)
    bounds = Bounds(
        max_cost_usd=max_cost if max_cost is not None else config.max_cost_usd,
        max_agents=max_agents if max_agents is not None else config.max_agents,
        max_parallel_agents=max_parallel if max_parallel is not None else config.max_parallel_agents,
        timeout_seconds=timeout if timeout is not None else config.timeout_seconds,
    )
    for name, value in (
        ("--max-cost", max_cost),
        ("--max-agents", max_agents),
        ("--max-parallel", max_parallel),
    ):
        if value is not None and value <= 0:
            raise UsageError(f"{name} must be positive, got {value}")
    token = _token(token_file) if port is not None else None

    def orchestrator(*, task_id: str | None = None, agent_id: str | None = None, **overrides: Any) -> Any:
        # A recorded task or agent runs the way it was made (--scripted remembered, #20).
        recorded = remembered(ctx, task_id=task_id, agent_id=agent_id) if task_id or agent_id else None
        return make_orchestrator(ctx, recorded=recorded, **overrides)

    from .serve import serve

    serve(
        orchestrator,
        bounds,
        [p.resolve() for p in allowed] or [Path.cwd()],
        approve=approve,
        port=port,
        token=token,
    )


def _token(token_file: Path | None) -> str:
    """The bearer token: $ORC_MCP_TOKEN, else the token file's (made, 0600, if missing)."""
    if os.environ.get(TOKEN_ENV) and token_file is None:
        return os.environ[TOKEN_ENV]
    path = (token_file or DEFAULT_TOKEN_FILE).expanduser()
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text + "\n")
    except OSError as exc:
        raise UsageError(f"cannot read the token file {str(path)!r}: {exc.strerror}") from exc
    if len(text) < 16:
        raise UsageError(
            f"the token in {str(path)!r} is shorter than 16 characters; put a long random one there"
        )
    return text
