"""RunStore: the observer that records every task, subtask, agent, event, status check and flag as it happens.

Registered as ``orc-store`` by ``orc_configure``. Hooks only turn records into rows and queue them on the
process's :class:`~.writer.Writer`; the lookup hooks (``orc_find_agent``, ``orc_query_agents``) flush it first and
read through their own connection, so they see this process's rows and every other process's.
"""

from __future__ import annotations

import collections
import json
import logging
import os
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
from .opening import open_database

log = logging.getLogger("orc.store")


class RunStore:
    """Records what the observer hooks report into the store at ``config.db_path``.

    :ivar db: a read connection (sqlite-utils Database); call :meth:`read` rather than using it directly.
    """

    def __init__(self, config: Config, remembered: dict[str, Any] | None = None) -> None:
        self.config = config
        #: The settings every task and agent this store records keeps (JSON in their ``settings`` column).
        self.remembered = json.dumps(remembered or {}, sort_keys=True)
        self.cost = config.enable_cost_tracking
        self.observe = config.enable_observability
        self.path = Path(config.db_path)
        self.db = open_database(self.path)
        self.writer = writer.acquire(
            self.path, secrets_in(os.environ, config.runtime_env), lock_timeout=config.store_lock_timeout
        )
        #: What the shared writer had lost before this store used it: only what is lost after counts here.
        self._lost_before = collections.Counter(self.writer.lost)
        self._errors_before = len(self.writer.errors)
        #: The tasks this store recorded (their ids go in the lost-rows line).
        self._tasks: list[str] = []

    def read(self):
        """The read connection, after every row queued so far is committed."""
        self.writer.flush()
        return self.db

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        """Flush and close; :raises StoreError: a row of this store's runs was not recorded (one line)."""
        try:
            writer.release(self.writer)
        finally:
            self.db.close()
        problem = self.problem()
        if problem:
            raise StoreError(problem)

    def problem(self) -> str | None:
        """One line saying what this store failed to record, or None when every row is in the file."""
        lost = collections.Counter(self.writer.lost) - self._lost_before
        count = sum(lost.values())
        errors = self.writer.errors[self._errors_before :]
        if not count and not self.writer.fatal:
            return None
        tables = ", ".join(f"{n} {t}" for t, n in lost.most_common())
        reason = self.writer.fatal or (errors[-1] if errors else "unknown")
        tasks = f" of task {', '.join(self._tasks)}" if self._tasks else ""
        remedy = "free space" if "disk full" in reason else "fix that"
        resume = f"; {remedy}, then `orc resume {self._tasks[-1]}`" if self._tasks else ""
        what = f"lost {count} rows{tasks} ({tables})" if count else f"failed during the run{tasks}"
        return f"the run store {str(self.path)!r} {what}: {reason}; the record is incomplete{resume}"

    # -- lookups ------------------------------------------------------------------------------------------------

    @hookimpl
    def orc_find_agent(self, agent_id: str) -> Agent | None:
        return queries.find_agent(self.read(), agent_id)

    @hookimpl
    def orc_query_agents(self, role: str | None, status: str | None) -> list[Agent] | None:
        return queries.agents(self.read(), role=role, status=status)

    @hookimpl
    def orc_transcript_load(self, agent: Agent, session_id: str, subpath: str) -> list[dict[str, Any]] | None:
        return queries.transcript(self.read(), session_id, subpath)

    @hookimpl
    def orc_load_task(self, task_id: str) -> TaskRecord | None:
        return queries.load_task(self.read(), task_id)

    @hookimpl
    def orc_subtask_veto(self, task: Task, subtask: Subtask) -> str | None:
        """A store that cannot write any more stops the run from starting agents it could not record."""
        # Flushed first: a failure the rows queued so far meet is seen before the next agent starts (#17). While
        # another program holds the store's lock this waits (at most ORC_STORE_LOCK_TIMEOUT): no agent starts
        # that could not be recorded.
        self.writer.flush()
        if self.writer.fatal is None:
            return None
        remedy = "free space" if "disk full" in self.writer.fatal else "fix that"
        return (
            f"not started: the run store {str(self.path)!r} cannot be written ({self.writer.fatal}); "
            f"{remedy}, then `orc resume {task.id}`"
        )

    def _warn_if_reachable(self, task: Task) -> None:
        """A store inside a directory the agents may change can be deleted by one of them: say so, once a task.

        Not refused: a user may keep a project's store beside it on purpose; the writer notices if it goes.
        """
        where = self.path.resolve()
        for directory in (task.cwd, *self.config.add_dirs):
            if directory and where.is_relative_to(Path(directory).resolve()):
                log.warning(
                    "the run store %s is inside %s, where agents work: an agent can delete it; set "
                    "ORCHESTRATOR_DB_PATH to a path outside it",
                    where,
                    directory,
                )
                return

    # -- observer hooks -----------------------------------------------------------------------------------------

    def _totals(self, metrics: Any) -> dict[str, Any]:
        return {k: v for k, v in rows.metrics_columns(metrics, self.cost).items() if k in rows.COST_FIELDS}

    @hookimpl
    def orc_task_started(self, task: Task) -> None:
        if task.id not in self._tasks:
            self._tasks.append(task.id)
        self._warn_if_reachable(task)
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
                "settings": self.remembered,
                "client": task.client,
            },
        )
        # A resumed task starts again under its own id: its succeeded subtasks keep their rows.
        kept = {
            r["subtask_id"]
            for r in self.read().query(
                "select subtask_id from subtasks where task_id = ? and status = 'succeeded'", [task.id]
            )
        }
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
            {
                "id": f"{task.id}:{subtask.id}",
                "status": "running",
                "agent_id": agent.id,
                "started_at": utcnow().isoformat(),
            },
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
        row = rows.agent_row(agent, self.cost, utcnow().isoformat())
        self.writer.state("agents", {**row, "settings": self.remembered})

    @hookimpl
    def orc_agent_updated(self, agent: Agent) -> None:
        self.writer.state("agents", rows.agent_row(agent, self.cost, utcnow().isoformat()))

    @hookimpl
    def orc_agent_deleted(self, agent: Agent) -> None:
        now = utcnow().isoformat()
        row = rows.agent_row(agent, self.cost, now)
        row.update(status=AgentStatus.DELETED.value, deleted_at=now)
        self.writer.state("agents", row)
        # Its conversation goes with its session (#25); the rest of its record stays.
        self.writer.delete("transcripts", "agent_id", agent.id)

    @hookimpl
    def orc_transcript_append(
        self, agent: Agent, session_id: str, subpath: str, entries: list[dict[str, Any]]
    ) -> None:
        now = utcnow().isoformat()
        self.writer.put(
            [
                ("update", "transcripts", rows.transcript_row(agent.id, session_id, subpath, e, now), "id")
                for e in entries
            ]
        )

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
            {
                "task_id": agent.task_id,
                "agent_id": agent.id,
                "kind": kind,
                "message": message,
                "at": utcnow().isoformat(),
            },
        )
