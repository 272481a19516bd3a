"""What `orc execute` prints when a task ends (orchestrator_core/summary.py, #20); end to end in test_interrupt.py,
test_live_view.py and test_worktree.py."""

import pytest

from orchestrator_core import Metrics, SubtaskResult, SubtaskStatus, TaskResult
from orchestrator_core.errors import ExitCode
from orchestrator_core.summary import exit_error, print_result, resume_command, summary_lines


def result(*statuses, stopped=None, error=None):
    subtasks = [
        SubtaskResult(
            str(i), role, SubtaskStatus(status), output=f"said by {role}" if status == "succeeded" else ""
        )
        for i, (role, status) in enumerate(statuses, start=1)
    ]
    success = all(s.succeeded for s in subtasks) and stopped is None
    return TaskResult(
        "task-1",
        success,
        subtasks[-1].output if success else "said by a planner",
        Metrics(cost_usd=0.5),
        subtasks,
        stopped=stopped,
        error=error,
    )


def test_a_stopped_task_lists_each_outcome_and_names_its_limit():
    stopped = result(
        ("scout", "succeeded"),
        ("builder", "failed"),
        ("tester", "skipped"),
        ("reviewer", "cancelled"),
        stopped="max_cost",
        error="stopped: the run cost $0.5000",
    )
    assert summary_lines(stopped)[:4] == [
        "Stopped at the cost limit (--max-cost): 1/4 subtasks succeeded, task task-1",
        "  succeeded: 1 scout",
        "  failed: 2 builder",
        "  cancelled: 4 reviewer",
    ]
    assert summary_lines(stopped)[4] == "  skipped: 3 tester"
    error = exit_error(stopped, "orc resume task-1")
    assert error.exit_code == ExitCode.LIMIT_REACHED
    assert error.message == "task task-1 stopped: the run cost $0.5000; carry on with `orc resume task-1`"
    assert exit_error(result(("scout", "succeeded"))) is None


def test_only_a_task_that_succeeded_has_an_output(capsys):
    print_result(result(("scout", "succeeded"), ("builder", "succeeded")), False, resume="orc resume task-1")
    done = capsys.readouterr().out
    assert done.startswith("Success: 2/2 subtasks, task task-1\n") and "Output:\nsaid by builder\n" in done
    assert "orc resume" not in done
    print_result(result(("planner", "succeeded"), ("builder", "failed")), False, resume="orc resume task-1")
    failed = capsys.readouterr().out
    assert "Output:" not in failed
    assert "Result of subtask 1 (planner), the last that succeeded:\nsaid by planner\n" in failed
    assert failed.endswith("Carry on with: orc resume task-1\n")


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({}, "orc resume task-1"),
        ({"db_path": "my runs/o.db"}, "orc resume task-1 --db 'my runs/o.db'"),
    ],
)
def test_the_resume_line_repeats_what_the_command_line_gave(kwargs, line):
    assert resume_command("task-1", **kwargs) == line
