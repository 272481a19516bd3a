"""Ctrl-C and SIGTERM on a real `orc execute` process: agents interrupted, no CLI process left, task cancelled."""

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures import alive, clean_env, rows, wait_for

BIN = Path(sys.executable).parent

SLOW_ROLE_PLUGIN = """
from orchestrator_core import Role, hookimpl
from orchestrator_core.testing import Reply, Text

PROMPT = "You are the sleeper of the team: you take your time."

@hookimpl
def orc_register_roles(register):
    register(Role("sleeper", "Answers after a minute.", PROMPT, tools=("Read",)))

@hookimpl
def orc_scripted_model(model):
    model.script([Reply(blocks=(Text("finally"),), latency=60)], match=PROMPT)
"""


@pytest.fixture
def slow_env(tmp_path):
    """An environment in which a third-party plugin (installed as a real distribution) adds a slow role."""
    site = tmp_path / "site"
    info = site / "orc_sleeper-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: orc-sleeper\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[orc]\nsleeper = orc_sleeper\n")
    (site / "orc_sleeper.py").write_text(SLOW_ROLE_PLUGIN)
    return clean_env(tmp_path, PYTHONPATH=str(site))


def running_agent_pid(db_path):
    if not db_path.exists():
        return None
    try:
        row = (
            sqlite3.connect(db_path)
            .execute("select pid from agents where status = 'running' and pid is not null")
            .fetchone()
        )
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_run_cleanly(tmp_path, slow_env, signum):
    db = tmp_path / "o.db"
    proc = subprocess.Popen(
        [
            str(BIN / "orc"),
            "execute",
            "--scripted",
            "--roles",
            "sleeper,reviewer",
            "--db",
            str(db),
            "-q",
            "wait",
        ],
        cwd=tmp_path,
        env=slow_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        cli_pid = wait_for(lambda: running_agent_pid(db))
        assert alive(cli_pid)
        started = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 10
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err
    assert not alive(cli_pid)
    conn = sqlite3.connect(db)
    assert conn.execute("select status from tasks").fetchall() == [("cancelled",)]
    assert conn.execute("select status from subtasks order by subtask_id").fetchall() == [
        ("cancelled",),
        ("cancelled",),
    ]
    # The sleeper and the reviewer prepared while it worked: both deleted.
    assert {s for (s,) in conn.execute("select status from agents")} == {"deleted"}


RESUMABLE_SLEEPER = SLOW_ROLE_PLUGIN.replace(
    "latency=60)", 'latency=0 if os.environ.get("SLEEPER_AWAKE") else 60)'
).replace("from orchestrator_core import", "import os\nfrom orchestrator_core import")


def test_the_summary_of_an_interrupted_run_says_what_finished_and_how_to_carry_on(tmp_path):
    """Ctrl-C once two of five subtasks succeeded and the third works (#20): the summary says so (not "Failed: 2/5"),
    names the planner's result as the last result (not as the task's output), and its resume line carries on."""
    site = tmp_path / "site"
    info = site / "orc_sleeper-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: orc-sleeper\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[orc]\nsleeper = orc_sleeper\n")
    (site / "orc_sleeper.py").write_text(RESUMABLE_SLEEPER)
    env = clean_env(tmp_path, PYTHONPATH=str(site))
    work = tmp_path / "work"
    work.mkdir()
    db = tmp_path / "o.db"
    roles = "analyst,planner,sleeper,tester,reviewer"
    argv = [
        "execute",
        "--scripted",
        "--roles",
        roles,
        "--db",
        str(db),
        "--cwd",
        str(work),
        "-q",
        "Add CSV export",
    ]
    proc = subprocess.Popen(
        [str(BIN / "orc"), *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The moment: the analyst and the planner are done, the sleeper's model call is under way.
        wait_for(
            lambda: (
                running_agent_pid(db)
                and rows(db, "select 1 from agents where role = 'sleeper' and status = 'running'")
            )
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    task_id = rows(db, "select id from tasks")[0]["id"]
    lines = out.splitlines()
    assert lines[:3] == [
        f"Interrupted: 2/5 subtasks succeeded, task {task_id}",
        "  succeeded: 1 analyst, 2 planner",
        "  cancelled: 3 sleeper, 4 tester, 5 reviewer",
    ], out
    assert lines[3].startswith("Cost: $")
    assert "Failed" not in out and "Output:" not in out
    assert lines[4] == "Result of subtask 2 (planner), the last that succeeded:"
    # No --scripted: the store remembers how the task runs (#20).
    resume = f"orc resume {task_id} --db {db}"
    assert lines[-1] == f"Carry on with: {resume}"
    assert "interrupted by SIGINT" in err and f"carry on with `{resume}`" in err and "Traceback" not in err

    # The line does what it says: run as printed, the task carries on and succeeds, reusing what succeeded.
    again = subprocess.run(
        [str(BIN / "orc"), *resume.split()[1:]],
        cwd=tmp_path,
        env={**env, "SLEEPER_AWAKE": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"Success: 5/5 subtasks, task {task_id}")
    assert rows(db, "select status from tasks") == [{"status": "succeeded"}]
    assert len(rows(db, "select 1 from agents where role in ('analyst', 'planner')")) == 2  # not run again
