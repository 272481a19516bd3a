"""How the read commands print: JSON with ``--json``, rich tables on a terminal, plain aligned text otherwise.

Much of what they print came from a model or a tool: every value is redacted (the store should hold no secret, but a
file written by an older orc may) and shown with its control characters made visible (#16).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from orchestrator_core.secrets import Redactor, redactor_for
from orchestrator_core.terminal import printable


@functools.cache
def _redactor() -> Redactor:
    return redactor_for()


def redact(data: Any) -> Any:
    """``data`` with this process's secret values replaced in every string in it, before it is encoded or cut."""
    return _redactor().value(data)


def shown(value: Any) -> str:
    """``value`` as a line of text safe to print: redacted, control characters visible."""
    return printable(_redactor()("" if value is None else str(value)))


def as_json(data: Any) -> None:
    # json.dumps escapes control characters; redaction comes first, on the values.
    click.echo(json.dumps(redact(data), indent=2, default=str))


def money(value: Any) -> str:
    return "-" if value is None else f"${value:.4f}"


def number(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def short(text: Any, limit: int = 60) -> str:
    text = "" if text is None else " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print ``rows`` under ``columns``: a rich table when stdout is a terminal, plain columns otherwise."""
    # Columns repeat their values (role, status, task, model): each distinct value is made safe once (#20).
    safe: dict[Any, str] = {}
    cells = [[safe[c] if c in safe else safe.setdefault(c, shown(c)) for c in row] for row in rows]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        rich_table = Table(title=title, title_justify="left")
        for column in columns:
            rich_table.add_column(column)
        for row in cells:
            rich_table.add_row(*row)
        Console().print(rich_table)
        return
    if title:
        click.echo(shown(title))
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    # One write for the whole table: `--all` prints 100,000 lines, and a write each costs more than making them.
    click.echo(
        "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in [list(columns), *cells]
        )
    )


def pairs(title: str | None, items: Sequence[tuple[str, Any]]) -> None:
    """Print ``name: value`` lines."""
    if title:
        click.echo(shown(title))
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        click.echo(f"  {key + ':':<{width + 1}} {shown(value)}")


# -- records: one JSON shape per kind of record, in every command (#20) -------------------------------------------

#: The keys of a task record, in order (``orc list-tasks``, ``task-details``' ``task``).
TASK_KEYS = (
    "id",
    "status",
    "task_type",
    "mode",
    "prompt",
    "cwd",
    "subtasks",
    "succeeded",
    "not_succeeded",
    "agents",
    "cost_usd",
    "total_tokens",
    "files_read",
    "files_written",
    "created_at",
    "finished_at",
    "error",
)
#: The keys of an agent record (``orc agents list``, ``agents show``' ``agent``, ``task-details``' ``agents``).
AGENT_KEYS = (
    "id",
    "name",
    "role",
    "status",
    "task_id",
    "parent_id",
    "model",
    "session_id",
    "cwd",
    "pid",
    "started",
    "cost_usd",
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "messages",
    "turns",
    "tool_calls",
    "tool_errors",
    "files_read",
    "files_written",
    "context_used",
    "context_window",
    "duration_s",
    "created_at",
    "updated_at",
    "deleted_at",
)


def task_record(row: dict[str, Any]) -> dict[str, Any]:
    """A task as every command shows it, from a row of :data:`~.queries._TASK_RECORDS`."""
    row = {**row, "id": row.get("task_id", row.get("id"))}
    return {key: row.get(key) for key in TASK_KEYS}


def agent_record(row: dict[str, Any]) -> dict[str, Any]:
    """An agent as every command shows it, from a row of :data:`~.queries._AGENT_RECORDS`."""
    row = {**row, "id": row.get("agent_id", row.get("id")), "started": bool(row.get("started"))}
    return {key: row.get(key) for key in AGENT_KEYS}


def shown_of(shown_count: int, total: int, what: str) -> None:
    """Say on stderr when a list shows fewer rows than match, and how to see more."""
    if shown_count < total:
        click.echo(
            f"{shown_count} of {total:,} {what} shown, newest first; --limit N or --all for more", err=True
        )
