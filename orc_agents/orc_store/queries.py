"""Reads: what the lookup hooks, the read commands and the Python API ask of a store. Plain dicts and Agents.

Each function takes a sqlite-utils Database and only reads. ``None`` for an unknown id; callers word the error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

import attrs

from orchestrator_core import (
    Agent,
    Metrics,
    SubtaskResult,
    SubtaskStatus,
    Task,
    TaskRecord,
    TaskStatus,
    money,
    plan_from_dict,
)

from .rows import agent_from_row, loads


def _one(db: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    return next(iter(db.query(sql, params)), None)


def _all(db: Any, sql: str, params: Any = None) -> list[dict[str, Any]]:
    return list(db.query(sql, params or []))


def find_agent(db: Any, agent_id: str) -> Agent | None:
    row = _one(db, "select * from agents where id = ?", [agent_id])
    if row is None:
        return None
    last = _one(db, "select max(seq) as seq from events where agent_id = ?", [agent_id])
    return agent_from_row(row, (last or {}).get("seq") or 0)


def agents(db: Any, role: str | None = None, status: str | None = None) -> list[Agent]:
    """Recorded agents, newest first."""
    return [
        agent_from_row(row, row.pop("last_seq") or 0) for row in agent_rows(db, role, status, with_seq=True)
    ]


def agent_rows(db: Any, role: str | None = None, status: str | None = None, *, with_seq: bool = False):
    where, params = [], []
    if role:
        where.append("a.role = ?")
        params.append(role)
    if status:
        where.append("a.status = ?")
        params.append(status)
    seq = ", (select max(seq) from events e where e.agent_id = a.id) as last_seq" if with_seq else ""
    sql = f"select a.*{seq} from agents a {'where ' + ' and '.join(where) if where else ''} order by a.created_at desc"
    return _all(db, sql, params)


#: What ``orc status --json`` says where nothing was recorded yet: what :func:`fleet` gives for an empty store.
EMPTY_FLEET: dict[str, Any] = {
    "by_role_and_status": [],
    "totals": {
        "tasks": 0,
        "running_tasks": 0,
        "agents": 0,
        "cost_usd": None,
        "total_tokens": None,
        "input_tokens": None,
        "output_tokens": None,
        "cache_read_tokens": None,
        "cache_creation_tokens": None,
    },
    "files": {"files_consumed": 0, "files_produced": 0},
}


def fleet(db: Any) -> dict[str, Any]:
    """Agents by status and role, totals, and files consumed vs produced: ``orc status``."""
    totals = _one(
        db,
        """select (select count(*) from tasks) as tasks,
        (select count(*) from tasks where status = 'running') as running_tasks,
        count(*) as agents, round(sum(cost_usd), 10) as cost_usd,
        sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) as total_tokens,
        sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
        sum(cache_read_tokens) as cache_read_tokens, sum(cache_creation_tokens) as cache_creation_tokens
        from agents""",
        [],
    )
    files = _one(
        db,
        # One subquery per operation, so each walks its part of the (operation, path) index.
        """select (select count(distinct path) from file_accesses where operation = 'read') as files_consumed,
        (select count(distinct path) from file_accesses where operation in ('write', 'edit')) as files_produced""",
        [],
    )
    return {"by_role_and_status": _all(db, "select * from fleet_status"), "totals": totals, "files": files}


#: What one task record holds (see :func:`~.output.task_record`): the task_totals view and the task's own cwd and
#: error. ``{where}`` picks the rows; the view's per-row totals are computed for those rows only.
_TASK_RECORDS = """select tt.*, t.cwd, t.error from tasks t join task_totals tt on tt.task_id = t.id
where t.id in ({ids}) order by t.created_at desc, t.id desc"""
#: The agent record: the agent_totals view and the rest of the agent's row.
_AGENT_RECORDS = """select at.*, a.parent_id, a.session_id, a.cwd, a.pid, a.started, a.duration_s, a.updated_at
from agents a join agent_totals at on at.agent_id = a.id where a.id in ({ids})
order by a.created_at desc, a.id desc"""
#: What the table of ``orc agents list`` shows: the agents row alone, no per-agent totals (``--all`` on 100,000).
_AGENT_LINES = """select id, name, role, status, model, task_id, cost_usd,
input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens as total_tokens, created_at
from agents where id in ({ids}) order by created_at desc, id desc"""


@attrs.frozen
class Page:
    """Which rows a list command shows: filters, then the newest ``limit`` (None: all)."""

    status: str | None = None
    role: str | None = None
    task_id: str | None = None
    since: str | None = None
    limit: int | None = 20


def _where(page: Page, columns: dict[str, str | None]) -> tuple[str, list[Any]]:
    where, params = [], []
    for column, value in columns.items():
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if page.since is not None:
        where.append("created_at >= ?")
        params.append(page.since)
    return (" where " + " and ".join(where)) if where else "", params


def _page(
    db: Any, table: str, page: Page, columns: dict[str, str | None], records: str
) -> tuple[list[dict], int]:
    """The newest ``page.limit`` rows of ``table`` that pass the filters, as records, and how many pass them."""
    where, params = _where(page, columns)
    total = (_one(db, f"select count(*) as n from {table}{where}", params) or {"n": 0})["n"]
    ids = f"select id from {table}{where} order by created_at desc, id desc"
    if page.limit is not None:
        ids += f" limit {int(page.limit)}"
    return _all(db, records.format(ids=ids), params), total


def task_page(db: Any, page: Page) -> tuple[list[dict[str, Any]], int]:
    """``orc list-tasks``: task records, newest first, and how many tasks pass the filters."""
    return _page(db, "tasks", page, {"status": page.status}, _TASK_RECORDS)


def agent_page(db: Any, page: Page, *, records: bool = True) -> tuple[list[dict[str, Any]], int]:
    """``orc agents list``: agent records (or, with ``records`` False, the columns of its table), newest first, and
    how many agents pass the filters."""
    return _page(
        db,
        "agents",
        page,
        {"status": page.status, "role": page.role, "task_id": page.task_id},
        _AGENT_RECORDS if records else _AGENT_LINES,
    )


def task_details(db: Any, task_id: str) -> dict[str, Any] | None:
    task = _one(db, "select id, plan, output from tasks where id = ?", [task_id])
    if task is None:
        return None
    subtasks = _all(
        db,
        """select subtask_id as id, role, status, agent_id, depends_on, error, cost_usd, started_at, finished_at
        from subtasks where task_id = ? order by started_at is null, started_at, subtask_id""",
        [task_id],
    )
    for subtask in subtasks:
        subtask["depends_on"] = loads(subtask["depends_on"]) or []
    agents = _all(db, _AGENT_RECORDS.format(ids="select id from agents where task_id = ?"), [task_id])
    agents.sort(key=lambda a: (a["created_at"] or "", a["agent_id"]))
    return {
        "task": _one(db, _TASK_RECORDS.format(ids="?"), [task_id]),
        "plan": loads(task["plan"]),
        "output": task["output"],
        "subtasks": subtasks,
        "agents": agents,
        "files": files(db, "task_id", task_id),
    }


def files(db: Any, column: str, value: str) -> list[dict[str, Any]]:
    """Each path touched, with how (read, write, edit, search), by which agents."""
    return _all(
        db,
        f"""select path, group_concat(distinct operation) as operations, group_concat(distinct agent_id) as agents,
        count(*) as accesses from file_accesses where {column} = ? group by path order by min(id)""",
        [value],
    )


def agent_details(db: Any, agent_id: str) -> dict[str, Any] | None:
    agent = _one(db, _AGENT_RECORDS.format(ids="?"), [agent_id])
    if agent is None:
        return None
    context = _one(
        db,
        "select used_tokens, window_tokens, usage_percentage, at from context_samples where agent_id = ? "
        "order by id desc limit 1",
        [agent_id],
    )
    return {
        "agent": agent,
        "context_usage": context,
        "files": files(db, "agent_id", agent_id),
        "tool_calls": _all(
            db,
            "select name, count(*) as calls, sum(is_error) as errors, sum(duration_ms) as duration_ms "
            "from tool_calls where agent_id = ? group by name order by calls desc, name",
            [agent_id],
        ),
        "flags": _all(
            db, "select kind, message, at from agent_flags where agent_id = ? order by id", [agent_id]
        ),
    }


def agent_ids(db: Any, task_id: str) -> list[str]:
    """The task's agents, in the order they were created."""
    return [
        r["id"]
        for r in _all(db, "select id from agents where task_id = ? order by created_at, id", [task_id])
    ]


