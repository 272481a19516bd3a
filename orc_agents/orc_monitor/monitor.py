"""Monitor: watches every agent's events and status checks, and flags stalls and loops through ``orc_agent_flagged``.

Registered as ``"orc-monitor"`` whatever the ``progress`` setting, so library users (progress "off") get the flags
too: they are hooks other plugins act on (#9). Flags are raised on the run's event loop thread only, from
``orc_event`` (loops) and ``orc_status`` (stalls, every ``MONITOR_INTERVAL_SECONDS``); no thread of ours calls a
hook. A ``stall`` flag only warns; a ``stalled`` flag (the silence went on for ``ORC_STALL_INTERVALS`` stall periods,
unless ``ORC_STALL_ACTION`` is ``warn``) is acted on by the core's default stall policy, which interrupts the turn.
"""

from __future__ import annotations

import time

import pluggy

from orchestrator_core import Agent, AgentStatus, Config, Event, EventKind, StatusSnapshot, hookimpl
from orchestrator_core.plugins import notify

from .board import tool_target
from .detectors import LoopDetector, StallDetector, call_key


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 10 else f"{value:.1f}s"


class Monitor:
    """The stall and loop detectors of one Orchestrator, and the latest record of each agent they may flag."""

    def __init__(self, config: Config, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.stalls = StallDetector(
            config.stall_seconds, None if config.stall_action == "warn" else config.stall_intervals
        )
        self.stall_action = config.stall_action
        self.loops = LoopDetector(config.loop_repeats)
        self.agents: dict[str, Agent] = {}
        #: What each agent did last, for the stall message: a long tool call reads differently from a silent model.
        self.last: dict[str, str] = {}

    def _flag(self, agent: Agent, kind: str, message: str) -> None:
        notify(self.pm, "orc_agent_flagged", agent=agent, kind=kind, message=message)

    def _seen(self, agent: Agent) -> None:
        before = self.agents.get(agent.id)
        self.agents[agent.id] = agent
        if agent.status is AgentStatus.RUNNING and (
            before is None or before.status is not AgentStatus.RUNNING
        ):
            self.stalls.activity(agent.id, time.monotonic())
        elif agent.status is AgentStatus.DELETED:
            self.stalls.forget(agent.id)
            self.loops.forget(agent.id)
            self.last.pop(agent.id, None)

    @hookimpl
    def orc_agent_created(self, agent: Agent) -> None:
        self._seen(agent)

    @hookimpl
    def orc_agent_updated(self, agent: Agent) -> None:
        self._seen(agent)

    @hookimpl
    def orc_agent_deleted(self, agent: Agent) -> None:
        self._seen(agent)

    @hookimpl(trylast=True)
    def orc_event(self, event: Event) -> None:
        """trylast: the views show the tool call before the loop flag it causes."""
        self.stalls.activity(event.agent_id, time.monotonic())
        if event.kind is not EventKind.TOOL_CALL:
            self.last[event.agent_id] = f"its last event was {event.kind.value}"
            return
        name = str(event.payload.get("name") or "?")
        target = tool_target(event.payload.get("input"), width=40)
        self.last[event.agent_id] = f"waiting on its {name} call{f' ({target})' if target else ''}"
        seen = self.loops.tool_call(event.agent_id, name, event.payload.get("input"))
        agent = self.agents.get(event.agent_id)
        if seen is not None and agent is not None:
            call = call_key(name, event.payload.get("input"))
            self._flag(
                agent,
                "loop",
                f"made the same call {seen} times: {call if len(call) <= 100 else call[:99] + '…'}",
            )

    @hookimpl
    def orc_status(self, snapshot: StatusSnapshot) -> None:
        for agent in snapshot.agents:
            self.agents.setdefault(agent.id, agent)
        now = time.monotonic()
        for agent, silent, kind in self.stalls.check(snapshot.agents, now):
            limit = _seconds(self.stalls.stall_seconds)
            last = self.last.get(agent.id, "no event seen yet")
            if kind == "stall":
                self._flag(
                    agent, "stall", f"no event for {_seconds(silent)}, {last} (ORC_STALL_SECONDS is {limit})"
                )
            else:
                # The message is the reason the subtask records when the policy stops the turn.
                self._flag(
                    agent,
                    "stalled",
                    f"stalled: no event for {_seconds(silent)}, {last} (ORC_STALL_SECONDS "
                    f"is {limit}, ORC_STALL_INTERVALS {self.stalls.act_after}, "
                    f"ORC_STALL_ACTION {self.stall_action})",
                )
