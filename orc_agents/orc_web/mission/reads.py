"""What mission control reads from the store: plain dicts, every query bounded (LIMIT, an index behind each WHERE and
ORDER BY; migration ``m012_mission_control_indexes``). Each function takes a sqlite3 connection (Datasette's
read-only one, through ``execute_fn``) and only reads.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

#: Tasks on one page of the home list.
PAGE = 25
#: The most rows of one kind one page draws: a task with more shows the first ones and says so.
MAX_TICKS = 3000
MAX_SAMPLES = 5000
MAX_AGENTS = 300
#: Conversation items on one page of an agent.
CONVERSATION_PAGE = 300
TOKENS = (
    "coalesce(input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_tokens, 0) "
    "+ coalesce(cache_creation_tokens, 0)"
)
ACTIVE = ("pending", "running")


def rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def one(conn: sqlite3.Connection, sql: str, params: Any = ()) -> dict[str, Any] | None:
    found = rows(conn, sql, params)
    return found[0] if found else None


def has_table(conn: Any, name: str) -> bool:
    return bool(rows(conn, "select 1 from sqlite_master where type = 'table' and name = ?", [name]))


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"pragma table_info({table})").fetchall()}


# -- home ---------------------------------------------------------------------------------------------------------

TASK_COLUMNS = (
    "id, substr(prompt, 1, 300) as prompt, status, task_type, mode, cost_usd, created_at, finished_at, "
    f"error is not null as has_error, {TOKENS} as tokens"
)


def home(conn: sqlite3.Connection, status: str | None, before: tuple[str, str] | None) -> dict[str, Any]:
    """Recent tasks newest first (running ones first on the first page), counts by status, the next page's key.

    :param status: only tasks with this status.
    :param before: (created_at, id) of the last task of the previous page.
    """
    counts = {
        r["status"]: r["n"] for r in rows(conn, "select status, count(*) as n from tasks group by status")
    }
    running: list[dict[str, Any]] = []
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    elif before is None:
        running = rows(
            conn,
            f"select {TASK_COLUMNS} from tasks where status = 'running' order by created_at desc limit ?",
            [PAGE],
        )
    if not status:
        where.append("status != 'running'")
    if before is not None:
        where.append("(created_at < ? or (created_at = ? and id < ?))")
        params += [before[0], before[0], before[1]]
    listed = rows(
        conn,
        f"select {TASK_COLUMNS} from tasks where {' and '.join(where) or '1'} "
        "order by created_at desc, id desc limit ?",
        [*params, PAGE + 1],
    )
    more = len(listed) > PAGE
    listed = listed[:PAGE]
    _add_task_totals(conn, running + listed)
    return {
        "running": running,
        "tasks": listed,
        "counts": counts,
        "total": sum(counts.values()),
        "next": (listed[-1]["created_at"], listed[-1]["id"]) if more else None,
    }


def _add_task_totals(conn: sqlite3.Connection, tasks: list[dict[str, Any]]) -> None:
    """Agents, cost, tokens and files produced of each listed task (a running task has no totals of its own yet)."""
    if not tasks:
        return
    ids = [t["id"] for t in tasks]
    agents = {
        r["task_id"]: r
        for r in rows(
            conn,
            f"select task_id, count(*) as agents, sum(cost_usd) as cost_usd, sum({TOKENS}) as tokens "
            f"from agents where task_id in ({_marks(len(ids))}) group by task_id",
            ids,
        )
    }
    files = {
        r["task_id"]: r["n"]
        for r in rows(
            conn,
            "select task_id, count(distinct path) as n from file_accesses "
            f"where task_id in ({_marks(len(ids))}) and operation in ('write', 'edit') group by task_id",
            ids,
        )
    }
    for task in tasks:
        totals = agents.get(task["id"], {})
        task["agents"] = totals.get("agents", 0)
        if task["status"] in ACTIVE or task["cost_usd"] is None:
            task["cost_usd"] = totals.get("cost_usd")
            task["tokens"] = totals.get("tokens") or 0
        task["files_produced"] = files.get(task["id"], 0)


# -- a task -------------------------------------------------------------------------------------------------------


def task(conn: sqlite3.Connection, task_id: str) -> dict[str, Any] | None:
    """Everything a task's page draws; None for an unknown id."""
    row = one(conn, "select * from tasks where id = ?", [task_id])
    if row is None:
        return None
    row["plan"] = _loads(row.get("plan")) or {}
    # `limits` (the run's --max-cost and other limits) is recorded by newer stores only.
    row["limits"] = _loads(row.get("limits")) or {} if "limits" in row else {}
    subtasks = rows(
        conn,
        "select subtask_id, role, status, agent_id, depends_on, instruction, error, started_at, "
        "finished_at from subtasks where task_id = ? order by rowid limit ?",
        [task_id, MAX_AGENTS],
    )
    for subtask in subtasks:
        subtask["depends_on"] = _loads(subtask["depends_on"]) or []
    agents = rows(
        conn,
        f"""select a.id, a.name, a.role, a.status, a.parent_id, a.cost_usd, {TOKENS} as tokens, a.messages,
        a.tool_calls, a.context_used, a.context_window, a.created_at, a.updated_at, a.deleted_at,
        (select ts from events e where e.agent_id = a.id order by seq limit 1) as first_ts,
        (select ts from events e where e.agent_id = a.id order by seq desc limit 1) as last_ts,
        (select json_extract(payload, '$.is_error') from events e where e.agent_id = a.id and e.kind = 'result'
            order by seq desc limit 1) as last_turn_failed
        from agents a where a.task_id = ? order by a.created_at, a.rowid limit ?""",
        [task_id, MAX_AGENTS],
    )
    by_agent = {s["agent_id"]: s for s in subtasks if s["agent_id"]}
    for agent in agents:
        sub = by_agent.get(agent["id"])
        # The lane's colour is the outcome of its work: an agent is 'deleted' once a task ends, whatever it did.
        agent["outcome"] = sub["status"] if sub else _outcome(agent)
        agent["subtask_id"] = sub["subtask_id"] if sub else None
    return {
        "task": row,
        "subtasks": subtasks,
        "agents": agents,
        "tool_calls": rows(
            conn,
            "select agent_id, name, called_at, is_error from tool_calls where task_id = ? "
            "order by rowid limit ?",
            [task_id, MAX_TICKS],
        ),
        "flags": rows(
            conn,
            "select agent_id, kind, message, at from agent_flags where task_id = ? order by id limit ?",
            [task_id, MAX_TICKS],
        ),
        # A store older than m018 has no retries table (#23): mission control also reads stores it did not migrate.
        "retries": rows(
            conn,
            "select agent_id, by, error_status, retry_delay_ms, concurrency, at from retries where task_id = ? "
            "order by id limit ?",
            [task_id, MAX_TICKS],
        )
        if has_table(conn, "retries")
        else [],
        "usage": rows(
            conn,
            "select agent_id, cost_usd, at from usage where task_id = ? order by id limit ?",
            [task_id, MAX_SAMPLES],
        ),
        "context": rows(
            conn,
            "select agent_id, usage_percentage, used_tokens, window_tokens, at from context_samples "
            "where task_id = ? order by id limit ?",
            [task_id, MAX_SAMPLES],
        ),
        "files": rows(
            conn,
            "select agent_id, operation, path from file_accesses where task_id = ? "
            "group by agent_id, operation, path limit ?",
            [task_id, MAX_TICKS],
        ),
        "recent": [{**e, "gist": gist(e)} for e in rows(conn, RECENT, [task_id])],
        "last_event": last_event(conn, task_id),
    }


