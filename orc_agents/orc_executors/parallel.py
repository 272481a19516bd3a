"""``--mode parallel``: every subtask at once on the task alone (no upstream results), up to the parallel limit."""

from __future__ import annotations

import functools

import anyio

from orchestrator_core import Run


class ParallelExecutor:
    async def run(self, run: Run) -> None:
        async with anyio.create_task_group() as group:
            # A resumed task's succeeded subtasks already have their results (#17).
            for subtask in [s for s in run.plan.subtasks if s.id not in run.results]:
                group.start_soon(functools.partial(run.run_subtask, subtask, independent=True))
