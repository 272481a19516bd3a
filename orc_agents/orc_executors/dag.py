"""``--mode dag``: each subtask starts as soon as everything it depends on has ended, side by side."""

from __future__ import annotations

import anyio

from orchestrator_core import Run, Subtask


class DagExecutor:
    async def run(self, run: Run) -> None:
        started: set[str] = set()
        async with anyio.create_task_group() as group:

            def launch() -> None:
                for subtask in run.ready():
                    if subtask.id not in started:
                        started.add(subtask.id)
                        group.start_soon(one, subtask)

            async def one(subtask: Subtask) -> None:
                await run.run_subtask(subtask)
                launch()

            launch()
