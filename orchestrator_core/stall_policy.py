"""The default stall policy: what happens to an agent flagged ``stalled`` (#17).

The monitor flags ``stall`` once an agent has been silent for ``ORC_STALL_SECONDS`` (a warning), and ``stalled`` once
the silence has lasted ``ORC_STALL_INTERVALS`` times that, unless ``ORC_STALL_ACTION`` is ``warn``. This policy
answers ``stalled``: it stops the agent's turn, which ends as a failed turn whose error is the flag's message; with
``retry`` the retry policy runs the subtask again. Registered as ``orc-stall-policy`` by each Orchestrator that
starts; a plugin that answers ``orc_agent_flagged`` itself runs first, and ``-p no:orc-stall-policy`` removes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .agents import AgentManager
    from .records import Agent

NAME = "orc-stall-policy"


class StallPolicy:
    """Interrupts stalled agents of the Orchestrators that use it (one plugin manager may serve several)."""

    def __init__(self) -> None:
        self.managers: list[AgentManager] = []

    @hookimpl(trylast=True)
    def orc_agent_flagged(self, agent: Agent, kind: str, message: str) -> None:
        """trylast: the default; a plugin's own policy sees the flag first."""
        if kind != "stalled":
            return
        for manager in self.managers:
            action = manager.config.stall_action
            if action != "warn" and manager.interrupt(agent.id, message, retryable=action == "retry"):
                return