RECENT = """select id, agent_id, seq, ts, kind, json_extract(payload, '$.role') as role,
substr(json_extract(payload, '$.text'), 1, 160) as text, json_extract(payload, '$.name') as name,
substr(coalesce(json_extract(payload, '$.input.file_path'), json_extract(payload, '$.input.command'),
    json_extract(payload, '$.input.pattern'), json_extract(payload, '$.path')), 1, 120) as target,
json_extract(payload, '$.operation') as operation, json_extract(payload, '$.is_error') as is_error,
substr(coalesce(json_extract(payload, '$.error'), json_extract(payload, '$.message')), 1, 160) as error
from events where task_id = ? order by id desc limit 12"""


def gist(e: dict[str, Any]) -> str:
    """One line for an event: the start of a message, the tool and its target, a turn's outcome."""
    kind = e["kind"]
    if kind == "message":
        return f"{e['role']}: {e['text'] or ''}"
    if kind in ("tool_call", "tool_result"):
        outcome = "" if kind == "tool_call" else " failed" if e["is_error"] else " ok"
        return f"{e['name']} {e['target'] or ''}{outcome}"
    if kind == "file_access":
        return f"{e['operation']} {e['target'] or ''}"
    if kind == "result":
        return f"error: {e['error']}" if e["is_error"] else "turn done"
    return e["error"] or e["text"] or ""


def _outcome(agent: dict[str, Any]) -> str:
    """What an agent no subtask ran (one the orchestrator agent made) did: its last turn's outcome once it is done."""
    if agent["status"] in ("idle", "deleted") and agent["last_turn_failed"] is not None:
        return "failed" if agent["last_turn_failed"] else "succeeded"
    return agent["status"]


