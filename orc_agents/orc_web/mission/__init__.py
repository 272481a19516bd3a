"""Mission control as a Datasette plugin: its routes (``/-/orc/...``), templates and static files.

Registered with Datasette's plugin manager by ``orc browse`` (through the ``orc_browse_plugins`` hook). That manager
is process-wide, so the routes answer only a Datasette configured for them (plugin configuration ``orc-web`` names
the store's database); the templates are named ``orc_*`` so that they replace none of Datasette's.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from . import formats, stock, views

NAME = "orc-web"


@hookimpl
def register_routes(datasette: Any) -> list[tuple[str, Any]]:
    if not datasette.plugin_config(NAME):
        return []
    return [
        (r"^/$", views.root),
        (r"^/-/orc/$", views.home),
        (r"^/-/orc/task/(?P<task_id>[^/]+)$", views.task),
        (r"^/-/orc/task/(?P<task_id>[^/]+)/live$", views.task_live),
        (r"^/-/orc/task/(?P<task_id>[^/]+)/events\.json$", views.task_events),
        (r"^/-/orc/agent/(?P<agent_id>[^/]+)$", views.agent),
    ]


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    env.filters.update(formats.FILTERS)
    env.globals.update(formats.GLOBALS)


@hookimpl
def startup(datasette: Any) -> None:
    stock.note(datasette)


@hookimpl
def render_cell(
    value: Any, column: str, table: str | None, database: str | None, datasette: Any
) -> str | None:
    return stock.cell(value, column, table, database, datasette)


@hookimpl
def get_metadata(datasette: Any, key: str, database: str | None, table: str | None) -> dict[str, Any]:
    return stock.metadata(datasette, database)


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    if not datasette.plugin_config(NAME):
        return []
    return [{"href": datasette.urls.path("/-/orc/"), "label": "Mission control"}]


@hookimpl
def table_actions(datasette: Any, database: str, table: str) -> list[dict[str, str]]:
    if database != stock.database_of(datasette) or table != "tasks":
        return []
    return [{"href": datasette.urls.path("/-/orc/"), "label": "Tasks in mission control"}]
