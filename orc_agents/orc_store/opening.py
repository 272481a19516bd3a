"""Opening a store file: make and migrate it, or read it as it is when it cannot be written; refuse a file that is
not orc's store (foreign, corrupt, changed by hand, written by a newer orc) in one line that says which (#17).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestrator_core import StoreError
from orchestrator_core.config import default_db_path

from . import writer
from .migrations import migrations


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
            raise StoreError(
                f"{where} cannot be created ({exc.strerror}); set ORCHESTRATOR_DB_PATH elsewhere"
            ) from None
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
    if (
        "readonly" in text
        or "read-only" in text
        or number in (errno.EROFS, errno.EACCES, errno.EPERM)
        or not writable(path)
    ):
        return (
            f"{where} is read-only ({exc}): the read commands (`orc list-tasks`, `orc browse`, ...) can show "
            "it, but runs cannot be recorded there; set ORCHESTRATOR_DB_PATH to a writable file"
        )
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
            raise StoreError(
                f"{where} is not a usable SQLite database ({error}); move it aside or choose another path"
            ) from None
        raise StoreError(
            f"{where} is read-only and cannot be read ({error}); copy it to a writable place and pass --db"
        ) from None
    if pending:
        raise StoreError(
            f"{where} is read-only and was written by an older orc (migration {pending[0].name} is "
            "not applied); copy it to a writable place and pass --db, orc brings it up to date"
        )
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
    found: set[tuple[str, str]] = set()
    objects = db.execute(
        "select name from sqlite_master where type in ('table', 'view') and name not like 'sqlite_%'"
    ).fetchall()
    for (name,) in objects:
        try:
            found.update(
                (name, row[1]) for row in db.execute(f"pragma table_info({_quote(name)})").fetchall()
            )
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
        raise StoreError(
            f"{where} is not a usable SQLite database ({exc}); move it aside or choose another path"
        ) from None
    if newer:
        raise StoreError(
            f"{where} was written by a newer orc (migration {newer[0]}); upgrade orc, or set "
            "ORCHESTRATOR_DB_PATH to another file"
        )
    missing = expected - present
    if missing:
        gone = {table for table, _ in missing} - {table for table, _ in present}
        names = sorted(gone) + sorted(f"{t}.{c}" for t, c in missing if t not in gone)
        raise StoreError(
            f"{where} lacks part of orc's schema ({', '.join(names[:3])}"
            f"{', ...' if len(names) > 3 else ''}): it was changed by hand or by another program; "
            "restore it, or move it aside and orc starts a new one"
        )


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
