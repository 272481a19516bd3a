"""Governor: one relay per Orchestrator, its agents pointed at it, what it sees turned into events and stops."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

from orc_agents.orc_claude.private import UnsafePrivatePath, private_subdir
from orc_agents.orc_claude.trust import DEFAULT_ENDPOINT
from orchestrator_core import Agent, EventKind, Orchestrator, Role

from .admission import Admission, SharedState
from .relay import Relay, Throttle

ENABLED = "ORC_GOVERNOR"
MAX_WAIT = "ORC_GOVERNOR_MAX_WAIT"
WAIT = "ORC_GOVERNOR_WAIT"
PLUGIN_NAME = "orc-governor"
_log = logging.getLogger(__name__)


def _wait_quota(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def quota_message(task_id: str | None, until: float) -> str:
    """Why the run stopped and how to go on."""
    when = dt.datetime.fromtimestamp(until).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    then = f"`orc resume {task_id}`" if task_id else "`orc resume`"
    return (
        f"stopped: the model's usage limit is reached until {when}; carry on then with {then} "
        "(with --wait it waits for the limit to lift)"
    )


class Governor:
    """The relay of one Orchestrator and its agents' throttling, as events."""

    def __init__(self, orc: Orchestrator) -> None:
        self.orc = orc
        self.relay: Relay | None = None
        self.admission: Admission | None = None
        #: Agent id -> (throttled answers waited out, seconds waited for them).
        self.throttles: dict[str, tuple[int, float]] = {}
        #: Tasks stopped for a spent quota, and the Unix time it lifts.
        self.quota_stops: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._extra: Callable[[Agent, Role], Any] | None = None
        self._poller: Any = None

    def install(self, orc: Orchestrator) -> None:
        """Start the relay and give every session of ``orc``'s runtime its own URL on it."""
        if self.relay is not None or self._poller is not None:
            return
        self.orc = orc
        config = orc.config
        upstream = {**os.environ, **config.runtime_env}.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT
        try:
            folder = private_subdir("governor")
        except UnsafePrivatePath:
            return  # no session can open either: the runtime says why, in one line
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        if hasattr(orc.agents.runtime, "node_extras"):
            self._install_on_nodes(orc)
            return
        self.admission = Admission(config.max_parallel_agents, SharedState(folder, upstream))
        self.relay = Relay(
            upstream,
            self.admission,
            on_throttle=lambda throttle: self._on_loop(self._throttled, throttle),
            on_quota=self._on_quota,
            max_wait=float(config.get(MAX_WAIT, 300.0)),
            wait_quota=_wait_quota(config.get(WAIT, "false")),
        )
        self.relay.start()
        relay = self.relay

        def extra(agent: Agent, role: Role) -> Any:
            return contextlib.nullcontext({"env": {"ANTHROPIC_BASE_URL": relay.base_for(agent.id)}})

        self._extra = extra
        # orc_claude's runtime (the plugin checked it has them): not part of the AgentRuntime protocol.
        extras: list[Any] = getattr(orc.agents.runtime, "session_extras", [])
        extras.append(extra)

    def _install_on_nodes(self, orc: Orchestrator) -> None:
        """Agents on a Ray cluster: one admission per endpoint in an actor, a relay on each node (:mod:`.cluster`)."""
        import ray

        config = orc.config
        if not config.needs_model or not ray.is_initialized():
            return  # no model calls (deleting an agent): no cluster to connect to for them, nothing to govern
        from .cluster import NodeGovernor, ReportPoller, start_actor

        actor = start_actor(config.max_parallel_agents)
        self._poller = ReportPoller(
            actor,
            on_throttle=lambda throttle: self._on_loop(self._throttled, throttle),
            on_quota=self._on_quota,
        )
        self._poller.start()
        extra = NodeGovernor(
            key=uuid.uuid4().hex,
            actor=actor,
            upstream=config.runtime_env.get("ANTHROPIC_BASE_URL"),
            max_wait=float(config.get(MAX_WAIT, 300.0)),
            wait_quota=_wait_quota(config.get(WAIT, "false")),
        )
        self._extra = extra
        # orc_ray's runtime: extras that travel to the node a session opens on (not part of AgentRuntime).
        node_extras: list[Any] = getattr(orc.agents.runtime, "node_extras")  # noqa: B009
        node_extras.append(extra)

    def stats(self) -> dict[str, Any]:
        """Each model endpoint's :meth:`~.admission.Admission.snapshot` (on a cluster, the run's shared ones)."""
        if self._poller is not None:
            import ray

            return dict(ray.get(self._poller.actor.stats.remote()))
        if self.admission is None or self.relay is None:
            return {}
        return {self.relay.upstream.geturl(): self.admission.snapshot()}

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        extras = getattr(getattr(self.orc, "_agents", None), "runtime", None)
        for name in ("session_extras", "node_extras"):
            given = getattr(extras, name, None)
            if given is not None and self._extra in given:
                given.remove(self._extra)
        self._extra = None

    @property
    def concurrency(self) -> int:
        """Model requests allowed at once now."""
        return self.admission.allowed if self.admission is not None else 0

    def _on_loop(self, call: Callable[..., None], *args: Any) -> None:
        """Run ``call`` on the run's event loop (the relay's threads must not touch agents or hooks)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(call, *args)

    def _throttled(self, throttle: Throttle) -> None:
        count, waited = self.throttles.get(throttle.agent_id, (0, 0.0))
        self.throttles[throttle.agent_id] = (count + 1, waited + throttle.wait)
        agents = self.orc.agents.agents
        if throttle.agent_id not in agents:
            return
        self.orc.agents.emitter(throttle.agent_id)(
            EventKind.RETRY,
            {
                "by": "governor",
                "attempt": throttle.attempt,
                "error_status": throttle.status,
                "error": "rate_limited" if throttle.status == 429 else "overloaded",
                "retry_delay_ms": round(throttle.wait * 1000),
                "concurrency": throttle.concurrency,
            },
        )

    def _on_quota(self, agent_id: str, until: float) -> bool:
        """In a relay thread: stop the agent's run on the loop, if it is in one (a dict read: safe here)."""
        agent = self.orc.agents.agents.get(agent_id)
        if agent is None or agent.task_id is None or self._loop is None:
            return False
        self._on_loop(self._quota, agent_id, until)
        return True

    def _quota(self, agent_id: str, until: float) -> None:
        agent = self.orc.agents.agents.get(agent_id)
        task_id = agent.task_id if agent is not None else None
        if task_id is None or task_id in self.quota_stops:
            return
        self.quota_stops[task_id] = until
        message = quota_message(task_id, until)
        self.orc.flag_agent(agent_id, "quota", message)
        self.orc.stop_task(task_id, message, resumable=True)
