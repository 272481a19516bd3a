"""Writer: the process's one write connection to a store file, fed by a queue and committing in batches.

Observer hooks run on the run's event loop; they only put rows on a queue. A thread owns the sqlite3 connection
(a connection belongs to one thread) and commits whatever has queued up, one transaction per batch, so events land
within milliseconds of happening and a killed process keeps every committed batch (WAL). Reads in the same process
call :meth:`Writer.flush` first, so they see every row queued before them.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from orchestrator_core.secrets import Redactor

log = logging.getLogger("orc.store")

#: A batch commits after this many rows, or once the queue has been quiet for LINGER_S.
MAX_BATCH_ROWS = 20000
LINGER_S = 0.002

_STOP = object()
#: json.dumps(value, default=str) without building an encoder per call.
_encode = json.JSONEncoder(default=str).encode


#: One row to write: (mode, table, row, pk). ``state`` rows (task, subtask, agent) are upserted in queue order;
#: ``insert`` rows (log tables) and ``update`` rows (columns of a row inserted earlier) are batched after them;
#: ``delete`` ops (``row`` is ``{pk: value}``: every row whose column ``pk`` has that value) come last.
Op = tuple[str, str, dict[str, Any], str]


def connect(path: Path, busy_ms: int = 10000):
    """A sqlite-utils Database on ``path`` with the pragmas every orc connection uses."""
    import sqlite_utils

    conn = sqlite3.connect(str(path), check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    # WAL with synchronous=NORMAL survives a killed process (not power loss) and saves an fsync per commit.
    db.execute("PRAGMA synchronous = NORMAL")
    # Another process writing the same file (a second `orc`) waits its turn instead of failing.
    db.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    return db


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(map(_quote, columns))
    return f"insert into {_quote(table)} ({names}) values ({', '.join('?' * len(columns))})"


@functools.cache
def _upsert_sql(table: str, pk: str, columns: tuple[str, ...]) -> str:
    changes = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns if c != pk)
    return f"{_insert_sql(table, columns)} on conflict ({_quote(pk)}) do update set {changes}"


class Writer:
    """Writes rows to one store file from a background thread.

    Nothing it is given is dropped quietly: a row it cannot write is counted in :attr:`lost` with the reason in
    :attr:`errors`, and the store turns those into a failed run (#17).

    :param path: the SQLite file (already migrated).
    :param redactor: applied to every text value, before it is encoded and written.
    :param lock_timeout: how long (seconds) a write waits while another program holds the file's write lock
        before the writer gives up (ORC_STORE_LOCK_TIMEOUT).
    """

    def __init__(self, path: Path, redactor: Redactor | None = None, lock_timeout: float = 300.0) -> None:
        self.path = path
        self.scrub = redactor or Redactor()
        self.lock_timeout = lock_timeout
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"orc-store-writer:{path.name}", daemon=True)
        self._closed = False
        #: Seconds the thread spent writing, rows written, and batches committed (the bench reads these).
        self.busy_s = 0.0
        self.rows = 0
        self.batches = 0
        #: One line per failed write (the rows of a failed batch are retried one by one; only bad rows are lost).
        self.errors: list[str] = []
        #: Rows that could not be written, by table.
        self.lost: collections.Counter[str] = collections.Counter()
        #: Set when the file itself cannot take writes any more (disk full, I/O error, read-only, deleted, locked
        #: by another program past ``lock_timeout``, the thread died): one line.
        self.fatal: str | None = None
        #: The file's identity when the writer opened it: a different one (or none) at the path means it was
        #: deleted or replaced under the run.
        self._identity: tuple[int, int] | None = None
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait()

    # -- producer side (any thread) -----------------------------------------------------------------------------

    def put(self, ops: list[Op]) -> None:
        """Queue rows to write, in order (see :data:`Op`). The rows become the writer's: do not change them.

        Redaction and JSON encoding happen in the writer thread, to keep the run's event loop free (encoding in
        the caller measured no faster in bench/store.py: the writer then waits for the GIL instead).
        """
        if not self._thread.is_alive():
            self._drop(ops, self.fatal or "the store's writer has stopped")
            return
        self._queue.put(ops)

    def state(self, table: str, row: dict[str, Any], pk: str = "id") -> None:
        """Upsert a state row (task, subtask, agent) in queue order, before the batch's inserts."""
        self.put([("state", table, row, pk)])

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Append a row to a log table (events, messages, ...), batched with its neighbours."""
        self.put([("insert", table, row, "id")])

    def update(self, table: str, row: dict[str, Any], pk: str = "id") -> None:
        """Upsert some columns of a row that may have been inserted earlier in the same batch (tool results)."""
        self.put([("update", table, row, pk)])

    def delete(self, table: str, column: str, value: Any) -> None:
        """Delete every row of ``table`` whose ``column`` is ``value``, after the rows queued before it."""
        self.put([("delete", table, {column: value}, column)])

    def flush(self) -> None:
        """Wait until every row queued so far is committed (or counted lost); never blocks on a dead thread."""
        if self._closed:
            return
        done = threading.Event()
        self._queue.put(done)
        # A thread that died (it records why) sets no more markers: stop waiting once it is gone (#17).
        while not done.wait(timeout=0.5):
            if not self._thread.is_alive():
                return

    def close(self) -> None:
        """Commit what is queued, stop the thread and close the connection. Idempotent."""
        if self._closed:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._drain()  # rows put while the thread was dying count as lost, never vanish
        self._closed = True

    # -- the writer thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            # One second per try, so a held lock is reported while the writer waits for it (see _write).
            db = connect(self.path, busy_ms=int(min(1.0, self.lock_timeout) * 1000))
            stat = os.stat(self.path)
            self._identity = (stat.st_dev, stat.st_ino)
        except BaseException as exc:
            self.fatal = f"the store's writer could not open the file ({exc})"
            self._ready.set()
            self._note(self.fatal)
            self._drain()
            return
        self._ready.set()
        batch: list[Op] = []
        try:
            stop = False
            while not stop:
                batch, markers, stop = self._collect()
                if batch:
                    started = time.thread_time()  # CPU time: waiting for the GIL or a lock is not work
                    self._write(db, batch)
                    self.busy_s += time.thread_time() - started
                    self._check_file()
                for marker in markers:
                    marker.set()
        except BaseException as exc:
            # A bug must not leave the run waiting on a flush that never comes, nor look like success (#17).
            self.fatal = f"the store's writer failed ({type(exc).__name__}: {exc})"
            self._note(self.fatal)
            self._drop(batch, self.fatal)
            self._drain()
        finally:
            db.close()

    def _drain(self) -> None:
        """After the thread failed: count what is still queued as lost and wake every waiter."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, threading.Event):
                item.set()
            elif item is not _STOP:
                self._drop(item, self.fatal or "the store's writer has stopped")

    def _check_file(self) -> None:
        """Notice a store file deleted (``rm orchestrator.db*``) or replaced while the run writes to it."""
        if self.fatal is not None or self._identity is None:
            return
        try:
            stat = os.stat(self.path)
            now = (stat.st_dev, stat.st_ino)
        except FileNotFoundError:
            now = None
        if now != self._identity:
            what = "deleted" if now is None else "replaced by another file"
            self.fatal = (
                f"the store file was {what} during the run (noticed at "
                f"{time.strftime('%H:%M:%S')}); every row it held and every row since is lost"
            )
            self._note(self.fatal)

    def _collect(self) -> tuple[list[Op], list[threading.Event], bool]:
        """Block for the first item, then take what else arrives until a marker, a pause or a full batch."""
        batch: list[Op] = []
        markers: list[threading.Event] = []
        item = self._queue.get()
        while True:
            if item is _STOP:
                return batch, markers, True
            if isinstance(item, threading.Event):
                markers.append(item)
                return batch, markers, False
            batch.extend(item)
            if len(batch) >= MAX_BATCH_ROWS:
                return batch, markers, False
            try:
                item = self._queue.get(timeout=LINGER_S)
            except queue.Empty:
                return batch, markers, False

    def _prepare(self, row: dict[str, Any]) -> dict[str, Any]:
        """Scrub the text values, then JSON-encode nested ones, in place (rows are the writer's own).

        Secrets are replaced in the values before encoding: JSON would escape a secret holding a quote, a backslash
        or any non-ASCII character, and the escaped form would slip past (#16). The core's emitter redacted the
        events already; this is the second line, for rows from any hook.
        """
        scrub = self.scrub
        # One search of the row's joined texts; only a row that holds a secret is copied and replaced.
        row = scrub.value(row)
        dumps = _encode
        for key, value in row.items():
            kind = type(value)
            if kind is dict or kind is list or kind is tuple:
                row[key] = dumps(value)
            elif not (
                value is None or kind is str or kind is int or kind is float or kind is bool or kind is bytes
            ):
                row[key] = scrub(str(value))
        return row

    def _write(self, db: Any, batch: list[Op]) -> None:
        if self.fatal is not None:
            self._drop(batch, self.fatal)
            return
        waited_since: float | None = None
        told = 0.0
        while True:
            try:
                with _transaction(db):
                    self._apply(db, batch)
                self.rows += len(batch)
                self.batches += 1
                if waited_since is not None:
                    log.warning(
                        "run store %s: the lock was released after %.0fs; writing again",
                        self.path,
                        time.monotonic() - waited_since,
                    )
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    error: Exception = exc
                    break
                # Another program holds the write lock: wait for it, saying so, never drop the rows (#17).
                now = time.monotonic()
                waited_since = waited_since or now - min(1.0, self.lock_timeout)
                waited = now - waited_since
                if waited >= self.lock_timeout:
                    self.fatal = (
                        f"another program held the store's write lock for more than "
                        f"{self.lock_timeout:g}s (ORC_STORE_LOCK_TIMEOUT)"
                    )
                    self._note(self.fatal)
                    self._drop(batch, self.fatal)
                    return
                if waited >= told:
                    log.warning(
                        "run store %s: waiting for the store lock held by another process (%.0fs of %gs)",
                        self.path,
                        waited,
                        self.lock_timeout,
                    )
                    told = max(2 * told, 1.0)
            except (sqlite3.Error, ValueError, OverflowError) as exc:
                error = exc
                break
        if isinstance(error, sqlite3.Error) and _is_fatal(error):
            # Retrying row by row cannot help a full disk: say it once, keep what is committed, drop the rest.
            self.fatal = f"{error} (is the disk full?)"
            self._note(f"cannot write any more: {self.fatal}; rows written before this are intact")
            self._drop(batch, self.fatal)
            return
        # One bad row (e.g. an event for an agent no store row knows, text that is not UTF-8) must not lose its
        # neighbours.
        self._note(f"a batch of {len(batch)} rows failed ({error}); writing them one by one")
        for op in batch:
            try:
                with _transaction(db):
                    self._apply(db, [op])
                self.rows += 1
            except (sqlite3.Error, ValueError, OverflowError) as one:
                self._note(f"dropped a {op[1]} row: {one}")
                self.lost[op[1]] += 1

    def _drop(self, ops: Iterable[Op], reason: str) -> None:
        for op in ops:
            self.lost[op[1]] += 1

    def _apply(self, db: Any, batch: Iterable[Op]) -> None:
        inserts: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        updates: dict[tuple[str, str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        deletes: list[tuple[str, str, Any]] = []
        prepare = self._prepare
        for mode, table, row, pk in batch:
            if mode == "delete":
                deletes.append((table, pk, row[pk]))
                continue
            row = prepare(row)
            if mode == "insert":
                inserts.setdefault((table, tuple(row)), []).append(tuple(row.values()))
            elif mode == "state":
                db.conn.execute(_upsert_sql(table, pk, tuple(row)), tuple(row.values()))
            else:
                # Grouped by columns: an update sets only the columns it names.
                updates.setdefault((table, pk, tuple(row)), []).append(tuple(row.values()))
        # The log tables take thousands of rows a second: one prepared statement per table and column set, run by
        # executemany, costs a third of insert_all's per-row work (bench/store.py). The schema stays sqlite-utils'.
        # Inserts refer to state rows (agents, tasks) upserted above; updates to rows inserted just now.
        for (table, columns), values in inserts.items():
            db.conn.executemany(_insert_sql(table, columns), values)
        for (table, pk, columns), values in updates.items():
            db.conn.executemany(_upsert_sql(table, pk, columns), values)
        for table, column, value in deletes:
            db.conn.execute(f"delete from {_quote(table)} where {_quote(column)} = ?", (value,))

    def _note(self, line: str) -> None:
        self.errors.append(line)
        log.warning("run store %s: %s", self.path, line)


@contextlib.contextmanager
def _transaction(db: Any) -> Iterator[None]:
    """One write transaction that takes the write lock up front: a lock held elsewhere fails here, before any row."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_fatal(exc: sqlite3.Error) -> bool:
    """A failure of the file, not of a row: disk full, I/O error, read-only, the file gone."""
    text = str(exc).lower()
    return any(words in text for words in ("disk", "i/o error", "readonly", "read-only", "no such file"))


_shared: dict[Path, tuple[Writer, int]] = {}
_shared_lock = threading.Lock()


def acquire(path: Path, secrets: Mapping[str, str] | None = None, lock_timeout: float = 300.0) -> Writer:
    """The process's writer for ``path`` (one per file), started if needed; :func:`release` it when done.

    :param secrets: secret values (to the names that hold them) this user's rows must never contain.
    :param lock_timeout: see :class:`Writer` (the first user's value holds while the writer lives).
    """
    key = path.resolve()
    with _shared_lock:
        writer, users = _shared.get(key, (None, 0))
        if writer is None:
            writer = Writer(key, Redactor(), lock_timeout)
        writer.scrub.add(secrets or {})
        _shared[key] = (writer, users + 1)
        return writer


def release(writer: Writer) -> None:
    """Give back a writer from :func:`acquire`; the last user's release flushes and closes it."""
    with _shared_lock:
        current, users = _shared.get(writer.path, (None, 0))
        if current is not writer:
            writer.close()
            return
        if users > 1:
            _shared[writer.path] = (writer, users - 1)
            writer.flush()
            return
        del _shared[writer.path]
    writer.close()
