"""How many model requests may be out at once, and when the next may go: AIMD under a shared cooldown (#23).

:class:`Admission` holds one process's limit. It starts at the ceiling (``--max-parallel``) and comes down when the
endpoint says it is too busy: after a 429 (rate or concurrency limit) to what the endpoint evidently serves at once
(the requests still out when the 429 came back, never more than one less than before); after a 529 (overloaded) to
half. It grows again by one per ``limit`` successful requests, once no throttle was seen for ``hold`` seconds: a
probe past the limit costs one refused request and its wait.

The cooldown (nothing new goes out before the endpoint's ``retry-after`` has passed) and a spent quota live in
:class:`SharedState`, a small file in orc's private folder locked with ``fcntl``: every orc process on the machine
that talks to the same endpoint waits out the same cooldown.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs

_log = logging.getLogger(__name__)


@attrs.frozen
class Cooldown:
    """What the endpoint said, shared: no request before ``until``; a spent quota until ``quota_until``."""

    until: float = 0.0
    quota_until: float | None = None


class SharedState:
    """The cooldown of one endpoint, shared by the orc processes of one machine through a locked file."""

    def __init__(self, folder: Path, endpoint: str) -> None:
        name = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
        self.path = folder / f"{name}.json"
        self._lock_path = folder / f"{name}.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> Cooldown:
        try:
            data = json.loads(self.path.read_text())
            return Cooldown(float(data.get("until") or 0.0), data.get("quota_until"))
        except (OSError, ValueError, TypeError, AttributeError):
            return Cooldown()

    def read(self) -> Cooldown:
        with self._locked():
            return self._read()

    def extend(self, until: float, quota_until: float | None = None) -> Cooldown:
        """Push the cooldown to ``until`` (never back) and record a spent quota; the state after."""
        with self._locked():
            old = self._read()
            quota = old.quota_until if quota_until is None else max(quota_until, old.quota_until or 0.0)
            if quota is not None and quota <= time.time():
                quota = None
            new = Cooldown(max(old.until, until), quota)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(attrs.asdict(new)))
            os.replace(tmp, self.path)
            return new

    def clear_quota(self) -> None:
        """The quota is known to be back (a request went through)."""
        with self._locked():
            old = self._read()
            if old.quota_until is not None:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(attrs.asdict(Cooldown(old.until, None))))
                os.replace(tmp, self.path)


class Stopped(Exception):
    """The relay is stopping: give up waiting."""


class Admits(Protocol):
    """What a relay asks before each model request: :class:`Admission` in this process, or on a Ray cluster a
    node's stand-in for the run's shared one (:mod:`.cluster`)."""

    @property
    def allowed(self) -> int: ...

    def acquire(self, timeout: float | None = None) -> float | None: ...

    def release(self) -> None: ...

    def succeeded(self) -> None: ...

    def throttled(self, status: int, wait: float, quota_until: float | None = None) -> object: ...

    def stop(self) -> None: ...


class Admission:
    """At most ``limit`` model requests out at once in this process, none during the shared cooldown.

    :param ceiling: the most ever (``--max-parallel``).
    :param shared: the endpoint's shared cooldown.
    :param hold: seconds after a throttle before the limit may grow again.
    """

    def __init__(self, ceiling: int, shared: SharedState, hold: float = 3.0) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.shared = shared
        self.hold = hold
        self.in_flight = 0
        #: The most requests out at once so far.
        self.peak = 0
        self._throttled_at = 0.0
        self._cond = threading.Condition()
        self._stopping = False
        self._waiting = 0
        self._since: float | None = None
        #: Seconds spent, since the first request, with every allowed place taken (``full``), with a place free
        #: and a request waiting for the cooldown (``cooling``), and with a place free and no request to send
        #: (``idle``: the agents were busy elsewhere, e.g. starting).
        self.profile = {"full": 0.0, "cooling": 0.0, "idle": 0.0}
        #: Requests out, summed over time (seconds): divided by the time, the mean concurrency.
        self.request_seconds = 0.0

    def _account(self) -> None:
        """Add the time since the last change to the state it was in (call with the lock held, before a change)."""
        now = time.monotonic()
        if self._since is not None:
            state = "full" if self.in_flight >= self.allowed else "cooling" if self._waiting else "idle"
            self.profile[state] += now - self._since
            self.request_seconds += self.in_flight * (now - self._since)
        self._since = now

    @property
    def allowed(self) -> int:
        """Requests that may be out at once now."""
        return max(1, int(self.limit))

    def snapshot(self) -> dict[str, Any]:
        """Allowed, out and waiting now, the shared cooldown's end (Unix time), the peak out at once, the time
        profile and the request-seconds."""
        with self._cond:
            return {
                "allowed": self.allowed,
                "in_flight": self.in_flight,
                "waiting": self._waiting,
                "cooldown_until": self.shared.read().until,
                "peak": self.peak,
                "profile": dict(self.profile),
                "request_seconds": self.request_seconds,
            }

    def stop(self) -> None:
        """Wake every waiter with :class:`Stopped`."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def acquire(self, timeout: float | None = None) -> float | None:
        """Wait for a place and for the cooldown to pass; the seconds waited, or None if ``timeout`` seconds
        passed first (nothing is held then).

        :raises Stopped: the relay is stopping.
        """
        began = time.monotonic()
        with self._cond:
            self._account()
            self._waiting += 1
            try:
                return self._wait_for_place(began, None if timeout is None else began + timeout)
            finally:
                self._account()
                self._waiting -= 1

    def _wait_for_place(self, began: float, deadline: float | None) -> float | None:
        while True:
            if self._stopping:
                raise Stopped
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            most = 5.0 if deadline is None else min(5.0, deadline - now)
            if self.in_flight < self.allowed:
                # Read the shared file only when a place is free: another process may have set a cooldown.
                left = self.shared.read().until - time.time()
                if left <= 0:
                    self._account()
                    self.in_flight += 1
                    self.peak = max(self.peak, self.in_flight)
                    _log.debug("admitted: %d out, %d allowed", self.in_flight, self.allowed)
                    return time.monotonic() - began
                self._account()
                self._cond.wait(min(left, most))
            else:
                self._account()
                self._cond.wait(most)

    def release(self) -> None:
        """A request is done (answered, failed or throttled)."""
        with self._cond:
            self._account()
            self.in_flight -= 1
            self._cond.notify_all()

    def succeeded(self) -> None:
        """A request was answered: grow slowly once no throttle was seen for ``hold`` seconds."""
        with self._cond:
            if time.monotonic() - self._throttled_at >= self.hold and self.limit < self.ceiling:
                self.limit = min(float(self.ceiling), self.limit + 1.0 / self.allowed)
                self._cond.notify_all()

    def throttled(self, status: int, wait: float, quota_until: float | None = None) -> Cooldown:
        """The endpoint answered ``status`` (429, 529) asking to wait ``wait`` seconds: come down, and share the
        cooldown. Call it after :meth:`release` of the throttled request."""
        with self._cond:
            if quota_until is not None:
                pass  # a spent quota says nothing about how many requests fit at once
            elif status == 429:
                # A rate or concurrency limit: what is still out went through, so that many fit.
                self.limit = float(max(1, min(self.allowed - 1, self.in_flight)))
            else:
                self.limit = max(1.0, self.limit / 2)
            self._throttled_at = time.monotonic()
            _log.debug(
                "throttled (%d): %d out, now %d allowed, wait %.2fs",
                status,
                self.in_flight,
                self.allowed,
                wait,
            )
        return self.shared.extend(time.time() + wait, quota_until)
