"""The read commands: ``orc status``, ``list-tasks``, ``task-details``, ``list-agents``, ``agent-details``,
``watch`` and ``browse``. Each reads the store at ``--db`` / ORCHESTRATOR_DB_PATH and never creates one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from orchestrator_core import RunFailed, UsageError

from . import output

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run store to read (overrides ORCHESTRATOR_DB_PATH; default ~/.local/share/orc/orchestrator.db).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
since_option = click.option(
    "--since",
    help="Only those created since then: a date (2026-11-01, UTC unless it names "
    "an offset) or a duration back from now (30m, 2h, 3d, 1w).",
)
transcript_option = click.option(
    "--transcript",
    is_flag=True,
    help="Show what the agent was told and said, in order: messages, tool calls with their input and result.",
)


def limit_options(command: Any) -> Any:
    """``--limit N`` (default 20) and ``--all``: how many of the newest rows a list shows."""
    command = click.option("--all", "show_all", is_flag=True, help="Show every row that matches.")(command)
    return click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=20,
        show_default=True,
        help="Show at most this many rows, newest first.",
    )(command)


def store_path(db_path: Path | None) -> Path:
    from orchestrator_core.cli import current_config

    return Path(db_path) if db_path else Path(current_config().db_path)


def open_store(db_path: Path | None):
    """The store's Database, migrated; a missing file is a StoreError, never a new empty store."""
    from .opening import open_database

    return open_database(store_path(db_path), create=False)


def _tokens(row: dict[str, Any]) -> str:
    return output.number(row.get("total_tokens"))


def status(db_path: Path | None, as_json: bool) -> None:
    """Show the fleet: agents by role and status, totals, and files consumed vs produced."""
    from . import queries

    path = store_path(db_path)
    if not path.exists() and not path.is_symlink():
        # Nothing ran here yet: that is an answer, not an error (#20); no store is made.
        if as_json:
            output.as_json(queries.EMPTY_FLEET)
        else:
            click.echo(f"no runs recorded yet (no run store at {output.shown(path)})")
        return
    fleet = queries.fleet(open_store(db_path))
    if as_json:
        output.as_json(fleet)
        return
    t, f = fleet["totals"], fleet["files"]
    output.pairs(
        "Fleet",
        [
            ("tasks", f"{t['tasks']} ({t['running_tasks']} running)"),
            ("agents", t["agents"]),
            ("cost", output.money(t["cost_usd"])),
            (
                "tokens",
                f"{output.number(t['total_tokens'])} (input {output.number(t['input_tokens'])}, output "
                f"{output.number(t['output_tokens'])}, cache read {output.number(t['cache_read_tokens'])}, "
                f"cache write {output.number(t['cache_creation_tokens'])})",
            ),
            ("files", f"{f['files_consumed']} consumed, {f['files_produced']} produced"),
        ],
    )
    output.table(
        "Agents by role and status",
        ["role", "status", "agents", "cost", "tokens"],
        [
            [r["role"], r["status"], r["agents"], output.money(r["cost_usd"]), _tokens(r)]
            for r in fleet["by_role_and_status"]
        ],
    )


def page_of(
    limit: int,
    show_all: bool,
    status: str | None = None,
    role: str | None = None,
    task_id: str | None = None,
    since_text: str | None = None,
) -> Any:
    """The rows a list command's options ask for."""
    from .queries import Page
    from .since import since

    return Page(
        status=status,
        role=role,
        task_id=task_id,
        since=since(since_text) if since_text is not None else None,
        limit=None if show_all else limit,
    )


def list_tasks(db_path: Path | None, as_json: bool, page: Any) -> None:
    """List recorded tasks, newest first: the newest 20 unless the page says otherwise."""
    from . import queries

    rows, total = queries.task_page(open_store(db_path), page)
    records = [output.task_record(r) for r in rows]
    if as_json:
        output.as_json(records)
    else:
        output.table(
            None,
            ["task", "status", "type", "mode", "subtasks", "cost", "tokens", "created", "prompt"],
            [
                [
                    r["id"],
                    r["status"],
                    r["task_type"],
                    r["mode"],
                    f"{r['succeeded']}/{r['subtasks']}",
                    output.money(r["cost_usd"]),
                    _tokens(r),
                    (r["created_at"] or "")[:19],
                    output.short(r["prompt"], 40),
                ]
                for r in records
            ],
        )
    output.shown_of(len(records), total, "tasks")


