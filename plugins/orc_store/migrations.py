"""The run store's schema, as sqlite-utils migrations (set ``orc.store``). Never edit an applied one; add one."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("orc.store")

_METRICS = {
    "cost_usd": float,
    "input_tokens": int,
    "output_tokens": int,
    "cache_read_tokens": int,
    "cache_creation_tokens": int,
}


@migrations()
def m001_initial(db: Database) -> None:
    # The walking skeleton's store (#3): a task, its plan's subtasks, the agents that ran them and every event
    # they emitted, written as it happens so a run killed half-way keeps what came before the kill.
    db["tasks"].create(
        {
            "id": str,
            "prompt": str,
            "task_type": str,
            "mode": str,
            "cwd": str,
            "status": str,
            "plan": str,
            "success": int,
            "output": str,
            "error": str,
            **_METRICS,
            "created_at": str,
            "finished_at": str,
        },
        pk="id",
    )
    db["subtasks"].create(
        {
            "id": str,
            "task_id": str,
            "subtask_id": str,
            "role": str,
            "instruction": str,
            "depends_on": str,
            "status": str,
            "agent_id": str,
            "output": str,
            "error": str,
            **_METRICS,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db["agents"].create(
        {
            "id": str,
            "task_id": str,
            "name": str,
            "role": str,
            "status": str,
            "session_id": str,
            "model": str,
            "cwd": str,
            "pid": int,
            **_METRICS,
            "messages": int,
            "tool_calls": int,
            "files_read": int,
            "files_written": int,
            "duration_s": float,
            "context_used": int,
            "context_window": int,
            "created_at": str,
            "updated_at": str,
            "deleted_at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db["events"].create(
        {"id": int, "task_id": str, "agent_id": str, "seq": int, "ts": str, "kind": str, "payload": str},
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db["subtasks"].create_index(["task_id"])
    db["agents"].create_index(["task_id"])
    db["agents"].create_index(["role"])
    db["events"].create_index(["agent_id", "seq"], unique=True)
    db["events"].create_index(["task_id"])
    db["events"].create_index(["kind"])
