"""The event stream: what the runtime saw an agent do, as it happened.

Every observer (the store, the monitor, a third-party plugin) consumes the same :class:`Event` records through the
``orc_event`` hook. ``seq`` numbers one agent's events from 1 without gaps, so a consumer can tell it missed none.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from .records import utcnow


class EventKind(enum.StrEnum):
    #: The session is open; payload: session_id, model, tools, cwd.
    SESSION = "session"
    #: Text from the model (``role`` assistant) or sent to it (``role`` user); payload: role, text.
    MESSAGE = "message"
    #: The model asked for a tool; payload: tool_use_id, name, input.
    TOOL_CALL = "tool_call"
    #: A tool answered; payload: tool_use_id, name, is_error, content (bounded), duration_ms.
    TOOL_RESULT = "tool_result"
    #: A tool read or changed a file; payload: path, operation (read, write, edit, search), tool_use_id.
    FILE_ACCESS = "file_access"
    #: Usage of one turn; payload: input/output/cache tokens, cost_usd (this turn's), model.
    USAGE = "usage"
    #: Context size after a turn; payload: used_tokens, window_tokens, usage_percentage.
    CONTEXT = "context"
    #: The CLI retried a failed model call; payload: attempt, error_status, error, retry_delay_ms.
    RETRY = "retry"
    #: The turn ended; payload: is_error, subtype, num_turns, text (bounded), error.
    RESULT = "result"
    #: The runtime failed outside the model's control (CLI crash, bad option); payload: error.
    ERROR = "error"
    #: Something an observer or policy flagged; payload: message.
    NOTICE = "notice"


@attrs.frozen
class Event:
    task_id: str | None
    agent_id: str
    seq: int
    kind: EventKind
    payload: dict[str, Any] = attrs.field(factory=dict)
    ts: dt.datetime = attrs.field(factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "agent_id": self.agent_id,
            "seq": self.seq,
            "kind": self.kind.value,
            "payload": self.payload,
            "ts": self.ts.isoformat(),
        }
