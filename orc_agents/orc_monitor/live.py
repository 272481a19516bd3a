"""LiveView: a rich live table on stderr while a task runs, one row per agent under a header with plan progress.

Used when stderr is a terminal (``progress`` is ``live``). Imported only then: ``orc --help`` must not import
``rich.live`` (DESIGN.md, "Who may import whom"). The hooks only update the :class:`Board`; rich's own thread
redraws it four times a second, and the live display stops at task end (or ``orc_unconfigure``) so the result the
CLI prints on stdout comes after the final table, never inside it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rich import box
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator_core import (
    Agent,
    Config,
    Event,
    StatusSnapshot,
    Subtask,
    SubtaskResult,
    Task,
    TaskResult,
    hookimpl,
)
from orchestrator_core.terminal import printable

from .board import DONE, FAILED, RUNNING, WAITING, Board, BoardView

_STYLES = {RUNNING: "bold yellow", DONE: "green", FAILED: "bold red", WAITING: "dim", "skipped": "dim red"}
#: How much of an agent's latest text ``--verbose`` shows under the table.
SAID_WIDTH = 120


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _percent(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"


def _header(view: BoardView, max_cost: float | None) -> Text:
    task = view.task
    title = Text.assemble(("orc ", "bold"), (task.id if task else "", "cyan"))
    if task is not None:
        title.append(printable(f"  {task.task_type} · {task.mode}"))
        if task.status.value not in ("running", "pending"):
            title.append(
                f"  {task.status.value}", _STYLES.get(DONE if task.status.value == "succeeded" else FAILED)
            )
    title.append(f"   elapsed {_duration(view.elapsed)}")
    counts = [
        f"{view.count(DONE)}/{view.total} done",
        f"{view.count(RUNNING)} running",
        f"{view.count(WAITING)} waiting",
        f"{view.count(FAILED)} failed",
    ]
    counts += [f"{view.count(s)} {s}" for s in ("skipped", "cancelled") if view.count(s)]
    cost = f"${view.cost_usd:.4f}" + (f" of ${max_cost:.2f}" if max_cost else "")
    cost_style = "bold red" if max_cost and view.cost_usd >= max_cost else ""
    line = Text.assemble("plan ", (" · ".join(counts), "bold"), "   cost ", (cost, cost_style))
    throttles = sum(r.throttles for r in view.rows)
    if throttles:
        line.append(f"   throttled {throttles}×", "yellow")
        if view.concurrency is not None:
            line.append(f" · model {view.concurrency} at once", "yellow")
    return Text("\n").join([title, line])


def _status(row: Any, view: BoardView, stall_seconds: float) -> Text:
    cell = Text(row.status, _STYLES.get(row.status, ""))
    if row.attempt > 1:
        cell.append(f" (try {row.attempt})")
    for flag in row.flags:
        cell.append(f" ⚠ {flag}", "bold magenta")
    if row.throttles:
        cell.append(f" waited {row.throttles}× {_duration(row.throttle_wait_s)}", "yellow")
    quiet = view.now - row.last_event if row.last_event is not None else 0.0
    if row.status == RUNNING and "stall" not in row.flags and quiet >= min(stall_seconds, 10.0):
        cell.append(f" quiet {_duration(quiet)}", "yellow")
    return cell


#: Columns: (name, justify); those in NARROW_DROP go first on a terminal narrower than NARROW_WIDTH.
COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("#", "right"),
    ("role", "left"),
    ("agent", "left"),
    ("status", "left"),
    ("turns", "right"),
    ("tools", "right"),
    ("last tool", "left"),
    ("tokens", "right"),
    ("cost", "right"),
    ("ctx", "right"),
    ("time", "right"),
)
NARROW_WIDTH = 120
NARROW_DROP = {"agent", "ctx"}


def _cells(row: Any, view: BoardView, stall_seconds: float) -> dict[str, Any]:
    waiting = row.status == WAITING
    return {
        "#": printable(row.subtask_id or ""),
        "role": row.role,
        "agent": row.name,
        "status": _status(row, view, stall_seconds),
        "turns": "" if waiting else str(row.turns),
        "tools": "" if waiting else str(row.tool_calls),
        "last tool": f"{row.last_tool} {row.last_target}".strip(),
        "tokens": "" if waiting else f"{row.total_tokens:,}",
        "cost": "" if waiting else f"${row.total_cost_usd:.4f}",
        "ctx": _percent(row.context_pct),
        "time": "" if waiting else _duration(row.elapsed(view.now)),
    }


def render(
    view: BoardView,
    *,
    max_cost: float | None = None,
    stall_seconds: float = 120.0,
    verbose: bool = False,
    width: int | None = None,
) -> RenderableType:
    """The whole live display for one moment: header, agent table, latest flags (and, verbose, what they said).

    :param width: the terminal's width; a narrow one drops the agent name and context columns.
    """
    columns = [(n, j) for n, j in COLUMNS if width is None or width >= NARROW_WIDTH or n not in NARROW_DROP]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for name, justify in columns:
        # Only the last tool's target may be cut short; every other cell is short and must stay whole.
        table.add_column(
            name, justify=justify, no_wrap=True, overflow="ellipsis" if name == "last tool" else "fold"
        )
    for row in view.rows:
        cells = _cells(row, view, stall_seconds)
        table.add_row(*(cells[name] for name, _ in columns), style="dim" if row.status == WAITING else None)
    parts: list[RenderableType] = [_header(view, max_cost), table]
    parts += [Text(f"⚠ {notice}", "magenta", overflow="ellipsis", no_wrap=True) for notice in view.notices]
    if verbose:
        for row in view.rows:
            if row.status == RUNNING and row.last_text:
                said = (
                    row.last_text
                    if len(row.last_text) <= SAID_WIDTH
                    else row.last_text[: SAID_WIDTH - 1] + "…"
                )
                parts.append(
                    Text.assemble((f"{row.name}: ", "bold"), said, no_wrap=True, overflow="ellipsis")
                )
    return Group(*parts)


class LiveView:
    """The observer behind the live display: feeds a :class:`Board`, starts and stops one rich Live per task."""

    def __init__(self, config: Config, console: Console | None = None) -> None:
        self.config = config
        self.board = Board()
        self.console = console
        self._live: Live | None = None
        self._log_streams: list[tuple[logging.StreamHandler, Any]] = []

    def renderable(self) -> RenderableType:
        width = self._live.console.width if self._live is not None else None
        return render(
            self.board.view(),
            max_cost=getattr(self.config, "max_cost_usd", None),
            stall_seconds=self.config.stall_seconds,
            verbose=self.config.verbose,
            width=width,
        )

    def start(self) -> None:
        if self._live is not None:
            return
        self._live = Live(
            console=self.console or Console(stderr=True),
            get_renderable=self.renderable,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self._live.start(refresh=True)
        # Log lines written straight to the real stderr would land inside the table: send them through rich's
        # stderr proxy, which prints them above it.
        for handler in logging.getLogger().handlers + logging.getLogger("orc").handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
                self._log_streams.append((handler, handler.setStream(sys.stderr)))

    def stop(self) -> None:
        live, self._live = self._live, None
        if live is None:
            return
        try:
            live.stop()
        finally:
            for handler, stream in self._log_streams:
                handler.setStream(stream)
            self._log_streams.clear()

    @hookimpl
    def orc_task_started(self, task: Task) -> None:
        self.board.task_started(task)
        self.start()

    @hookimpl
    def orc_task_finished(self, task: Task, result: TaskResult) -> None:
        self.board.task_finished(task)
        if getattr(result, "stopped", None) and result.error:
            self.board.notice(result.error.split("; ")[0])
        self.stop()

    @hookimpl
    def orc_agent_created(self, agent: Agent) -> None:
        self.board.agent_created(agent)

    @hookimpl
    def orc_subtask_started(self, task: Task, subtask: Subtask, agent: Agent) -> None:
        self.board.subtask_started(subtask, agent)

    @hookimpl
    def orc_subtask_finished(self, task: Task, subtask: Subtask, result: SubtaskResult) -> None:
        self.board.subtask_finished(subtask, result)

    @hookimpl
    def orc_agent_updated(self, agent: Agent) -> None:
        self.board.agent_updated(agent)

    @hookimpl
    def orc_event(self, event: Event) -> None:
        self.board.event(event)

    @hookimpl
    def orc_status(self, snapshot: StatusSnapshot) -> None:
        for agent in snapshot.agents:
            self.board.agent_updated(agent)

    @hookimpl
    def orc_agent_flagged(self, agent: Agent, kind: str, message: str) -> None:
        self.board.flagged(agent, kind, message)
