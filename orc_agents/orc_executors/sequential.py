"""``--mode sequential``: one subtask at a time, in plan order (dependencies first)."""

from __future__ import annotations

from orchestrator_core import Run


class SequentialExecutor:
    async def run(self, run: Run) -> None:
        while ready := run.ready():
            current = ready[0]
            # The next subtask in plan order whose only missing dependency is the current one: its session opens
            # while the current agent works.
            following = [
                s
                for s in run.plan.subtasks
                if s.id != current.id
                and s.id not in run.results
                and all(d in run.results or d == current.id for d in s.depends_on)
            ]
            await run.run_subtask(current, then=following[0] if following else None)
