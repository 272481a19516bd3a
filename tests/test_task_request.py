"""A task's request is checked once, in one place (#18): ``check_request`` and ``TaskRequest.with_plan``."""

import pytest

from orchestrator_core import AgentRole, Plan, PlanError, Subtask, UsageError
from orchestrator_core.task_request import check_request

KNOWN = {"known_roles": ("scout", "builder"), "task_types": ("bug_fix",), "executors": ("sequential", "dag")}
PLAN = Plan([Subtask("1", "scout", "Look.")], task_type="llm", prompt="Find the bug")


def test_auto_with_roles_is_custom_and_the_rest_is_resolved(tmp_path):
    request = check_request("x", "auto", [AgentRole.SCOUT, "builder"], cwd=tmp_path, mode="dag", **KNOWN)
    assert (request.task_type, request.roles, request.mode) == ("custom", ("scout", "builder"), "dag")
    assert request.cwd == str(tmp_path.resolve()) and request.plan is None
    assert check_request("x", "bug_fix", cwd=tmp_path, **KNOWN).task_type == "bug_fix"


@pytest.mark.parametrize(
    "args, kw, words",
    [
        (("  ",), {}, "the prompt is empty"),
        (("x", "auto", ["wizard"]), {}, "unknown role(s) wizard"),
        (("x", "poetry"), {}, "unknown task type 'poetry'; choose one of: auto, bug_fix, custom"),
        (("x", "custom"), {}, "task type 'custom' needs the roles"),
        (("x",), {"mode": "sideways"}, "unknown execution mode 'sideways'; choose one of: dag, sequential"),
        (("x",), {"cwd": "nowhere"}, "does not exist; create it or pass another --cwd"),
        ((None,), {"plan": Plan([Subtask("1", "scout", "Look.")])}, "the plan does not say what the task is"),
    ],
)
def test_each_bad_request_is_one_usage_error(tmp_path, monkeypatch, args, kw, words):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        check_request(*args, **{**KNOWN, **kw})
    assert words in caught.value.message and "\n" not in caught.value.message


def test_a_given_plan_decides_the_team_and_carries_its_prompt(tmp_path):
    request = check_request(None, "bug_fix", ["wizard"], cwd=tmp_path, mode="dag", plan=PLAN, **KNOWN)
    assert (request.prompt, request.task_type, request.plan) == ("Find the bug", "llm", PLAN)
    own = check_request("Mine", cwd=tmp_path, plan=Plan([Subtask("1", "scout", "Look.")]), **KNOWN)
    assert own.plan.prompt == "Mine"
    with pytest.raises(PlanError, match="unknown role 'builderx'"):
        check_request("x", cwd=tmp_path, plan=Plan([Subtask("1", "builderx", "Build.")]), **KNOWN)
    with pytest.raises(PlanError, match="no planner made a plan for task type 'bug_fix'"):
        check_request("x", "bug_fix", cwd=tmp_path, **KNOWN).with_plan(None, KNOWN["known_roles"])