def task_details(task_id: str, db_path: Path | None, as_json: bool, messages: bool = False) -> None:
    """Show a task: its plan, subtasks with status, per-agent metrics, the files its agents touched and its output;
    with ``messages``, its agents' conversations instead."""
    from . import queries

    db = open_store(db_path)
    details = queries.task_details(db, task_id)
    if details is None:
        raise UsageError(f"no task {task_id!r} in the run store; `orc list-tasks` shows the tasks")
    if messages:
        _conversations(
            db,
            [a["agent_id"] for a in details["agents"]],
            {a["agent_id"]: a["role"] for a in details["agents"]},
            as_json,
        )
        return
    details["task"] = output.task_record(details["task"])
    details["agents"] = [output.agent_record(a) for a in details["agents"]]
    if as_json:
        output.as_json(details)
        return
    task = details["task"]
    output.pairs(
        f"Task {task_id}",
        [
            ("prompt", task["prompt"]),
            ("status", task["status"]),
            ("type", task["task_type"]),
            ("mode", task["mode"]),
            ("cwd", task["cwd"]),
            ("cost", output.money(task["cost_usd"])),
            ("tokens", _tokens(task)),
            ("created", task["created_at"]),
            ("finished", task["finished_at"] or "-"),
            *([("error", task["error"])] if task["error"] else []),
        ],
    )
    output.table(
        "Subtasks",
        ["id", "role", "status", "after", "agent", "error"],
        [
            [
                s["id"],
                s["role"],
                s["status"],
                ",".join(s["depends_on"]),
                s["agent_id"],
                output.short(s["error"]),
            ]
            for s in details["subtasks"]
        ],
    )
    output.table(
        "Agents",
        ["agent", "role", "parent", "status", "model", "cost", "tokens", "tool calls", "read", "written"],
        [
            [
                a["id"],
                a["role"],
                a["parent_id"] or "",
                a["status"],
                a["model"] or "-",
                output.money(a["cost_usd"]),
                _tokens(a),
                a["tool_calls"],
                a["files_read"],
                a["files_written"],
            ]
            for a in details["agents"]
        ],
    )
    output.table(
        "Files",
        ["path", "operations", "agents"],
        [[f["path"], f["operations"], f["agents"]] for f in details["files"]],
    )
    if details["output"]:
        click.echo("Output:")
        click.echo(output.shown(details["output"]))
    click.echo(f"(`orc task-details {task_id} --messages` shows what the agents said and did)", err=True)


def _conversations(db: Any, agent_ids: list[str], roles: dict[str, str], as_json: bool) -> None:
    from . import queries, transcript

    entries = [transcript.record(row) for agent_id in agent_ids for row in queries.conversation(db, agent_id)]
    transcript.show(entries, roles, as_json)


def list_agents(db_path: Path | None, as_json: bool, page: Any) -> None:
    """List recorded agents, newest first: the newest 20 unless the page says otherwise."""
    from . import queries

    rows, total = queries.agent_page(open_store(db_path), page, records=as_json)
    if as_json:
        output.as_json([output.agent_record(r) for r in rows])
    else:
        output.table(
            None,
            ["agent", "name", "role", "status", "model", "task", "cost", "tokens", "created"],
            [
                [
                    r["id"],
                    r["name"],
                    r["role"],
                    r["status"],
                    r["model"] or "-",
                    r["task_id"],
                    output.money(r["cost_usd"]),
                    _tokens(r),
                    (r["created_at"] or "")[:19],
                ]
                for r in rows
            ],
        )
    output.shown_of(len(rows), total, "agents")


def agent_details(agent_id: str, db_path: Path | None, as_json: bool, transcript: bool = False) -> None:
    """Show an agent: status, session, metrics, context use, tool calls, files and flags; with ``transcript``, its
    conversation instead."""
    from . import queries

    db = open_store(db_path)
    details = queries.agent_details(db, agent_id)
    if details is None:
        raise UsageError(f"no agent {agent_id!r} in the run store; `orc agents list` shows the agents")
    if transcript:
        _conversations(db, [agent_id], {agent_id: details["agent"]["role"]}, as_json)
        return
    details["agent"] = a = output.agent_record(details["agent"])
    if as_json:
        output.as_json(details)
        return
    ctx = details["context_usage"]
    output.pairs(
        f"Agent {agent_id}",
        [
            ("name", a["name"]),
            ("role", a["role"]),
            ("status", a["status"]),
            ("task", a["task_id"]),
            ("model", a["model"] or "-"),
            ("session", a["session_id"]),
            ("cwd", a["cwd"]),
            ("cost", output.money(a["cost_usd"])),
            ("tokens", _tokens(a)),
            ("messages", a["messages"]),
            ("tool calls", f"{a['tool_calls']} ({a['tool_errors']} failed)"),
            (
                "context",
                f"{output.number(ctx['used_tokens'])} of {output.number(ctx['window_tokens'])} tokens "
                f"({ctx['usage_percentage']}%)"
                if ctx
                else "-",
            ),
            ("created", a["created_at"]),
            *([("deleted", a["deleted_at"])] if a["deleted_at"] else []),
        ],
    )
    output.table(
        "Tool calls",
        ["tool", "calls", "errors", "ms"],
        [[t["name"], t["calls"], t["errors"], t["duration_ms"]] for t in details["tool_calls"]],
    )
    output.table("Files", ["path", "operations"], [[f["path"], f["operations"]] for f in details["files"]])
    if details["flags"]:
        output.table(
            "Flags", ["kind", "message", "at"], [[f["kind"], f["message"], f["at"]] for f in details["flags"]]
        )
    click.echo(f"(`orc agents show {agent_id} --transcript` shows what it said and did)", err=True)


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
        # A task whose process died (SIGKILL, power cut) stays 'running' in the store: its pid tells (#17).
        pid = None if ended else queries.task_pid(db, task_id)
        gone = (
            pid is not None and not _alive(pid) and queries.task_status(db, task_id) in ("pending", "running")
        )
        while batch := queries.events_after(db, task_id, last):
            for event in batch:
                if as_json:
                    click.echo(
                        json.dumps(output.redact({**event, "payload": json.loads(event["payload"] or "{}")}))
                    )
                else:
                    click.echo(describe(event))
            last = batch[-1]["id"]
        if ended:
            break
        if gone:
            raise RunFailed(
                f"task {task_id} did not finish: its orc process (pid {pid}) is gone; "
                f"`orc resume {task_id}` carries it on"
            )
        time.sleep(interval)
    if not as_json:
        click.echo(f"task {task_id} {queries.task_status(db, task_id)}")


