"""Stall and loop detection: pure bookkeeping, told what happened and when, answering what to flag.

Neither detector calls a hook; :class:`~orc_agents.orc_monitor.monitor.Monitor` does, on the run's event loop thread.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable

from orchestrator_core import Agent, AgentStatus


class StallDetector:
    """Flags a running agent that has shown no event for ``stall_seconds`` (``stall``), once per silence; and, with
    ``act_after``, once more when the silence reaches ``act_after`` times that (``stalled``: time to act, #17)."""

    def __init__(self, stall_seconds: float, act_after: int | None = None) -> None:
        self.stall_seconds = stall_seconds
        self.act_after = act_after
        self._last: dict[str, float] = {}
        self._flagged: dict[str, set[str]] = {}

    def activity(self, agent_id: str, now: float) -> None:
        """The agent did something (an event, or it was given a message): its silence starts again."""
        self._last[agent_id] = now
        self._flagged.pop(agent_id, None)

    def forget(self, agent_id: str) -> None:
        self._last.pop(agent_id, None)
        self._flagged.pop(agent_id, None)

    def check(self, agents: Iterable[Agent], now: float) -> list[tuple[Agent, float, str]]:
        """The running agents to flag now, with their silence and the kind: ``stall`` or ``stalled``."""
        found = []
        for agent in agents:
            if agent.status is not AgentStatus.RUNNING:
                continue
            # An agent first seen here (its events went unseen) is silent from now on.
            silent = now - self._last.setdefault(agent.id, now)
            flagged = self._flagged.setdefault(agent.id, set())
            for kind, limit in (("stall", 1), ("stalled", self.act_after)):
                if limit is not None and kind not in flagged and silent >= limit * self.stall_seconds:
                    flagged.add(kind)
                    found.append((agent, silent, kind))
        return found


def call_key(name: str, tool_input: object) -> str:
    """A tool call's identity: its name and its input, with keys sorted."""
    return f"{name} {json.dumps(tool_input, sort_keys=True, default=str)}"


class LoopDetector:
    """Flags an agent whose recent tool calls hold the same call (name and input) ``repeats`` times.

    "Recent" is the agent's last ``max(10, 3 * repeats)`` tool calls, so a call repeated with other calls in
    between (A B A B A) counts, while a file read again much later, after real work, does not. Each distinct
    repeated call is flagged once per agent.
    """

    def __init__(self, repeats: int) -> None:
        self.repeats = repeats
        self.window = max(10, 3 * repeats)
        self._recent: dict[str, deque[str]] = {}
        self._flagged: dict[str, set[str]] = {}

    def forget(self, agent_id: str) -> None:
        self._recent.pop(agent_id, None)
        self._flagged.pop(agent_id, None)

    def tool_call(self, agent_id: str, name: str, tool_input: object) -> int | None:
        """Record a call; the number of times it was seen if that makes it a loop not flagged yet, else None."""
        key = call_key(name, tool_input)
        recent = self._recent.setdefault(agent_id, deque(maxlen=self.window))
        recent.append(key)
        seen = Counter(recent)[key]
        flagged = self._flagged.setdefault(agent_id, set())
        if seen >= self.repeats and key not in flagged:
            flagged.add(key)
            return seen
        return None
