"""RunStore: the observer that records every task, subtask, agent, event, status check and flag as it happens.

Registered as ``orc-store`` by ``orc_configure``. Hooks only turn records into rows and queue them on the
process's :class:`~.writer.Writer`; the lookup hooks (``orc_find_agent``, ``orc_query_agents``) flush it first and
read through their own connection, so they see this process's rows and every other process's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestrator_core import (
    Agent,
    AgentStatus,
    Config,
    Event,
    StoreError,
    Subtask,
    SubtaskResult,
    Task,
    TaskRecord,
    TaskResult,
    hookimpl,
)
from orchestrator_core.records import StatusSnapshot, utcnow
from orchestrator_core.secrets import secrets_in

from . import queries, rows, writer
from .migrations import migrations


def open_database(path: Path, *, create: bool = True):
    """Open and migrate the store at ``path``; any failure is a one-line StoreError.

    :param create: make the file if it is missing; read commands pass False so a typo makes no empty store.
    """
    where = f"the run store {str(path)!r}"
    if path.is_dir():
        raise StoreError(f"{where} is a directory; set ORCHESTRATOR_DB_PATH to a file path")
    if not create and not path.exists():
        raise StoreError(
            f"no run store at {str(path)!r}: nothing was recorded here yet; run `orc execute` first, "
            "or pass --db / set ORCHESTRATOR_DB_PATH to the store's path"
        )
    if not path.parent.resolve().is_dir():
        raise StoreError(
            f"{where} cannot be created: directory {str(path.parent)!r} does not exist; create it or set "
            "ORCHESTRATOR_DB_PATH elsewhere"
        )
    try:
        db = writer.connect(path)
        # Several `orc` processes may open a new store at once: one migrates it (and turns WAL on) while the others
        # wait. The lock is on the directory, so it leaves no file behind.
        with _directory_lock(path.parent):
            migrations.apply(db)
            if db.journal_mode != "wal":
                db.enable_wal()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(f"{where} is locked by another program ({exc}); try again when it is done") from None
        raise StoreError(f"{where} is not a usable SQLite database ({exc}); move it aside or choose another path") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{where} is not a usable SQLite database ({exc}); move it aside or choose another path") from None
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{where} cannot be written ({exc}); set ORCHESTRATOR_DB_PATH to a writable file") from None
    return db


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class RunStore:
    """Records what the observer hooks report into the store at ``config.db_path``.

    :ivar db: a read connection (sqlite-utils Database); call :meth:`read` rather than using it directly.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.cost = config.enable_cost_tracking
        self.observe = config.enable_observability
        self.path = Path(config.db_path)
        self.db = open_database(self.path)
        self.writer = writer.acquire(self.path, secrets_in(os.environ, config.runtime_env))

    def read(self):
        """The read connection, after every row queued so far is committed."""
        self.writer.flush()
        return self.db

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        writer.release(self.writer)
        self.db.close()

    # -- lookups ------------------------------------------------------------------------------------------------

    @hookimpl
    def orc_find_agent(self, agent_id: str) -> Agent | None:
        return queries.find_agent(self.read(), agent_id)

    @hookimpl
    def orc_query_agents(self, role: str | None, status: str | None) -> list[Agent] | None:
        return queries.agents(self.read(), role=role, status=status)

    @hookimpl
    def orc_load_task(self, task_id: str) -> TaskRecord | None:
        return queries.load_task(self.read(), task_id)

    @hookimpl
    def orc_subtask_veto(self, task: Task, subtask: Subtask) -> str | None:
        """A store that cannot write any more stops the run from starting agents it could not record."""
        if self.writer.fatal is None:
            return None
        return (f"not started: the run store {str(self.path)!r} cannot be written ({self.writer.fatal}); "
                f"free space, then `orc resume {task.id}`")

    # -- observer hooks -----------------------------------------------------------------------------------------

    def _totals(self, metrics: Any) -> dict[str, Any]:
        return {k: v for k, v in rows.metrics_columns(metrics, self.cost).items() if k in rows.COST_FIELDS}

    @hookimpl
    def orc_task_started(self, task: Task) -> None:
        self.writer.state(
            "tasks",
            {
                "id": task.id,
                "prompt": task.prompt,
                "task_type": task.task_type,
                "mode": task.mode,
                "cwd": task.cwd,
                "status": task.status.value,
                "plan": task.plan.to_dict() if task.plan else None,
                "created_at": task.created_at.isoformat(),
                "limits": json.dumps(task.limits),
                "pid": task.pid,
            },
        )
        # A resumed task starts again under its own id: its succeeded subtasks keep their rows.
        kept = {r["subtask_id"] for r in self.read().query(
            "select subtask_id from subtasks where task_id = ? and status = 'succeeded'", [task.id])}
        for s in task.plan.subtasks if task.plan else ():
            if s.id in kept:
                continue
            self.writer.state(
                "subtasks",
                {
                    "id": f"{task.id}:{s.id}",
                    "task_id": task.id,
                    "subtask_id": s.id,
                    "role": s.role,
                    "instruction": s.instruction,
                    "depends_on": json.dumps(list(s.depends_on)),
                    "status": "pending",
                },
            )

    @hookimpl
    def orc_task_finished(self, task: Task, result: TaskResult) -> None:
        self.writer.state(
            "tasks",
            {
                "id": task.id,
                "status": result.status.value,
                "success": int(result.success),
                "output": result.output,
                "error": result.error,
                "finished_at": (task.finished_at or utcnow()).isoformat(),
                **self._totals(result.metrics),
            },
        )

    @hookimpl
    def orc_subtask_started(self, task: Task, subtask: Subtask, agent: Agent) -> None:
        self.writer.state(
            "subtasks",
            {"id": f"{task.id}:{subtask.id}", "status": "running", "agent_id": agent.id,
             "started_at": utcnow().isoformat()},
        )

    @hookimpl
    def orc_subtask_finished(self, task: Task, subtask: Subtask, result: SubtaskResult) -> None:
        self.writer.state(
            "subtasks",
            {
                "id": f"{task.id}:{subtask.id}",
                "status": result.status.value,
                "agent_id": result.agent_id,
                "output": result.output,
                "error": result.error,
                "finished_at": utcnow().isoformat(),
                **self._totals(result.metrics),
            },
        )

    @hookimpl
    def orc_agent_created(self, agent: Agent) -> None:
        self.writer.state("agents", rows.agent_row(agent, self.cost, utcnow().isoformat()))

    @hookimpl
    def orc_agent_updated(self, agent: Agent) -> None:
        self.writer.state("agents", rows.agent_row(agent, self.cost, utcnow().isoformat()))

    @hookimpl
    def orc_agent_deleted(self, agent: Agent) -> None:
        now = utcnow().isoformat()
        row = rows.agent_row(agent, self.cost, now)
        row.update(status=AgentStatus.DELETED.value, deleted_at=now)
        self.writer.state("agents", row)

    @hookimpl
    def orc_event(self, event: Event) -> None:
        ops = rows.event_rows(event, self.cost, self.observe)
        if ops:
            self.writer.put(ops)

    @hookimpl
    def orc_status(self, snapshot: StatusSnapshot) -> None:
        self.writer.insert("status_snapshots", rows.snapshot_row(snapshot, self.cost))

    @hookimpl
    def orc_agent_flagged(self, agent: Agent, kind: str, message: str) -> None:
        self.writer.insert(
            "agent_flags",
            {"task_id": agent.task_id, "agent_id": agent.id, "kind": kind, "message": message,
             "at": utcnow().isoformat()},
        )
