"""The governor for agents on a Ray cluster (``--runtime ray``, #23): one admission per endpoint for the whole run.

The run's :class:`~.admission.Admission` (one per model endpoint) lives in a :class:`GovernorActor` on the head's
node; each node that runs the run's agents starts one relay (:class:`NodeGovernor`, the session extra orc_ray's
runtime opens on the node) whose every admission question goes to that actor (:class:`RemoteAdmission`). So the
limit the endpoint taught one node holds for all of them, a ``retry-after`` seen on one node is waited out by all
(and, through the shared file on the head's machine, by the other orc processes there), and a spent quota seen on
any node stops the run. A node relay that falls silent for :data:`LEASE` seconds (its worker or node died with
requests out) has its places given back. Throttles and quota stops come back to the head as reports, which the head's
:class:`~.governor.Governor` turns into the same events and stops as for local agents.

Imported only when a run's runtime runs sessions on nodes (Ray is then importable).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import ray

from orc_agents.orc_claude.private import private_subdir
from orc_agents.orc_claude.trust import DEFAULT_ENDPOINT

from .admission import Admission, SharedState, Stopped
from .relay import Relay, Throttle

#: How long one admission call waits in the actor before the node asks again (and sees whether it is stopping).
POLL = 1.0
#: A node relay's places are given back this many seconds after its last word (its worker or node died mid-request);
#: a live relay says it is alive every third of that.
LEASE = 15.0


class GovernorActor:
    """The run's admissions, one per endpoint, and the reports for the head. A threaded Ray actor: waits block
    threads of the ``waits`` group, so a release is never queued behind them."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.admissions: dict[str, Admission] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._reports: list[tuple] = []
        self._answers: dict[int, bool] = {}
        self._numbers = itertools.count(1)
        self._stopping = False
        #: Places held, per node relay and endpoint, and when each relay was last heard from.
        self.held: dict[str, dict[str, int]] = {}
        self.heard: dict[str, float] = {}

    def _admission(self, endpoint: str) -> Admission:
        with self._lock:
            admission = self.admissions.get(endpoint)
            if admission is None:
                admission = Admission(self.ceiling, SharedState(private_subdir("governor"), endpoint))
                self.admissions[endpoint] = admission
            return admission

    @ray.method(concurrency_group="waits")
    def acquire(self, endpoint: str, timeout: float, holder: str) -> float | None:
        """A place for one request to ``endpoint`` from the relay ``holder``, or None if none came within
        ``timeout`` seconds."""
        self.alive(holder)
        self._sweep()
        try:
            waited = self._admission(endpoint).acquire(timeout)
        except Stopped:
            return None
        if waited is not None:
            with self._lock:
                places = self.held.setdefault(holder, {})
                places[endpoint] = places.get(endpoint, 0) + 1
        return waited

    def release(self, endpoint: str, holder: str) -> None:
        with self._lock:
            places = self.held.get(holder, {})
            if not places.get(endpoint):
                return  # given back already: the relay was silent too long
            places[endpoint] -= 1
        self._admission(endpoint).release()

    def alive(self, holder: str) -> None:
        """The relay ``holder`` is alive (it says so every third of :data:`LEASE`)."""
        with self._lock:
            self.heard[holder] = time.monotonic()

    def _sweep(self) -> None:
        """Give back the places of relays not heard from for :data:`LEASE` seconds (their node or worker died)."""
        now = time.monotonic()
        with self._lock:
            gone = [h for h, last in self.heard.items() if now - last > LEASE]
            lost = [(endpoint, n) for h in gone for endpoint, n in self.held.pop(h, {}).items()]
            for holder in gone:
                del self.heard[holder]
        for endpoint, count in lost:
            for _ in range(count):
                self._admission(endpoint).release()

    def succeeded(self, endpoint: str) -> None:
        self._admission(endpoint).succeeded()

    def throttled(
        self, endpoint: str, status: int, wait: float, quota_until: float | None, budget: bool = False
    ) -> int:
        """Come down and share the cooldown; the requests allowed at once after it."""
        admission = self._admission(endpoint)
        admission.throttled(status, wait, quota_until, budget)
        return admission.allowed

    def report(self, throttle: Throttle) -> None:
        with self._cond:
            self._reports.append(("throttle", throttle))
            self._cond.notify_all()

    @ray.method(concurrency_group="waits")
    def quota(self, agent_id: str, until: float, timeout: float = 60.0) -> bool:
        """Ask the head to stop the agent's run for a spent quota; its answer (see ``Relay.on_quota``)."""
        with self._cond:
            number = next(self._numbers)
            self._reports.append(("quota", number, agent_id, until))
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            while number not in self._answers and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._answers.pop(number, False)

    def answer(self, number: int, stops: bool) -> None:
        with self._cond:
            self._answers[number] = stops
            self._cond.notify_all()

    @ray.method(concurrency_group="waits")
    def next_reports(self, timeout: float) -> list[tuple]:
        """The reports since the last call, waiting up to ``timeout`` seconds for one."""
        with self._cond:
            if not self._reports and not self._stopping:
                self._cond.wait(timeout)
            reports, self._reports = self._reports, []
            return reports

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each endpoint's :meth:`Admission.snapshot`."""
        self._sweep()
        return {endpoint: a.snapshot() for endpoint, a in self.admissions.items()}

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for admission in list(self.admissions.values()):
            admission.stop()


