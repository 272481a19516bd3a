"""The LLM planner: a planner agent reads the prompt and the roles and answers a dependency graph as JSON (#7).

It runs when the user asks for it (``--planner llm``) or when ``auto`` finds no template that fits the prompt. The
answer is checked like any plan (known roles, known dependencies, no cycle); a plan that cannot run goes back to
the same agent once, with the exact error, before orc gives up with that error.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence

import anyio

from orchestrator_core import (
    OpenAgent,
    Orchestrator,
    Plan,
    PlanError,
    Role,
    RunFailed,
    RuntimeUnavailable,
    TaskType,
    check_plan,
    plan_from_dict,
)

log = logging.getLogger("orc.planners")

#: ``--planner llm`` (the ``ORC_PLANNER`` setting): ask the planner agent whatever the task type.
LLM = "llm"
#: The role that plans.
PLANNER_ROLE = "planner"
#: Words in every request for a plan, so a scripted model can tell a plan request from a team turn.
ASK = "Answer with the plan as JSON only"
#: The shape the planner answers in, shown to it.
SHAPE = (
    '{"subtasks": [{"id": "1", "role": "analyst", "instruction": "...", "depends_on": []}, '
    '{"id": "2", "role": "builder", "instruction": "...", "depends_on": ["1"]}]}'
)
_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def unavailable(orc: Orchestrator) -> str | None:
    """Why no planner agent can plan here (no planner role, no runtime, no credentials), or None when one can.

    Asked before ``auto`` chooses the planner agent on its own, so a user with no credentials still gets a plan.
    """
    if PLANNER_ROLE not in orc.roles:
        return f"no plugin provides the {PLANNER_ROLE} role"
    if not orc.started and orc.config.get("ORC_SCRIPTED"):
        return None  # the scripted model, started with the Orchestrator, answers: no credentials needed
    runtime = orc.agents.runtime if orc.started else orc.pm.hook.orc_make_runtime(config=orc.config)
    if runtime is None:
        return "no agent runtime plugin is loaded"
    try:
        runtime.check()
    except RuntimeUnavailable as exc:
        return exc.message
    return None


def request(prompt: str, roles: Mapping[str, Role], template: TaskType | None) -> str:
    """The first message to the planner agent: the task, the roles it may use, and the shape of the answer."""
    lines = [
        f"Task: {prompt}",
        "",
        "Plan this task for a team of agents. Split it into subtasks; one agent of one role does each subtask. "
        "A subtask that depends on others starts after them and is given their results; subtasks that do not "
        "depend on each other may run side by side. Use only the agents the task needs.",
        "",
        "Roles you may use:",
        *(f"- {name}: {role.description}" for name, role in roles.items()),
    ]
    if template is not None:
        lines += ["", f"This is a {template.name} task; its usual team is: {template.description}"]
    lines += [
        "",
        f"{ASK}, no other text, in this shape (ids are short strings, depends_on lists ids of other subtasks):",
        SHAPE,
    ]
    return "\n".join(lines)


def retry(error: str) -> str:
    """The second message: the exact reason the first plan was refused."""
    return f"That plan cannot run: {error}. {ASK}, the whole corrected plan in the same shape:\n{SHAPE}"


def parse(answer: str, roles: Sequence[str], task_type: str = LLM) -> Plan:
    """The plan in the planner's answer (a fenced ```json block or bare JSON), checked.

    :raises PlanError: one line saying what is wrong: no JSON, bad JSON, a missing field, an unknown role, a
        dependency on an unknown subtask, a cycle.
    """
    fenced = _FENCE.search(answer)
    body = (fenced.group(1) if fenced else answer).strip()
    try:
        data = json.loads(body)
    except ValueError:
        start, end = body.find("{"), body.rfind("}")
        if start == -1:
            raise PlanError("the answer has no JSON object in it") from None
        try:  # a sentence before or after the object
            data = json.loads(body[start : end + 1] if end > start else body[start:])
        except ValueError as inner:
            raise PlanError(f"the answer is not valid JSON ({inner})") from None
    plan = plan_from_dict(data, "the plan")
    plan = Plan(plan.subtasks, task_type=task_type)
    check_plan(plan, roles)
    return plan


async def make_plan(
    prompt: str,
    task_type: str,
    roles: Sequence[str],
    task_types: Mapping[str, TaskType],
    orc: Orchestrator,
    cwd: str | None = None,
) -> Plan:
    """Ask a planner agent for the plan; ask it once more with the error if its plan cannot run.

    The agent goes through ``orc.agents``, so observers and the store see it and its cost like any agent's. It is
    deleted afterwards unless ``config.keep_agents``.

    :param roles: the roles the plan may use (``--roles``); empty for every registered role.
    :param cwd: where the planner agent works: the task's directory.
    :raises PlanError: the second plan cannot run either; the message is its error.
    :raises RunFailed: the planner agent could not answer (the model or the CLI failed).
    """
    allowed = {name: orc.roles[name] for name in (roles or orc.roles)}
    template = task_types.get(task_type)
    await orc.start()
    agent = orc.agents.create(PLANNER_ROLE, name=f"{PLANNER_ROLE} (plan)", cwd=cwd)
    try:
        async with orc.agents.open(agent.id) as planner:
            answer = await _ask(planner, request(prompt, allowed, template))
            try:
                return parse(answer, list(allowed), template.name if template else LLM)
            except PlanError as exc:
                log.info("the planner's first plan was refused: %s", exc.message)
                error = exc.message
            answer = await _ask(planner, retry(error))
            try:
                return parse(answer, list(allowed), template.name if template else LLM)
            except PlanError as exc:
                raise PlanError(
                    f"the planner agent's plan cannot run, even after it was told why: {exc.message}; try again, "
                    "or choose a template with --task-type (see `orc task-types`)"
                ) from None
    finally:
        if not orc.config.keep_agents:
            with anyio.CancelScope(shield=True):  # a cancelled plan still leaves no session behind
                await orc.agents.delete(agent.id)


async def _ask(planner: OpenAgent, message: str) -> str:
    turn = await planner.send(message)
    if turn.is_error:
        raise RunFailed(f"the planner agent {planner.agent_id} could not answer: {turn.error}")
    return turn.text
