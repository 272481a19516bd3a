import json

import pytest

from orchestrator_core import (
    Metrics,
    Plan,
    PlanError,
    StopReason,
    Subtask,
    TaskResult,
    TaskStatus,
    check_plan,
)

ROLES = {"analyst", "builder"}


def test_check_plan_accepts_a_chain():
    plan = Plan([Subtask("1", "analyst", "a"), Subtask("2", "builder", "b", depends_on=["1"])])
    check_plan(plan, ROLES)


@pytest.mark.parametrize(
    "subtasks, message",
    [
        ([], "no subtasks"),
        ([Subtask("1", "analyst", "a"), Subtask("1", "builder", "b")], "more than once"),
        ([Subtask("1", "wizard", "a")], "unknown role 'wizard'"),
        ([Subtask("1", "analyst", "a", depends_on=["9"])], "unknown subtask(s) 9"),
        (
            [Subtask("1", "analyst", "a", depends_on=["2"]), Subtask("2", "builder", "b", depends_on=["1"])],
            "cycle",
        ),
    ],
)
def test_check_plan_refuses(subtasks, message):
    with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_plan(Plan(subtasks), ROLES)


def test_dependents_are_transitive():
    plan = Plan(
        [
            Subtask("1", "analyst", "a"),
            Subtask("2", "builder", "b", depends_on=["1"]),
            Subtask("3", "builder", "c", depends_on=["2"]),
            Subtask("4", "builder", "d"),
        ]
    )
    assert [s.id for s in plan.dependents("1")] == ["2", "3"]


def test_metrics_add_flows_and_keep_the_latest_context():
    a = Metrics(
        cost_usd=0.5, input_tokens=10, output_tokens=2, tool_calls=1, context_used=100, context_window=1000
    )
    b = Metrics(cost_usd=0.25, input_tokens=5, output_tokens=1, context_used=300)
    total = a + b
    assert total.cost_usd == 0.75 and total.total_cost == 0.75
    assert total.input_tokens == 15 and total.output_tokens == 3 and total.tool_calls == 1
    assert total.total_tokens == 18
    assert (total.context_used, total.context_window) == (300, 1000)


def test_a_stop_reason_is_an_enum_written_as_its_old_string():
    result = TaskResult(
        "t", False, "", Metrics(), stopped="max_cost"
    )  # as a plugin or an old caller gives it
    assert result.stopped is StopReason.MAX_COST and result.stopped == "max_cost"
    assert json.loads(json.dumps(result.to_dict()))["stopped"] == "max_cost"
    assert [r for r in StopReason if r.is_limit] == [
        StopReason.MAX_COST,
        StopReason.MAX_AGENTS,
        StopReason.TIMEOUT,
    ]
    assert {r: r.task_status for r in (StopReason.FAIL_FAST, StopReason.ERROR, StopReason.POLICY)} == {
        StopReason.FAIL_FAST: TaskStatus.FAILED,
        StopReason.ERROR: TaskStatus.FAILED,
        StopReason.POLICY: TaskStatus.CANCELLED,
    }
    with pytest.raises(ValueError, match="'budget' is not a valid StopReason"):
        TaskResult("t", False, "", Metrics(), stopped="budget")


def test_files_read_add_up_as_distinct_paths():
    a = Metrics.of_files(["/w/a.py", "/w/b.py"], ["/w/out.py"], tool_calls=3)
    b = Metrics.of_files(["/w/b.py"], ["/w/out.py", "/w/new.py"], tool_calls=2)
    both = a + b
    assert (both.files_read, both.files_written, both.tool_calls) == (2, 2, 5)
    stored = Metrics(files_read=3)  # read back from the store: a count without its paths
    assert (stored + a).files_read == 5 and (a + stored + b).files_read == 5
    assert "read_paths" not in both.to_dict() and both.to_dict()["files_read"] == 2
    assert Metrics.of_files(["/x"]) == Metrics(files_read=1)  # records compare by their counts
