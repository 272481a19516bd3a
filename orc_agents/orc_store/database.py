"""Database: the seed's Python API to a run store (``await db.list_agents(role="scout")``, costs, ...).

It shares the process's writer with any running Orchestrator on the same file, so what it saves is ordered with
the run's own rows, and every read sees them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio

from orchestrator_core import Agent, StoreError, load_config
from orchestrator_core.secrets import secrets_in

from . import queries, rows, writer
from .opening import open_database


class Database:
    """A run store file. ``await db.connect()`` before use; ``await db.close()`` (or ``async with``) after.

    :param path: the SQLite file (created and migrated by :meth:`connect` if missing); default: orc's own
        (``~/.local/share/orc/orchestrator.db``, see ORCHESTRATOR_DB_PATH).
    :param cost_tracking: record cost and token values (ENABLE_COST_TRACKING).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, cost_tracking: bool = True) -> None:
        self.path = Path(path) if path is not None else load_config().db_path
        self.cost_tracking = cost_tracking
        self._db: Any = None
        self._writer: writer.Writer | None = None
        self._lost_before = 0

    async def connect(self) -> Database:
        if self._db is None:
            self._db = await anyio.to_thread.run_sync(open_database, self.path)
            self._writer = writer.acquire(self.path, secrets_in(os.environ))
            self._lost_before = sum(self._writer.lost.values())
        return self

    async def close(self) -> None:
        """Flush and close. :raises StoreError: a row saved through this Database was not written (#17)."""
        if self._writer is not None:
            used, lost_before = self._writer, self._lost_before
            await anyio.to_thread.run_sync(writer.release, used)
            self._db.close()
            self._db = self._writer = None
            lost = sum(used.lost.values()) - lost_before
            if lost:
                reason = used.fatal or (used.errors[-1] if used.errors else "unknown")
                raise StoreError(f"the run store {str(self.path)!r} lost {lost} rows: {reason}")

    async def __aenter__(self) -> Database:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _read(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        if self._writer is None:
            raise StoreError(
                f"the run store {str(self.path)!r} is not connected; call `await db.connect()` first"
            )
        await anyio.to_thread.run_sync(self._writer.flush)
        return query(self._db, *args, **kwargs)

    async def save_agent(self, agent: Agent) -> None:
        """Insert or update ``agent``'s row (its metrics too)."""
        if self._writer is None:
            raise StoreError(
                f"the run store {str(self.path)!r} is not connected; call `await db.connect()` first"
            )
        self._writer.state("agents", rows.agent_row(agent, self.cost_tracking, agent.created_at.isoformat()))
        await anyio.to_thread.run_sync(self._writer.flush)

    async def get_agent(self, agent_id: str) -> Agent | None:
        return await self._read(queries.find_agent, agent_id)

    async def list_agents(self, role: Any = None, status: Any = None) -> list[Agent]:
        """Recorded agents, newest first, optionally of one role and/or status."""
        role = getattr(role, "value", role)
        status = getattr(status, "value", status)
        return await self._read(queries.agents, role=role, status=status)

    async def get_total_cost(self) -> float:
        """Total cost in USD of every recorded agent."""
        return await self._read(queries.total_cost)

    async def get_cost_by_role(self) -> dict[str, float]:
        """Cost in USD per role, most expensive first."""
        return await self._read(queries.cost_by_role)

    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        """A task as ``orc task-details --json`` shows it (task, plan, output, subtasks, agents, files), or None."""
        return await self._read(queries.task_details, task_id)

    async def get_conversation(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's messages and tool calls (input and result) in its order; empty for an unknown agent."""
        return await self._read(queries.conversation, agent_id)

    async def get_agent_result(self, agent_id: str) -> str | None:
        """The agent's latest result: its latest subtask's output, else its last answer; None if it has none."""
        return await self._read(queries.agent_result, agent_id)
