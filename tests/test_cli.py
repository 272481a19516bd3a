"""End to end: the installed ``orc`` command, run as a real process."""

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures import default_store

BIN = Path(sys.executable).parent


def orc(home, *args, program="orc", extra_env=None):
    cwd, env = home
    return subprocess.run(
        [str(BIN / program), *args],
        cwd=cwd,
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_version_and_both_names(home):
    short = orc(home, "--help")
    assert short.returncode == 0 and "execute" in short.stdout and "roles" in short.stdout
    assert orc(home, "-h", program="orchestrator").stdout == short.stdout.replace(
        "Usage: orc ", "Usage: orchestrator "
    )
    version = orc(home, "--version")
    assert version.returncode == 0 and version.stdout.startswith("orc, version ")


def test_help_imports_no_heavy_module(home):
    probe = textwrap.dedent(
        """
        import runpy, sys
        sys.argv = ["orc", "--help"]
        try:
            runpy.run_module("orchestrator_core.cli", run_name="__main__")
        except SystemExit:
            pass
        print(sorted(m for m in ("claude_agent_sdk", "datasette", "ray", "rich.live") if m in sys.modules))
        """
    )
    cwd, env = home
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_roles_lists_the_seven_with_their_plugin(home):
    out = orc(home, "roles", "--json")
    roles = json.loads(out.stdout)
    assert [r["name"] for r in roles] == [
        "analyst",
        "planner",
        "builder",
        "tester",
        "reviewer",
        "documenter",
        "scout",
    ]
    assert {r["provided_by"] for r in roles} == {"orc_roles"}
    readers = {r["name"]: r["tools"] for r in roles if r["name"] in ("reviewer", "analyst", "scout")}
    assert all(not {"Write", "Edit", "Bash"} & set(tools) for tools in readers.values())


def test_init_writes_the_settings_once(home):
    first = orc(home, "init")
    assert first.returncode == 0
    text = (home[0] / "orc.toml").read_text()
    assert "ORCHESTRATOR_MAX_PARALLEL_AGENTS = 5" in text and "MONITOR_INTERVAL_SECONDS = 15.0" in text
    again = orc(home, "init")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_scripted_execute_runs_the_team(home):
    work = home[0] / "work"
    work.mkdir()
    out = orc(home, "execute", "--scripted", "Add CSV export", "--cwd", str(work))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Success: 5/5 subtasks")
    assert "Cost: $" in out.stdout and "Output:" in out.stdout and "Approved" in out.stdout
    for role in ("analyst", "planner", "builder", "tester", "reviewer"):
        assert f"] {role}" in out.stderr
    assert "Write add_csv_export.py" in out.stderr
    assert (work / "add_csv_export.py").exists()
    assert not (home[0] / "orchestrator.db").exists() and not (work / "orchestrator.db").exists()
    db = sqlite3.connect(default_store(home[0].parent / "home"))
    assert db.execute("select status, success from tasks").fetchall() == [("succeeded", 1)]
    assert db.execute("select count(*) from agents where status = 'deleted'").fetchone()[0] == 5


def test_json_output(home):
    out = orc(home, "execute", "--scripted", "--roles", "scout", "--json", "look", "--cwd", str(home[0]))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["success"] is True and result["subtasks"][0]["role"] == "scout"
    assert result["metrics"]["total_tokens"] > 0
    assert out.stderr == ""


def test_store_can_be_disabled(home):
    out = orc(home, "-p", "no:orc_store", "execute", "--scripted", "--roles", "scout", "-q", "look")
    assert out.returncode == 0, out.stderr
    assert not default_store(home[0].parent / "home").exists()


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["execute", "--scripted", "-t", "poetry", "x"], 2, "unknown task type 'poetry'"),
        (["execute", "--scripted", "   "], 2, "the prompt is empty"),
        (["execute", "--scripted", "-m", "sideways", "x"], 2, "unknown execution mode 'sideways'"),
        (["execute", "--scripted", "--roles", "scout,wizard", "x"], 2, "unknown role(s) wizard"),
        (["execute", "--scripted", "x", "--cwd", "nowhere"], 2, "does not exist"),
        (
            ["execute", "--scripted", "--db", "missing/dir/o.db", "x"],
            5,
            "directory 'missing/dir' does not exist",
        ),
        (["-p", "no:orc_roles", "plan", "x"], 2, "unknown role"),
        (["-p", "orc_store", "roles"], 2, "-p takes no:NAME"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(home, args, code, words):
    out = orc(home, *args)
    assert out.returncode == code, out.stderr
    assert words in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not default_store(home[0].parent / "home").exists()


def test_bad_setting_names_it(home):
    out = orc(home, "execute", "--scripted", "x", extra_env={"ORCHESTRATOR_MAX_PARALLEL_AGENTS": "many"})
    assert out.returncode == 3
    assert "ORCHESTRATOR_MAX_PARALLEL_AGENTS='many'" in out.stderr


def test_no_credentials_says_how_to_fix(home):
    out = orc(home, "execute", "Add CSV export")
    assert out.returncode == 6
    assert "no Claude credentials" in out.stderr and "--scripted" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_plugin_that_fails_to_import_is_named(home, tmp_path):
    site = tmp_path / "site"
    (site / "orc_broken-1.0.dist-info").mkdir(parents=True)
    (site / "orc_broken-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: orc-broken\nVersion: 1.0\n"
    )
    (site / "orc_broken-1.0.dist-info" / "entry_points.txt").write_text("[orc]\nbroken = orc_broken_plugin\n")
    (site / "orc_broken_plugin.py").write_text("raise ImportError('needs a module that is not installed')\n")
    out = orc(home, "roles", extra_env={"PYTHONPATH": str(site), "ORC_DISABLE_PLUGIN_AUTOLOAD": ""})
    assert out.returncode == 4
    assert 'plugin "broken" (orc-broken 1.0) failed to load' in out.stderr
    assert "-p no:broken" in out.stderr
    assert "Traceback" not in out.stderr
    # ... and the way out it names works.
    ok = orc(
        home,
        "-p",
        "no:broken",
        "roles",
        extra_env={"PYTHONPATH": str(site), "ORC_DISABLE_PLUGIN_AUTOLOAD": ""},
    )
    assert ok.returncode == 0 and "analyst" in ok.stdout


def test_task_types_as_json(home):
    """#20: `orc task-types --json` lists every task type with its roles and the plugin that provides it."""
    out = orc(home, "task-types", "--json")
    assert out.returncode == 0, out.stderr
    types = {t["name"]: t for t in json.loads(out.stdout)}
    assert list(types)[:2] == ["auto", "custom"]
    assert types["feature_implementation"]["roles"] == ["analyst", "planner", "builder", "tester", "reviewer"]
    assert types["code_review"]["provided_by"] == "orc_planners"
    plain = orc(home, "task-types").stdout.splitlines()
    assert [line.split()[0] for line in plain] == list(types)


def test_mode_help_lists_the_registered_modes(home):
    out = orc(home, "execute", "--help")
    assert "How subtasks run: dag, parallel, sequential" in " ".join(out.stdout.split())
    without = orc(home, "-p", "no:orc_executors", "resume", "--help")
    assert "Modes:" not in without.stdout
