"""``--mode sequential``: one subtask at a time, in plan order (dependencies first)."""

from __future__ import annotations

from orchestrator_core import Run


class SequentialExecutor:
    async def run(self, run: Run) -> None:
        while ready := run.ready():
            await run.run_subtask(ready[0])