def last_event(conn: sqlite3.Connection, task_id: str) -> int:
    return conn.execute("select coalesce(max(id), 0) from events where task_id = ?", [task_id]).fetchone()[0]


def events_after(
    conn: sqlite3.Connection, task_id: str, after: int, limit: int = 200
) -> dict[str, Any] | None:
    """A task's status and its events with id > ``after`` (the live page's poll); None for an unknown task."""
    row = one(conn, "select status from tasks where id = ?", [task_id])
    if row is None:
        return None
    events = rows(
        conn,
        "select e.id, e.agent_id, a.role, e.seq, e.ts, e.kind, substr(e.payload, 1, 400) as payload "
        "from events e left join agents a on a.id = e.agent_id where e.task_id = ? and e.id > ? "
        "order by e.id limit ?",
        [task_id, after, limit],
    )
    return {"status": row["status"], "events": events, "last_event": events[-1]["id"] if events else after}


# -- an agent -----------------------------------------------------------------------------------------------------


def agent(conn: sqlite3.Connection, agent_id: str, after_seq: int = 0) -> dict[str, Any] | None:
    """An agent's row, metrics, conversation (one page from ``after_seq``), files, flags and children."""
    row = one(conn, f"select *, {TOKENS} as tokens from agents where id = ?", [agent_id])
    if row is None:
        return None
    events = rows(
        conn,
        "select seq, ts, kind, payload from events where agent_id = ? and seq > ? order by seq limit ?",
        [agent_id, after_seq, CONVERSATION_PAGE + 1],
    )
    more = len(events) > CONVERSATION_PAGE
    events = events[:CONVERSATION_PAGE]
    calls = rows(
        conn,
        "select count(*) as calls, coalesce(sum(is_error), 0) as errors from tool_calls where agent_id = ?",
        [agent_id],
    )[0]
    task_row = (
        one(
            conn,
            "select id, substr(prompt, 1, 200) as prompt, status from tasks where id = ?",
            [row["task_id"]],
        )
        if row.get("task_id")
        else None
    )
    return {
        "agent": row,
        "task": task_row,
        "subtask": one(
            conn,
            "select subtask_id, status, instruction, error from subtasks where agent_id = ? limit 1",
            [agent_id],
        ),
        "conversation": conversation(conn, events),
        "next_seq": events[-1]["seq"] if more else None,
        "after_seq": after_seq,
        "calls": calls,
        "files": rows(
            conn,
            "select operation, path, count(*) as times from file_accesses where agent_id = ? "
            "group by operation, path order by min(id) limit ?",
            [agent_id, MAX_TICKS],
        ),
        "flags": rows(
            conn,
            "select kind, message, at from agent_flags where agent_id = ? order by id limit ?",
            [agent_id, MAX_TICKS],
        ),
        "context": rows(
            conn,
            "select usage_percentage, used_tokens, window_tokens, at from context_samples "
            "where agent_id = ? order by seq limit ?",
            [agent_id, MAX_SAMPLES],
        ),
        # By parent_id's index (m010), then the few children sorted: with every parent_id NULL, as in a store with
        # no orchestrator-agent run, SQLite's statistics make it walk all agents instead (45 ms on 100,000).
        "children": rows(
            conn,
            "select id, role, status from agents indexed by idx_agents_parent_id "
            "where parent_id = ? order by created_at limit ?",
            [agent_id, MAX_AGENTS],
        ),
        "parent": one(conn, "select id, role from agents where id = ?", [row["parent_id"]])
        if row.get("parent_id")
        else None,
    }


def conversation(conn: sqlite3.Connection, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as a conversation: messages, each tool call with its result, turn ends and errors."""
    items: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for event in events:
        payload = _loads(event["payload"]) or {}
        kind = event["kind"]
        item = {"kind": kind, "seq": event["seq"], "ts": event["ts"], **payload}
        if kind == "tool_call":
            item["result"] = None
            calls[str(payload.get("tool_use_id"))] = item
        elif kind == "tool_result" and str(payload.get("tool_use_id")) in calls:
            calls[str(payload.get("tool_use_id"))]["result"] = payload
            continue
        elif kind in ("usage", "context", "file_access"):
            continue
        items.append(item)
    # A call whose result falls on the next page (or was never paired) takes it from tool_calls.
    missing = [k for k, c in calls.items() if c["result"] is None]
    if missing:
        for r in rows(
            conn,
            f"select id, result, is_error, duration_ms from tool_calls where id in ({_marks(len(missing))})",
            missing,
        ):
            if r["result"] is not None or r["is_error"] is not None:
                calls[r["id"]]["result"] = {
                    "content": r["result"],
                    "is_error": r["is_error"],
                    "duration_ms": r["duration_ms"],
                }
    return items


def _loads(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None
