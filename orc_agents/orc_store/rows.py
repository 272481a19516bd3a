"""What records and events become as table rows, and back: pure functions, no connection.

``cost`` and ``observe`` mirror ENABLE_COST_TRACKING and ENABLE_OBSERVABILITY: with cost tracking off every cost and
token value is None (events keep their place in the sequence, with those fields left out).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import attrs

from orchestrator_core import Agent, AgentStatus, Event, EventKind, Metrics, Role, StatusSnapshot

COST_FIELDS = ("cost_usd", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
#: Payload keys of a usage event that are cost or token values.
USAGE_FIELDS = (*COST_FIELDS[1:], "cost_usd", "session_cost_usd")


def metrics_columns(metrics: Metrics, cost: bool) -> dict[str, Any]:
    data = metrics.to_dict()
    data.pop("total_tokens")
    if not cost:
        data.update(dict.fromkeys(COST_FIELDS))
    return data


def agent_row(agent: Agent, cost: bool, now: str) -> dict[str, Any]:
    """The agents row for ``agent``. With no model of its own, the row's ``model`` is left as it is: the store fills
    it from the session event with the model the CLI chose (#20), and a later update must not empty it again."""
    row = {
        "id": agent.id,
        "task_id": agent.task_id,
        "name": agent.name,
        "role": agent.role,
        "status": agent.status.value,
        "session_id": agent.session_id,
        "model": agent.model,
        "cwd": agent.cwd,
        "pid": agent.pid,
        **metrics_columns(agent.metrics, cost),
        "started": int(agent.session_started),
        "custom_role": json.dumps(agent.custom_role.to_dict()) if agent.custom_role else None,
        "parent_id": agent.parent_id,
        "created_at": agent.created_at.isoformat(),
        "updated_at": now,
    }
    if agent.model is None:
        del row["model"]
    return row


def agent_from_row(row: dict[str, Any], last_seq: int = 0) -> Agent:
    """The Agent a store row describes, as a later process needs it to go on (session id, ``session_started``)."""
    counts: dict[str, Any] = {f.name: row.get(f.name) or 0 for f in attrs.fields(Metrics) if f.name in row}
    metrics = Metrics(
        **counts
    )  # files without their paths: a later turn's add them as they are (see Metrics)
    return Agent(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        cwd=row["cwd"],
        status=AgentStatus(row["status"]),
        session_id=row["session_id"],
        model=row["model"],
        task_id=row["task_id"],
        pid=row["pid"],
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        metrics=metrics,
        session_started=bool(row.get("started")),
        last_seq=last_seq,
        custom_role=Role(**json.loads(row["custom_role"])) if row.get("custom_role") else None,
        parent_id=row.get("parent_id"),
    )


def event_payload(event: Event, cost: bool) -> dict[str, Any]:
    if event.kind is EventKind.USAGE and not cost:
        return {k: v for k, v in event.payload.items() if k not in USAGE_FIELDS}
    return event.payload


def event_rows(event: Event, cost: bool, observe: bool) -> list[tuple[str, str, dict[str, Any], str]]:
    """The writer ops (see :data:`~.writer.Op`) for the raw event and the table it feeds."""
    kind = event.kind
    task_id, agent_id, seq = event.task_id, event.agent_id, event.seq
    p = event.payload
    ts = event.ts.isoformat()
    out: list[tuple[str, str, dict[str, Any], str]] = []
    if kind is EventKind.USAGE and cost:
        row = {"task_id": task_id, "agent_id": agent_id, "seq": seq, "at": ts}
        row.update((k, p.get(k)) for k in USAGE_FIELDS)
        out.append(("insert", "usage", row, "id"))
    if not observe:
        return out
    out.append(
        (
            "insert",
            "events",
            {
                "task_id": task_id,
                "agent_id": agent_id,
                "seq": seq,
                "ts": ts,
                "kind": kind.value,
                "payload": event_payload(event, cost),
            },
            "id",
        )
    )
    if kind is EventKind.MESSAGE:
        out.append(
            (
                "insert",
                "messages",
                {
                    "task_id": task_id,
                    "agent_id": agent_id,
                    "seq": seq,
                    "role": p.get("role"),
                    "text": p.get("text"),
                    "ts": ts,
                },
                "id",
            )
        )
    elif kind is EventKind.TOOL_CALL:
        out.append(
            (
                "insert",
                "tool_calls",
                {
                    "id": p.get("tool_use_id"),
                    "task_id": task_id,
                    "agent_id": agent_id,
                    "seq": seq,
                    "name": p.get("name"),
                    "input": p.get("input"),
                    "called_at": ts,
                },
                "id",
            )
        )
    elif kind is EventKind.TOOL_RESULT:
        out.append(
            (
                "update",
                "tool_calls",
                {
                    "id": p.get("tool_use_id"),
                    "result": p.get("content"),
                    "is_error": int(bool(p.get("is_error"))),
                    "duration_ms": p.get("duration_ms"),
                    "finished_at": ts,
                },
                "id",
            )
        )
    elif kind is EventKind.FILE_ACCESS:
        out.append(
            (
                "insert",
                "file_accesses",
                {
                    "task_id": task_id,
                    "agent_id": agent_id,
                    "tool_call_id": p.get("tool_use_id"),
                    "path": p.get("path"),
                    "operation": p.get("operation"),
                    "tool": p.get("tool"),
                    "at": ts,
                },
                "id",
            )
        )
    elif kind is EventKind.RETRY:
        out.append(
            (
                "insert",
                "retries",
                {
                    "task_id": task_id,
                    "agent_id": agent_id,
                    "seq": seq,
                    "by": p.get("by") or "cli",
                    "error_status": p.get("error_status"),
                    "error": p.get("error"),
                    "attempt": p.get("attempt"),
                    "retry_delay_ms": p.get("retry_delay_ms"),
                    "concurrency": p.get("concurrency"),
                    "at": ts,
                },
                "id",
            )
        )
    elif kind is EventKind.CONTEXT:
        out.append(
            (
                "insert",
                "context_samples",
                {
                    "task_id": task_id,
                    "agent_id": agent_id,
                    "seq": seq,
                    "used_tokens": p.get("used_tokens"),
                    "window_tokens": p.get("window_tokens"),
                    "usage_percentage": p.get("usage_percentage"),
                    "at": ts,
                },
                "id",
            )
        )
    return out


def snapshot_row(snapshot: StatusSnapshot, cost: bool) -> dict[str, Any]:
    by_status: dict[str, list[str]] = {}
    for agent in snapshot.agents:
        by_status.setdefault(agent.status.value, []).append(agent.id)
    return {
        "task_id": snapshot.task_id,
        "ts": snapshot.ts.isoformat(),
        "elapsed_s": snapshot.elapsed_s,
        "cost_usd": snapshot.metrics.cost_usd if cost else None,
        "total_tokens": snapshot.metrics.total_tokens if cost else None,
        "agents": by_status,
        "subtasks": dict(snapshot.subtasks),
    }


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def transcript_row(
    agent_id: str, session_id: str, subpath: str, entry: dict[str, Any], now: str
) -> dict[str, Any]:
    """The transcripts row of one line of a session's transcript. A line with a uuid is keyed by it (with its
    type): sent again (the SDK retries a batch), it replaces itself; a line without one is always new."""
    line = entry.get("uuid") if isinstance(entry, dict) else None
    key = f"{entry.get('type')}:{line}" if line else f"-:{uuid.uuid4().hex}"
    return {
        "id": f"{session_id}/{subpath}/{key}",
        "agent_id": agent_id,
        "session_id": session_id,
        "subpath": subpath,
        "entry": entry,
        "at": now,
    }
