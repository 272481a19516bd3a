"""Big stores (#20): the list commands show a page of the newest rows, filtered, as real `orc` processes reading a
store built by the benchmark's own builder (bench/big_store.py: direct SQL through orc's migrations). How fast they
answer on 10,000 tasks and 100,000 agents is the benchmark's business; these tests check what they answer."""

import datetime as dt
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures import clean_env

BIN = Path(sys.executable).parent
TASKS, AGENTS_PER_TASK = 30, 3


def _builder():
    spec = importlib.util.spec_from_file_location(
        "big_store", Path(__file__).parents[1] / "bench" / "big_store.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """(store path, what the builder made, the moment it counted back from): 30 tasks, one every 4 minutes."""
    where = tmp_path_factory.mktemp("big")
    now = dt.datetime.now(dt.UTC)
    built = _builder().build(where / "orc.db", TASKS, AGENTS_PER_TASK, now=now)
    return where / "orc.db", built, now


def orc(store: Path, *args: str) -> subprocess.CompletedProcess:
    env = clean_env(store.parent, ORC_DISABLE_PLUGIN_AUTOLOAD="1", ORCHESTRATOR_DB_PATH=str(store))
    return subprocess.run(
        [str(BIN / "orc"), *args], cwd=store.parent, env=env, capture_output=True, text=True, timeout=60
    )


def listed(store: Path, *args: str) -> list[dict]:
    out = orc(store, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def task(n: int) -> str:
    return f"task-{n:08d}"


def test_list_tasks_shows_the_newest_20_and_says_how_to_see_more(big):
    store, built, _ = big
    out = orc(store, "list-tasks")
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()[1:]
    assert len(rows) == 20 and rows[0].startswith(task(29)) and rows[-1].startswith(task(10))
    assert out.stderr.strip() == "20 of 30 tasks shown, newest first; --limit N or --all for more"
    assert [t["id"] for t in listed(store, "list-tasks", "--limit", "3")] == [task(29), task(28), task(27)]
    everything = orc(store, "list-tasks", "--all", "--json")
    assert [t["id"] for t in json.loads(everything.stdout)] == [task(n) for n in range(29, -1, -1)]
    assert everything.stderr == ""  # nothing left out, nothing to say


def test_list_tasks_by_status_and_since(big):
    store, _, now = big
    assert [t["id"] for t in listed(store, "list-tasks", "--status", "failed")] == [
        task(23),
        task(13),
        task(3),
    ]
    assert [t["id"] for t in listed(store, "list-tasks", "--status", "running")] == [task(29)]
    # One task every 4 minutes back from `now`: 30 minutes back reaches task 23 (28 minutes old), not 22 (32).
    assert [t["id"] for t in listed(store, "list-tasks", "--since", "30m", "--all")] == [
        task(n) for n in range(29, 22, -1)
    ]
    # A moment given as a date and time (here with its UTC offset) counts from that moment, inclusive.
    moment = listed(store, "list-tasks", "--all")[4]["created_at"]
    assert [t["id"] for t in listed(store, "list-tasks", "--since", moment)] == [
        task(n) for n in range(29, 24, -1)
    ]
    assert len(listed(store, "list-tasks", "--since", "1d", "--all")) == TASKS
    assert listed(store, "list-tasks", "--since", (now + dt.timedelta(days=1)).date().isoformat()) == []


def test_list_agents_pages_and_filters_by_role_status_task_and_since(big):
    store, built, _ = big
    agents = listed(store, "list-agents")
    assert len(agents) == 20 and agents[0]["id"] == built["an_agent"]
    assert [a["created_at"] for a in agents] == sorted((a["created_at"] for a in agents), reverse=True)
    builders = listed(store, "list-agents", "--role", "planner", "--all")
    assert len(builders) == TASKS and {a["role"] for a in builders} == {"planner"}
    assert {(a["task_id"], a["status"]) for a in listed(store, "list-agents", "--status", "idle")} == {
        (task(7), "idle")
    }
    [failed] = listed(store, "list-agents", "--task", task(13), "--status", "failed")
    assert failed["role"] == "builder" and failed["task_id"] == task(
        13
    )  # the last of the failed task's three
    assert len(listed(store, "list-agents", "--task", task(13))) == AGENTS_PER_TASK
    # The newest task was made 4 minutes before `now`, its agents 10 seconds apart.
    assert {a["task_id"] for a in listed(store, "list-agents", "--since", "5m")} == {task(29)}
    hint = orc(store, "list-agents", "--limit", "2")
    assert hint.stderr.strip() == "2 of 90 agents shown, newest first; --limit N or --all for more"


def test_agents_list_is_the_same_command_as_list_agents(big):
    store, _, _ = big
    for args in ([], ["--role", "tester", "--limit", "4"], ["--task", task(3)]):
        assert listed(store, "agents", "list", *args) == listed(store, "list-agents", *args)
    help_text = orc(store, "--help").stdout
    assert re.search(r"list-agents\s+Alias of `orc agents list`\.", help_text)
    assert re.search(r"agent-details\s+Alias of `orc agents show`\.", help_text)

    def options(*command: str) -> list[str]:
        listing = orc(store, *command, "--help").stdout.split("Options:")[1]
        return re.findall(r"^  (--[a-z-]+)", listing, re.MULTILINE)

    assert options("agents", "list") == options("list-agents")
    assert sorted(options("agents", "show")) == sorted(options("agent-details"))


def test_the_session_fills_the_model_of_agents_that_named_none(big):
    """The builder gives no agent a model; each agent's session event names one, and the store fills it in."""
    store, _, _ = big
    agents = listed(store, "list-agents", "--all")
    assert len(agents) == TASKS * AGENTS_PER_TASK and {a["model"] for a in agents} == {"claude-sonnet-4-5"}
    plain = orc(store, "list-agents", "--limit", "1").stdout
    assert "claude-sonnet-4-5" in plain.splitlines()[1]


@pytest.mark.parametrize("value", ["yesterday", "2h ago", "-3d", "2026-13-40", ""])
def test_a_since_that_is_neither_a_date_nor_a_duration_is_one_line(big, value):
    store, _, _ = big
    for command in (["list-tasks"], ["list-agents"], ["agents", "list"]):
        out = orc(store, *command, "--since", value)
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr.strip().splitlines() == [
            f"Error: --since {value!r} is neither a date (2026-11-01, 2026-11-01T09:30) nor a duration "
            "(30m, 2h, 3d, 1w)"
        ]


def test_one_record_shape_per_task_and_agent_in_every_command(big):
    store, built, _ = big
    failed = task(13)
    [from_list] = [t for t in listed(store, "list-tasks", "--all") if t["id"] == failed]
    details = listed(store, "task-details", failed)
    assert (
        details["task"] == from_list and details["task"]["error"] == "subtask 3 (builder) failed: tests fail"
    )
    agents = {a["id"]: a for a in listed(store, "list-agents", "--task", failed)}
    assert {a["id"]: a for a in details["agents"]} == agents
    for agent_id, record in agents.items():
        assert listed(store, "agent-details", agent_id)["agent"] == record
        assert listed(store, "agents", "show", agent_id)["agent"] == record
