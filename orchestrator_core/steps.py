"""The seed API's steps and dependencies as a :class:`Plan` (``execute_with_dependencies``).

Steps come as a :class:`Task` (its plan's subtasks), a :class:`Plan`, role names or ``AgentRole`` members,
``(role, instruction)`` pairs or :class:`Subtask` records; ``dependencies`` (step index -> the indices it waits
for) replaces their own ``depends_on``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import attrs

from .errors import PlanError, UsageError
from .records import Plan, Subtask, Task
from .task_request import role_name


@attrs.frozen
class Steps:
    """What ``execute_with_dependencies`` runs: the plan (task type ``custom``), its goal and where."""

    plan: Plan
    prompt: str
    cwd: str | os.PathLike[str] | None


def steps_plan(
    task: Task | Plan | str | Sequence[Any],
    dependencies: dict[int, Sequence[int]],
    *,
    roles: Sequence[Any] = (),
    prompt: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Steps:
    """Turn steps and their dependencies into a plan (see ``Orchestrator.execute_with_dependencies``).

    :raises PlanError: an unknown step index.
    :raises UsageError: no goal to give the agents.
    """
    if isinstance(task, Task):
        prompt = prompt or task.prompt
        steps: list[Any] = list(task.plan.subtasks if task.plan else roles)
        cwd = cwd or task.cwd
    elif isinstance(task, Plan):
        prompt = prompt or task.prompt
        steps = list(task.subtasks)
    elif isinstance(task, str):
        prompt, steps = prompt or task, list(roles)
    else:
        steps = list(task)
    unknown = sorted(set(dependencies) - set(range(len(steps))))
    if unknown:
        raise PlanError(
            f"dependencies name step(s) {unknown} but there are {len(steps)} steps (0 to {len(steps) - 1})"
        )
    # A (role, instruction) pair is the caller's own words; a role or a template's Subtask says nothing of
    # the goal, so the goal must come from somewhere: a Task, a Plan made for a prompt, or prompt=.
    vague = [s for s in steps if not isinstance(s, tuple)]
    if vague and not (prompt and prompt.strip()):
        role = vague[0].role if isinstance(vague[0], Subtask) else role_name(vague[0])
        raise UsageError(
            "execute_with_dependencies: give the task's goal (prompt=...), or a Task or Plan "
            f"made for it, so the {role} knows what to work on"
        )
    subtasks = []
    for i, step in enumerate(steps):
        after = [str(d) for d in dependencies.get(i, ())]
        if isinstance(step, Subtask):
            subtasks.append(attrs.evolve(step, id=str(i), depends_on=after))
        elif isinstance(step, tuple):
            subtasks.append(Subtask(str(i), role_name(step[0]), str(step[1]), after))
        else:
            subtasks.append(Subtask(str(i), role_name(step), f"As the {role_name(step)}: {prompt}", after))
    text = prompt or "; ".join(s.instruction for s in subtasks)
    return Steps(Plan(subtasks, task_type="custom"), text, cwd)
