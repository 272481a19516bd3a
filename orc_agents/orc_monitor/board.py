"""Board: what the live view shows, kept up to date from the observer hooks (no rich in here).

The board is written on the run's event loop thread and read by rich's refresh thread, so every read and write
holds its lock; rendering works on :meth:`Board.view`, a copy.
"""

from __future__ import annotations

import os
import threading
import time

import attrs

from orchestrator_core import Agent, Event, EventKind, Subtask, SubtaskResult, Task
from orchestrator_core.secrets import redactor_for
from orchestrator_core.terminal import printable

#: Subtask statuses as the view names them.
DONE, RUNNING, WAITING, FAILED = "done", "running", "waiting", "failed"
_ENDED = {"succeeded": DONE, "failed": FAILED, "skipped": "skipped", "cancelled": "cancelled"}
#: Input keys that name what a tool works on, most telling first.
_TARGET_KEYS = ("file_path", "notebook_path", "command", "pattern", "path", "url", "query")


def tool_target(tool_input: dict | None, width: int = 60) -> str:
    """What a tool call works on: a file's base name, else its pattern, command or URL, cut to ``width``."""
    tool_input = tool_input or {}
    for key in _TARGET_KEYS:
        if tool_input.get(key):
            value = str(tool_input[key])
            if key in ("file_path", "notebook_path"):
                value = os.path.basename(value)
            # The model chose it: its control characters are shown, never sent to the terminal (#16).
            value = printable(" ".join(value.split()))
            return value if len(value) <= width else value[: width - 1] + "…"
    return ""


def tool_name(name: str) -> str:
    """A tool's name as the view shows it: an MCP server's tool as ``server.tool`` (``mcp__orc__read_result`` is
    ``orc.read_result``), every other as it is."""
    parts = name.split("__")
    return f"{parts[1]}.{'__'.join(parts[2:])}" if len(parts) >= 3 and parts[0] == "mcp" else name


@attrs.define
class Row:
    """One agent (or a subtask still waiting for its agent) as the view shows it."""

    key: str
    role: str
    name: str = ""
    subtask_id: str | None = None
    agent_id: str | None = None
    status: str = WAITING
    turns: int = 0
    tool_calls: int = 0
    last_tool: str = ""
    last_target: str = ""
    tokens: int = 0
    cost_usd: float = 0.0
    context_pct: float | None = None
    started: float | None = None
    ended: float | None = None
    last_event: float | None = None
    #: Kinds flagged for this agent (stall, loop, ...), in order; a kind is dropped when the agent moves again.
    flags: list[str] = attrs.field(factory=list)
    last_text: str = ""
    #: True while the agent's latest events were model output: the next model output starts a new turn.
    in_reply: bool = False
    #: Which attempt at the subtask this is (a retry gets a fresh agent), and what the earlier ones used.
    attempt: int = 0
    prior_tokens: int = 0
    prior_cost_usd: float = 0.0
    #: Model calls refused for load (429/529) and tried again, and the seconds waited for them (#23).
    throttles: int = 0
    throttle_wait_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prior_tokens + self.tokens

    @property
    def total_cost_usd(self) -> float:
        return self.prior_cost_usd + self.cost_usd

    #: Seconds an agent outside the plan spent working (its metrics'); a subtask's row counts from its start.
    worked: float | None = None

    def elapsed(self, now: float) -> float:
        if self.worked is not None:
            return self.worked
        if self.started is None:
            return 0.0
        return (self.ended or now) - self.started


