"""RunStore: the observer that records every task, subtask, agent, event, status check and flag as it happens.

Registered as ``orc-store`` by ``orc_configure``. Hooks only turn records into rows and queue them on the
process's :class:`~.writer.Writer`; the lookup hooks (``orc_find_agent``, ``orc_query_agents``) flush it first and
read through their own connection, so they see this process's rows and every other process's.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import functools
import json
import logging
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
from orchestrator_core.config import default_db_path
from orchestrator_core.records import StatusSnapshot, utcnow
from orchestrator_core.secrets import secrets_in

from . import queries, rows, writer
from .migrations import migrations

log = logging.getLogger("orc.store")


def open_database(path: Path, *, create: bool = True):
    """Open and migrate the store at ``path``; any failure is a one-line StoreError.

    :param create: make the file if it is missing; read commands pass False so a typo makes no empty store. They
        also read a store they cannot write (a read-only file system) as it is, without migrating it.
    """
    where = f"the run store {str(path)!r}"
    if path.is_dir():
        raise StoreError(f"{where} is a directory; set ORCHESTRATOR_DB_PATH to a file path")
    if not create and not path.exists():
        raise StoreError(
            f"no run store at {str(path)!r}: nothing was recorded here yet; run `orc execute` first, "
            "or pass --db / set ORCHESTRATOR_DB_PATH to the store's path"
        )
    if create and path == default_db_path() and not path.parent.is_dir():
        # orc's own data directory: made on first use, private to the user.
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"{where} cannot be created ({exc.strerror}); set ORCHESTRATOR_DB_PATH elsewhere") from None
    if not path.parent.resolve().is_dir():
        raise StoreError(
            f"{where} cannot be created: directory {str(path.parent)!r} does not exist; create it or set "
            "ORCHESTRATOR_DB_PATH elsewhere"
        )
    if not create and not writable(path):
        db = _open_read_only(path, where)
    else:
        try:
            db = writer.connect(path)
            # Several `orc` processes may open a new store at once: one migrates it (and turns WAL on) while the
            # others wait. The lock is on the directory, so it leaves no file behind.
            with _directory_lock(path.parent):
                migrations.apply(db)
                if db.journal_mode != "wal":
                    db.enable_wal()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(_explain(exc, path, where)) from None
    _check_schema(db, where)
    return db


def writable(path: Path) -> bool:
    """Whether this process may write the file and make its -wal and -shm files (False on a read-only mount)."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _explain(exc: BaseException, path: Path, where: str) -> str:
    """One line that tells a full disk, a read-only store, a locked one and a foreign file apart (#17)."""
    text = str(exc).lower()
    number = getattr(exc, "errno", None)
    if "full" in text or number in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"{where} cannot be written: the disk is full ({exc}); free space, or set ORCHESTRATOR_DB_PATH elsewhere"
    if "locked" in text or "busy" in text:
        return f"{where} is locked by another program ({exc}); try again when it is done"
    if "readonly" in text or "read-only" in text or number in (errno.EROFS, errno.EACCES, errno.EPERM) \
            or not writable(path):
        return (f"{where} is read-only ({exc}): the read commands (`orc list-tasks`, `orc browse`, ...) can show "
                "it, but runs cannot be recorded there; set ORCHESTRATOR_DB_PATH to a writable file")
    if isinstance(exc, sqlite3.DatabaseError):
        return f"{where} is not a usable SQLite database ({exc}); move it aside or choose another path"
    return f"{where} cannot be written ({exc}); set ORCHESTRATOR_DB_PATH to a writable file"


def _open_read_only(path: Path, where: str):
    """A read-only connection to a store this process cannot write; refused if orc's schema needs migrating."""
    import urllib.parse

    import sqlite_utils

    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    # A WAL store needs its -shm file; where it cannot be made, the file is read as it is (immutable).
    db = None
    for suffix in ("", "&immutable=1"):
        try:
            conn = sqlite3.connect(uri + suffix, uri=True, check_same_thread=False)
            conn.execute("select count(*) from sqlite_master").fetchone()
            db = sqlite_utils.Database(conn)
            pending = migrations.pending(db)
            break
        except sqlite3.Error as exc:
            error: sqlite3.Error = exc
    if db is None:
        if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError):
            raise StoreError(f"{where} is not a usable SQLite database ({error}); move it aside or choose another "
                             "path") from None
        raise StoreError(f"{where} is read-only and cannot be read ({error}); copy it to a writable place and pass "
                         "--db") from None
    if pending:
        raise StoreError(f"{where} is read-only and was written by an older orc (migration {pending[0].name} is "
                         "not applied); copy it to a writable place and pass --db, orc brings it up to date")
    return db


