"""A Datasette plugin that bounds what one query of ``orc browse`` can allocate (#16).

SQLite refuses to make a string or blob longer than :data:`MAX_VALUE_BYTES` on the connections of the Datasettes
orc made, so ``select randomblob(1e9)`` fails at once ("string or blob too big") instead of allocating a gigabyte
per request. Registered with Datasette's plugin manager by :func:`~orc_agents.orc_store.browse.make_datasette`.
"""

from __future__ import annotations

import sqlite3
import weakref
from typing import Any

from datasette import hookimpl

#: The longest string or blob a query may make. orc writes values of a few kilobytes (tool output and results are
#: bounded); 16 MiB leaves room for any of them and keeps Datasette's three query threads under 50 MiB of values.
MAX_VALUE_BYTES = 16 * 1024 * 1024

#: The Datasettes orc made: only their connections are limited (Datasette's plugin manager is process-wide).
bounded: weakref.WeakSet[Any] = weakref.WeakSet()


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
    if datasette in bounded:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