@attrs.frozen
class BoardView:
    """A consistent copy of the board for one render."""

    task: Task | None
    rows: tuple[Row, ...]
    notices: tuple[str, ...]
    started: float | None
    ended: float | None
    now: float
    #: Model requests the governor allows at once, as of its latest throttle (None: it has not throttled).
    concurrency: int | None = None

    def count(self, status: str) -> int:
        """How many of the plan's subtasks are in ``status``."""
        return sum(1 for r in self.planned if r.status == status)

    @property
    def planned(self) -> tuple[Row, ...]:
        """The rows of the plan's subtasks (not those of agents outside the plan)."""
        return tuple(r for r in self.rows if r.subtask_id is not None)

    @property
    def total(self) -> int:
        return len(self.planned)

    @property
    def cost_usd(self) -> float:
        return sum(r.total_cost_usd for r in self.rows)

    @property
    def elapsed(self) -> float:
        return 0.0 if self.started is None else (self.ended or self.now) - self.started


class Board:
    """Rows by subtask (or agent) id, plan progress and the latest notices."""

    def __init__(self, max_notices: int = 5) -> None:
        self._lock = threading.Lock()
        self.task: Task | None = None
        self.rows: dict[str, Row] = {}
        self._by_agent: dict[str, str] = {}
        self.notices: list[str] = []
        self.max_notices = max_notices
        self.started: float | None = None
        self.ended: float | None = None
        self.concurrency: int | None = None
        # What the view shows of an agent's words and tool targets must never hold a secret from the environment
        # (the emitter redacted the events already: this is the second line) nor an escape code (#16).
        self.scrub = redactor_for()

    def shown(self, text: str) -> str:
        """``text`` as the view may show it: redacted, control characters made visible."""
        return printable(self.scrub(text))

    def _row_for(self, agent_id: str) -> Row | None:
        """The row of the agent, unless a newer attempt's agent took it over."""
        row = self.rows.get(self._by_agent.get(agent_id, ""))
        return row if row is not None and row.agent_id == agent_id else None

    def task_started(self, task: Task) -> None:
        with self._lock:
            self.task = task
            self.rows = {
                s.id: Row(key=s.id, role=self.shown(s.role), subtask_id=s.id)
                for s in (task.plan.subtasks if task.plan else ())
            }
            self._by_agent.clear()
            self.notices.clear()
            self.concurrency = None
            self.started, self.ended = time.monotonic(), None

    def task_finished(self, task: Task) -> None:
        with self._lock:
            self.task = task
            self.ended = time.monotonic()

    def agent_created(self, agent: Agent) -> None:
        """An agent outside the plan gets a row of its own: one outside the task, or one another agent made (the
        orchestrator agent's team, #20). The plan's agents get theirs when their subtask starts.

        (A sequential run creates the next subtask's agent ahead of time, while the current one works.)
        """
        with self._lock:
            if self.task is not None and agent.task_id == self.task.id and agent.parent_id is None:
                return
            if agent.id not in self._by_agent:
                self._by_agent[agent.id] = agent.id
                self.rows[agent.id] = Row(
                    key=agent.id, role=self.shown(agent.role), name=self.shown(agent.name), agent_id=agent.id
                )
            self._apply_agent(agent)

    def subtask_started(self, subtask: Subtask, agent: Agent) -> None:
        with self._lock:
            self.rows.pop(
                agent.id, None
            )  # made by agent_created, for an agent it did not know to be the task's
            row = self.rows.setdefault(
                subtask.id, Row(key=subtask.id, role=self.shown(subtask.role), subtask_id=subtask.id)
            )
            if row.agent_id is not None:  # a retry: a fresh agent, the earlier ones' spending stays counted
                row.prior_tokens, row.prior_cost_usd = row.total_tokens, row.total_cost_usd
                row.tokens, row.cost_usd, row.turns, row.tool_calls, row.context_pct = 0, 0.0, 0, 0, None
                row.flags.clear()
            self._by_agent[agent.id] = subtask.id
            row.agent_id, row.name, row.status = agent.id, self.shown(agent.name), RUNNING
            row.attempt += 1
            row.started = row.last_event = time.monotonic()
            row.ended = None
            self._apply_agent(agent)

    def subtask_finished(self, subtask: Subtask, result: SubtaskResult) -> None:
        with self._lock:
            row = self.rows.setdefault(
                subtask.id, Row(key=subtask.id, role=subtask.role, subtask_id=subtask.id)
            )
            row.status = _ENDED.get(result.status.value, result.status.value)
            row.ended = time.monotonic() if row.started is not None else None
            if result.agent_id and result.agent_id == row.agent_id:
                self._apply_metrics(row, result.metrics)

    def agent_updated(self, agent: Agent) -> None:
        with self._lock:
            self._apply_agent(agent)

    def _apply_agent(self, agent: Agent) -> None:
        row = self._row_for(agent.id)
        if row is None:
            return
        row.name = self.shown(agent.name)
        if row.subtask_id is None:
            status = agent.status.value
            if status == "deleted":
                # Deleted once its work was done (the orchestrator agent's team at the end): it is done.
                row.status = row.status if row.status == FAILED else DONE if row.turns else "deleted"
            else:
                row.status = {"running": RUNNING, "failed": FAILED}.get(status, "idle")
            row.worked = agent.metrics.duration_s
        self._apply_metrics(row, agent.metrics)

    @staticmethod
    def _apply_metrics(row: Row, metrics) -> None:
        # Metrics grow after each turn; the events of the turn may already have shown more.
        row.tokens = max(row.tokens, metrics.total_tokens)
        row.cost_usd = max(row.cost_usd, metrics.cost_usd)
        row.tool_calls = max(row.tool_calls, metrics.tool_calls)
        if metrics.context_window:
            row.context_pct = 100 * metrics.context_used / metrics.context_window

    def event(self, event: Event) -> None:
        with self._lock:
            row = self._row_for(event.agent_id)
            if row is None:
                return
            row.last_event = time.monotonic()
            if "stall" in row.flags:
                row.flags.remove("stall")
            payload = event.payload
            model_output = event.kind is EventKind.TOOL_CALL or (
                event.kind is EventKind.MESSAGE and payload.get("role") == "assistant"
            )
            if model_output and not row.in_reply:
                row.turns += 1
            row.in_reply = model_output
            if event.kind is EventKind.TOOL_CALL:
                row.tool_calls += 1
                row.last_tool = self.shown(tool_name(str(payload.get("name") or "")))
                row.last_target = self.shown(tool_target(payload.get("input")))
            elif event.kind is EventKind.MESSAGE and payload.get("role") == "assistant":
                row.last_text = self.shown(" ".join(str(payload.get("text") or "").split()))
            elif event.kind is EventKind.USAGE:
                row.tokens += sum(
                    int(payload.get(k) or 0)
                    for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
                )
                row.cost_usd += float(payload.get("cost_usd") or 0.0)
            elif event.kind is EventKind.CONTEXT and payload.get("usage_percentage") is not None:
                row.context_pct = float(payload["usage_percentage"])
            elif event.kind is EventKind.RETRY:
                row.throttles += 1
                row.throttle_wait_s += float(payload.get("retry_delay_ms") or 0) / 1000
                if payload.get("concurrency"):
                    self.concurrency = int(payload["concurrency"])
            elif event.kind is EventKind.RESULT and payload.get("num_turns"):
                row.turns = max(row.turns, int(payload["num_turns"]))

    def flagged(self, agent: Agent, kind: str, message: str) -> None:
        with self._lock:
            row = self._row_for(agent.id)
            if row is not None and kind not in row.flags:
                row.flags.append(kind)
            label = row.name if row is not None and row.name else agent.name
            self._notice(f"{label}: {kind}: {message}")

    def notice(self, line: str) -> None:
        with self._lock:
            self._notice(line)

    def _notice(self, line: str) -> None:
        self.notices.append(self.shown(line))
        del self.notices[: -self.max_notices]

    def view(self) -> BoardView:
        with self._lock:
            return BoardView(
                task=self.task,
                rows=tuple(attrs.evolve(r, flags=list(r.flags)) for r in self.rows.values()),
                notices=tuple(self.notices),
                started=self.started,
                ended=self.ended,
                now=time.monotonic(),
                concurrency=self.concurrency,
            )
