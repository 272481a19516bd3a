"""What a task asks for, checked once before anything is spent (#18): the prompt, the team, the mode, the place.

Every way in (:meth:`Orchestrator.execute <orchestrator_core.Orchestrator.execute>`, ``plan``, ``make_plan``, and
so ``orc execute`` and ``orc plan``) makes a :class:`TaskRequest` with :func:`check_request`; nothing after it
checks the prompt, the task type, the roles, the mode or the working directory again. A plan, given or made by
the planners, joins the request through :meth:`TaskRequest.with_plan`, which checks it (:func:`check_plan`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs

from .errors import PlanError, UsageError
from .records import Plan, check_plan

#: Task types every Orchestrator understands, whatever plugins add: choose for me, and "the roles I named".
BUILTIN_TASK_TYPES = ("auto", "custom")


def role_name(role: Any) -> str:
    """A role's name, from the name itself or an enum member such as ``AgentRole.SCOUT``."""
    return str(getattr(role, "value", role))


@attrs.frozen
class TaskRequest:
    """A task as asked for, checked: made by :func:`check_request`, never by hand.

    ``task_type`` is resolved (``auto`` with roles is ``custom``), ``cwd`` is an absolute path to an existing
    directory, ``mode`` is a registered executor's name (None when the request is only to plan), and ``plan``,
    once set, is a plan that can run.
    """

    prompt: str
    task_type: str
    roles: tuple[str, ...]
    cwd: str
    mode: str | None = None
    plan: Plan | None = None

    def with_plan(self, plan: Plan | None, roles: Collection[str]) -> TaskRequest:
        """This request with ``plan`` (the planners' answer), checked against the ``roles`` registered.

        :raises PlanError: no planner answered, or the plan cannot run.
        """
        if plan is None:
            raise PlanError(
                f"no planner made a plan for task type {self.task_type!r}; is a planner plugin disabled?"
            )
        check_plan(plan, roles)
        return attrs.evolve(self, plan=plan if plan.prompt else attrs.evolve(plan, prompt=self.prompt))


def check_request(
    prompt: str | None,
    task_type: str = "auto",
    roles: Sequence[Any] = (),
    *,
    cwd: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    plan: Plan | None = None,
    known_roles: Collection[str],
    task_types: Collection[str],
    executors: Collection[str] | None = None,
) -> TaskRequest:
    """Check what a task asks for, each thing once, and return it as a :class:`TaskRequest`.

    :param prompt: the task's goal; with ``plan``, may be left out when the plan carries it.
    :param task_type: a registered task type, ``auto`` (``custom`` when ``roles`` are given) or ``custom``.
        Ignored with ``plan``: the plan decides the team.
    :param roles: the roles to run (names or ``AgentRole`` members), in order.
    :param cwd: the task's working directory (default: the current one).
    :param mode: the executor to run the plan with; None to only plan.
    :param plan: a plan to run instead of asking the planners.
    :param known_roles: the registered roles' names.
    :param task_types: the registered task types' names.
    :param executors: the registered executors' names (needed with ``mode``).
    :raises UsageError: an empty prompt, an unknown role, task type or mode, a directory that does not exist.
    :raises PlanError: a given plan that cannot run.
    """
    names = tuple(role_name(r) for r in roles)
    if plan is not None:
        prompt = prompt or plan.prompt or ""
        if not prompt.strip():
            raise UsageError(
                'the plan does not say what the task is (no "prompt"); give it as PROMPT, or make the plan '
                "with `orc plan PROMPT --output`"
            )
        task_type = plan.task_type
    else:
        if not prompt or not prompt.strip():
            raise UsageError(
                'the prompt is empty; say what the agents should do, e.g. orc execute "Add CSV export"'
            )
        unknown = [r for r in names if r not in known_roles]
        if unknown:
            raise UsageError(
                f"unknown role(s) {', '.join(unknown)}; known roles: {', '.join(sorted(known_roles))} "
                "(see `orc roles`)"
            )
        if task_type not in task_types and task_type not in BUILTIN_TASK_TYPES:
            known = sorted({*task_types, *BUILTIN_TASK_TYPES})
            raise UsageError(f"unknown task type {task_type!r}; choose one of: {', '.join(known)}")
        if names and task_type == "auto":
            task_type = "custom"
        if task_type == "custom" and not names:
            raise UsageError("task type 'custom' needs the roles to run, e.g. --roles scout,builder,reviewer")
    if mode is not None:
        check_mode(mode, executors or ())
    workdir = Path(cwd or ".").resolve()
    if not workdir.is_dir():
        raise UsageError(
            f"working directory {str(workdir)!r} does not exist; create it or pass another --cwd"
        )
    request = TaskRequest(prompt, task_type, names, str(workdir), mode)
    return request.with_plan(plan, known_roles) if plan is not None else request


def check_mode(mode: str, executors: Collection[str]) -> str:
    """``mode`` if an executor of that name is registered.

    :raises UsageError: no such executor, naming those there are.
    """
    if mode not in executors:
        raise UsageError(f"unknown execution mode {mode!r}; choose one of: {', '.join(sorted(executors))}")
    return mode
