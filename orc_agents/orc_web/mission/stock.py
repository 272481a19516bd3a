"""What mission control changes on Datasette's own pages of the store (#22), for people who browse the tables:
costs in dollars and cents, a plan as one line, tasks and agents newest first, and links to mission control.
Only the store's database of a Datasette configured for ``orc-web`` is touched; JSON and CSV are not.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

from . import formats

#: Columns that hold US dollars, in any table or view of the store.
MONEY = {"cost_usd", "session_cost_usd"}
#: Tables whose rows Datasette lists newest first (its default is the primary key: a random hex id).
NEWEST_FIRST = ("tasks", "agents", "subtasks")


#: The store's database name of each configured Datasette, noted at startup: Datasette asks for plugin metadata while
#: it reads plugin configuration, so :func:`metadata` cannot ask for the configuration itself.
configured: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def note(datasette: Any) -> None:
    name = database_of(datasette)
    if name is not None:
        configured[datasette] = name


def database_of(datasette: Any) -> str | None:
    config = datasette.plugin_config("orc-web")
    return config["database"] if config else None


def cell(value: Any, column: str, table: str | None, database: str | None, datasette: Any) -> str | None:
    """A cell as people read it, or None to leave it to Datasette."""
    if database is None or database != database_of(datasette):
        return None
    if column in MONEY and isinstance(value, int | float):
        return formats.money(value)
    if column == "plan" and table == "tasks" and isinstance(value, str):
        return plan_line(value)
    return None


def plan_line(plan: str) -> str | None:
    """``5 subtasks: 1 analyst → 2 planner → ...`` instead of 40 lines of JSON."""
    try:
        subtasks = json.loads(plan).get("subtasks") or []
        steps = [f"{s['id']} {s['role']}" for s in subtasks]
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    shown = " → ".join(steps[:8]) + (" → ..." if len(steps) > 8 else "")
    return f"{len(steps)} subtask{'s' if len(steps) != 1 else ''}: {shown}"


def metadata(datasette: Any, database: str | None) -> dict[str, Any]:
    """Plugin metadata (the store's own, shipped metadata wins where both say something)."""
    name = configured.get(datasette)
    if name is None or database not in (None, name):
        return {}
    return {
        "databases": {
            name: {
                "tables": {
                    t: {"sort_desc": "created_at" if t != "subtasks" else "started_at"} for t in NEWEST_FIRST
                }
            }
        }
    }
