"""``orc browse``: serve the run store with Datasette on 127.0.0.1, read-only, with orc's metadata.

The metadata (``metadata.json``) describes every table, view and column and adds canned queries; it is keyed by
Datasette's name for the file (its stem), so it follows the store wherever ``--db`` points. Datasette 0.65 reads
mutable files with ``mode=ro`` connections and has no write API, orc ships no writable canned query, and :func:`read_only` answers
every method but GET, HEAD and OPTIONS with 405 before Datasette sees it.

Only this machine may read it (#16): :func:`local_only` refuses a request whose Host header names anything but
127.0.0.1, localhost or [::1] on the served port, so a web page that rebinds its own name to 127.0.0.1 cannot read
the store through the user's browser. One query cannot take the server down either: it has a time limit, a row
limit, and SQLite refuses to make a string or blob longer than 16 MiB (:mod:`.query_limits`).
"""

from __future__ import annotations

import json
import socket
from importlib import resources
from pathlib import Path
from typing import Any

import click

from orchestrator_core import UsageError

HOST = "127.0.0.1"
#: Host header names a local browser or tool sends for this server; any other is a page from elsewhere.
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: Datasette's own bounds, stated rather than inherited: a query runs at most a second, returns at most 1000 rows.
#: No facet suggestions: Datasette computes them with one query per column over the whole table or view on every
#: page view; with 100,000 agents they were 2.7 s of the 2.8 s of the agents and agent_totals pages (#22). Facets
#: asked for (``?_facet=role``) still work.
SETTINGS = {
    "allow_download": False,
    "sql_time_limit_ms": 1000,
    "max_returned_rows": 1000,
    "suggest_facets": False,
}


def metadata_for(path: Path) -> dict[str, Any]:
    """orc's Datasette metadata, for the store at ``path``."""
    shipped = json.loads(resources.files(__package__).joinpath("metadata.json").read_text())
    shipped["databases"] = {path.stem: shipped["databases"]["orchestrator"]}
    return shipped


def browse_plugins(pm: Any) -> list[tuple[str, Any]]:
    """The Datasette plugins orc's plugins add (``orc_browse_plugins``), as (name, module)."""
    found: list[tuple[str, Any]] = []
    pm.hook.orc_browse_plugins(register=lambda name, module: found.append((name, module)))
    return found


def make_datasette(
    path: Path, *, immutable: bool = False, plugins: list[tuple[str, Any]] | tuple = ()
) -> Any:
    """A Datasette on the store at ``path``, read-only, with orc's metadata (tests use it through ``.client``).

    :param immutable: the file cannot change (a read-only file system): read it as it is, with no -shm file.
    :param plugins: (name, module) Datasette plugins to add (:func:`browse_plugins`); each is configured with
        ``{"database": <the store's name>}`` under its name.
    """
    from datasette.app import Datasette
    from datasette.plugins import pm

    from . import query_limits

    if not pm.is_registered(query_limits):
        pm.register(query_limits, "orc-query-limits")
    metadata = metadata_for(path)
    for name, module in plugins:
        if not pm.is_registered(module):
            pm.register(module, name)
        metadata.setdefault("plugins", {})[name] = {"database": path.stem}
    ds = Datasette(
        [] if immutable else [str(path)],
        immutables=[str(path)] if immutable else [],
        metadata=metadata,
        settings=SETTINGS,
    )
    query_limits.bounded.add(ds)
    return ds


def read_only(app: Any) -> Any:
    """Refuse every HTTP method that could change something, before Datasette sees the request."""
    body = json.dumps({"ok": False, "status": 405, "error": "orc browse is read-only"}).encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = [(b"content-type", b"application/json"), (b"allow", b"GET, HEAD, OPTIONS")]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return guarded


def _local(host: str, port: int) -> bool:
    """True if a Host header value names this machine, on ``port`` or with no port."""
    host = host.strip().lower()
    name, colon, given = host.rpartition(":")
    if not colon or host.endswith("]"):  # no port: "localhost", "[::1]"
        name, given = host, ""
    return name in LOCAL_NAMES and given in ("", str(port))


def local_only(app: Any, port: int) -> Any:
    """Refuse a request whose Host header names anything but this machine on ``port`` (DNS rebinding)."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            hosts = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"]
            if len(hosts) != 1 or not _local(hosts[0], port):
                body = json.dumps(
                    {
                        "ok": False,
                        "status": 400,
                        "error": f"orc browse answers only http://{HOST}:{port} or http://localhost:{port}",
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded


def serve(
    path: Path, *, port: int = 8001, open_browser: bool = False, pm: Any = None, task_id: str | None = None
) -> None:
    """Serve until interrupted. Prints ``Serving <file> at <url>`` once the port is listening, then the page to
    open first when a plugin gives one (``orc_browse_path``: mission control).

    :param pm: orc's plugin manager, asked for Datasette plugins and the first page (None: stock Datasette).
    :param task_id: open this task's page; an unknown one is a UsageError (exit 2) before anything is served.
    """
    import asyncio

    import uvicorn

    from .browse_errors import install
    from .opening import open_database, writable

    # Migrate first (a new process may hold an older file) and refuse a missing one: Datasette would make it.
    db = open_database(path, create=False)
    try:
        if task_id is not None and not db["tasks"].count_where("id = ?", [task_id]):
            raise UsageError(
                f"no task {task_id!r} in the run store {str(path)!r}; `orc list-tasks` shows the tasks"
            )
    finally:
        db.close()
    install()
    plugins = browse_plugins(pm) if pm is not None else []
    first = pm.hook.orc_browse_path(database=path.stem, task_id=task_id) if pm is not None else None
    ds = make_datasette(path, immutable=not writable(path), plugins=plugins)
    asyncio.run(ds.invoke_startup())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise click.UsageError(
            f"cannot listen on {HOST}:{port} ({exc.strerror}); pass another --port"
        ) from None
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    url = f"http://{HOST}:{bound_port}/{path.stem}"
    # The socket listens already: a client that reads this line and connects is queued until uvicorn accepts.
    click.echo(f"Serving {path} at {url} (read-only; Ctrl-C to stop)")
    if first:
        url = f"http://{HOST}:{bound_port}{first}"
        click.echo(f"{'Task ' + task_id if task_id else 'Mission control'}: {url}")
    elif task_id:
        url = f"{url}/tasks/{task_id}"
        click.echo(f"Task {task_id}: {url}")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    app = local_only(read_only(ds.app()), bound_port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
