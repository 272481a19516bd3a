"""Reads: what the lookup hooks, the read commands and the Python API ask of a store. Plain dicts and Agents.

Each function takes a sqlite-utils Database and only reads. ``None`` for an unknown id; callers word the error.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from orchestrator_core import (
    Agent,
    Metrics,
    SubtaskResult,
    SubtaskStatus,
    Task,
    TaskRecord,
    TaskStatus,
    plan_from_dict,
)

from .rows import agent_from_row, loads


def _one(db: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    return next(iter(db.query(sql, params)), None)


def _all(db: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return list(db.query(sql, params or []))


def find_agent(db: Any, agent_id: str) -> Agent | None:
    row = _one(db, "select * from agents where id = ?", [agent_id])
    if row is None:
        return None
    last = _one(db, "select max(seq) as seq from events where agent_id = ?", [agent_id])
    return agent_from_row(row, (last or {}).get("seq") or 0)


def agents(db: Any, role: str | None = None, status: str | None = None) -> list[Agent]:
    """Recorded agents, newest first."""
    return [agent_from_row(row, row.pop("last_seq") or 0) for row in agent_rows(db, role, status, with_seq=True)]


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


def fleet(db: Any) -> dict[str, Any]:
    """Agents by status and role, totals, and files consumed vs produced: ``orc status``."""
    totals = _one(
        db,
        """select (select count(*) from tasks) as tasks,
        (select count(*) from tasks where status = 'running') as running_tasks,
        count(*) as agents, sum(cost_usd) as cost_usd,
        sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) as total_tokens,
        sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
        sum(cache_read_tokens) as cache_read_tokens, sum(cache_creation_tokens) as cache_creation_tokens
        from agents""",
        [],
    )
    files = _one(
        db,
        """select count(distinct case when operation = 'read' then path end) as files_consumed,
        count(distinct case when operation in ('write', 'edit') then path end) as files_produced
        from file_accesses""",
        [],
    )
    return {"by_role_and_status": _all(db, "select * from fleet_status"), "totals": totals, "files": files}


def tasks(db: Any) -> list[dict[str, Any]]:
    return _all(db, "select * from task_totals order by created_at desc")


def task_details(db: Any, task_id: str) -> dict[str, Any] | None:
    task = _one(db, "select * from tasks where id = ?", [task_id])
    if task is None:
        return None
    task["plan"] = loads(task["plan"])
    subtasks = _all(
        db,
        """select subtask_id as id, role, status, agent_id, depends_on, error, cost_usd, started_at, finished_at
        from subtasks where task_id = ? order by started_at is null, started_at, subtask_id""",
        [task_id],
    )
    for subtask in subtasks:
        subtask["depends_on"] = loads(subtask["depends_on"]) or []
    agents = _all(db, "select * from agent_totals where task_id = ? order by created_at", [task_id])
    # The agent tree (#13): an orchestrator agent's children name it as their parent.
    parents = {r["id"]: r["parent_id"] for r in _all(db, "select id, parent_id from agents where task_id = ?",
                                                       [task_id])}
    for agent in agents:
        agent["parent_id"] = parents.get(agent["agent_id"])
    return {
        "task": task,
        "totals": _one(db, "select * from task_totals where task_id = ?", [task_id]),
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
    row = _one(db, "select * from agent_totals where agent_id = ?", [agent_id])
    if row is None:
        return None
    agent = _one(db, "select session_id, cwd, pid, started, updated_at from agents where id = ?", [agent_id])
    context = _one(
        db,
        "select used_tokens, window_tokens, usage_percentage, at from context_samples where agent_id = ? "
        "order by id desc limit 1",
        [agent_id],
    )
    return {
        "agent": {**row, **(agent or {}), "started": bool((agent or {}).get("started"))},
        "context_usage": context,
        "files": files(db, "agent_id", agent_id),
        "tool_calls": _all(
            db,
            "select name, count(*) as calls, sum(is_error) as errors, sum(duration_ms) as duration_ms "
            "from tool_calls where agent_id = ? group by name order by calls desc, name",
            [agent_id],
        ),
        "flags": _all(db, "select kind, message, at from agent_flags where agent_id = ? order by id", [agent_id]),
    }


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
    return (_one(db, "select sum(cost_usd) as cost from agents", []) or {}).get("cost") or 0.0


def cost_by_role(db: Any) -> dict[str, float]:
    return {row["role"]: row["cost_usd"] or 0.0 for row in db.query("select role, cost_usd from cost_by_role")}


def load_task(db: Any, task_id: str) -> TaskRecord | None:
    """A recorded task with its plan, its ended subtasks' results and its agents: what ``orc resume`` needs."""
    row = _one(db, "select * from tasks where id = ?", [task_id])
    if row is None:
        return None
    plan = plan_from_dict(json.loads(row["plan"]), f"task {task_id}'s recorded plan") if row.get("plan") else None
    task = Task(
        id=row["id"], prompt=row["prompt"], task_type=row["task_type"], mode=row["mode"], cwd=row["cwd"],
        status=TaskStatus(row["status"]), plan=plan, created_at=dt.datetime.fromisoformat(row["created_at"]),
        limits=json.loads(row["limits"]) if row.get("limits") else {}, pid=row.get("pid"),
    )
    results, agent_ids = {}, {}
    for sub in _all(db, "select * from subtasks where task_id = ? order by rowid", [task_id]):
        if sub.get("agent_id"):
            agent_ids[sub["subtask_id"]] = sub["agent_id"]
        if sub["status"] in ("pending", "running"):
            continue
        agent = find_agent(db, sub["agent_id"]) if sub.get("agent_id") else None
        results[sub["subtask_id"]] = SubtaskResult(
            sub["subtask_id"], sub["role"], SubtaskStatus(sub["status"]), agent_id=sub.get("agent_id"),
            output=sub.get("output") or "", error=sub.get("error"), metrics=agent.metrics if agent else Metrics(),
        )
    agents = [r["id"] for r in _all(db, "select id from agents where task_id = ? order by created_at", [task_id])]
    return TaskRecord(task, results, agent_ids, agents)
