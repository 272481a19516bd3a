"""Mission control for ``orc browse`` (#22): a Datasette plugin with a page of recent tasks, a page per task (the plan
as a graph, a timeline lane per agent, cost and context over time, files, the final output), a page per agent (its
conversation) and live updates while a task runs. Disable with ``-p no:orc_web``: ``orc browse`` is then stock
Datasette.

The Datasette side is :mod:`orc_agents.orc_web.mission`, imported only when ``orc browse`` builds its Datasette, so ``orc
--help`` never imports Datasette. Its hooks are ``orc_store``'s (``optionalhook``: this plugin loads under ``-p
no:orc_store`` too, and does nothing).
"""

from __future__ import annotations

from typing import Any

from orchestrator_core import hookimpl

#: Datasette's name for the plugin: its configuration key.
NAME = "orc-web"


@hookimpl(optionalhook=True)
def orc_browse_plugins(register: Any) -> None:
    from . import mission

    register(NAME, mission)


@hookimpl(optionalhook=True)
def orc_browse_path(database: str, task_id: str | None) -> str | None:
    from urllib.parse import quote

    return f"/-/orc/task/{quote(task_id, safe='')}" if task_id else "/-/orc/"
