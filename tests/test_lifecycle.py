"""Resume, agent lifecycle and hangs (#17), each fault injected for real: real `orc` processes, real signals, real
SIGKILL, the real CLI against the scripted model. Each test asserts the record is complete and the exit code and
line are right."""

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fixtures import alive, clean_env, needs_sandbox, wait_for

from orchestrator_core.testing import error, text, tool

BIN = Path(sys.executable).parent


def orc(env, cwd, *args, timeout=120):
    return subprocess.run(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def start(env, cwd, *args):
    return subprocess.Popen(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def query(db, sql, params=()):
    try:
        conn = sqlite3.connect(db)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return []


def transcript_of(tmp_path, session_id):
    return list((tmp_path / "claude-config").rglob(f"{session_id}.jsonl"))


class Gate:
    """Scripted replies that wait until the test opens the gate: the test knows the agent is mid-turn."""

    def __init__(self):
        self.opened = threading.Event()

    def hold(self, answer):
        def reply(request):
            self.opened.wait(timeout=90)
            return text(answer)

        return reply


def kill_mid_turn(proc, scripted_model, script, tmp_path):
    """Once ``script``'s agent asked the model and its transcript exists (so it can be continued), SIGKILL orc."""
    session = wait_for(lambda: scripted_model.requests_for(script), timeout=60)[0].session_id
    wait_for(lambda: transcript_of(tmp_path, session))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return session


# -- 5: resume works for every mode and keeps the task's limits --------------------------------------------------


def test_a_killed_parallel_run_resumes_under_its_own_limits(cli_env, scripted_model, orc_workdir, tmp_path):
    """SIGKILL a parallel run with --max-parallel 2; `orc resume` reuses the succeeded subtask (no "already run"),
    continues the interrupted sessions and never has more than 2 agents at work."""
    db = tmp_path / "orc.db"
    before, after = Gate(), Gate()
    resumed = []

    def second_run(answer):
        def reply(request):
            resumed.append(request.session_id)
            after.opened.wait(timeout=90)
            return text(answer)

        return reply

    phase = {"n": 1}

    def by_phase(name):
        first, second = before.hold(f"{name} first run"), second_run(f"{name.upper()} DONE")
        return lambda request: (first if phase["n"] == 1 else second)(request)

    scout = scripted_model.script([text("SCOUTED")], match="scout of the team")
    builder = scripted_model.script([by_phase("builder")] * 3, match="builder of the team")
    reviewer = scripted_model.script([by_phase("reviewer")] * 3, match="reviewer of the team")
    scripted_model.script([by_phase("tester")] * 3, match="tester of the team")
    proc = start(
        cli_env,
        orc_workdir,
        "execute",
        "--mode",
        "parallel",
        "--max-parallel",
        "2",
        "-q",
        "--roles",
        "scout,builder,reviewer,tester",
        "make it",
    )
    try:
        # The scout is done and the reviewer took its place: builder and reviewer are mid-turn, the tester waits.
        wait_for(
            lambda: query(db, "select status from subtasks where subtask_id = '1'") == [("succeeded",)], 60
        )
        wait_for(lambda: scripted_model.requests_for(reviewer), timeout=60)
        kill_mid_turn(proc, scripted_model, builder, tmp_path)
    finally:
        proc.kill()
        phase["n"] = 2
        before.opened.set()
    (task_id,) = [t for (t,) in query(db, "select id from tasks")]
    assert query(db, "select status from subtasks where subtask_id = '1'") == [("succeeded",)]
    assert json.loads(query(db, "select limits from tasks")[0][0])["max_parallel_agents"] == 2

    proc = start(cli_env, orc_workdir, "resume", task_id, "-q")
    try:
        wait_for(lambda: len(resumed) >= 2, timeout=60)
        # Two agents at work and the third subtask waiting for a place: the task's own --max-parallel 2.
        running = wait_for(
            lambda: query(db, "select count(*) from subtasks where status = 'running'")[0][0] == 2
        )
        assert running
        after.opened.set()
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        after.opened.set()
    assert proc.returncode == 0, err
    assert out.startswith("Success: 4/4 subtasks"), out
    assert "already run" not in err
    assert len(scripted_model.requests_for(scout)) == 1  # the scout's result was reused
    assert query(db, "select status from tasks") == [("succeeded",)]
    assert {s for (s,) in query(db, "select status from subtasks")} == {"succeeded"}
    assert {s for (s,) in query(db, "select status from agents")} == {"deleted"}
    limits = json.loads(query(db, "select limits from tasks")[0][0])
    assert limits["max_parallel_agents"] == 2


@pytest.mark.parametrize("mode", ["sequential", "dag"])
def test_a_stopped_run_resumes_in_every_mode_and_flags_override_its_limits(
    cli_env, scripted_model, orc_workdir, tmp_path, mode
):
    """A run stopped by its --max-agents resumes (same mode, same limits unless a flag says otherwise)."""
    db = tmp_path / "orc.db"
    scripted_model.script([text("SCOUTED")], match="scout of the team")
    scripted_model.script([text("BUILT")], match="builder of the team")
    first = orc(
        cli_env,
        orc_workdir,
        "execute",
        "--mode",
        mode,
        "--max-agents",
        "1",
        "--max-cost",
        "9",
        "--roles",
        "scout,builder",
        "-q",
        "make it",
    )
    assert first.returncode == 7, first.stderr
    (task_id,) = [t for (t,) in query(db, "select id from tasks")]
    again = orc(cli_env, orc_workdir, "resume", task_id, "-q", "--max-agents", "3")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Success: 2/2"), again.stdout
    limits = json.loads(query(db, "select limits from tasks")[0][0])
    assert (limits["max_agents"], limits["max_cost_usd"]) == (
        3,
        9,
    )  # the flag wins, the rest is the task's own
    assert query(db, "select mode, status from tasks") == [(mode, "succeeded")]


# -- 6: two resumes at once: the loser changes nothing ------------------------------------------------------------


def test_a_second_resume_is_refused_and_changes_nothing(cli_env, scripted_model, orc_workdir, tmp_path):
    db = tmp_path / "orc.db"
    before, after = Gate(), Gate()
    phase = {"n": 1}

    def builder_reply(request):
        return (before.hold("first") if phase["n"] == 1 else after.hold("BUILT on resume"))(request)

    scripted_model.script([text("SCOUTED")], match="scout of the team")
    builder = scripted_model.script([builder_reply] * 3, match="builder of the team")
    scripted_model.script([text("REVIEWED")], match="reviewer of the team")
    proc = start(cli_env, orc_workdir, "execute", "--roles", "scout,builder,reviewer", "-q", "make it")
    try:
        wait_for(lambda: scripted_model.requests_for(builder), timeout=60)
        # While its first process runs the task, no resume may run beside it.
        beside = orc(cli_env, orc_workdir, "resume", query(db, "select id from tasks")[0][0], "-q")
        assert beside.returncode == 2 and f"(pid {proc.pid}) is running it" in beside.stderr, beside.stderr
        session = kill_mid_turn(proc, scripted_model, builder, tmp_path)
    finally:
        proc.kill()
        phase["n"] = 2
        before.opened.set()
    (task_id,) = [t for (t,) in query(db, "select id from tasks")]
    asked = len(scripted_model.requests_for(builder))

    winner = start(cli_env, orc_workdir, "resume", task_id, "-q")
    try:
        # The winner's builder is mid-turn, in its own session, continued.
        wait_for(lambda: len(scripted_model.requests_for(builder)) > asked, timeout=60)
        state = query(db, "select id, status, deleted_at from agents order by id")
        loser = orc(cli_env, orc_workdir, "resume", task_id, "-q")
        assert loser.returncode == 2, loser.stderr
        assert f"task {task_id} is busy" in loser.stderr and "Traceback" not in loser.stderr
        assert loser.stderr.count("\n") == 1
        assert query(db, "select id, status, deleted_at from agents order by id") == state
        assert query(db, "select status from tasks") == [("running",)]
        after.opened.set()
        out, err = winner.communicate(timeout=120)
    finally:
        winner.kill()
        after.opened.set()
    assert winner.returncode == 0, err
    assert out.startswith("Success: 3/3"), out
    resumed = scripted_model.requests_for(builder)[-1]
    assert resumed.session_id == session and "The run was interrupted" in resumed.search_text
    assert query(db, "select status from tasks") == [("succeeded",)]
    assert {s for (s,) in query(db, "select status from agents")} == {"deleted"}


# -- 7, 8, 9: an agent's turns, interrupted, deleted under it, its transcript gone ----------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_an_agent_interrupted_in_its_first_send_answers_the_next(
    cli_env, scripted_model, orc_workdir, tmp_path, signum
):
    db = tmp_path / "orc.db"
    gate = Gate()
    scout = scripted_model.script([gate.hold("never seen"), text("SECOND ANSWER")], match="scout of the team")
    agent_id = orc(cli_env, orc_workdir, "agents", "create", "--role", "scout").stdout.strip()
    proc = start(cli_env, orc_workdir, "agents", "send", agent_id, "WORD-ALPHA")
    try:
        session = wait_for(lambda: scripted_model.requests_for(scout), timeout=60)[0].session_id
        wait_for(lambda: transcript_of(tmp_path, session))
        cli_pid = query(db, "select pid from agents where id = ?", [agent_id])[0][0]
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        gate.opened.set()
    assert proc.returncode == 130, err
    assert f"interrupted by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert not alive(cli_pid)
    assert query(db, "select status from agents where id = ?", [agent_id]) == [("failed",)]

    second = orc(cli_env, orc_workdir, "agents", "send", agent_id, "WORD-BETA")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "SECOND ANSWER"
    last = scripted_model.requests_for(scout)[-1]
    assert last.session_id == session and "WORD-ALPHA" in last.search_text  # the same conversation, continued
    assert query(db, "select status from agents where id = ?", [agent_id]) == [("idle",)]


def test_delete_while_a_send_runs_is_refused_and_state_stays_consistent(
    cli_env, scripted_model, orc_workdir, tmp_path
):
    db = tmp_path / "orc.db"
    gate = Gate()
    scout = scripted_model.script([gate.hold("ANSWERED")], match="scout of the team")
    agent_id = orc(cli_env, orc_workdir, "agents", "create", "--role", "scout").stdout.strip()
    sender = start(cli_env, orc_workdir, "agents", "send", agent_id, "hello")
    try:
        wait_for(lambda: scripted_model.requests_for(scout), timeout=60)
        refused = orc(cli_env, orc_workdir, "agents", "delete", agent_id)
        assert refused.returncode == 2, refused.stderr
        assert f"agent {agent_id!r} is busy" in refused.stderr and "Traceback" not in refused.stderr
        assert query(db, "select status, deleted_at from agents") == [("running", None)]
        gate.opened.set()
        out, err = sender.communicate(timeout=60)
    finally:
        sender.kill()
        gate.opened.set()
    assert sender.returncode == 0, err
    assert out.strip() == "ANSWERED"
    assert query(db, "select status, deleted_at from agents") == [("idle", None)]
    deleted = orc(cli_env, orc_workdir, "agents", "delete", agent_id)
    assert deleted.returncode == 0, deleted.stderr
    assert query(db, "select status from agents") == [("deleted",)]
    assert query(db, "select deleted_at is not null from agents") == [(1,)]
    assert not list((tmp_path / "claude-config").rglob("*.jsonl"))


def test_a_send_after_the_transcript_vanished_says_so(cli_env, scripted_model, orc_workdir, tmp_path):
    scripted_model.script([text("FIRST"), text("never")], match="scout of the team")
    agent_id = orc(cli_env, orc_workdir, "agents", "create", "--role", "scout").stdout.strip()
    assert orc(cli_env, orc_workdir, "agents", "send", agent_id, "one").returncode == 0
    (path,) = list((tmp_path / "claude-config").rglob("*.jsonl"))
    path.unlink()
    # Gone from the store too (#25): with the store's copy, another machine's send would go on (test_transcript_store).
    with sqlite3.connect(tmp_path / "orc.db") as db:
        db.execute("delete from transcripts")
    out = orc(cli_env, orc_workdir, "agents", "send", agent_id, "two")
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert f"agent {agent_id!r} cannot go on: its conversation" in out.stderr and "is gone" in out.stderr
    assert f"orc agents delete {agent_id}" in out.stderr
    assert len(scripted_model.requests) == 1  # no CLI was started for it


# -- 10: SIGHUP and SIGQUIT; `orc watch` of a task whose process died ----------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=lambda s: s.name)
def test_hangup_and_quit_stop_a_run_like_sigterm(cli_env, scripted_model, orc_workdir, tmp_path, signum):
    db = tmp_path / "orc.db"
    gate = Gate()
    scout = scripted_model.script([gate.hold("late")], match="scout of the team")
    proc = start(cli_env, orc_workdir, "execute", "--roles", "scout,reviewer", "-q", "wait")
    try:
        wait_for(lambda: scripted_model.requests_for(scout), timeout=60)
        pids = [p for (p,) in query(db, "select pid from agents where pid is not null")]
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        gate.opened.set()
    assert proc.returncode == 130, err
    assert f"interrupted by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert pids and not any(alive(p) for p in pids)
    assert query(db, "select status from tasks") == [("cancelled",)]
    assert query(db, "select status from subtasks order by subtask_id") == [("cancelled",), ("cancelled",)]
    assert {s for (s,) in query(db, "select status from agents")} == {"deleted"}
    watched = orc(cli_env, orc_workdir, "watch", query(db, "select id from tasks")[0][0], timeout=30)
    assert watched.returncode == 0 and watched.stdout.rstrip().endswith("cancelled")


def test_a_hangup_while_a_planner_agent_plans_stops_it(cli_env, scripted_model, orc_workdir, tmp_path):
    """Before any task runs (a planner agent is still planning) a signal is not lost: orc stops at once."""
    db = tmp_path / "orc.db"
    gate = Gate()
    planner = scripted_model.script([gate.hold("no plan")], match="planner of the team")
    proc = start(cli_env, orc_workdir, "execute", "--planner", "llm", "-q", "Add CSV export")
    try:
        wait_for(lambda: scripted_model.requests_for(planner), timeout=60)
        (pid,) = wait_for(lambda: [p for (p,) in query(db, "select pid from agents where pid is not null")])
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        gate.opened.set()
    assert proc.returncode == 130, err
    assert "interrupted by SIGHUP" in err and "Traceback" not in err
    assert query(db, "select role, status from agents") == [("planner", "deleted")]
    assert query(db, "select count(*) from tasks") == [(0,)]
    assert wait_for(lambda: not alive(pid), timeout=15)


def test_watch_ends_when_the_task_process_is_gone(cli_env, scripted_model, orc_workdir, tmp_path):
    db = tmp_path / "orc.db"
    gate = Gate()
    scout = scripted_model.script([gate.hold("late")], match="scout of the team")
    proc = start(cli_env, orc_workdir, "execute", "--roles", "scout", "-q", "wait")
    watcher = None
    try:
        wait_for(lambda: scripted_model.requests_for(scout), timeout=60)
        (task_id, pid) = query(db, "select id, pid from tasks")[0]
        assert pid == proc.pid
        watcher = start(cli_env, orc_workdir, "watch", task_id, "--interval", "0.1")
        wait_for(lambda: query(db, "select count(*) from events")[0][0] > 0)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        out, err = watcher.communicate(timeout=30)
    finally:
        proc.kill()
        if watcher:
            watcher.kill()
        gate.opened.set()
    assert watcher.returncode == 1, err
    assert f"task {task_id} did not finish: its orc process (pid {pid}) is gone" in err
    assert f"orc resume {task_id}" in err and "Traceback" not in err
    assert "session" in out  # the events recorded before the kill were printed first


# -- 15: refused credentials stop at once; a huge answer ends cleanly -----------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_the_run_at_the_first_refusal(
    cli_env, scripted_model, orc_workdir, tmp_path, status
):
    db = tmp_path / "orc.db"
    scout = scripted_model.script([error(status)] * 20, match="scout of the team")
    env = {**cli_env, "CLAUDE_CODE_MAX_RETRIES": "10"}  # the CLI's own default: about 3 minutes of retries
    started = time.monotonic()
    out = orc(env, orc_workdir, "execute", "--roles", "scout,reviewer", "-q", "x")
    took = time.monotonic() - started
    assert out.returncode == 6, out.stderr
    assert f"the model endpoint refused the credentials (HTTP {status})" in out.stderr
    assert "ANTHROPIC_API_KEY" in out.stderr and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert took < 30
    assert len(scripted_model.requests_for(scout)) <= 2
    assert query(db, "select status from tasks") == [("failed",)]
    assert query(db, "select status from subtasks order by subtask_id") == [("failed",), ("cancelled",)]
    assert f"HTTP {status}" in query(db, "select error from subtasks where subtask_id = '1'")[0][0]
    assert {s for (s,) in query(db, "select status from agents")} == {"deleted"}


