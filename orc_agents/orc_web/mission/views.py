"""Mission control's pages: each reads what it shows in one trip to Datasette's read thread, then renders."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from datasette.utils.asgi import NotFound, Response

from . import drawing, reads

STATUSES = ("running", "pending", "succeeded", "failed", "cancelled")
#: Datasette serves a plugin module's static/ folder under its module name.
STATIC = f"/-/static-plugins/{__package__}"


def _database(datasette: Any) -> Any:
    return datasette.get_database(datasette.plugin_config("orc-web")["database"])


async def _render(datasette: Any, request: Any, template: str, context: dict[str, Any]) -> Response:
    database = datasette.plugin_config("orc-web")["database"]
    html = await datasette.render_template(
        template,
        {
            **context,
            "orc_static": datasette.urls.path(STATIC),
            "orc_database": database,
            "orc_sql": datasette.urls.database(database),
        },
        request=request,
    )
    return Response.html(html)


async def root(request: Any, datasette: Any) -> Response:
    """Datasette's home lists tables; a person opening ``orc browse`` wants the runs."""
    return Response.redirect(datasette.urls.path("/-/orc/"))


async def home(request: Any, datasette: Any) -> Response:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        status = None
    before = request.args.get("before"), request.args.get("before_id")
    page = await _database(datasette).execute_fn(
        lambda conn: reads.home(conn, status, before if all(before) else None)
    )
    return await _render(
        datasette,
        request,
        "orc_home.html",
        {**page, "status": status, "statuses": STATUSES, "first_page": not all(before)},
    )


async def _task_context(datasette: Any, task_id: str) -> dict[str, Any]:
    data = await _database(datasette).execute_fn(lambda conn: reads.task(conn, task_id))
    if data is None:
        raise NotFound(f"no task {task_id!r} in the run store")
    now = dt.datetime.now(dt.UTC)
    task = data["task"]
    max_cost = task["limits"].get("max_cost_usd")
    files: dict[str, dict[str, list[str]]] = {}
    for f in data["files"]:
        files.setdefault(f["agent_id"], {}).setdefault(f["operation"], []).append(f["path"])
    # An agent's own counter moves when its turn ends; the calls recorded so far show a running one's progress.
    calls: dict[str, int] = {}
    for c in data["tool_calls"]:
        calls[c["agent_id"]] = calls.get(c["agent_id"], 0) + 1
    for a in data["agents"]:
        a["tool_calls"] = max(a["tool_calls"] or 0, calls.get(a["id"], 0))
    return {
        **data,
        "live": task["status"] in reads.ACTIVE,
        "timeline": drawing.timeline(data, now),
        "plan_graph": drawing.plan_graph(data["subtasks"]),
        "cost": drawing.cost_chart(data, now, max_cost),
        "context_chart": drawing.context_chart(data["context"], data["agents"], now, task),
        "files_by_agent": files,
        "roles": {a["id"]: a["role"] for a in data["agents"]},
        # A task's own totals are written when it ends; until then its agents' running sums.
        "shown_cost": task["cost_usd"]
        if task["cost_usd"] is not None and task["status"] not in reads.ACTIVE
        else sum(a["cost_usd"] or 0.0 for a in data["agents"]),
        "shown_tokens": sum(a["tokens"] or 0 for a in data["agents"]),
    }


async def task(request: Any, datasette: Any) -> Response:
    context = await _task_context(datasette, request.url_vars["task_id"])
    return await _render(datasette, request, "orc_task.html", context)


async def task_live(request: Any, datasette: Any) -> Response:
    """The part of a task's page that changes while it runs, for the page's script to swap in."""
    context = await _task_context(datasette, request.url_vars["task_id"])
    return await _render(datasette, request, "orc_task_live.html", context)


async def task_events(request: Any, datasette: Any) -> Response:
    """The task's status and its events after ``?after=<event id>``: what the live page polls each second."""
    try:
        after = int(request.args.get("after") or 0)
    except ValueError:
        after = 0
    task_id = request.url_vars["task_id"]
    data = await _database(datasette).execute_fn(lambda conn: reads.events_after(conn, task_id, after))
    if data is None:
        raise NotFound(f"no task {task_id!r} in the run store")
    return Response(
        json.dumps(data),
        content_type="application/json; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


async def agent(request: Any, datasette: Any) -> Response:
    agent_id = request.url_vars["agent_id"]
    try:
        after = max(int(request.args.get("after") or 0), 0)
    except ValueError:
        after = 0
    data = await _database(datasette).execute_fn(lambda conn: reads.agent(conn, agent_id, after))
    if data is None:
        raise NotFound(f"no agent {agent_id!r} in the run store")
    return await _render(datasette, request, "orc_agent.html", data)
