"""The read commands: ``orc status``, ``list-tasks``, ``task-details``, ``list-agents``, ``agent-details``,
``watch`` and ``browse``. Each reads the store at ``--db`` / ORCHESTRATOR_DB_PATH and never creates one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from orchestrator_core import UsageError

from . import output

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run store to read (overrides ORCHESTRATOR_DB_PATH; default ~/.local/share/orc/orchestrator.db).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def store_path(db_path: Path | None) -> Path:
    from orchestrator_core import load_config

    return Path(db_path) if db_path else Path(load_config().db_path)


def open_store(db_path: Path | None):
    """The store's Database, migrated; a missing file is a StoreError, never a new empty store."""
    from .opening import open_database

    return open_database(store_path(db_path), create=False)


def _tokens(row: dict[str, Any]) -> str:
    return output.number(row.get("total_tokens"))


def status(db_path: Path | None, as_json: bool) -> None:
    """Show the fleet: agents by role and status, totals, and files consumed vs produced."""
    from . import queries

    fleet = queries.fleet(open_store(db_path))
    if as_json:
        output.as_json(fleet)
        return
    t, f = fleet["totals"], fleet["files"]
    output.pairs("Fleet", [
        ("tasks", f"{t['tasks']} ({t['running_tasks']} running)"),
        ("agents", t["agents"]),
        ("cost", output.money(t["cost_usd"])),
        ("tokens", f"{output.number(t['total_tokens'])} (input {output.number(t['input_tokens'])}, output "
                   f"{output.number(t['output_tokens'])}, cache read {output.number(t['cache_read_tokens'])}, "
                   f"cache write {output.number(t['cache_creation_tokens'])})"),
        ("files", f"{f['files_consumed']} consumed, {f['files_produced']} produced"),
    ])
    output.table(
        "Agents by role and status",
        ["role", "status", "agents", "cost", "tokens"],
        [[r["role"], r["status"], r["agents"], output.money(r["cost_usd"]), _tokens(r)]
         for r in fleet["by_role_and_status"]],
    )


def list_tasks(db_path: Path | None, as_json: bool) -> None:
    """List recorded tasks, newest first."""
    from . import queries

    rows = queries.tasks(open_store(db_path))
    if as_json:
        output.as_json(rows)
        return
    output.table(
        None,
        ["task", "status", "type", "mode", "subtasks", "cost", "tokens", "created", "prompt"],
        [[r["task_id"], r["status"], r["task_type"], r["mode"], f"{r['succeeded']}/{r['subtasks']}",
          output.money(r["cost_usd"]), _tokens(r), (r["created_at"] or "")[:19], output.short(r["prompt"], 40)]
         for r in rows],
    )


def task_details(task_id: str, db_path: Path | None, as_json: bool) -> None:
    """Show a task: its plan, subtasks with status, per-agent metrics and the files its agents touched."""
    from . import queries

    details = queries.task_details(open_store(db_path), task_id)
    if details is None:
        raise UsageError(f"no task {task_id!r} in the run store; `orc list-tasks` shows the tasks")
    if as_json:
        output.as_json(details)
        return
    task, totals = details["task"], details["totals"]
    output.pairs(f"Task {task_id}", [
        ("prompt", task["prompt"]), ("status", task["status"]), ("type", task["task_type"]),
        ("mode", task["mode"]), ("cwd", task["cwd"]), ("cost", output.money(totals["cost_usd"])),
        ("tokens", _tokens(totals)), ("created", task["created_at"]), ("finished", task["finished_at"]),
        ("error", task["error"]),
    ])
    output.table(
        "Subtasks",
        ["id", "role", "status", "after", "agent", "error"],
        [[s["id"], s["role"], s["status"], ",".join(s["depends_on"]), s["agent_id"], output.short(s["error"])]
         for s in details["subtasks"]],
    )
    output.table(
        "Agents",
        ["agent", "role", "parent", "status", "cost", "tokens", "tool calls", "read", "written"],
        [[a["agent_id"], a["role"], a["parent_id"] or "", a["status"], output.money(a["cost_usd"]), _tokens(a),
          a["tool_calls"], a["files_read"], a["files_written"]] for a in details["agents"]],
    )
    output.table("Files", ["path", "operations", "agents"],
                 [[f["path"], f["operations"], f["agents"]] for f in details["files"]])


