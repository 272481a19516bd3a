"""An agent's conversation kept in orc's store, so it can be continued on any machine or node (#25).

The SDK's ``SessionStore`` interface (``ClaudeAgentOptions.session_store``) gets each line the CLI writes to the
session's transcript, and gives a session back before ``resume`` (the SDK writes it to a temporary config folder the
CLI resumes from). :class:`StoreSessions` is that interface over a :class:`Transcripts`: on the machine that runs orc,
:class:`HookTranscripts`, orc's transcript hooks (the store plugin answers them); on a Ray node, one that relays the
lines to the head (the head alone writes the store). Lines are redacted before they leave the session.
"""

from __future__ import annotations

from typing import Any, Protocol

from orchestrator_core import Agent
from orchestrator_core.secrets import Redactor


class Transcripts(Protocol):
    """Where sessions' transcript lines are kept."""

    def load(self, agent: Agent, session_id: str, subpath: str) -> list[dict[str, Any]] | None:
        """The lines kept for the session, in order; None if none are."""

    def append(self, agent: Agent, session_id: str, subpath: str, entries: list[dict[str, Any]]) -> None:
        """Keep more lines of the session, in order."""


class HookTranscripts:
    """Transcripts kept by whichever plugin answers ``orc_transcript_append`` / ``orc_transcript_load``."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def load(self, agent: Agent, session_id: str, subpath: str) -> list[dict[str, Any]] | None:
        return self.hook.orc_transcript_load(agent=agent, session_id=session_id, subpath=subpath)

    def append(self, agent: Agent, session_id: str, subpath: str, entries: list[dict[str, Any]]) -> None:
        self.hook.orc_transcript_append(agent=agent, session_id=session_id, subpath=subpath, entries=entries)


class StoreSessions:
    """The SDK's ``SessionStore`` (duck-typed: ``append`` and ``load``) for one agent's sessions.

    Deleting is not offered: the lines go with the agent (the store's ``orc_agent_deleted``).
    """

    def __init__(self, agent: Agent, transcripts: Transcripts, redact: Redactor) -> None:
        self.agent = agent
        self.transcripts = transcripts
        self.redact = redact

    async def append(self, key: Any, entries: list[Any]) -> None:
        # Redacted here, on the machine the session runs on: a node has secrets the head never sees (#16).
        self.transcripts.append(
            self.agent, key["session_id"], key.get("subpath") or "", self.redact.value(list(entries))
        )

    async def load(self, key: Any) -> list[Any] | None:
        return self.transcripts.load(self.agent, key["session_id"], key.get("subpath") or "")
