"""ClaudeSession: one open Claude Code CLI process for an agent, through ``ClaudeSDKClient``.

Everything about one session happens in the task that opened it (the SDK's client must not cross tasks). Closing
it interrupts a turn still running, then disconnects, shielded from cancellation, so no CLI process outlives it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs

from orchestrator_core import Agent, Emit, RuntimeUnavailable, TurnResult, UsageError
from orchestrator_core.secrets import redactor_for

from .private import private_subdir
from .turn import Turn


class _ReportedByOrc(logging.Filter):
    """The SDK logs a CLI that exited as "Fatal error in message reader: ..." on stderr; orc reports that itself
    (a failed turn, or one line saying why the CLI would not start), so the user sees it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Fatal error in message reader")


logging.getLogger("claude_agent_sdk._internal.query").addFilter(_ReportedByOrc())

#: HTTP statuses from the model worth another try.
RETRYABLE_STATUSES = {408, 409, 429, 500, 502, 503, 504, 529}
#: HTTP statuses that mean the credentials were refused: no retry can help (#17).
REFUSED_STATUSES = {401, 403}


class CredentialsRefused(RuntimeUnavailable):
    """The model endpoint refused the credentials: the run cannot go on, whichever agent tries."""


def refused(status: int) -> CredentialsRefused:
    return CredentialsRefused(
        f"the model endpoint refused the credentials (HTTP {status}): check ANTHROPIC_API_KEY (or your Claude "
        "login) and ANTHROPIC_BASE_URL; stopped at the first refusal instead of retrying"
    )


def _refusal(message: Any) -> int | None:
    """The HTTP status of a retry the CLI announces for refused credentials, else None."""
    from claude_agent_sdk import SystemMessage

    if isinstance(message, SystemMessage) and message.subtype == "api_retry":
        status = (message.data or {}).get("error_status")
        return status if status in REFUSED_STATUSES else None
    return None


def _lock_path(session_id: str) -> Path:
    return private_subdir("locks") / f"{session_id}.lock"


def _initialize_timeout() -> float:
    """Seconds the SDK gives the CLI to answer its start-up request (as claude_agent_sdk computes it)."""
    try:
        return max(int(os.environ.get("CLAUDE_CODE_STREAM_CLOSE_TIMEOUT", "60000")) / 1000.0, 60.0)
    except ValueError:
        return 60.0


def _start_failure(exc: Exception, stderr_lines: deque[str]) -> RuntimeUnavailable:
    """The CLI exited before the session opened: what it said, in one line, and what to do (#16)."""
    text = " ".join(str(exc).split())
    said = " ".join(" ".join(line.split()) for line in stderr_lines if line.strip())
    if "error result: " in text:  # it answered the SDK's start-up request with an error
        detail = text.split("error result: ", 1)[1].removesuffix(" (exit code: 1)")
    else:  # it exited: its stderr says why
        detail = said or text
    hint = ""
    if "Sandbox required but unavailable" in detail:
        hint = (
            "; install bubblewrap and socat (apt-get install bubblewrap socat), or run Bash unsandboxed with "
            "--no-bash-sandbox or ORC_BASH_SANDBOX=false"
        )
    return RuntimeUnavailable(f"the Claude Code CLI would not start: {detail[-400:]}{hint}")


@contextlib.contextmanager
def session_lock(agent: Agent, busy: str) -> Iterator[None]:
    """Hold the agent's session for the block: one process at a time talks to it or deletes it (#17), across
    processes too. Another holder is :class:`UsageError` at once: "agent ... is busy: <busy>".
    """
    # An agent always has a session id once created (AgentManager gives it one); a record without one still
    # gets a lock of its own rather than a shared "None.lock".
    lock = _lock_path(agent.session_id or agent.id).open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise UsageError(f"agent {agent.id!r} is busy: {busy}") from None
    try:
        yield
    finally:
        lock.close()


