"""End to end: the store's read commands (`orc status`, `list-tasks`, `task-details`, `list-agents`,
`agent-details`) as real `orc` processes, reading the store a real `orc execute --scripted` wrote."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def environment(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_"))
    }
    env.pop("XDG_DATA_HOME", None)
    env.update(HOME=str(tmp / "home"), ORC_DISABLE_PLUGIN_AUTOLOAD="1")
    return env


def orc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "orc"), *args],
        cwd=cwd,
        env=env or environment(cwd),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A directory whose user's default store holds one scripted feature run: (cwd, task result JSON)."""
    cwd = tmp_path_factory.mktemp("recorded")
    (cwd / "work").mkdir()
    out = orc(cwd, "execute", "--scripted", "--json", "Add CSV export", "--cwd", "work")
    assert out.returncode == 0, out.stderr
    return cwd, json.loads(out.stdout)


def as_json(cwd, *args, env=None):
    out = orc(cwd, *args, "--json", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_status_shows_the_fleet(recorded):
    cwd, result = recorded
    fleet = as_json(cwd, "status")
    assert fleet["totals"]["tasks"] == 1 and fleet["totals"]["agents"] == 5
    assert fleet["totals"]["cost_usd"] == pytest.approx(result["metrics"]["cost_usd"])
    assert fleet["totals"]["total_tokens"] == result["metrics"]["total_tokens"]
    assert {(r["role"], r["status"]) for r in fleet["by_role_and_status"]} == {
        (role, "deleted") for role in ("analyst", "planner", "builder", "tester", "reviewer")
    }
    assert fleet["files"] == {"files_consumed": 1, "files_produced": 1}
    plain = orc(cwd, "status")
    assert plain.returncode == 0
    assert "1 consumed, 1 produced" in plain.stdout and "builder" in plain.stdout
    assert "\x1b[" not in plain.stdout and "┃" not in plain.stdout  # not a terminal: plain text


def test_list_tasks_and_task_details(recorded):
    cwd, result = recorded
    [task] = as_json(cwd, "list-tasks")
    assert (task["id"], task["status"], task["succeeded"], task["subtasks"]) == (
        result["task_id"],
        "succeeded",
        5,
        5,
    )
    details = as_json(cwd, "task-details", result["task_id"])
    assert details["task"] == task  # one shape for a task record in every command (#20)
    assert details["plan"]["task_type"] == "feature_implementation"
    assert details["output"] == result["output"]
    assert [(s["id"], s["role"], s["status"]) for s in details["subtasks"]] == [
        (s["subtask_id"], s["role"], "succeeded") for s in result["subtasks"]
    ]
    assert [a["id"] for a in details["agents"]] == [s["agent_id"] for s in result["subtasks"]]
    written = [f for f in details["files"] if "write" in f["operations"]]
    assert [Path(f["path"]).name for f in written] == ["add_csv_export.py"]
    plain = orc(cwd, "task-details", result["task_id"])
    assert "Subtasks" in plain.stdout and "add_csv_export.py" in plain.stdout
    assert "Output:\n" + result["output"] in plain.stdout
    assert "error:" not in plain.stdout  # a task that succeeded has no error line (#20)


def test_list_agents_filters_and_agent_details(recorded):
    cwd, result = recorded
    agents = as_json(cwd, "list-agents")
    assert len(agents) == 5 and agents[0]["role"] == "reviewer"  # newest first
    [builder] = as_json(cwd, "list-agents", "--role", "builder", "--status", "deleted")
    assert as_json(cwd, "list-agents", "--status", "running") == []
    details = as_json(cwd, "agent-details", builder["id"])
    assert details["agent"] == builder  # one shape for an agent record in every command (#20)
    assert details["agent"]["role"] == "builder" and details["agent"]["started"] is True
    task = as_json(cwd, "task-details", result["task_id"])
    assert next(a for a in task["agents"] if a["id"] == builder["id"]) == builder
    assert details["context_usage"]["window_tokens"] > 0
    assert [t["name"] for t in details["tool_calls"]] == ["Write"]
    expected = next(s for s in result["subtasks"] if s["role"] == "builder")["metrics"]
    assert details["agent"]["total_tokens"] == expected["total_tokens"]
    plain = orc(cwd, "agent-details", builder["id"])
    assert "context:" in plain.stdout and "Write" in plain.stdout


def test_watch_prints_a_finished_task_and_ends(recorded):
    cwd, result = recorded
    out = orc(cwd, "watch", result["task_id"])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == f"task {result['task_id']} succeeded"
    assert any("tool_call: Write" in line for line in lines)
    events = [json.loads(line) for line in orc(cwd, "watch", result["task_id"], "--json").stdout.splitlines()]
    assert len(events) == len(lines) - 1 and events[0]["kind"] == "message"


def test_db_option_and_environment_choose_the_store(recorded, tmp_path):
    cwd, result = recorded
    db = str(cwd / "home" / ".local" / "share" / "orc" / "orchestrator.db")
    assert as_json(tmp_path, "list-tasks", "--db", db)[0]["id"] == result["task_id"]
    env = {**environment(tmp_path), "ORCHESTRATOR_DB_PATH": db}
    assert as_json(tmp_path, "list-tasks", env=env)[0]["id"] == result["task_id"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["task-details", "task-nope"], "no task 'task-nope' in the run store"),
        (["agent-details", "scout-nope"], "no agent 'scout-nope' in the run store"),
        (["watch", "task-nope"], "no task 'task-nope'"),
    ],
)
def test_unknown_ids_are_a_one_line_usage_error(recorded, args, words):
    cwd, _ = recorded
    out = orc(cwd, *args)
    assert out.returncode == 2
    assert words in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["list-tasks"],
        ["task-details", "x"],
        ["list-agents"],
        ["agent-details", "x"],
        ["watch", "x"],
        ["browse", "--port", "0"],
    ],
)
def test_a_missing_store_is_one_line_and_is_not_created(tmp_path, args):
    out = orc(tmp_path, *args)
    assert out.returncode == 5, out.stderr
    assert f"no run store at '{tmp_path}/home/.local/share/orc/orchestrator.db'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_status_with_no_store_says_nothing_ran_yet(tmp_path):
    """#20: `orc status` where nothing was recorded is an answer, exit 0, and makes no store."""
    out = orc(tmp_path, "status")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("no runs recorded yet") and out.stderr == ""
    fleet = as_json(tmp_path, "status")
    assert fleet["totals"]["tasks"] == 0 and fleet["by_role_and_status"] == []
    assert list(tmp_path.iterdir()) == []
