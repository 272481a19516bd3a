"""Transcripts: what an agent was told and said, and each tool call with its input and a bounded result, in order
(``orc agents show ID --transcript``, ``orc task-details ID --messages``; #20).

Read from the store's ``messages`` and ``tool_calls`` rows, which the store redacted as it wrote them; printed through
:func:`~.output.shown` (redacted again, control characters shown) and paged on a terminal.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import output
from .rows import loads

#: At most this much of a tool's result or input is shown; the rest is counted.
SHOWN_CHARS = 1000


def clip(text: str | None, limit: int = SHOWN_CHARS) -> tuple[str | None, int]:
    """``text`` cut to ``limit`` characters, and how many were cut."""
    if text is None or len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def record(row: dict[str, Any]) -> dict[str, Any]:
    """One entry of a transcript, from a row of :func:`~.queries.conversation`."""
    base = {"agent_id": row["agent_id"], "seq": row["seq"], "ts": row["ts"], "kind": row["kind"]}
    if row["kind"] == "message":
        return {**base, "role": row["role"], "text": row["text"]}
    result, cut = clip(row["result"])
    return {
        **base,
        "tool_use_id": row["tool_use_id"],
        "name": row["name"],
        "input": loads(row["input"]),
        "result": result,
        "result_cut_chars": cut,
        "is_error": None if row["is_error"] is None else bool(row["is_error"]),
        "duration_ms": row["duration_ms"],
    }


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in output.shown(text).splitlines() or [""])


def render(entries: list[dict[str, Any]], roles: dict[str, str]) -> str:
    """The transcript as text: a heading per agent, then each message and tool call in order."""
    lines: list[str] = []
    agent = None
    for entry in entries:
        if entry["agent_id"] != agent:
            agent = entry["agent_id"]
            if lines:
                lines.append("")
            lines.append(output.shown(f"== {agent} ({roles.get(agent, '?')}) =="))
        when = (entry["ts"] or "")[11:19]
        if entry["kind"] == "message":
            lines.append(output.shown(f"[{entry['seq']}] {when} {entry['role']}:"))
            lines.append(_indented(entry["text"] or ""))
            continue
        given, given_cut = clip(json.dumps(entry["input"], ensure_ascii=False, default=str))
        lines.append(
            output.shown(f"[{entry['seq']}] {when} tool call {entry['name']}: {given}")
            + (f" [... {given_cut} more characters not shown]" if given_cut else "")
        )
        if entry["is_error"] is None:
            lines.append("    (no result recorded)")
            continue
        outcome = "failed" if entry["is_error"] else "ok"
        took = f" in {entry['duration_ms']} ms" if entry["duration_ms"] is not None else ""
        lines.append(f"    -> {outcome}{took}:")
        lines.append(_indented(entry["result"] or ""))
        if entry["result_cut_chars"]:
            lines.append(f"    [... {entry['result_cut_chars']} more characters not shown]")
    return "\n".join(lines) if lines else "(nothing recorded: no messages or tool calls)"


def show(entries: list[dict[str, Any]], roles: dict[str, str], as_json: bool) -> None:
    """Print the transcript: JSON records, or text paged when stdout is a terminal."""
    if as_json:
        output.as_json(entries)
        return
    text = render(entries, roles)
    if sys.stdout.isatty():
        click.echo_via_pager(text)
    else:
        click.echo(text)
