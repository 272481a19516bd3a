"""What :meth:`Orchestrator.create_agent` returns: the agent's id, which also works as the agent (#19).

The seed API used it both ways: ``scout_id = await orchestrator.create_agent(...)`` then
``send_to_agent(scout_id, ...)``, and ``agent = await orchestrator.create_agent(...)`` then
``await agent.execute_task(...)``. An :class:`AgentHandle` is a ``str`` equal to the id (it prints, compares,
hashes, serialises and binds in SQLite as the id) and reads the agent's current record for everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .records import Agent

if TYPE_CHECKING:
    from .orchestrator import Orchestrator


class AgentHandle(str):
    """An agent's id that also answers for the agent: ``.name``, ``.role``, ``.status``, ``.metrics``, ...
    (read from its record now, not when it was created), :meth:`execute_task` and
    :meth:`get_context_window_usage`.
    """

    __slots__ = ("_orc",)
    _orc: Orchestrator

    def __new__(cls, orc: Orchestrator, agent_id: str) -> AgentHandle:
        handle = super().__new__(cls, agent_id)
        handle._orc = orc
        return handle

    @property
    def agent_id(self) -> str:
        """The id as a plain ``str``."""
        return str(self)

    @property
    def id(self) -> str:
        return str(self)

    @property
    def record(self) -> Agent:
        """The agent's record as it is now."""
        return self._orc.agents.get(str(self))

    def __getattr__(self, name: str) -> Any:
        # Only for names str does not have: the record's fields (name, role, status, session_id, metrics, ...).
        if name.startswith("__") or name == "_orc":
            raise AttributeError(name)
        return getattr(self.record, name)

    async def execute_task(self, message: str) -> str:
        """Send ``message`` to the agent and return its answer (:meth:`Orchestrator.send_to_agent`)."""
        return await self._orc.send_to_agent(str(self), message)

    def get_context_window_usage(self) -> dict[str, Any]:
        """``used_tokens``, ``window_tokens`` and ``usage_percentage`` after the agent's latest turn."""
        return self.record.context_usage

    def to_dict(self) -> dict[str, Any]:
        return self.record.to_dict()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (sent to another process) it is the id alone: the Orchestrator stays here.
        return (str, (str(self),))
