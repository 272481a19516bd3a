"""Writer: the process's one write connection to a store file, fed by a queue and committing in batches.

Observer hooks run on the run's event loop; they only put rows on a queue. A thread owns the sqlite3 connection
(a connection belongs to one thread) and commits whatever has queued up, one transaction per batch, so events land
within milliseconds of happening and a killed process keeps every committed batch (WAL). Reads in the same process
call :meth:`Writer.flush` first, so they see every row queued before them.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .redact import Redactor

log = logging.getLogger("orc.store")

#: A batch commits after this many rows, or once the queue has been quiet for LINGER_S.
MAX_BATCH_ROWS = 2000
LINGER_S = 0.002

_STOP = object()


class _Op:
    """One row to write. ``mode``: ``state`` (upsert now, in order), ``insert`` or ``update`` (both batched)."""

    __slots__ = ("mode", "table", "row", "pk")

    def __init__(self, mode: str, table: str, row: dict[str, Any], pk: str = "id") -> None:
        self.mode = mode
        self.table = table
        self.row = row
        self.pk = pk


def connect(path: Path):
    """A sqlite-utils Database on ``path`` with the pragmas every orc connection uses."""
    import sqlite_utils

    conn = sqlite3.connect(str(path), check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    # WAL with synchronous=NORMAL survives a killed process (not power loss) and saves an fsync per commit.
    db.execute("PRAGMA synchronous = NORMAL")
    # Another process writing the same file (a second `orc`) waits its turn instead of failing.
    db.execute("PRAGMA busy_timeout = 10000")
    return db


class Writer:
    """Writes rows to one store file from a background thread.

    :param path: the SQLite file (already migrated).
    :param redactor: applied to every text value just before it is written.
    """

    def __init__(self, path: Path, redactor: Redactor | None = None) -> None:
        self.path = path
        self.scrub = redactor or Redactor()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"orc-store-writer:{path.name}", daemon=True)
        self._closed = False
        #: Seconds the thread spent writing, rows written, and batches committed (the bench reads these).
        self.busy_s = 0.0
        self.rows = 0
        self.batches = 0
        #: One line per failed write (the rows of a failed batch are retried one by one; only bad rows are lost).
        self.errors: list[str] = []
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait()

    # -- producer side (any thread) -----------------------------------------------------------------------------

    def state(self, table: str, row: dict[str, Any], pk: str = "id") -> None:
        """Upsert a state row (task, subtask, agent) in queue order, before the batch's inserts."""
        self._queue.put(_Op("state", table, row, pk))

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Append a row to a log table (events, messages, ...), batched with its neighbours."""
        self._queue.put(_Op("insert", table, row))

    def update(self, table: str, row: dict[str, Any], pk: str = "id") -> None:
        """Upsert some columns of a row that may have been inserted earlier in the same batch (tool results)."""
        self._queue.put(_Op("update", table, row, pk))

    def flush(self) -> None:
        """Wait until every row queued so far is committed."""
        if self._closed:
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def close(self) -> None:
        """Commit what is queued, stop the thread and close the connection. Idempotent."""
        if self._closed:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._closed = True

    # -- the writer thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        db = connect(self.path)
        self._ready.set()
        try:
            stop = False
            while not stop:
                batch, markers, stop = self._collect()
                if batch:
                    started = time.perf_counter()
                    self._write(db, batch)
                    self.busy_s += time.perf_counter() - started
                for marker in markers:
                    marker.set()
        finally:
            db.close()

    def _collect(self) -> tuple[list[_Op], list[threading.Event], bool]:
        """Block for the first item, then take what else arrives until a marker, a pause or a full batch."""
        batch: list[_Op] = []
        markers: list[threading.Event] = []
        item = self._queue.get()
        while True:
            if item is _STOP:
                return batch, markers, True
            if isinstance(item, threading.Event):
                markers.append(item)
                return batch, markers, False
            batch.append(item)
            if len(batch) >= MAX_BATCH_ROWS:
                return batch, markers, False
            try:
                item = self._queue.get(timeout=LINGER_S)
            except queue.Empty:
                return batch, markers, False

    def _prepare(self, row: dict[str, Any]) -> dict[str, Any]:
        scrub = self.scrub
        out = {}
        for key, value in row.items():
            if isinstance(value, dict | list | tuple):
                value = scrub(json.dumps(value, default=str))
            elif isinstance(value, str):
                value = scrub(value)
            out[key] = value
        return out

    def _write(self, db: Any, batch: list[_Op]) -> None:
        try:
            with db.atomic():
                self._apply(db, batch)
            self.rows += len(batch)
            self.batches += 1
        except sqlite3.Error as exc:
            # One bad row (e.g. an event for an agent no store row knows) must not lose its neighbours.
            self._note(f"a batch of {len(batch)} rows failed ({exc}); writing them one by one")
            for op in batch:
                try:
                    with db.atomic():
                        self._apply(db, [op])
                    self.rows += 1
                except sqlite3.Error as one:
                    self._note(f"dropped a {op.table} row: {one}")

    def _apply(self, db: Any, batch: Iterable[_Op]) -> None:
        inserts: dict[str, list[dict[str, Any]]] = {}
        updates: dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]] = {}
        for op in batch:
            row = self._prepare(op.row)
            if op.mode == "state":
                db[op.table].upsert(row, pk=op.pk)
            elif op.mode == "insert":
                inserts.setdefault(op.table, []).append(row)
            else:
                # Rows with different columns go in different calls: upsert_all would set the missing ones NULL.
                updates.setdefault((op.table, op.pk, tuple(row)), []).append(row)
        # Inserts refer to state rows (agents, tasks) upserted above; updates to rows inserted just now.
        for table, rows in inserts.items():
            db[table].insert_all(rows, batch_size=MAX_BATCH_ROWS)
        for (table, pk, _), rows in updates.items():
            db[table].upsert_all(rows, pk=pk, batch_size=MAX_BATCH_ROWS)

    def _note(self, line: str) -> None:
        self.errors.append(line)
        log.warning("run store %s: %s", self.path, line)


_shared: dict[Path, tuple[Writer, int]] = {}
_shared_lock = threading.Lock()


def acquire(path: Path, secrets: Mapping[str, str] | None = None) -> Writer:
    """The process's writer for ``path`` (one per file), started if needed; :func:`release` it when done.

    :param secrets: secret values (to the names that hold them) this user's rows must never contain.
    """
    key = path.resolve()
    with _shared_lock:
        writer, users = _shared.get(key, (None, 0))
        if writer is None:
            writer = Writer(key, Redactor())
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
