"""A scripted stand-in for the Anthropic Messages API, for offline tests.

:class:`ScriptedModel` runs a real HTTP server on the loopback interface that
answers ``POST /v1/messages`` the way the real API does (server-sent events
when ``stream`` is true, a JSON message otherwise), so the real Claude Code
CLI, pointed at it with :meth:`ScriptedModel.env`, runs a whole agent session
without any network.

What the model "says" is scripted::

    model = ScriptedModel()
    model.script([tool("Write", {"file_path": "a.txt", "content": "x"}), text("done")],
                 match="write a file")
    with model:
        options = ClaudeAgentOptions(env=model.env(tmp_path / "cfg"), ...)

A script matches a request when its ``match`` substring occurs in the system
prompt or in any message, and (``role=``) when the request comes from an agent
of that role; scripts are tried in registration order. A session
(the ``X-Claude-Code-Session-Id`` header) is bound to the script that answered
its first request and has its own cursor into that script's replies, so
parallel sessions each get the whole sequence and a resumed session goes on
where it stopped; once its replies run out it gets the default reply. Requests
without a session id share one cursor per script. Every request is recorded
in :attr:`ScriptedModel.requests`.

Rate limits (#23): :meth:`ScriptedModel.limit` makes it admit at most K
requests at once (and optionally a token budget per minute), answering any
other with 429 and ``retry-after`` before a script is consulted, so a rejected
request takes no reply and is logged in :attr:`ScriptedModel.rejected`;
:meth:`ScriptedModel.exhaust` answers every request with a usage limit that
lifts at a given time, as the API does when a plan's quota is spent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import logging
import math
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

__all__ = ["Reply", "ScriptedModel", "ScriptedRequest", "Text", "ToolUse", "Usage", "error", "text", "tool"]

_log = logging.getLogger(__name__)

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                500: "api_error", 529: "overloaded_error"}  # fmt: skip
_ERROR_MESSAGES = {"overloaded_error": "Overloaded", "rate_limit_error": "Rate limited"}


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


@attrs.frozen
class Usage:
    """Token counts reported for one model call; the CLI adds them up and prices them.

    Keep a call's context (input + cache + output tokens) below ~975k: above
    that the CLI (1M context window) auto-compacts, i.e. its next request is a
    summary request, answered from the same script like any other.
    """

    input_tokens: int = 10
    output_tokens: int = 5
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


@attrs.frozen
class Text:
    """A text content block."""

    text: str


@attrs.frozen
class ToolUse:
    """A ``tool_use`` content block; ``id`` is generated (``toolu_…``) when None."""

    name: str
    input: dict[str, Any]
    id: str | None = None


Block = Text | ToolUse


def _blocks(blocks: Iterable[Block]) -> tuple[Block, ...]:
    # A typed converter: with ``converter=tuple`` mypy types the ``blocks`` argument as ``Iterable[_T_co]``.
    return tuple(blocks)


@attrs.frozen
class Reply:
    """One scripted answer: either a message (``status`` 200) or an HTTP error.

    :ivar blocks: content blocks of the message, in order.
    :ivar usage: token usage to report.
    :ivar stop_reason: None means ``"tool_use"`` if any block is a
        :class:`ToolUse`, else ``"end_turn"``.
    :ivar status: HTTP status; anything but 200 answers with an error body.
    :ivar error_type: ``error.type`` of the error body.
    :ivar error_message: ``error.message`` of the error body.
    :ivar latency: seconds to wait before answering.
    """

    blocks: tuple[Block, ...] = attrs.field(default=(), converter=_blocks)
    usage: Usage = Usage()
    stop_reason: str | None = None
    status: int = 200
    error_type: str = "overloaded_error"
    error_message: str = "Overloaded"
    latency: float = 0.0

    @property
    def effective_stop_reason(self) -> str:
        """The stop reason sent: explicit, or derived from the blocks."""
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.blocks) else "end_turn"


ReplySource = Reply | Callable[["ScriptedRequest"], Reply]


def text(s: str, *, usage: Usage | None = None, latency: float = 0.0) -> Reply:
    """A reply with one text block."""
    return Reply(blocks=(Text(s),), usage=usage or Usage(), latency=latency)


def tool(name: str, input: dict[str, Any], *, usage: Usage | None = None, latency: float = 0.0) -> Reply:
    """A reply with one ``tool_use`` block (stop reason ``tool_use``)."""
    return Reply(blocks=(ToolUse(name, input),), usage=usage or Usage(), latency=latency)


def error(status: int = 529, message: str | None = None) -> Reply:
    """An HTTP error reply with the API's JSON error body.

    :param status: HTTP status (529 overloaded, 500, 429, …).
    :param message: ``error.message``; a default per error type when None.
    """
    etype = _ERROR_TYPES.get(status, "api_error")
    msg = message if message is not None else _ERROR_MESSAGES.get(etype, f"Error {status}")
    return Reply(status=status, error_type=etype, error_message=msg)


def _block_text(block: Any) -> str:
    """Text of a content block; tool results contribute their content's text."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "tool_result":
        return _content_text(block.get("content"))
    return block.get("text", "") if isinstance(block.get("text"), str) else ""


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(t for t in map(_block_text, content) if t)
    return _block_text(content)


