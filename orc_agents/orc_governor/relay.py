"""The relay: a loopback HTTP server between every agent's Claude Code CLI and the model endpoint (#23).

Each agent gets its own base URL, ``http://127.0.0.1:<port>/agent/<agent id>``; the CLI appends ``/v1/messages``.
A model request waits for :class:`~.admission.Admission`, goes to the endpoint with its headers (credentials
included; never logged) and body unchanged, and its answer streams back as it arrives. A 429 or 529 is not passed
on: the relay waits as the endpoint asks (``retry-after``, else a growing backoff) and sends the same request again,
so the CLI sees one slow answer, not an error, and its session goes on. A usage limit that will not lift within
``max_wait`` seconds is handed to ``on_quota`` (which stops the run) unless ``wait_quota`` is set.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import http.server
import json
import logging
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs

from .admission import Admits, Stopped

_log = logging.getLogger(__name__)

#: Headers that belong to one connection, not to the request or answer (RFC 9110 §7.6.1).
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
#: Statuses the relay waits out and retries itself.
THROTTLED = {429, 529}
#: Backoff when the endpoint gives no ``retry-after``: first wait, cap.
BACKOFF = (1.0, 60.0)
#: A throttled request is sent again at most this many times before the CLI gets the answer.
MAX_ATTEMPTS = 100


@attrs.frozen
class Throttle:
    """One throttled answer, as the relay reports it."""

    agent_id: str
    status: int
    wait: float
    attempt: int
    concurrency: int
    quota_until: float | None = None


def retry_after(headers: http.client.HTTPMessage, now: float) -> float | None:
    """Seconds the endpoint asks to wait: ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    with contextlib.suppress(TypeError, ValueError):
        if ms is not None:
            return max(0.0, float(ms) / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    return None


def quota_reset(headers: http.client.HTTPMessage) -> float | None:
    """The Unix time a spent usage quota comes back, when the answer says the quota is spent."""
    if (headers.get("anthropic-ratelimit-unified-status") or "").lower() != "rejected":
        return None
    with contextlib.suppress(TypeError, ValueError):
        return float(headers.get("anthropic-ratelimit-unified-reset") or "")
    return None


#: The API's per-minute budgets (https://docs.anthropic.com/en/api/rate-limits): ``anthropic-ratelimit-<name>-remaining``.
BUDGETS = ("requests", "tokens", "input-tokens", "output-tokens")


def budget_spent(headers: http.client.HTTPMessage) -> bool:
    """True if a 429 says a per-minute budget (requests or tokens) is spent, rather than too many at once."""
    for name in BUDGETS:
        with contextlib.suppress(TypeError, ValueError):
            if int(headers.get(f"anthropic-ratelimit-{name}-remaining") or "1") <= 0:
                return True
    return False


class Relay:
    """The relay of one Orchestrator; start it, give each agent :meth:`base_for`, stop it.

    :param upstream: the model endpoint's base URL (the user's ``ANTHROPIC_BASE_URL`` or the API's).
    :param admission: how many requests may be out.
    :param on_throttle: called (in a relay thread) for every throttled answer.
    :param on_quota: called (in a relay thread) with the agent id and the reset time of a spent quota; True if
        the agent's run will be stopped (the request then waits until the CLI hangs up, the relay stops or the
        quota is back), False to hand the 429 to the CLI (an agent outside a task: nothing to stop).
    :param max_wait: a wait longer than this is a spent quota, not a throttle.
    :param wait_quota: wait out a spent quota instead of calling ``on_quota``.
    """

    def __init__(
        self,
        upstream: str,
        admission: Admits,
        *,
        on_throttle: Callable[[Throttle], None] = lambda throttle: None,
        on_quota: Callable[[str, float], bool] = lambda agent_id, until: False,
        max_wait: float = 300.0,
        wait_quota: bool = False,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {upstream!r}")
        self.upstream = parsed
        self.admission = admission
        self.on_throttle = on_throttle
        self.on_quota = on_quota
        self.max_wait = max_wait
        self.wait_quota = wait_quota
        #: Throttled answers seen, waited out and retried.
        self.retries = 0
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        self._server = _Server(("127.0.0.1", 0), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="orc-governor", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.stopping.set()
        self.admission.stop()
        if self._server is not None:
            self._server.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the relay is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def base_for(self, agent_id: str) -> str:
        """The ``ANTHROPIC_BASE_URL`` of one agent's CLI."""
        return f"{self.url}/agent/{urllib.parse.quote(agent_id, safe='')}"

    def connect(self) -> http.client.HTTPConnection:
        host, port = self.upstream.hostname or "", self.upstream.port
        if self.upstream.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=600, context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=600)

    def upstream_path(self, rest: str) -> str:
        return (self.upstream.path.rstrip("/") + rest) or "/"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # never the headers: they carry credentials
        _log.debug("%s " + format, self.address_string(), *args)

    def _relay(self) -> None:
        try:
            self._forward()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Stopped:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _relay

    def _forward(self) -> None:
        relay = self.server.relay
        agent_id, rest = _split(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = relay.upstream.netloc
        path = relay.upstream_path(rest)
        governed = self.command == "POST" and rest.split("?")[0].endswith("/v1/messages")
        attempt = 0
        backoff = BACKOFF[0]
        while True:
            held = False
            if governed:
                relay.admission.acquire()
                held = True
            try:
                conn = relay.connect()
                try:
                    conn.request(self.command, path, body=body, headers=headers)
                    answer = conn.getresponse()
                except OSError as exc:
                    conn.close()
                    self._send_error(502, f"orc's governor could not reach the model endpoint: {exc}")
                    return
                if governed and answer.status in THROTTLED and attempt < MAX_ATTEMPTS:
                    now = time.time()
                    asked = retry_after(answer.msg, now)
                    reset = quota_reset(answer.msg)
                    refusal = answer.read()
                    conn.close()
                    attempt += 1
                    wait = asked if asked is not None else backoff
                    backoff = min(backoff * 2, BACKOFF[1])
                    quota_until = (
                        reset if reset is not None else (now + wait if wait > relay.max_wait else None)
                    )
                    relay.admission.release()
                    held = False
                    # A spent quota is not a cooldown: the next request is what finds out it is back.
                    relay.admission.throttled(
                        answer.status, 0.0 if quota_until else wait, quota_until, budget_spent(answer.msg)
                    )
                    relay.retries += 1
                    relay.on_throttle(
                        Throttle(agent_id, answer.status, wait, attempt, relay.admission.allowed, quota_until)
                    )
                    if quota_until is not None:
                        if not relay.wait_quota and not relay.on_quota(agent_id, quota_until):
                            self._send_raw(answer, refusal)
                            return
                        # Stopping: the run stops and the CLI hangs up; waiting: until the quota is back (and
                        # at least as long as asked: a reset time in whole seconds can be a moment early).
                        self._hold(max(quota_until, now + wait))
                    continue
                if governed and 200 <= answer.status < 300:
                    relay.admission.succeeded()
                self._pass_back(answer)
                conn.close()
                return
            finally:
                if held:
                    relay.admission.release()

    def _hold(self, until: float) -> None:
        """Wait until ``until`` while the CLI is still there.

        :raises Stopped: the relay stops or the CLI hung up (its turn was stopped).
        """
        relay = self.server.relay
        while time.time() < until:
            if relay.stopping.wait(min(1.0, max(0.0, until - time.time()))):
                raise Stopped
            if _hung_up(self.connection):
                raise Stopped

    def _pass_back(self, answer: http.client.HTTPResponse) -> None:
        """Stream the answer to the CLI as it comes: SSE events are not held back."""
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        length = answer.getheader("Content-Length")
        chunked = length is None and self.command != "HEAD"
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if self.command == "HEAD":
            return
        while True:
            piece = answer.read1(65536)
            if not piece:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _send_raw(self, answer: http.client.HTTPResponse, body: bytes) -> None:
        """An answer already read, as it came."""
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, status: int, message: str) -> None:
        data = json.dumps({"type": "error", "error": {"type": "api_error", "message": message}}).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _hung_up(connection: socket.socket) -> bool:
    """True if the client closed its end (nothing more will come on a request it is waiting for)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _split(path: str) -> tuple[str, str]:
    """``/agent/<id>/v1/messages?x`` -> (id, ``/v1/messages?x``); another path -> ("", path)."""
    if path.startswith("/agent/"):
        agent, _, rest = path[len("/agent/") :].partition("/")
        return urllib.parse.unquote(agent), "/" + rest
    return "", path


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], relay: Relay) -> None:
        self.relay = relay
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_all(self) -> None:
        self.shutdown()
        self.server_close()
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