def list_agents(role: str | None, agent_status: str | None, db_path: Path | None, as_json: bool) -> None:
    """List recorded agents, newest first."""
    from . import queries

    rows = queries.agent_rows(open_store(db_path), role, agent_status)
    if as_json:
        output.as_json(rows)
        return
    output.table(
        None,
        ["agent", "name", "role", "status", "task", "cost", "tokens", "created"],
        [[r["id"], r["name"], r["role"], r["status"], r["task_id"], output.money(r["cost_usd"]),
          output.number(None if r["input_tokens"] is None else
                        r["input_tokens"] + r["output_tokens"] + r["cache_read_tokens"] + r["cache_creation_tokens"]),
          (r["created_at"] or "")[:19]] for r in rows],
    )


def agent_details(agent_id: str, db_path: Path | None, as_json: bool) -> None:
    """Show an agent: status, session, metrics, context use, tool calls, files and flags."""
    from . import queries

    details = queries.agent_details(open_store(db_path), agent_id)
    if details is None:
        raise UsageError(f"no agent {agent_id!r} in the run store; `orc list-agents` shows the agents")
    if as_json:
        output.as_json(details)
        return
    a, ctx = details["agent"], details["context_usage"]
    output.pairs(f"Agent {agent_id}", [
        ("name", a["name"]), ("role", a["role"]), ("status", a["status"]), ("task", a["task_id"]),
        ("model", a["model"]), ("session", a["session_id"]), ("cwd", a["cwd"]),
        ("cost", output.money(a["cost_usd"])), ("tokens", _tokens(a)), ("messages", a["messages"]),
        ("tool calls", f"{a['tool_calls']} ({a['tool_errors']} failed)"),
        ("context", f"{output.number(ctx['used_tokens'])} of {output.number(ctx['window_tokens'])} tokens "
                    f"({ctx['usage_percentage']}%)" if ctx else "-"),
        ("created", a["created_at"]), ("deleted", a["deleted_at"]),
    ])
    output.table("Tool calls", ["tool", "calls", "errors", "ms"],
                 [[t["name"], t["calls"], t["errors"], t["duration_ms"]] for t in details["tool_calls"]])
    output.table("Files", ["path", "operations"], [[f["path"], f["operations"]] for f in details["files"]])
    if details["flags"]:
        output.table("Flags", ["kind", "message", "at"], [[f["kind"], f["message"], f["at"]] for f in details["flags"]])


def describe(event: dict[str, Any]) -> str:
    """One plain line for an event: time, agent, kind and the gist of its payload."""
    p = output.redact(json.loads(event["payload"] or "{}"))
    kind = event["kind"]
    if kind == "message":
        gist = f"{p.get('role')}: {output.short(p.get('text'), 100)}"
    elif kind == "tool_call":
        gist = f"{p.get('name')} {output.short(json.dumps(p.get('input'), default=str), 80)}"
    elif kind == "tool_result":
        gist = f"{p.get('name')} {'failed' if p.get('is_error') else 'ok'} in {p.get('duration_ms')}ms"
    elif kind == "file_access":
        gist = f"{p.get('operation')} {p.get('path')}"
    elif kind == "usage":
        gist = f"{p.get('input_tokens')} in, {p.get('output_tokens')} out, ${p.get('cost_usd') or 0:.4f}"
    elif kind == "context":
        gist = f"{p.get('used_tokens')}/{p.get('window_tokens')} tokens ({p.get('usage_percentage')}%)"
    elif kind == "result":
        gist = f"{'error: ' + str(p.get('error')) if p.get('is_error') else 'done'}"
    else:
        gist = output.short(json.dumps(p, default=str), 100)
    return output.shown(f"{(event['ts'] or '')[11:19]} {event['agent_id']} {kind}: {gist}")


