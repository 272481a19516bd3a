"""The planning of a task, as spans: the task's own span starts when planning does, its ``plan`` span ends with the
plan; ``orc_task_started`` adopts the task span (found through a context variable: the planner runs in the same
asyncio task as the ``execute`` that then starts the task)."""

from __future__ import annotations

import contextvars
import inspect
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tracer import OtelTracer

#: The task being planned in this context (asyncio task): its span and its plan's, until ``orc_task_started``.
PLANNING: contextvars.ContextVar[Planning | None] = contextvars.ContextVar("orc_otel_planning", default=None)


class Planning:
    """The spans of a task being planned: the task's own (adopted by ``orc_task_started``) and the plan's."""

    def __init__(self, tracer: OtelTracer, root: Any, plan: Any) -> None:
        self.tracer = tracer
        self.root = root
        self.plan = plan
        self.adopted = False
        self.token = PLANNING.set(self)
        tracer.plannings.append(self)

    def failed(self, exc: BaseException) -> None:
        """The planner raised: the plan and the task that will not run end in error."""
        self.tracer.fail(self.plan, exc)
        self.tracer.fail(self.root, exc)
        self.plan.end()
        self.end_root()

    def end_root(self) -> None:
        if not self.adopted and self.root.is_recording():
            self.root.end()
        if PLANNING.get() is self:
            PLANNING.set(None)

    def answered(self, answer: Any) -> Any:
        """The planner's answer, with the plan span ended when the plan is there (now, or once awaited)."""
        if not inspect.isawaitable(answer):
            self.done(answer)
            return answer

        async def awaited() -> Any:
            try:
                plan = await answer
            except BaseException as exc:
                self.failed(exc)
                raise
            self.done(plan)
            return plan

        return awaited()

    def done(self, plan: Any) -> None:
        if plan is not None:
            subtasks = getattr(plan, "subtasks", ())
            self.plan.set_attribute("orc.plan.task_type", str(getattr(plan, "task_type", "")))
            self.plan.set_attribute("orc.plan.subtasks", len(subtasks))
            shape = [{"id": s.id, "role": s.role, "depends_on": list(s.depends_on)} for s in subtasks]
            self.plan.set_attribute("orc.plan", self.tracer.text(json.dumps(shape)))
            if self.tracer.content:
                steps = [{"id": s.id, "instruction": s.instruction} for s in subtasks]
                self.plan.set_attribute("orc.plan.instructions", self.tracer.content_text(json.dumps(steps)))
        self.plan.end()
