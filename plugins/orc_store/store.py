"""RunStore: the observer that writes every task, subtask, agent and event to one SQLite file as it happens.

Registered as ``orc-store`` by ``orc_configure``. It owns the process's one write connection; observer hooks run
on the run's event loop thread, so every write comes from that thread, in order.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from orchestrator_core import (
    Agent,
    AgentStatus,
    Config,
    Event,
    EventKind,
    Metrics,
    StoreError,
    Subtask,
    SubtaskResult,
    Task,
    TaskResult,
    hookimpl,
)
from orchestrator_core.records import utcnow

from .migrations import migrations

_COST_FIELDS = ("cost_usd", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
_COST_EVENTS = {EventKind.USAGE}


def open_database(path: Path):
    """Open (creating if needed) and migrate the store at ``path``; any failure is one-line StoreError."""
    import sqlite_utils

    where = f"the run store {str(path)!r}"
    if path.is_dir():
        raise StoreError(f"{where} is a directory; set ORCHESTRATOR_DB_PATH to a file path")
    if not path.parent.resolve().is_dir():
        raise StoreError(
            f"{where} cannot be created: directory {str(path.parent)!r} does not exist; create it or set "
            "ORCHESTRATOR_DB_PATH elsewhere"
        )
    try:
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA foreign_keys = ON")
        # WAL with synchronous=NORMAL survives a killed process (not power loss) and saves an fsync per event.
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
        if db.journal_mode != "wal":
            db.enable_wal()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{where} is not a usable SQLite database ({exc}); move it aside or choose another path") from None
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{where} cannot be written ({exc}); set ORCHESTRATOR_DB_PATH to a writable file") from None
    return db


class RunStore:
    """Writes what the observer hooks report. ``db`` is a sqlite-utils Database."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = open_database(Path(config.db_path))

    def close(self) -> None:
        self.db.close()

    def _metrics(self, metrics: Metrics) -> dict[str, Any]:
        data = metrics.to_dict()
        data.pop("total_tokens")
        if not self.config.enable_cost_tracking:
            for name in _COST_FIELDS:
                data[name] = None
        return data

    # -- observer hooks -----------------------------------------------------------------------------------------

    @hookimpl
    def orc_task_started(self, task: Task) -> None:
        with self.db.atomic():
            self.db["tasks"].upsert(
                {
                    "id": task.id,
                    "prompt": task.prompt,
                    "task_type": task.task_type,
                    "mode": task.mode,
                    "cwd": task.cwd,
                    "status": task.status.value,
                    "plan": json.dumps(task.plan.to_dict()) if task.plan else None,
                    "created_at": task.created_at.isoformat(),
                },
                pk="id",
            )
            if task.plan:
                self.db["subtasks"].upsert_all(
                    [
                        {
                            "id": f"{task.id}:{s.id}",
                            "task_id": task.id,
                            "subtask_id": s.id,
                            "role": s.role,
                            "instruction": s.instruction,
                            "depends_on": json.dumps(list(s.depends_on)),
                            "status": "pending",
                        }
                        for s in task.plan.subtasks
                    ],
                    pk="id",
                )

    @hookimpl
    def orc_task_finished(self, task: Task, result: TaskResult) -> None:
        totals = {k: v for k, v in self._metrics(result.metrics).items() if k in _COST_FIELDS}
        self.db["tasks"].update(
            task.id,
            {
                "status": result.status.value,
                "success": int(result.success),
                "output": result.output,
                "error": result.error,
                "finished_at": (task.finished_at or utcnow()).isoformat(),
                **totals,
            },
        )

    @hookimpl
    def orc_subtask_started(self, task: Task, subtask: Subtask, agent: Agent) -> None:
        self.db["subtasks"].update(
            f"{task.id}:{subtask.id}",
            {"status": "running", "agent_id": agent.id, "started_at": utcnow().isoformat()},
        )

    @hookimpl
    def orc_subtask_finished(self, task: Task, subtask: Subtask, result: SubtaskResult) -> None:
        totals = {k: v for k, v in self._metrics(result.metrics).items() if k in _COST_FIELDS}
        self.db["subtasks"].update(
            f"{task.id}:{subtask.id}",
            {
                "status": result.status.value,
                "agent_id": result.agent_id,
                "output": result.output,
                "error": result.error,
                "finished_at": utcnow().isoformat(),
                **totals,
            },
        )

    def _agent_row(self, agent: Agent) -> dict[str, Any]:
        return {
            "id": agent.id,
            "task_id": agent.task_id,
            "name": agent.name,
            "role": agent.role,
            "status": agent.status.value,
            "session_id": agent.session_id,
            "model": agent.model,
            "cwd": agent.cwd,
            "pid": agent.pid,
            **self._metrics(agent.metrics),
            "created_at": agent.created_at.isoformat(),
            "updated_at": utcnow().isoformat(),
        }

    @hookimpl
    def orc_agent_created(self, agent: Agent) -> None:
        self.db["agents"].upsert(self._agent_row(agent), pk="id")

    @hookimpl
    def orc_agent_updated(self, agent: Agent) -> None:
        self.db["agents"].upsert(self._agent_row(agent), pk="id")

    @hookimpl
    def orc_agent_deleted(self, agent: Agent) -> None:
        row = self._agent_row(agent)
        row.update(status=AgentStatus.DELETED.value, deleted_at=row["updated_at"])
        self.db["agents"].upsert(row, pk="id")

    @hookimpl
    def orc_event(self, event: Event) -> None:
        if not self.config.enable_observability:
            return
        if event.kind in _COST_EVENTS and not self.config.enable_cost_tracking:
            return
        self.db["events"].insert(
            {
                "task_id": event.task_id,
                "agent_id": event.agent_id,
                "seq": event.seq,
                "ts": event.ts.isoformat(),
                "kind": event.kind.value,
                "payload": json.dumps(event.payload, default=str),
            }
        )
