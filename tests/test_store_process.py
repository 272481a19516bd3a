"""The store across processes: a run killed half-way keeps what came before the kill; `orc watch` follows a run
from another process until it ends. The run is a real Python process whose builder's second model call waits on
a FIFO, so the test decides when (or whether) it goes on."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import anyio

    from orchestrator_core import Config, Orchestrator, hookimpl, make_plugin_manager
    from orchestrator_core.testing import ScriptedModel, text, tool

    db, work, config_dir, gate = (Path(a) for a in sys.argv[1:5])


    def held(request):
        print("HELD", flush=True)
        gate.read_text()  # a FIFO: blocks until the test opens it for writing
        return text("built it")


    class Announce:
        @hookimpl
        def orc_task_started(self, task):
            print("TASK", task.id, flush=True)


    async def main():
        model = ScriptedModel()
        model.script([tool("Write", {"file_path": "a.txt", "content": "half"}), held], match="builder of the team")
        with model:
            config = Config(db_path=db, runtime_env=model.env(config_dir), plugin_settings={"ORC_SCRIPTED": True})
            pm = make_plugin_manager(plugins=[Announce()], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
            async with Orchestrator(config, pm=pm) as orc:
                result = await orc.execute("Write a", roles=["builder"], cwd=work)
        print("DONE", result.success, flush=True)


    anyio.run(main)
    """
)


@pytest.fixture
def run(tmp_path):
    """Start the run; yields (process, db path, gate FIFO)."""
    work = tmp_path / "work"
    work.mkdir()
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    script = tmp_path / "run.py"
    script.write_text(RUN)
    db = tmp_path / "orchestrator.db"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), str(work), str(tmp_path / "claude"), str(gate)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc, db, gate
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def read_until(stream, prefix):
    for line in stream:
        if line.startswith(prefix):
            return line.split()
    raise AssertionError(f"the process ended before printing {prefix!r}")


def rows(db, sql, params=()):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    except sqlite3.OperationalError:
        return []  # the schema is not there yet
    finally:
        conn.close()


def wait_for(predicate, timeout=20.0):
    """Poll another process's store until ``predicate()`` holds (the writer commits within milliseconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the store never showed the expected rows"
        time.sleep(0.02)


def test_a_run_killed_half_way_keeps_every_event_before_the_kill(run):
    proc, db, _gate = run
    read_until(proc.stdout, "HELD")  # the builder's second model call is waiting: the first turn part is done
    wait_for(lambda: rows(db, "select 1 from events where kind = 'file_access'"))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    assert rows(db, "pragma integrity_check") == [{"integrity_check": "ok"}]
    [task] = rows(db, "select id, status from tasks")
    assert task["status"] == "running"
    assert [r["status"] for r in rows(db, "select status from subtasks")] == ["running"]
    [agent] = rows(db, "select id, status, session_id from agents")
    assert agent["status"] == "running" and agent["session_id"]
    events = rows(db, "select seq, kind, payload from events where agent_id = ? order by seq", [agent["id"]])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "message" and {"session", "tool_call", "tool_result", "file_access"} <= set(kinds)
    assert "result" not in kinds  # the turn never ended
    [call] = rows(db, "select name, is_error, result from tool_calls")
    assert (call["name"], call["is_error"]) == ("Write", 0) and call["result"]
    [access] = rows(db, "select path, operation from file_accesses")
    assert access["operation"] == "write" and access["path"].endswith("a.txt")
    assert rows(db, "select role from messages") == [{"role": "user"}]
    # A later process reads the killed run like any other.
    out = subprocess.run(
        [str(BIN / "orc"), "list-tasks", "--json", "--db", str(db)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert [(t["id"], t["status"]) for t in json.loads(out.stdout)] == [(task["id"], "running")]


def test_watch_follows_a_running_task_until_it_ends(run):
    proc, db, gate = run
    task_id = read_until(proc.stdout, "TASK")[1]
    read_until(proc.stdout, "HELD")
    wait_for(lambda: rows(db, "select 1 from events where kind = 'file_access'"))
    watch = subprocess.Popen(
        [str(BIN / "orc"), "watch", task_id, "--db", str(db), "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = [watch.stdout.readline() for _ in range(3)]
        assert " message: user: Task: Write a" in seen[0]
        gate.write_text("go")  # let the builder finish
        assert read_until(proc.stdout, "DONE") == ["DONE", "True"]
        rest = watch.stdout.read()  # the same buffered reader as readline: nothing read ahead is lost
        err = watch.stderr.read()
        watch.wait(timeout=60)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    lines = "".join(seen).splitlines() + rest.splitlines()
    assert lines[-1] == f"task {task_id} succeeded"
    assert any(" tool_call: Write " in line for line in lines)
    assert any(" message: assistant: built it" in line for line in lines)
    assert any(" result: done" in line for line in lines)
    # Every event once, in order.
    assert len(lines) - 1 == rows(db, "select count(*) as n from events")[0]["n"]
