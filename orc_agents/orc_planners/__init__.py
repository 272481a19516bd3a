"""Planning: the seed's task types as templates, ``auto``, ``custom`` (``--roles``) and the LLM planner.

``auto`` picks a template from the prompt's words; when none fits, or with ``--planner llm``, a planner agent
makes the plan (:mod:`orc_agents.orc_planners.llm`). Without credentials for that agent, ``auto`` falls back to the
feature template with a warning. ``--planner llm`` and ``--planner template`` name the two ways. Disable with
``-p no:orc_planners`` (then another planner plugin must answer ``orc_make_plan``).
"""

from orchestrator_core import Plan, Subtask, hookimpl

from . import llm
from .templates import TASK_TYPES, choose_task_type, plan_from_template

#: The planner that never runs an agent: ``--planner template``.
TEMPLATE = "template"
#: What ``auto`` falls back to when the planner agent cannot run.
FALLBACK = "feature_implementation"


@hookimpl
def orc_register_task_types(register):
    for task_type in TASK_TYPES:
        register(task_type)


@hookimpl
def orc_register_planners(register):
    register(llm.LLM, ask_the_planner_agent)
    register(TEMPLATE, plan_from_templates)


def ask_the_planner_agent(prompt, task_type, roles, task_types, orc, cwd):
    """A planner agent reads the prompt and the roles and answers a dependency graph."""
    return llm.make_plan(prompt, task_type, roles, task_types, orc, cwd)


def plan_from_templates(prompt, task_type, roles, task_types, config, orc):
    """The task type's template (``auto``: the one the prompt's words choose); never runs an agent."""
    return _plan(prompt, task_type, roles, task_types, config, orc, None, agent=False)


@hookimpl(tryfirst=True)
def orc_scripted_model(model):
    """tryfirst: a plan request comes from a planner agent, whose role's own demo script would answer it too."""
    from . import scripted  # the demo's scripts: only when a scripted model starts

    model.script(scripted.scripts(), match=llm.ASK, name="planner (plan)")


@hookimpl(trylast=True)
def orc_make_plan(prompt, task_type, roles, task_types, config, orc, cwd):
    """trylast: a smarter planner plugin gets the first word; these are the fallback."""
    return _plan(prompt, task_type, roles, task_types, config, orc, cwd, agent=True)


def _plan(prompt, task_type, roles, task_types, config, orc, cwd, *, agent):
    """``custom``, ``auto`` and the templates; with ``agent``, ``auto`` may ask the planner agent."""
    if task_type == "custom" or (task_type == "auto" and roles):
        subtasks = [
            Subtask(
                str(i), role, f"Do the {role}'s part of the task.", depends_on=(str(i - 1),) if i > 1 else ()
            )
            for i, role in enumerate(roles, start=1)
        ]
        return Plan(subtasks, task_type="custom")
    if task_type == "auto":
        task_type = choose_task_type(prompt)
        if task_type is None and not agent:
            pass  # `--planner template`: the fallback template, no agent and nothing to say
        elif task_type is None and config.plan_only and not config.get("ORC_SCRIPTED"):
            # `orc plan` spends nothing unless asked (#20): a template, and how to ask for the planner agent.
            # (With --scripted the planner agent costs nothing, and the demo shows it.) Said only where the
            # template can run: otherwise the plan's own one-line error is all the user needs.
            fallback = task_types.get(FALLBACK)
            if fallback is not None and all(s.role in orc.roles for s in fallback.subtasks):
                llm.log.warning(
                    "no template fits the prompt; this plan uses the %s template and spent nothing; "
                    "`--planner llm` asks a planner agent for a dependency graph instead (it spends)",
                    FALLBACK,
                )
        elif task_type is None:
            reason = llm.unavailable(orc)
            if reason is None:
                return llm.make_plan(prompt, "auto", roles, task_types, orc, cwd)
            if llm.PLANNER_ROLE in orc.roles:  # without the role there is nobody to miss: no warning
                llm.log.warning(
                    "no template fits the prompt and the planner agent cannot run (%s); using the %s "
                    "template",
                    reason.rstrip("."),
                    FALLBACK,
                )
        task_type = task_type or FALLBACK
    template = task_types.get(task_type)
    return None if template is None else plan_from_template(template, prompt)
