"""``--mode parallel``: every subtask at once on the task alone (no upstream results), up to the parallel limit."""

from __future__ import annotations

import anyio

from orchestrator_core import Run


class ParallelExecutor:
    async def run(self, run: Run) -> None:
        async with anyio.create_task_group() as group:
            for subtask in run.plan.subtasks:
                group.start_soon(lambda s=subtask: run.run_subtask(s, independent=True))