def conversation(db: Any, agent_id: str) -> list[dict[str, Any]]:
    """What the agent was told and said, and each tool call with its input and result, in the agent's order."""
    return _all(
        db,
        """select agent_id, seq, ts, 'message' as kind, role, text, null as tool_use_id, null as name,
            null as input, null as result, null as is_error, null as duration_ms
        from messages where agent_id = :agent
        union all
        select agent_id, seq, called_at, 'tool_call', null, null, id, name, input, result, is_error, duration_ms
        from tool_calls where agent_id = :agent
        order by seq""",
        {"agent": agent_id},
    )


def task_status(db: Any, task_id: str) -> str | None:
    row = _one(db, "select status from tasks where id = ?", [task_id])
    return row["status"] if row else None


def task_pid(db: Any, task_id: str) -> int | None:
    """The pid of the process that runs (or last ran) the task, if recorded."""
    row = _one(db, "select pid from tasks where id = ?", [task_id])
    return row["pid"] if row else None


def events_after(db: Any, task_id: str, after_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """The task's events with ``events.id > after_id``, oldest first, with the agent's role."""
    return _all(
        db,
        """select e.id, e.agent_id, a.role, e.seq, e.ts, e.kind, e.payload from events e
        left join agents a on a.id = e.agent_id where e.task_id = ? and e.id > ? order by e.id limit ?""",
        [task_id, after_id, limit],
    )


def total_cost(db: Any) -> float:
    """Every recorded agent's cost, summed in SQL and rounded like every sum of money (``money``, #19)."""
    return money((_one(db, "select sum(cost_usd) as cost from agents", []) or {}).get("cost"))


def cost_by_role(db: Any) -> dict[str, float]:
    return {
        row["role"]: money(row["cost_usd"]) for row in db.query("select role, cost_usd from cost_by_role")
    }


def load_task(db: Any, task_id: str) -> TaskRecord | None:
    """A recorded task with its plan, its ended subtasks' results and its agents: what ``orc resume`` needs."""
    row = _one(db, "select * from tasks where id = ?", [task_id])
    if row is None:
        return None
    plan = (
        plan_from_dict(json.loads(row["plan"]), f"task {task_id}'s recorded plan")
        if row.get("plan")
        else None
    )
    task = Task(
        id=row["id"],
        prompt=row["prompt"],
        task_type=row["task_type"],
        mode=row["mode"],
        cwd=row["cwd"],
        status=TaskStatus(row["status"]),
        plan=plan,
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        limits=json.loads(row["limits"]) if row.get("limits") else {},
        pid=row.get("pid"),
        client=row.get("client"),
    )
    results, agent_ids = {}, {}
    for sub in _all(db, "select * from subtasks where task_id = ? order by rowid", [task_id]):
        if sub.get("agent_id"):
            agent_ids[sub["subtask_id"]] = sub["agent_id"]
        if sub["status"] in ("pending", "running"):
            continue
        agent = find_agent(db, sub["agent_id"]) if sub.get("agent_id") else None
        results[sub["subtask_id"]] = SubtaskResult(
            sub["subtask_id"],
            sub["role"],
            SubtaskStatus(sub["status"]),
            agent_id=sub.get("agent_id"),
            output=sub.get("output") or "",
            error=sub.get("error"),
            metrics=agent.metrics if agent else Metrics(),
        )
    agents = [
        r["id"] for r in _all(db, "select id from agents where task_id = ? order by created_at", [task_id])
    ]
    return TaskRecord(task, results, agent_ids, agents)


def remembered(path: Any, task_id: str | None, agent_id: str | None) -> dict[str, Any] | None:
    """The settings the task (or else the agent) was made with, from the store at ``path``; None when the file,
    the row or its ``settings`` (older rows, older stores) is not there. Read-only: it never makes a store."""
    import sqlite3
    from pathlib import Path

    table, key = ("tasks", task_id) if task_id is not None else ("agents", agent_id)
    if key is None or not Path(path).is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute(f"select settings from {table} where id = ?", [key]).fetchone()
    except sqlite3.Error:
        return None  # not a store, or one made before settings were kept: nothing remembered
    return json.loads(row[0]) if row and row[0] else None


def agent_result(db: Any, agent_id: str) -> str | None:
    """The agent's latest result: the output of its latest subtask, else the last thing it said."""
    row = _one(
        db,
        "select output from subtasks where agent_id = ? and output is not null "
        "order by finished_at desc, rowid desc limit 1",
        [agent_id],
    )
    if row is None:
        row = _one(
            db,
            "select text as output from messages where agent_id = ? and role = 'assistant' order by seq desc limit 1",
            [agent_id],
        )
    return row["output"] if row else None


def transcript(db: Any, session_id: str, subpath: str) -> list[dict[str, Any]] | None:
    """The kept lines of a session's transcript in the order first written (m017), or None if none are kept."""
    found = [
        json.loads(entry)
        for (entry,) in db.execute(
            "select entry from transcripts where session_id = ? and subpath = ? order by rowid",
            [session_id, subpath],
        ).fetchall()
    ]
    return found or None
