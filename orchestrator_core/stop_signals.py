"""The signals that stop a long command (``execute``, ``resume``, ``agents send``, ``chat``) the way Ctrl-C does.

SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\\) count too: left to their default action they end the process at
once, and its task, subtasks and agents stay 'running' in the store for ever (#17).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator, Callable

import anyio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@contextlib.asynccontextmanager
async def on_stop_signals(stop: Callable[[str], None]) -> AsyncIterator[None]:
    """Within the block, each stop signal calls ``stop(name)`` (e.g. ``"SIGHUP"``) instead of its default action."""

    async def receive() -> None:
        with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
            async for signum in signals:
                stop(signal.Signals(signum).name)

    async with anyio.create_task_group() as group:
        group.start_soon(receive)
        try:
            yield
        finally:
            group.cancel_scope.cancel()