@functools.cache
def _expected() -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """orc's migration names, and (table or view, column) for all they make: a fresh store in memory, made once."""
    import sqlite_utils

    db = sqlite_utils.Database(memory=True)
    names = frozenset(m.name for m in migrations.pending(db))
    migrations.apply(db)
    return names, _columns(db)


def _columns(db: Any) -> frozenset[tuple[str, str]]:
    found = set()
    objects = db.execute("select name from sqlite_master where type in ('table', 'view') "
                         "and name not like 'sqlite_%'").fetchall()
    for (name,) in objects:
        try:
            found.update((name, row[1]) for row in db.execute(f"pragma table_info({_quote(name)})").fetchall())
        except sqlite3.Error:
            pass  # a view over a table that is gone: its columns count as missing
    return frozenset(found)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_schema(db: Any, where: str) -> None:
    """A store changed by hand (a table dropped, a column renamed, a migration marked done that was not) or by a
    newer orc is one line, not an error in the middle of a run (#17)."""
    known, expected = _expected()
    try:
        newer = [m.name for m in migrations.applied(db) if m.name not in known]
        present = _columns(db)
    except sqlite3.Error as exc:
        raise StoreError(f"{where} is not a usable SQLite database ({exc}); move it aside or choose another "
                         "path") from None
    if newer:
        raise StoreError(f"{where} was written by a newer orc (migration {newer[0]}); upgrade orc, or set "
                         "ORCHESTRATOR_DB_PATH to another file")
    missing = expected - present
    if missing:
        gone = {table for table, _ in missing} - {table for table, _ in present}
        names = sorted(gone) + sorted(f"{t}.{c}" for t, c in missing if t not in gone)
        raise StoreError(f"{where} lacks part of orc's schema ({', '.join(names[:3])}"
                         f"{', ...' if len(names) > 3 else ''}): it was changed by hand or by another program; "
                         "restore it, or move it aside and orc starts a new one")


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
        self.writer = writer.acquire(self.path, secrets_in(os.environ, config.runtime_env),
                                     lock_timeout=config.store_lock_timeout)
        #: What the shared writer had lost before this store used it: only what is lost after counts here.
        self._lost_before = sum(self.writer.lost.values())
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
        lost = collections.Counter(self.writer.lost)
        count = sum(lost.values()) - self._lost_before
        errors = self.writer.errors[self._errors_before:]
        if not count and not self.writer.fatal:
            return None
        tables = ", ".join(f"{n} {t}" for t, n in lost.most_common()) if not self._lost_before else "see above"
        reason = self.writer.fatal or (errors[-1] if errors else "unknown")
        tasks = f" of task {', '.join(self._tasks)}" if self._tasks else ""
        remedy = "free space" if "disk full" in reason else "fix that"
        resume = f"; {remedy}, then `orc resume {self._tasks[-1]}`" if self._tasks else ""
        return (f"the run store {str(self.path)!r} lost {count} rows{tasks} ({tables}): {reason}; the record is "
                f"incomplete{resume}")

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
        # Flushed first: a failure the rows queued so far meet is seen before the next agent starts (#17). While
        # another program holds the store's lock this waits (at most ORC_STORE_LOCK_TIMEOUT): no agent starts
        # that could not be recorded.
        self.writer.flush()
        if self.writer.fatal is None:
            return None
        return (f"not started: the run store {str(self.path)!r} cannot be written ({self.writer.fatal}); "
                f"free space, then `orc resume {task.id}`")

    def _warn_if_reachable(self, task: Task) -> None:
        """A store inside a directory the agents may change can be deleted by one of them: say so, once a task.

        Not refused: a user may keep a project's store beside it on purpose; the writer notices if it goes.
        """
        where = self.path.resolve()
        for directory in (task.cwd, *self.config.add_dirs):
            if directory and where.is_relative_to(Path(directory).resolve()):
                log.warning("the run store %s is inside %s, where agents work: an agent can delete it; set "
                            "ORCHESTRATOR_DB_PATH to a path outside it", where, directory)
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