def _alive(pid: int) -> bool:
    """True if ``pid`` is a live process on this machine (a zombie is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def register(cli: click.Group) -> None:
    """Add the store's commands to ``cli``."""

    @cli.command("status")
    @db_option
    @json_option
    def status_command(db_path: Path | None, as_json: bool) -> None:
        """Show the fleet: agents by role and status, cost, tokens, files consumed vs produced."""
        status(db_path, as_json)

    @cli.command("list-tasks")
    @click.option(
        "--status", help="Only tasks with this status (running, succeeded, failed, cancelled, ...)."
    )
    @since_option
    @limit_options
    @db_option
    @json_option
    def list_tasks_command(
        status: str | None, since: str | None, limit: int, show_all: bool, db_path: Path | None, as_json: bool
    ) -> None:
        """List recorded tasks, newest first (the newest 20 unless --limit or --all)."""
        list_tasks(db_path, as_json, page_of(limit, show_all, status=status, since_text=since))

    @cli.command("task-details")
    @click.argument("task_id")
    @click.option(
        "--messages",
        is_flag=True,
        help="Show what the task's agents said and did, in order: messages, "
        "tool calls with their input and result.",
    )
    @db_option
    @json_option
    def task_details_command(task_id: str, messages: bool, db_path: Path | None, as_json: bool) -> None:
        """Show TASK_ID: plan, subtasks, per-agent metrics, files and output."""
        task_details(task_id, db_path, as_json, messages)

    @cli.command("list-agents", short_help="Alias of `orc agents list`.")
    @click.option("--role", help="Only agents of this role.")
    @click.option("--status", help="Only agents with this status (idle, running, deleted, ...).")
    @click.option("--task", "task_id", help="Only the agents of this task.")
    @since_option
    @limit_options
    @db_option
    @json_option
    def list_agents_command(
        role: str | None,
        status: str | None,
        task_id: str | None,
        since: str | None,
        limit: int,
        show_all: bool,
        db_path: Path | None,
        as_json: bool,
    ) -> None:
        """Alias of `orc agents list`: recorded agents, newest first (the newest 20 unless --limit or --all)."""
        list_agents(
            db_path,
            as_json,
            page_of(limit, show_all, status=status, role=role, task_id=task_id, since_text=since),
        )

    @cli.command("agent-details", short_help="Alias of `orc agents show`.")
    @click.argument("agent_id")
    @transcript_option
    @db_option
    @json_option
    def agent_details_command(agent_id: str, transcript: bool, db_path: Path | None, as_json: bool) -> None:
        """Alias of `orc agents show`: AGENT_ID's status, session, metrics, context use, tool calls, files, flags."""
        agent_details(agent_id, db_path, as_json, transcript)

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
    @click.option(
        "--port", type=int, default=8001, show_default=True, help="Port on 127.0.0.1 (0: any free one)."
    )
    @click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
    @db_option
    def browse_command(task_id: str | None, port: int, open_browser: bool, db_path: Path | None) -> None:
        """Browse the run store on 127.0.0.1, read-only: mission control, and Datasette with canned queries.

        With TASK_ID, start at that task's page.
        """
        from orchestrator_core.cli import plugin_manager

        from .browse import serve

        pm = plugin_manager(click.get_current_context())
        serve(store_path(db_path), port=port, open_browser=open_browser, pm=pm, task_id=task_id)
