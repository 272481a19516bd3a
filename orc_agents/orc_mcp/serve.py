"""Running the server: stdio, or streamable HTTP on 127.0.0.1 behind a bearer token and loopback Host/Origin checks."""

from __future__ import annotations

import hmac
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from .service import Bounds, Service


def serve(
    make_orchestrator: Callable[..., Any],
    bounds: Bounds,
    allowed: list[Path],
    *,
    approve: bool,
    port: int | None,
    token: str | None,
) -> None:
    """Serve until the host goes away (stdio) or the process is stopped (HTTP); runs still going are cancelled
    (resumable) on the way out."""
    from orchestrator_core.storage import Database

    async def main() -> None:
        service = Service(make_orchestrator, bounds, allowed, approve=approve, database=Database)
        from .tools import make_server

        server = make_server(service)
        try:
            if port is None:
                await server.run_stdio_async()
            else:
                assert token is not None
                await _serve_http(server, port, token)
        finally:
            await service.close()

    anyio.run(main)


class BearerToken:
    """ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get 401 and go no further."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "missing or wrong bearer token"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="orc"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def loopback_socket(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (never another interface)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        from orchestrator_core import UsageError

        raise UsageError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; choose another --http PORT"
        ) from exc
    sock.listen(128)
    return sock


async def _serve_http(server: Any, port: int, token: str) -> None:
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    sock = loopback_socket(port)
    port = sock.getsockname()[1]
    hosts = [f"127.0.0.1:{port}", f"localhost:{port}"]
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{host}" for host in hosts],
    )
    app = BearerToken(server.streamable_http_app(transport_security=security, host="127.0.0.1"), token)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    print(f"orc mcp: serving http://127.0.0.1:{port}/mcp", file=sys.stderr, flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])
