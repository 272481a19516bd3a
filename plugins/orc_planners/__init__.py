"""Template planning: the seed's task types, ``auto`` (a keyword choice for now) and ``custom`` (``--roles``).

Disable with ``-p no:orc_planners`` (then another planner plugin must answer ``orc_make_plan``).
"""

from orchestrator_core import Plan, Subtask, hookimpl

from .templates import TASK_TYPES, choose_task_type


@hookimpl
def orc_register_task_types(register):
    for task_type in TASK_TYPES:
        register(task_type)


@hookimpl(trylast=True)
def orc_make_plan(prompt, task_type, roles, task_types, config):
    """trylast: a smarter planner plugin gets the first word; templates are the fallback."""
    if task_type == "custom" or (task_type == "auto" and roles):
        subtasks = [
            Subtask(str(i), role, f"Do the {role}'s part of the task.", depends_on=(str(i - 1),) if i > 1 else ())
            for i, role in enumerate(roles, start=1)
        ]
        return Plan(subtasks, task_type="custom")
    if task_type == "auto":
        task_type = choose_task_type(prompt)
    template = task_types.get(task_type)
    if template is None:
        return None
    return Plan(
        [Subtask(s.id, s.role, s.instruction.format(prompt=prompt), s.depends_on) for s in template.subtasks],
        task_type=template.name,
    )