def watch(task_id: str, db_path: Path | None, as_json: bool, interval: float) -> None:
    """Follow a task from another terminal: print its events as they are recorded, until it ends."""
    from . import queries

    db = open_store(db_path)
    if queries.task_status(db, task_id) is None:
        raise UsageError(f"no task {task_id!r} in the run store; `orc list-tasks` shows the tasks")
    last = 0
    while True:
        # Read the status before the events: once it says ended, the events read next are the last ones.
        ended = queries.task_status(db, task_id) not in ("pending", "running")
        while batch := queries.events_after(db, task_id, last):
            for event in batch:
                if as_json:
                    click.echo(json.dumps(output.redact({**event, "payload": json.loads(event["payload"] or "{}")})))
                else:
                    click.echo(describe(event))
            last = batch[-1]["id"]
        if ended:
            break
        time.sleep(interval)
    if not as_json:
        click.echo(f"task {task_id} {queries.task_status(db, task_id)}")


def register(cli: click.Group) -> None:
    """Add the store's commands to ``cli``."""

    @cli.command("status")
    @db_option
    @json_option
    def status_command(db_path: Path | None, as_json: bool) -> None:
        """Show the fleet: agents by role and status, cost, tokens, files consumed vs produced."""
        status(db_path, as_json)

    @cli.command("list-tasks")
    @db_option
    @json_option
    def list_tasks_command(db_path: Path | None, as_json: bool) -> None:
        """List recorded tasks, newest first."""
        list_tasks(db_path, as_json)

    @cli.command("task-details")
    @click.argument("task_id")
    @db_option
    @json_option
    def task_details_command(task_id: str, db_path: Path | None, as_json: bool) -> None:
        """Show TASK_ID: plan, subtasks, per-agent metrics and files."""
        task_details(task_id, db_path, as_json)

    @cli.command("list-agents")
    @click.option("--role", help="Only agents of this role.")
    @click.option("--status", "agent_status", help="Only agents with this status (idle, running, deleted, ...).")
    @db_option
    @json_option
    def list_agents_command(role: str | None, agent_status: str | None, db_path: Path | None, as_json: bool) -> None:
        """List recorded agents, newest first."""
        list_agents(role, agent_status, db_path, as_json)

    @cli.command("agent-details")
    @click.argument("agent_id")
    @db_option
    @json_option
    def agent_details_command(agent_id: str, db_path: Path | None, as_json: bool) -> None:
        """Show AGENT_ID: status, session, metrics, context use, tool calls, files and flags."""
        agent_details(agent_id, db_path, as_json)

    @cli.command("watch")
    @click.argument("task_id")
    @click.option("--interval", type=float, default=0.5, show_default=True, help="Seconds between looks.")
    @db_option
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object per event.")
    def watch_command(task_id: str, interval: float, db_path: Path | None, as_json: bool) -> None:
        """Follow TASK_ID from another terminal: print its events as they are recorded, until it ends."""
        watch(task_id, db_path, as_json, interval)

    @cli.command("browse")
    @click.argument("task_id", required=False)
    @click.option("--port", type=int, default=8001, show_default=True, help="Port on 127.0.0.1 (0: any free one).")
    @click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
    @db_option
    def browse_command(task_id: str | None, port: int, open_browser: bool, db_path: Path | None) -> None:
        """Browse the run store on 127.0.0.1, read-only: mission control, and Datasette with canned queries.

        With TASK_ID, start at that task's page.
        """
        from .browse import serve

        pm = (click.get_current_context().find_root().obj or {}).get("pm")
        serve(store_path(db_path), port=port, open_browser=open_browser, pm=pm, task_id=task_id)