@attrs.frozen
class ScriptedRequest:
    """A request received by :class:`ScriptedModel`, as passed to callables and logged.

    :ivar path: request path including the query string.
    :ivar headers: request headers, names lower-cased.
    :ivar body: the parsed JSON body (``{}`` when absent or not JSON).
    :ivar session_id: from ``X-Claude-Code-Session-Id``, else from
        ``metadata.user_id``'s JSON.
    :ivar script: name of the script that answered (also when its replies ran
        out and the default answered), None when nothing matched.
    :ivar at: when it arrived (Unix time).
    """

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    session_id: str | None
    script: str | None = None
    at: float = attrs.field(factory=time.time, eq=False)

    @property
    def model(self) -> str | None:
        """The requested model name."""
        return self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``messages`` array of the body."""
        return self.body.get("messages") or []

    @property
    def system_text(self) -> str:
        """All system prompt text, blocks joined with newlines."""
        return _content_text(self.body.get("system"))

    @property
    def search_text(self) -> str:
        """System text plus the text of every message: what ``match`` searches."""
        parts = [self.system_text] + [_content_text(m.get("content")) for m in self.messages]
        return "\n".join(parts)

    def _last_user(self) -> dict[str, Any]:
        return next((m for m in reversed(self.messages) if m.get("role") == "user"), {})

    @property
    def last_user_text(self) -> str:
        """Text of the last user message, tool result contents included."""
        return _content_text(self._last_user().get("content"))

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """The ``tool_result`` blocks of the last user message."""
        content = self._last_user().get("content")
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]

    @property
    def last_tool_output(self) -> str:
        """The text of the last tool result the model was sent (what its latest tool call returned), or ""."""
        results = self.tool_results
        return _content_text(results[-1].get("content")).strip() if results else ""


@attrs.frozen
class _Script:
    name: str
    match: str | None
    replies: tuple[ReplySource, ...]
    #: The role whose agents this script answers: a name (its prompt looked up in ``ScriptedModel.roles``) or a
    #: record with a ``system_prompt``.
    role: Any = None


def _session_of(headers: dict[str, str], body: dict[str, Any]) -> str | None:
    sid = headers.get("x-claude-code-session-id")
    if sid:
        return sid
    user_id = (body.get("metadata") or {}).get("user_id")
    try:
        sid = json.loads(user_id).get("session_id") if isinstance(user_id, str) else None
    except (ValueError, AttributeError):
        sid = None
    return sid if isinstance(sid, str) else None


def _chunks(s: str, parts: int) -> list[str]:
    """Split ``s`` into up to ``parts`` non-empty pieces (one piece if short)."""
    size = max(1, -(-len(s) // parts))
    return [s[i : i + size] for i in range(0, len(s), size)] or [""]


def _message(model: str, content: list[Any], usage: dict[str, int], stop: str | None) -> dict:
    return {"id": _new_id("msg_"), "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": usage}  # fmt: skip


def _event(name: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return name, {"type": name, **data}


def _sse_events(reply: Reply, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of a streamed message, as (event name, data) pairs.

    Like the real API, ``message_start`` carries the input-side counts and
    ``output_tokens: 1``; ``message_delta`` carries the final ``output_tokens``,
    which the CLI takes in place of the first (it does not add them up).
    """
    start_usage = attrs.asdict(reply.usage) | {"output_tokens": 1}
    events = [
        _event("message_start", message=_message(model, [], start_usage, None)),
        _event("ping"),
    ]
    for index, block in enumerate(reply.blocks):
        if isinstance(block, Text):
            start: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": c} for c in _chunks(block.text, 3)]
        else:
            start = _block_json(block) | {"input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": c} for c in _chunks(json.dumps(block.input), 2)
            ]
        events.append(_event("content_block_start", index=index, content_block=start))
        events += [_event("content_block_delta", index=index, delta=d) for d in deltas]
        events.append(_event("content_block_stop", index=index))
    delta = {"stop_reason": reply.effective_stop_reason, "stop_sequence": None}
    events.append(_event("message_delta", delta=delta, usage={"output_tokens": reply.usage.output_tokens}))
    events.append(_event("message_stop"))
    return events