def test_refused_credentials_end_an_agents_send_in_one_line(cli_env, scripted_model, orc_workdir, tmp_path):
    db = tmp_path / "orc.db"
    refusals = [error(401)] * 20
    scripted_model.script(
        [lambda r: refusals.pop() if refusals else text("WORKS NOW")] * 30, match="scout of the team"
    )
    agent_id = orc(cli_env, orc_workdir, "agents", "create", "--role", "scout").stdout.strip()
    env = {**cli_env, "CLAUDE_CODE_MAX_RETRIES": "10"}
    out = orc(env, orc_workdir, "agents", "send", agent_id, "hello", timeout=60)
    assert out.returncode == 6, out.stderr
    assert out.stderr.startswith("Error: the model endpoint refused the credentials (HTTP 401)")
    assert out.stderr.count("\n") == 1
    assert query(db, "select status from agents") == [("failed",)]
    refusals.clear()  # the key is fixed: the agent answers
    again = orc(env, orc_workdir, "agents", "send", agent_id, "hello again")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "WORKS NOW"


def test_a_ten_megabyte_answer_ends_cleanly(cli_env, scripted_model, orc_workdir, tmp_path):
    answer = "".join(f"line {i:07d} of a very long answer\n" for i in range(10 * 1024 * 1024 // 32))
    scripted_model.script([text(answer)], match="scout of the team")
    out = orc(cli_env, orc_workdir, "execute", "--roles", "scout", "-q", "x")
    assert "Event loop is closed" not in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.rstrip().endswith(answer.rstrip()[-100:])
    assert query(tmp_path / "orc.db", "select status from tasks") == [("succeeded",)]


# -- 14: a stalled model stream is acted on; a stopped subtask says why ---------------------------------------------


def stall_env(cli_env, action):
    return {
        **cli_env,
        "ORC_STALL_SECONDS": "0.5",
        "ORC_STALL_INTERVALS": "2",
        "MONITOR_INTERVAL_SECONDS": "0.1",
        "ORC_STALL_ACTION": action,
    }


@pytest.mark.parametrize("action", ["retry", "interrupt"])
def test_a_stalled_stream_is_interrupted_by_default_and_retried(
    cli_env, scripted_model, orc_workdir, tmp_path, action
):
    db = tmp_path / "orc.db"
    gate = Gate()
    sessions = []

    def reply(request):
        if not sessions or request.session_id == sessions[0]:
            sessions.append(request.session_id)
            return gate.hold("never seen")(request)  # the stream stalls: nothing comes back
        return text("RECOVERED")

    scripted_model.script([reply] * 3, match="scout of the team")
    try:
        out = orc(
            stall_env(cli_env, action), orc_workdir, "execute", "--roles", "scout", "-q", "x", timeout=90
        )
    finally:
        gate.opened.set()
    flags = query(db, "select kind, message from agent_flags order by id")
    assert [k for k, _ in flags][:2] == ["stall", "stalled"], flags
    assert re.match(
        r"stalled: no event for \d+\.\ds, its last event was \w+ \(ORC_STALL_SECONDS is 0\.5s, "
        rf"ORC_STALL_INTERVALS 2, ORC_STALL_ACTION {action}\)",
        flags[1][1],
    ), flags[1][1]
    errors = query(db, "select payload from events where kind = 'error'")
    assert errors and "stalled: no event for" in json.loads(errors[0][0])["error"]
    pids = [p for (p,) in query(db, "select pid from agents")]
    assert pids and not any(alive(p) for p in pids)
    if action == "retry":
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("Success: 1/1") and "RECOVERED" in out.stdout
        assert query(db, "select count(*) from agents")[0][0] == 2
        assert query(db, "select status from subtasks") == [("succeeded",)]
    else:
        assert out.returncode == 1, out.stderr
        assert "1 (scout) failed: stalled: no event for" in out.stderr
        assert query(db, "select status, error like 'stalled: no event for %' from subtasks") == [
            ("failed", 1)
        ]
        assert query(db, "select count(*) from agents")[0][0] == 1


def test_the_stall_detector_warns_then_acts_once_per_silence():
    from orc_agents.orc_monitor.detectors import StallDetector
    from orchestrator_core import Agent, AgentStatus

    agent = Agent(id="scout-1", name="scout (1)", role="scout", cwd="/tmp", status=AgentStatus.RUNNING)
    acting, warning = StallDetector(10, act_after=2), StallDetector(10)
    for detector in (acting, warning):
        detector.activity(agent.id, 0.0)
    seen = [
        (now, [k for _, _, k in acting.check([agent], now)], [k for _, _, k in warning.check([agent], now)])
        for now in (9.0, 10.0, 15.0, 20.0, 500.0)
    ]
    assert seen == [
        (9.0, [], []),
        (10.0, ["stall"], ["stall"]),
        (15.0, [], []),
        (20.0, ["stalled"], []),
        (500.0, [], []),
    ]
    acting.activity(agent.id, 501.0)  # it moved: a new silence is warned about, then acted on, again
    assert [k for _, _, k in acting.check([agent], 530.0)] == ["stall", "stalled"]


def test_a_timed_out_subtask_records_the_timeout(cli_env, scripted_model, orc_workdir, tmp_path):
    db = tmp_path / "orc.db"
    gate = Gate()
    scripted_model.script([gate.hold("late")], match="scout of the team")
    try:
        out = orc(
            stall_env(cli_env, "warn"),
            orc_workdir,
            "execute",
            "--roles",
            "scout,reviewer",
            "--timeout",
            "2",
            "-q",
            "x",
            timeout=60,
        )
    finally:
        gate.opened.set()
    assert out.returncode == 7, out.stderr
    assert "timed out after 2s (--timeout)" in out.stderr
    assert query(db, "select status, error from subtasks order by subtask_id") == [
        ("cancelled", "stopped: timed out after 2s (--timeout)"),
        ("cancelled", "stopped: timed out after 2s (--timeout)"),
    ]
    assert query(db, "select status, error from tasks") == [
        ("cancelled", "stopped: timed out after 2s (--timeout)")
    ]


# -- 11: nothing started for an agent outlives orc ------------------------------------------------------------------


def waiter(tmp_path):
    """A command that waits for ever, findable by a token of this test (pids inside the Bash sandbox are not the
    machine's); and a function listing the machine's pids running it. The CLI refuses a plain `sleep 300`."""
    token = f"{abs(hash(str(tmp_path))) % 10**6}.5"

    def pids():
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if (
                    entry.name.isdigit()
                    and f"tail\0-s\0{token}\0".encode() in (entry / "cmdline").read_bytes()
                ):
                    found.append(int(entry.name))
            except OSError:
                pass
        return [p for p in found if alive(p)]

    return f"tail -s {token} -f /dev/null", pids


def kill_all(pids):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "sandbox",
    [pytest.param("true", marks=needs_sandbox, id="sandboxed"), pytest.param("false", id="unsandboxed")],
)
def test_what_an_agent_left_running_ends_with_its_session(
    cli_env, scripted_model, orc_workdir, tmp_path, sandbox
):
    command, running = waiter(tmp_path)
    scripted_model.script(
        [tool("Bash", {"command": f"{command} > /dev/null 2>&1 &"}), text("started a server")],
        match="tester of the team",
    )
    out = orc(
        {**cli_env, "ORC_BASH_SANDBOX": sandbox}, orc_workdir, "execute", "--roles", "tester", "-q", "x"
    )
    try:
        assert out.returncode == 0, out.stderr
        assert "Bash" in query(tmp_path / "orc.db", "select name from tool_calls where is_error = 0")[0]
        assert wait_for(lambda: not running(), timeout=15)
    finally:
        kill_all(running())


@pytest.mark.parametrize(
    "sandbox",
    [pytest.param("true", marks=needs_sandbox, id="sandboxed"), pytest.param("false", id="unsandboxed")],
)
@pytest.mark.parametrize("how", ["background", "foreground"])
def test_an_agents_commands_die_with_a_killed_orc(
    cli_env, scripted_model, orc_workdir, tmp_path, how, sandbox
):
    """SIGKILL orc while a tester's Bash command runs (left in the background, or still in the foreground): the
    command dies too, not reparented to init."""
    gate = Gate()
    command, running = waiter(tmp_path)
    command = f"{command} > /dev/null 2>&1 & echo started" if how == "background" else command
    tester = scripted_model.script(
        [tool("Bash", {"command": command, "timeout": 600000}), gate.hold("done")], match="tester of the team"
    )
    proc = start(
        {**cli_env, "ORC_BASH_SANDBOX": sandbox}, orc_workdir, "execute", "--roles", "tester", "-q", "x"
    )
    try:
        if how == "background":
            wait_for(
                lambda: len(scripted_model.requests_for(tester)) >= 2, timeout=60
            )  # the command returned
            assert "started" in scripted_model.requests_for(tester)[1].last_tool_output
            if sandbox == "true":
                # The sandbox (bubblewrap, a PID namespace) already ends what a command leaves behind.
                assert wait_for(lambda: not running(), timeout=15)
                return
        waiting = wait_for(running, timeout=60)
        cli_pids = [p for (p,) in query(tmp_path / "orc.db", "select pid from agents where pid is not null")]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert wait_for(lambda: not any(alive(p) for p in waiting), timeout=15)
        assert cli_pids and wait_for(lambda: not any(alive(p) for p in cli_pids), timeout=15)
    finally:
        proc.kill()
        gate.opened.set()
        kill_all(running())


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=lambda s: s.name)
def test_a_chat_ends_cleanly_when_its_terminal_closes(tmp_path, signum):
    env = clean_env(tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1", ORC_SCRIPTED_HOME=str(tmp_path / "scripted"))
    db = tmp_path / "c.db"
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        [str(BIN / "orc"), "chat", "--scripted", "--cwd", str(work), "--db", str(db)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith(
            "orc chat with the orchestrator agent"
        )  # its session is open
        (pid,) = wait_for(lambda: [p for (p,) in query(db, "select pid from agents where pid is not null")])
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"chat ended by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert query(db, "select role, status from agents") == [("orchestrator", "deleted")]
    assert wait_for(lambda: not alive(pid), timeout=15)
