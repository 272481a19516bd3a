"""How mission control writes numbers, money, times and durations (Jinja filters): no float noise."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .drawing import parse


def money(value: float | None) -> str:
    """Dollars and cents (``$0.03``); four decimals below a cent (``$0.0042``); ``-`` when not tracked."""
    if value is None:
        return "-"
    if value == 0:
        return "$0.00"
    if abs(value) < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def number(value: int | float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def duration(start: str | None, end: str | None) -> str:
    """The time from ``start`` to ``end`` (to now when it has not ended)."""
    a, b = parse(start), parse(end) or dt.datetime.now(dt.UTC)
    return "-" if a is None else seconds(max((b - a).total_seconds(), 0.0))


def when(ts: str | None) -> str:
    """``2026-11-26 14:14:12`` (UTC), as recorded."""
    return "-" if not ts else ts[:19].replace("T", " ")


def clock(ts: str | None) -> str:
    return "-" if not ts else ts[11:19]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%" if value < 10 else f"{value:.0f}%"


def pretty(value: Any) -> str:
    """A tool input as people read it: ``key: value`` lines, a text (a file's content, a command) as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(
            f"{k}: {v}"
            if isinstance(v, str) and "\n" not in v
            else f"{k}:\n{v}"
            if isinstance(v, str)
            else f"{k}: {json.dumps(v, ensure_ascii=False, default=str)}"
            for k, v in value.items()
        )
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def long(text: Any, lines: int = 12, chars: int = 1200) -> bool:
    """Whether a text is long enough to be folded."""
    text = text if isinstance(text, str) else pretty(text)
    return text.count("\n") >= lines or len(text) > chars


def relative(path: str, cwd: str | None) -> str:
    """A path inside the task's directory, relative to it; any other as it is."""
    if cwd and path.startswith(cwd.rstrip("/") + "/"):
        return path[len(cwd.rstrip("/")) + 1 :]
    return path


FILTERS = {
    "orc_relative": relative,
    "orc_money": money,
    "orc_number": number,
    "orc_seconds": seconds,
    "orc_when": when,
    "orc_clock": clock,
    "orc_percent": percent,
    "orc_pretty": pretty,
    "orc_long": long,
}
GLOBALS = {"orc_duration": duration}
