"""How many model requests may be out at once, and when the next may go: AIMD under a shared cooldown (#23).

:class:`Admission` starts at the ceiling (``--max-parallel``) and comes down when the endpoint says it is too busy:
after a 429 (rate or concurrency limit) to what the endpoint evidently serves at once (the requests still out when
the 429 came back, never more than one less than before); after a 529 (overloaded) to half. It grows again by one
per ``limit`` successful requests, once no throttle was seen for ``hold`` seconds: a probe past the limit costs one
refused request and its wait.

What the endpoint taught is the machine's, not one process's (:class:`SharedState`, files in orc's private folder
locked with ``fcntl``): every orc process that talks to the same endpoint waits out the same cooldown, keeps to the
same learned limit, and counts the same places, so two orc processes together send no more at once than the
endpoint takes. A learned limit is forgotten ``FORGET`` seconds after the last throttle.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs

_log = logging.getLogger(__name__)


#: A limit learned this long (seconds) after the last throttle is forgotten: the endpoint may take more today.
FORGET = 600.0
#: How often a request waits again for a place another orc process holds (its release wakes no one here).
OTHERS = 0.05


@attrs.frozen
class Cooldown:
    """What the endpoint said, shared: no request before ``until``; a spent quota until ``quota_until``; the
    requests it takes at once as last learned (``limit``, None: not learned) and when it last throttled."""

    until: float = 0.0
    quota_until: float | None = None
    limit: float | None = None
    throttled_at: float = 0.0


class SharedState:
    """What one endpoint taught the orc processes of one machine: its cooldown and limit in a locked file, and its
    places as slot files, each held with ``flock`` by the request that has it (a crashed process's places free
    themselves)."""

    def __init__(self, folder: Path, endpoint: str) -> None:
        name = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
        self.path = folder / f"{name}.json"
        self._lock_path = folder / f"{name}.lock"
        self._slot = str(folder / f"{name}.slot")

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
            state = Cooldown(
                float(data.get("until") or 0.0),
                data.get("quota_until"),
                None if data.get("limit") is None else float(data["limit"]),
                float(data.get("throttled_at") or 0.0),
            )
        except (OSError, ValueError, TypeError, AttributeError):
            return Cooldown()
        if state.limit is not None and time.time() - state.throttled_at > FORGET:
            state = attrs.evolve(state, limit=None)
        return state

    def _write(self, state: Cooldown) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(attrs.asdict(state)))
        os.replace(tmp, self.path)

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
            new = attrs.evolve(old, until=max(old.until, until), quota_until=quota)
            self._write(new)
            return new

    def throttled(self, limit: Callable[[float | None], float | None]) -> Cooldown:
        """A throttle now: the learned limit becomes ``limit(current)``; the state after."""
        with self._locked():
            old = self._read()
            new = attrs.evolve(old, limit=limit(old.limit), throttled_at=time.time())
            self._write(new)
            return new

    def grow(self, ceiling: int, hold: float) -> Cooldown:
        """A request went through: a learned limit below ``ceiling`` grows by one per ``limit`` such answers, once
        no throttle was seen for ``hold`` seconds; the state after."""
        with self._locked():
            old = self._read()
            if old.limit is None or old.limit >= ceiling or time.time() - old.throttled_at < hold:
                return old
            new = attrs.evolve(old, limit=min(float(ceiling), old.limit + 1.0 / max(1, int(old.limit))))
            self._write(new)
            return new

    def take_slot(self, places: int) -> int | None:
        """Hold one of the first ``places`` places (a file descriptor: close it to give the place back), or None
        if every one is held, by this process or another."""
        for number in range(places):
            fd = os.open(f"{self._slot}{number}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def slots_held(self) -> int:
        """Places held now, by every orc process on this machine."""
        held = 0
        for path in Path(self._slot).parent.glob(Path(self._slot).name + "*"):
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held += 1
            finally:
                os.close(fd)
        return held


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

    def throttled(
        self, status: int, wait: float, quota_until: float | None = None, budget: bool = False
    ) -> object: ...

    def stop(self) -> None: ...


class Admission:
    """At most ``limit`` model requests out at once on this machine, none during the shared cooldown.

    :param ceiling: the most this process sends at once (``--max-parallel``).
    :param shared: the endpoint's shared cooldown, limit and places.
    :param hold: seconds after a throttle before the limit may grow again.
    """

    def __init__(self, ceiling: int, shared: SharedState, hold: float = 3.0) -> None:
        self.ceiling = max(1, ceiling)
        self.shared = shared
        self.hold = hold
        #: The endpoint's limit as last read from the shared state (None: not learned, the ceiling holds).
        self.limit: float | None = shared.read().limit
        self.in_flight = 0
        #: The most requests out at once so far (this process's).
        self.peak = 0
        self._slots: list[int] = []
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
        limit = self.ceiling if self.limit is None else min(float(self.ceiling), self.limit)
        return max(1, int(limit))

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
                # Read the shared file only when a place is free here: another process may have set a cooldown
                # or learned a lower limit.
                state = self.shared.read()
                self.limit = state.limit
                left = state.until - time.time()
                if left > 0:
                    self._account()
                    self._cond.wait(min(left, most))
                    continue
                if self.in_flight < self.allowed:
                    slot = self.shared.take_slot(self.allowed)
                    if slot is not None:
                        self._account()
                        self._slots.append(slot)
                        self.in_flight += 1
                        self.peak = max(self.peak, self.in_flight)
                        _log.debug("admitted: %d out here, %d allowed", self.in_flight, self.allowed)
                        return time.monotonic() - began
                    # Every place is held, some by other orc processes: their releases wake no one here.
                    self._account()
                    self._cond.wait(min(OTHERS, most))
                    continue
            self._account()
            self._cond.wait(most)

    def release(self) -> None:
        """A request is done (answered, failed or throttled)."""
        with self._cond:
            self._account()
            self.in_flight -= 1
            if self._slots:
                os.close(self._slots.pop())
            self._cond.notify_all()

    def succeeded(self) -> None:
        """A request was answered: the limit grows slowly once no throttle was seen for ``hold`` seconds."""
        with self._cond:
            if self.limit is None or self.limit >= self.ceiling:
                return  # nothing learned, or learned at or above this process's ceiling: no file to touch
            self.limit = self.shared.grow(self.ceiling, self.hold).limit
            self._cond.notify_all()

    def throttled(
        self, status: int, wait: float, quota_until: float | None = None, budget: bool = False
    ) -> Cooldown:
        """The endpoint answered ``status`` (429, 529) asking to wait ``wait`` seconds: come down, and share the
        cooldown. Call it after :meth:`release` of the throttled request.

        :param budget: the 429 says a budget of tokens or requests per minute is spent (not how many fit at once).
        """
        with self._cond:
            allowed = self.allowed
            if quota_until is not None or budget:
                pass  # a spent quota or budget says nothing about how many requests fit at once: only wait
            elif status == 429:
                # A rate or concurrency limit: what is still out, in every orc process here, went through, so
                # that many fit.
                out = self.shared.slots_held()
                fits = float(max(1, min(allowed - 1, out)))
                self.limit = self.shared.throttled(lambda old: fits if old is None else min(old, fits)).limit
            else:
                self.limit = self.shared.throttled(lambda old: max(1.0, (old or allowed) / 2)).limit
            _log.debug(
                "throttled (%d): %d out here, now %d allowed, wait %.2fs",
                status,
                self.in_flight,
                self.allowed,
                wait,
            )
        return self.shared.extend(time.time() + wait, quota_until)
