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
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
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
from .columns import COLUMNS, clip, fit, flow

_STYLES = {RUNNING: "bold yellow", DONE: "green", FAILED: "bold red", WAITING: "dim", "skipped": "dim red"}
#: How much of an agent's latest text ``--verbose`` shows under the table.
SAID_WIDTH = 120
#: How long a notice line may be when the terminal's width is not known.
NOTICE_WIDTH = 200


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


def _header(view: BoardView, max_cost: float | None, width: int | None) -> Text:
    """The task's title and plan progress, in pieces that wrap whole onto the next line on a narrow terminal."""
    task = view.task
    title = [Text.assemble(("orc ", "bold"), (task.id if task else "", "cyan"))]
    if task is not None:
        title.append(Text(printable(f"{task.task_type} · {task.mode}")))
        if task.status.value not in ("running", "pending"):
            title.append(
                Text(task.status.value, _STYLES.get(DONE if task.status.value == "succeeded" else FAILED, ""))
            )
    title.append(Text(f"elapsed {_duration(view.elapsed)}"))
    counts = [
        f"{view.count(DONE)}/{view.total} done",
        f"{view.count(RUNNING)} running",
        f"{view.count(WAITING)} waiting",
        f"{view.count(FAILED)} failed",
    ]
    counts += [f"{view.count(s)} {s}" for s in ("skipped", "cancelled") if view.count(s)]
    progress = [Text.assemble("plan ", (counts[0], "bold"))]
    progress += [Text.assemble("· ", (c, "bold"), end="") for c in counts[1:]]
    cost = f"${view.cost_usd:.4f}" + (f" of ${max_cost:.2f}" if max_cost else "")
    cost_style = "bold red" if max_cost and view.cost_usd >= max_cost else ""
    progress[-1].append("  ")
    progress.append(Text.assemble("cost ", (cost, cost_style)))
    throttles = sum(r.throttles for r in view.rows)
    if throttles:
        throttled = Text(f"throttled {throttles}×", "yellow")
        if view.concurrency is not None:
            throttled.append(f" · model {view.concurrency} at once", "yellow")
        progress[-1].append("  ")
        progress.append(throttled)
    lines = [*_flowed(title, width, "  "), *_flowed(progress, width, " ")]
    return Text("\n").join(lines)


def _flowed(pieces: list[Text], width: int | None, sep: str) -> list[Text]:
    return [
        Text(sep).join(pieces[i] for i in line)
        for line in flow([p.cell_len for p in pieces], width, len(sep))
    ]


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

    :param width: the terminal's width: the columns that do not fit give way by priority (:mod:`.columns`), and
        every line fits it, words whole.
    """
    rows = [_cells(row, view, stall_seconds) for row in view.rows]
    natural = {
        c.name: max([cell_len(c.name), *(_cell_len(cells[c.name]) for cells in rows)]) for c in COLUMNS
    }
    widths = fit(COLUMNS, natural, width)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    shown = [c for c in COLUMNS if c.name in widths]
    for column in shown:
        table.add_column(
            column.name, justify=column.justify, width=widths[column.name], no_wrap=True, overflow="crop"
        )
    for row, cells in zip(view.rows, rows, strict=True):
        values = [clip(cells[c.name], widths[c.name]) if c.flexible else cells[c.name] for c in shown]
        table.add_row(*values, style="dim" if row.status == WAITING else None)
    parts: list[RenderableType] = [_header(view, max_cost, width), table]
    line = width or NOTICE_WIDTH
    parts += [Text(clip(f"⚠ {notice}", line), "magenta", no_wrap=True) for notice in view.notices]
    if verbose:
        for row in view.rows:
            if row.status == RUNNING and row.last_text:
                label = f"{row.name}: "
                said = clip(row.last_text, max(min(SAID_WIDTH, line) - cell_len(label), 0))
                parts.append(Text.assemble((label, "bold"), said, no_wrap=True))
    return Group(*parts)


def _cell_len(value: str | Text) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(value)


class LiveView:
    """The observer behind the live display: feeds a :class:`Board`, starts and stops one rich Live per task."""

    def __init__(self, config: Config, console: Console | None = None) -> None:
        self.config = config
        self.board = Board()
        self.console = console
        self._live: Live | None = None
        self._terminal: Console | None = None
        self._log_streams: list[tuple[logging.StreamHandler, Any]] = []

    def renderable(self) -> RenderableType:
        # The console outlives the Live: the final frame, drawn as it stops, must fit the terminal too (#20).
        width = self._terminal.width if self._terminal is not None else None
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
        self._terminal = self.console or Console(stderr=True)
        self._live = Live(
            console=self._terminal,
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