def _block_json(block: Block) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    return {"type": "tool_use", "id": block.id or _new_id("toolu_"), "name": block.name, "input": block.input}


def _error_body(etype: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message}}


class _Handler(http.server.BaseHTTPRequestHandler):
    """Request handler; ``server.model`` is the owning :class:`ScriptedModel`."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def _send_json(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", _new_id("req_"))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        try:
            self._respond()
        except (BrokenPipeError, ConnectionResetError):  # the client went away (killed, timed out)
            self.close_connection = True

    def _respond(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the CLI always sends it
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = ScriptedRequest(self.path, headers, body, _session_of(headers, body))
        if self.command != "POST" or self.path.split("?")[0] != "/v1/messages":
            self.server.model._record(request)
            self._send_json(404, _error_body("not_found_error", f"Not found: {self.command} {self.path}"))
            return
        refusal = self.server.model._admit(request)
        if refusal is not None:
            self._send_limited(*refusal)
            return
        released: list[bool] = []

        def release() -> None:
            # Before the answer's last bytes: a client that sends its next request the moment one ends must find
            # the place free, as it would at the API.
            if not released:
                released.append(True)
                self.server.model._release()

        try:
            self._answer(request, release)
        finally:
            release()

    def _send_limited(self, retry_after: float, extra: dict[str, str]) -> None:
        data = json.dumps(_error_body("rate_limit_error", "Rate limited")).encode()
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("retry-after", str(max(1, math.ceil(retry_after))))
        self.send_header("retry-after-ms", str(round(retry_after * 1000)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, request: ScriptedRequest, release: Callable[[], None]) -> None:
        reply = self.server.model._answer(request)
        if reply.latency and self.server.stopping.wait(reply.latency):
            self.close_connection = True  # stop() while waiting: hang up without an answer
            return
        if reply.status != 200:
            release()
            self._send_json(reply.status, _error_body(reply.error_type, reply.error_message))
            return
        model = request.model or "claude-scripted"
        if not request.body.get("stream"):
            content = [_block_json(b) for b in reply.blocks]
            usage = attrs.asdict(reply.usage)
            release()
            self._send_json(200, _message(model, content, usage, reply.effective_stop_reason))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", _new_id("req_"))
        self.end_headers()
        for name, data in _sse_events(reply, model):
            chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        release()
        self.wfile.write(b"0\r\n\r\n")

    do_POST = do_GET = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], model: ScriptedModel) -> None:
        self.model = model
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A CLI that hangs up mid-answer (interrupted, killed, cancelled) is normal here, not an error to print.
        if isinstance(sys.exc_info()[1], ConnectionError | OSError):
            return
        super().handle_error(request, client_address)

    def close_all(self) -> None:
        """Stop serving and hang up on every open (keep-alive or waiting) connection."""
        self.stopping.set()
        self.shutdown()
        self.server_close()
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class ScriptedModel:
    """A scripted Messages API server on the loopback interface.

    :param host: address to bind.
    :param port: port to bind; 0 picks a free one.
    :param default: reply when no script matches or a session's script is
        exhausted; a text saying so when None.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, default: Reply | None = None) -> None:
        self.host = host
        self.port = port
        self.default = default or text("(scripted model: no script matched)")
        #: Every request received, in arrival order.
        self.requests: list[ScriptedRequest] = []
        #: Exceptions raised by callable replies (answered with HTTP 500).
        self.errors: list[BaseException] = []
        #: Requests answered 429 by :meth:`limit` or :meth:`exhaust`, in arrival order (no script saw them).
        self.rejected: list[ScriptedRequest] = []
        #: The most requests answered at once so far.
        self.peak_concurrent = 0
        self._max_concurrent: int | None = None
        self._retry_after = 1.0
        self._tokens_per_minute: int | None = None
        self._spent: list[tuple[float, int]] = []
        self._exhausted_until: float | None = None
        self._in_flight = 0
        self._scripts: list[_Script] = []
        #: Role name -> system prompt, for ``script(role=NAME)`` (:meth:`add_roles`).
        self.roles: dict[str, str] = {}
        self._warned: set[str] = set()
        self._bound: dict[str, str] = {}
        self._cursors: dict[tuple[str, str | None], int] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> str:
        """Start serving (idempotent) and return the base URL."""
        with self._lock:
            if self._server is None:
                self._server = _Server((self.host, self.port), self)
                self._thread = threading.Thread(
                    target=self._server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name="scripted-model",
                    daemon=True,
                )
                self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving (idempotent) and hang up on open connections, waiting replies included."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.close_all()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ScriptedModel:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43117``; the server must be started."""
        if self._server is None:
            raise RuntimeError("ScriptedModel is not started")
        host, port = self._server.server_address[:2]
        if not isinstance(host, str):  # typeshed allows bytes; a server started with a str host reports a str
            host = host.decode()
        return f"http://{host}:{port}"

    def env(self, config_dir: str | os.PathLike[str]) -> dict[str, str]:
        """Environment for an offline, isolated CLI talking to this server.

        :param config_dir: the CLI's ``CLAUDE_CONFIG_DIR`` (transcripts, settings).
        """
        return {
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": "sk-ant-scripted-dummy",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CONFIG_DIR": os.fspath(config_dir),
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_MAX_RETRIES": "2",
        }

    # -- rate limits (#23) ----------------------------------------------------

    def limit(
        self,
        concurrent: int | None,
        *,
        retry_after: float = 1.0,
        tokens_per_minute: int | None = None,
    ) -> None:
        """Admit at most ``concurrent`` requests at once (None: any number), and with ``tokens_per_minute`` no
        request while the tokens answered in the last minute (input and output, as the replies report them)
        reach it; answer any other with 429 ``rate_limit_error`` and ``retry-after: retry_after`` (seconds,
        rounded up; ``retry-after-ms`` exact). A request refused for the token budget waits until the oldest
        tokens leave the minute, and says so as the API does (``anthropic-ratelimit-tokens-remaining: 0``, the
        limit, and the reset as an RFC 3339 time). A rejected request advances no script.
        """
        with self._lock:
            self._max_concurrent = concurrent
            self._retry_after = retry_after
            self._tokens_per_minute = tokens_per_minute

    def exhaust(self, until: float | None) -> None:
        """A spent usage quota: answer every request with 429 until the Unix time ``until`` (None: lift it now),
        with ``retry-after`` the seconds left and ``anthropic-ratelimit-unified-status: rejected`` and
        ``anthropic-ratelimit-unified-reset: <until>`` as the API sends them."""
        with self._lock:
            self._exhausted_until = until

    def _admit(self, request: ScriptedRequest) -> tuple[float, dict[str, str]] | None:
        """None if ``request`` may be answered now (it then holds a place until :meth:`_release`); else the
        retry-after seconds and extra headers of its 429."""
        with self._lock:
            now = time.time()
            refusal: tuple[float, dict[str, str]] | None = None
            if self._exhausted_until is not None and now < self._exhausted_until:
                headers = {
                    "anthropic-ratelimit-unified-status": "rejected",
                    "anthropic-ratelimit-unified-reset": str(int(self._exhausted_until)),
                }
                refusal = (self._exhausted_until - now, headers)
            elif self._max_concurrent is not None and self._in_flight >= self._max_concurrent:
                refusal = (self._retry_after, {})
            elif self._tokens_per_minute is not None:
                self._spent = [(t, n) for t, n in self._spent if t > now - 60]
                if sum(n for _, n in self._spent) >= self._tokens_per_minute:
                    wait = max(self._spent[0][0] + 60 - now, self._retry_after)
                    # As the API says which budget is spent and when it fills again.
                    reset = dt.datetime.fromtimestamp(now + wait, dt.UTC).isoformat()
                    headers = {
                        "anthropic-ratelimit-tokens-limit": str(self._tokens_per_minute),
                        "anthropic-ratelimit-tokens-remaining": "0",
                        "anthropic-ratelimit-tokens-reset": reset,
                    }
                    refusal = (wait, headers)
            if refusal is not None:
                self.rejected.append(request)
                return refusal
            self._in_flight += 1
            self.peak_concurrent = max(self.peak_concurrent, self._in_flight)
            return None

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _spend(self, reply: Reply) -> None:
        if self._tokens_per_minute is not None:
            with self._lock:
                self._spent.append((time.time(), reply.usage.input_tokens + reply.usage.output_tokens))

    # -- scripting -----------------------------------------------------------

    def script(
        self,
        replies: Sequence[ReplySource],
        *,
        match: str | None = None,
        name: str | None = None,
        role: Any = None,
    ) -> str:
        """Register a script and return its name.

        :param replies: replies in order; a callable gets the
            :class:`ScriptedRequest` and returns a :class:`Reply`.
        :param match: substring of the system prompt or messages that selects
            this script; None matches every request.
        :param name: script name; ``script-N`` when None. Must be unique.
        :param role: answer only the agents of this role: a role's name (the
            orchestrator fixtures and ``--scripted`` tell the model every
            role, see :meth:`add_roles`) or a :class:`~orchestrator_core.Role`.
            The test need not know the role's prompt. With ``match`` too,
            both must hold.
        """
        with self._lock:
            name = name or f"script-{len(self._scripts) + 1}"
            if any(s.name == name for s in self._scripts):
                raise ValueError(f"duplicate script name {name!r}")
            self._scripts.append(_Script(name, match, tuple(replies), role))
        return name

    def add_roles(self, roles: Iterable[Any]) -> None:
        """Tell the model the roles (records with ``name`` and ``system_prompt``), so ``script(role=NAME)``
        recognises their agents by their system prompt."""
        with self._lock:
            self.roles.update({role.name: role.system_prompt for role in roles})

    def _role_prompt(self, script: _Script) -> str | None:
        role = script.role
        if not isinstance(role, str):
            return str(role.system_prompt)
        prompt = self.roles.get(role)
        if prompt is None and script.name not in self._warned:
            self._warned.add(script.name)
            self.errors.append(
                LookupError(
                    f"script {script.name!r} answers role {role!r}, which the scripted model does not know; "
                    "build the Orchestrator with the orchestrator or make_orchestrator fixture, or call "
                    "model.add_roles(orc.roles.values())"
                )
            )
        return prompt

    def requests_for(self, script: str | None) -> list[ScriptedRequest]:
        """Requests answered by ``script`` (None: the unmatched ones)."""
        with self._lock:
            return [r for r in self.requests if r.script == script]

    def _record(self, request: ScriptedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _answer(self, request: ScriptedRequest) -> Reply:
        """Pick the reply for ``request``, advance the cursor and log it."""
        with self._lock:
            script = self._pick(request)
            source: ReplySource = self.default
            if script is not None:
                key = (script.name, request.session_id)
                cursor = self._cursors.get(key, 0)
                if cursor < len(script.replies):
                    source = script.replies[cursor]
                    self._cursors[key] = cursor + 1
            request = attrs.evolve(request, script=script.name if script else None)
            self.requests.append(request)
        if isinstance(source, Reply):
            self._spend(source)
            return source
        try:
            reply = source(request)
            self._spend(reply)
            return reply
        except Exception as exc:  # surfaced to the test through self.errors
            _log.exception("scripted reply callable failed")
            with self._lock:
                self.errors.append(exc)
            return Reply(
                status=500, error_type="api_error", error_message=f"scripted reply callable failed: {exc!r}"
            )

    def _pick(self, request: ScriptedRequest) -> _Script | None:
        """The session's bound script, else the first matching one (binding it)."""
        sid = request.session_id
        if sid is not None and sid in self._bound:
            return next(s for s in self._scripts if s.name == self._bound[sid])
        haystack = request.search_text
        for script in self._scripts:
            if script.role is not None:
                prompt = self._role_prompt(script)
                if prompt is None or prompt not in request.system_text:
                    continue
            if script.match is None or script.match in haystack:
                if sid is not None:
                    self._bound[sid] = script.name
                return script
        return None
