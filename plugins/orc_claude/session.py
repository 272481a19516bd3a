"""ClaudeSession: one open Claude Code CLI process for an agent, through ``ClaudeSDKClient``.

Everything about one session happens in the task that opened it (the SDK's client must not cross tasks). Closing
it interrupts a turn still running, then disconnects, shielded from cancellation, so no CLI process outlives it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import anyio
import attrs

from orchestrator_core import Agent, Emit, RuntimeUnavailable, TurnResult, UsageError
from orchestrator_core.secrets import redactor_for

from .turn import Turn

#: HTTP statuses from the model worth another try.
RETRYABLE_STATUSES = {408, 409, 429, 500, 502, 503, 504, 529}


def _lock_path(session_id: str) -> Path:
    directory = Path(tempfile.gettempdir()) / f"orc-locks-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory / f"{session_id}.lock"


class ClaudeSession:
    def __init__(self, agent: Agent, options: Any, stderr_lines: deque[str], emit: Emit) -> None:
        self.agent = agent
        self.options = options
        self.stderr_lines = stderr_lines
        self.emit = emit
        self.client: Any = None
        self.pid: int | None = None
        self._lock: Any = None
        self._in_turn = False

    async def open(self) -> None:
        from claude_agent_sdk import ClaudeSDKClient, CLINotFoundError

        # One process at a time per session, across processes too: a second sender gets "busy" at once.
        self._lock = _lock_path(self.agent.session_id).open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise UsageError(
                f"agent {self.agent.id!r} is busy: another process is talking to it; try again when it is done"
            ) from None
        self.client = ClaudeSDKClient(self.options)
        try:
            await self.client.connect()
        except CLINotFoundError as exc:
            raise RuntimeUnavailable(
                f"the Claude Code CLI was not found ({exc}); reinstall claude-agent-sdk, which bundles it"
            ) from None
        # Best effort: the SDK does not publish the CLI's pid; its transport holds the process.
        process = getattr(getattr(self.client, "_transport", None), "_process", None)
        self.pid = getattr(process, "pid", None)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            if self.client is not None:
                if self._in_turn:
                    with contextlib.suppress(Exception), anyio.move_on_after(2):
                        await self.client.interrupt()
                with contextlib.suppress(Exception), anyio.move_on_after(15):
                    await self.client.disconnect()
                self.client = None
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    async def send(self, message: str, agent: Agent) -> TurnResult:
        """One turn: send ``message``, turn what streams back into events, return the result."""
        from claude_agent_sdk import ClaudeSDKError, ResultMessage

        # The secrets of this process and of the run's environment: what the CLI's tools can print. Redacted here
        # too, not only by the core's emitter: on a Ray node this process has secrets the head never sees (#16).
        redact = redactor_for(getattr(self.options, "env", None) or {})
        turn = Turn(agent, lambda kind, payload: self.emit(kind, redact.value(payload)), redact)
        started = time.monotonic()
        self._in_turn = True
        try:
            await self.client.query(message)
            async for sdk_message in self.client.receive_response():
                turn.handle(sdk_message)
        except ClaudeSDKError as exc:
            if not (isinstance(turn.result, ResultMessage) and turn.result.is_error):
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                # Redacted before the cut, so the cut cannot leave the end of a secret (#16).
                tail = turn.redact(" | ".join(line.strip() for line in self.stderr_lines if line.strip()))[-300:]
                turn.fail(f"{detail}{f' ({tail})' if tail else ''}", retryable=True)
        self._in_turn = False
        result = turn.finish(time.monotonic() - started)
        result = attrs.evolve(result, text=redact(result.text),
                              error=None if result.error is None else redact(result.error))
        status = getattr(turn.result, "api_error_status", None)
        api_failure = getattr(turn.result, "terminal_reason", None) == "api_error"
        # Overloaded, rate-limited, a server error, or no answer at all (connection refused, reset): worth another
        # try. A 4xx that is not about load (bad request, auth) is not.
        if result.is_error and (status in RETRYABLE_STATUSES or (api_failure and status is None)):
            result = attrs.evolve(result, retryable=True)
        return result