def start_actor(ceiling: int) -> Any:
    """The run's GovernorActor, on this (the head's) node when it is a node of the cluster."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    waits = 4 * max(1, ceiling) + 16  # every request waiting at once, the head's report poll, quota questions
    actor_class = ray.remote(concurrency_groups={"waits": waits})(GovernorActor)  # type: ignore[call-overload]
    return actor_class.options(
        max_restarts=0,
        max_task_retries=0,
        num_cpus=0,
        max_concurrency=8,
        scheduling_strategy=NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=True
        ),
    ).remote(ceiling)


class RemoteAdmission:
    """A node relay's admission: each question goes to the run's GovernorActor for one endpoint."""

    def __init__(self, actor: Any, endpoint: str) -> None:
        self.actor = actor
        self.endpoint = endpoint
        #: As of the latest throttle this relay saw (what its throttle events report).
        self.allowed = 0
        #: The actor is gone (the run ended): this relay is of no more use.
        self.gone = False
        #: This relay, to the actor: its places are its own, given back if it falls silent.
        self.holder = uuid.uuid4().hex
        self._stopping = threading.Event()

    def keep_alive(self) -> None:
        """Tell the actor this relay is alive until it stops (run in a thread of its own)."""
        while not self._stopping.wait(LEASE / 3) and not self.gone:
            with contextlib.suppress(ray.exceptions.RayError):
                self.actor.alive.remote(self.holder)

    def _call(self, method: Any, *args: Any) -> Any:
        try:
            return ray.get(method.remote(*args))
        except ray.exceptions.RayError:  # the run ended (its actor is gone), or the actor cannot govern
            self.gone = True
            raise Stopped from None

    def acquire(self, timeout: float | None = None) -> float | None:
        began = time.monotonic()
        while True:
            if self._stopping.is_set() or self.gone:
                raise Stopped
            if self._call(self.actor.acquire, self.endpoint, POLL, self.holder) is not None:
                return time.monotonic() - began
            if timeout is not None and time.monotonic() - began >= timeout:
                return None

    def release(self) -> None:
        with contextlib.suppress(Stopped):
            self._call(self.actor.release, self.endpoint, self.holder)

    def succeeded(self) -> None:
        with contextlib.suppress(Stopped):
            self.actor.succeeded.remote(self.endpoint)

    def throttled(
        self, status: int, wait: float, quota_until: float | None = None, budget: bool = False
    ) -> int:
        with contextlib.suppress(Stopped):
            self.allowed = int(
                self._call(self.actor.throttled, self.endpoint, status, wait, quota_until, budget)
            )
        return self.allowed

    def stop(self) -> None:
        self._stopping.set()


#: The relays this worker process runs, by governor: one per run and node.
_RELAYS: dict[str, Relay] = {}
_RELAYS_LOCK = threading.Lock()


@attrs.frozen
class NodeGovernor:
    """A session extra that travels to the node (orc_ray's ``node_extras``): the agent's CLI reaches the model
    through this node's relay of the run's governor.

    :param key: the run's governor.
    :param actor: its GovernorActor.
    :param upstream: the model endpoint the run sends its nodes (``ANTHROPIC_BASE_URL`` in the run's environment);
        None: each node's own (its environment's, else the API's).
    """

    key: str
    actor: Any
    upstream: str | None
    max_wait: float
    wait_quota: bool

    def __call__(self, agent: Any, role: Any) -> contextlib.nullcontext[dict[str, Any]]:
        return contextlib.nullcontext({"env": {"ANTHROPIC_BASE_URL": self.relay().base_for(agent.id)}})

    def relay(self) -> Relay:
        """This node's relay for the run (started on first use); relays of ended runs are stopped."""
        with _RELAYS_LOCK:
            for key, old in list(_RELAYS.items()):
                if isinstance(old.admission, RemoteAdmission) and old.admission.gone:
                    old.stop()
                    del _RELAYS[key]
            relay = _RELAYS.get(self.key)
            if relay is None:
                upstream = self.upstream or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT
                actor = self.actor
                admission = RemoteAdmission(actor, upstream)
                relay = Relay(
                    upstream,
                    admission,
                    on_throttle=lambda throttle: actor.report.remote(throttle),
                    on_quota=_asker(actor),
                    max_wait=self.max_wait,
                    wait_quota=self.wait_quota,
                )
                relay.start()
                threading.Thread(target=admission.keep_alive, name="orc-governor-lease", daemon=True).start()
                _RELAYS[self.key] = relay
            return relay


def _asker(actor: Any) -> Callable[[str, float], bool]:
    def ask(agent_id: str, until: float) -> bool:
        try:
            return bool(ray.get(actor.quota.remote(agent_id, until)))
        except ray.exceptions.RayError:
            return False

    return ask


class ReportPoller:
    """On the head: a thread that takes the actor's reports and hands them to the governor."""

    def __init__(
        self,
        actor: Any,
        on_throttle: Callable[[Throttle], None],
        on_quota: Callable[[str, float], bool],
    ) -> None:
        self.actor = actor
        self.on_throttle = on_throttle
        self.on_quota = on_quota
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="orc-governor-reports", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                reports = ray.get(self.actor.next_reports.remote(POLL))
            except ray.exceptions.RayError:
                return
            for report in reports:
                if report[0] == "throttle":
                    self.on_throttle(report[1])
                else:
                    _, number, agent_id, until = report
                    self.actor.answer.remote(number, self.on_quota(agent_id, until))

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(Exception):
            ray.get(self.actor.stop.remote(), timeout=5)
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            ray.kill(self.actor)