class ClaudeSession:
    def __init__(self, agent: Agent, options: Any, stderr_lines: deque[str], emit: Emit) -> None:
        self.agent = agent
        self.options = options
        self.stderr_lines = stderr_lines
        self.emit = emit
        self.client: Any = None
        self.pid: int | None = None
        self._process: Any = None
        self._in_turn = False
        #: What a turn that orc cancelled had spent (read from the CLI's result after the interrupt), or None.
        self.cut_short: TurnResult | None = None
        #: Why the CLI never became a session (it did not answer its start-up request): every turn fails with it.
        self.start_failure: str | None = None

    async def open(self) -> None:
        """Start the CLI; the caller holds :func:`session_lock`."""
        from claude_agent_sdk import ClaudeSDKClient, ClaudeSDKError, CLINotFoundError

        self.client = ClaudeSDKClient(self.options)
        try:
            await self.client.connect()
        except CLINotFoundError as exc:
            raise RuntimeUnavailable(
                f"the Claude Code CLI was not found ({exc}); reinstall claude-agent-sdk, which bundles it"
            ) from None
        except ClaudeSDKError as exc:
            # It refused to start (its temp folder is another user's, the sandbox it must use cannot run, ...):
            # the user can fix that, so say what it said rather than "internal error".
            raise _start_failure(exc, self.stderr_lines) from None
        except Exception as exc:
            # The SDK raises a bare Exception when the CLI does not answer its start-up request in time (a
            # stopped or starved CLI on an overloaded machine; the SDK has ended it). That agent's turn fails, in
            # one line, and may be tried again (--retries); the rest of the run goes on.
            if not str(exc).startswith("Control request timeout"):
                raise
            self.client = None
            self.start_failure = (
                "the Claude Code CLI started but did not answer within "
                f"{_initialize_timeout():.0f} s (an overloaded machine?); run fewer agents at once "
                "(--max-parallel), or give it longer with CLAUDE_CODE_STREAM_CLOSE_TIMEOUT (milliseconds)"
            )
            return
        # Best effort: the SDK does not publish the CLI's pid; its transport holds the process.
        process = getattr(getattr(self.client, "_transport", None), "_process", None)
        self.pid = getattr(process, "pid", None)
        self._process = process

    async def _interrupt(self, turn: Turn) -> None:
        """Interrupt the running turn and read its messages up to the result (a few ms; at most 3 s)."""
        from claude_agent_sdk import ResultMessage

        self._in_turn = False
        with contextlib.suppress(Exception), anyio.move_on_after(3):
            await self.client.interrupt()
            async for sdk_message in self.client.receive_response():
                turn.handle(sdk_message)
                if isinstance(sdk_message, ResultMessage):
                    break

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            if self.client is not None:
                if self._in_turn:
                    with contextlib.suppress(Exception), anyio.move_on_after(2):
                        await self.client.interrupt()
                with contextlib.suppress(Exception), anyio.move_on_after(15):
                    await self.client.disconnect()
                self.client = None
            if self._process is not None:
                # The SDK's disconnect leaves the CLI's stdout pipe open when its reader stopped early (a message
                # past the buffer, a crash): closed by the garbage collector after the event loop, it printed an
                # "Event loop is closed" traceback (#17). Close every pipe here, on the loop.
                with contextlib.suppress(Exception), anyio.move_on_after(5):
                    await self._process.aclose()
                self._process = None

    async def send(self, message: str, agent: Agent) -> TurnResult:
        """One turn: send ``message``, turn what streams back into events, return the result.

        :raises CredentialsRefused: the model endpoint answered 401 or 403; the turn is stopped at once (the CLI
            would retry for minutes) and recorded as failed.
        """
        from claude_agent_sdk import ClaudeSDKError, ResultMessage

        if self.start_failure is not None:
            return TurnResult(text="", is_error=True, error=self.start_failure, retryable=True)
        # The secrets of this process and of the run's environment: what the CLI's tools can print. Redacted here
        # too, not only by the core's emitter: on a Ray node this process has secrets the head never sees (#16).
        redact = redactor_for(getattr(self.options, "env", None) or {})
        turn = Turn(agent, lambda kind, payload: self.emit(kind, redact.value(payload)), redact)
        started = time.monotonic()
        self.cut_short = None
        self._in_turn = True
        refusal: int | None = None
        try:
            await self.client.query(message)
            async for sdk_message in self.client.receive_response():
                turn.handle(sdk_message)
                refusal = _refusal(sdk_message)
                if refusal is not None:
                    break
        except ClaudeSDKError as exc:
            if not (isinstance(turn.result, ResultMessage) and turn.result.is_error):
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                # Redacted before the cut, so the cut cannot leave the end of a secret (#16).
                tail = turn.redact(" | ".join(line.strip() for line in self.stderr_lines if line.strip()))[
                    -300:
                ]
                turn.fail(f"{detail}{f' ({tail})' if tail else ''}", retryable=True)
        except anyio.get_cancelled_exc_class():
            # orc cut the turn short (timeout, budget, fail-fast, a signal): the CLI still reports what the turn
            # spent in the result it sends after an interrupt. Read it, so the cost is recorded, then go on
            # being cancelled.
            with anyio.CancelScope(shield=True):
                await self._interrupt(turn)
                self.cut_short = turn.finish(time.monotonic() - started)
            raise
        status = getattr(turn.result, "api_error_status", None)
        code = refusal if refusal is not None else status if status in REFUSED_STATUSES else None
        if code is not None:
            if refusal is not None:
                await self._interrupt(turn)  # stop the CLI's retries now
            error = refused(code)
            turn.fail(error.message)
            turn.finish(time.monotonic() - started)
            raise error
        self._in_turn = False
        result = turn.finish(time.monotonic() - started)
        result = attrs.evolve(
            result, text=redact(result.text), error=None if result.error is None else redact(result.error)
        )
        api_failure = getattr(turn.result, "terminal_reason", None) == "api_error"
        # Overloaded, rate-limited, a server error, or no answer at all (connection refused, reset): worth another
        # try. A 4xx that is not about load (bad request, auth) is not.
        if result.is_error and (status in RETRYABLE_STATUSES or (api_failure and status is None)):
            result = attrs.evolve(result, retryable=True)
        return result
