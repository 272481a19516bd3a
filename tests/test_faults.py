"""Faults injected for real (#11): each asserts nothing is lost, the task's final state is right, and no Claude
CLI process is left behind."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs
import pytest
from fixtures import alive, clean_env, default_store, wait_for

from orchestrator_core import Orchestrator, SubtaskStatus, hookimpl
from orchestrator_core.testing import Reply, Text, error, text, tool

BIN = Path(sys.executable).parent


def query(db, sql, params=()):
    try:
        return sqlite3.connect(db).execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []


def test_orc_killed_mid_run_then_resumed(cli_env, scripted_model, orc_workdir, tmp_path):
    """SIGKILL the orc process while the second agent works; `orc resume` finishes the task without redoing the
    first subtask, the interrupted agent continues its own session, and no CLI process outlives the kill."""
    db = tmp_path / "orc.db"
    release = threading.Event()

    def slow_first_turn(request):
        release.wait(timeout=60)
        return text("BUILT after the interruption")

    scout = scripted_model.script(
        [tool("Glob", {"pattern": "*"}), text("SCOUTED")], match="scout of the team"
    )
    builder = scripted_model.script([slow_first_turn, text("BUILT on resume")], match="builder of the team")
    reviewer = scripted_model.script([text("REVIEWED")], match="reviewer of the team")
    proc = subprocess.Popen(
        [str(BIN / "orc"), "execute", "--roles", "scout,builder,reviewer", "-q", "make it"],
        cwd=orc_workdir,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        session = wait_for(lambda: scripted_model.requests_for(builder))[0].session_id
        # The CLI writes the turn's first lines to the transcript shortly after it asks the model: once they are
        # there, the session can be continued (before, a resume would start the agent afresh).
        wait_for(lambda: list((tmp_path / "claude-config").rglob(f"{session}.jsonl")))
        pids = [p for (p,) in query(db, "select pid from agents where pid is not null")]
        task_id = query(db, "select id from tasks")[0][0]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
        release.set()
    assert pids and wait_for(lambda: not any(alive(p) for p in pids), timeout=10)
    # What happened before the kill is in the store.
    assert query(db, "select status from subtasks where subtask_id = '1'") == [("succeeded",)]
    assert (
        query(db, "select count(*) from events e join agents a on a.id = e.agent_id where a.role = 'scout'")[
            0
        ][0]
        > 3
    )
    builder_session = scripted_model.requests_for(builder)[0].session_id
    scout_requests = len(scripted_model.requests_for(scout))

    listed = subprocess.run(
        [str(BIN / "orc"), "list-tasks"], cwd=orc_workdir, env=cli_env, capture_output=True, text=True
    )
    assert task_id in listed.stdout

    resumed = subprocess.run(
        [str(BIN / "orc"), "resume", task_id, "-q"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("Success: 3/3 subtasks") and "REVIEWED" in resumed.stdout
    assert len(scripted_model.requests_for(scout)) == scout_requests  # not run again
    resumed_builder = scripted_model.requests_for(builder)[-1]
    assert resumed_builder.session_id == builder_session  # its own session, continued
    assert "The run was interrupted" in resumed_builder.last_user_text
    assert "BUILT on resume" in scripted_model.requests_for(reviewer)[0].search_text
    assert query(db, "select id, status from tasks") == [(task_id, "succeeded")]
    assert {s for (s,) in query(db, "select status from agents")} == {"deleted"}
    again = subprocess.run(
        [str(BIN / "orc"), "resume", task_id], cwd=orc_workdir, env=cli_env, capture_output=True, text=True
    )
    assert again.returncode == 2 and "already succeeded" in again.stderr


@pytest.mark.anyio
async def test_cli_killed_mid_turn_is_retried(orc_config, orc_pm, scripted_model, orc_workdir):
    class KillFirstCLI:
        killed = []

        @hookimpl
        def orc_event(self, event):
            pass

    def first_hangs(request):
        # The first session's turn waits; the test kills its CLI meanwhile.
        if not KillFirstCLI.killed:
            KillFirstCLI.killed.append(request.session_id)
            time.sleep(0)  # returns at once: the CLI is killed before it reads the reply
            return Reply(blocks=(Text("never read"),), latency=30)
        return text("second try worked")

    scripted_model.script([first_hangs] * 3, match="scout of the team")
    orc = Orchestrator(attrs.evolve(orc_config, retries=1), pm=orc_pm)

    class Killer:
        @hookimpl
        def orc_agent_updated(self, agent):
            if agent.pid and agent.status.value == "running" and not getattr(self, "done", False):
                self.done = True
                self.pid = agent.pid

                def kill_when_asked():
                    wait_for(lambda: scripted_model.requests)
                    os.kill(agent.pid, signal.SIGKILL)

                threading.Thread(target=kill_when_asked, daemon=True).start()

    killer = Killer()
    orc_pm.register(killer)
    async with orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.success, result.error
    assert result.subtasks[0].attempts == 2 and result.subtasks[0].output == "second try worked"
    assert not alive(killer.pid)


@pytest.mark.anyio
async def test_model_server_down_fails_fast_and_clearly(orchestrator, scripted_model, orc_workdir):
    scripted_model.stop()
    started = time.monotonic()
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["scout", "reviewer"], cwd=orc_workdir)
    assert not result.success
    assert [s.status for s in result.subtasks] == [SubtaskStatus.FAILED, SubtaskStatus.SKIPPED]
    assert "connect" in result.subtasks[0].error.lower() or "refused" in result.subtasks[0].error.lower()
    assert result.subtasks[0].retryable
    assert time.monotonic() - started < 60


@pytest.mark.anyio
async def test_overloaded_bursts_are_retried_by_the_cli_and_recorded(
    orchestrator, scripted_model, orc_workdir
):
    scripted_model.script([error(529), error(529), text("made it")], match="scout of the team")
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.success and result.output == "made it"
    db = sqlite3.connect(orchestrator.config.db_path)
    assert db.execute("select count(*) from events where kind = 'retry'").fetchone()[0] == 2


@pytest.mark.anyio
async def test_a_long_reader_does_not_block_the_run(orchestrator, scripted_model, orc_workdir):
    scripted_model.script([text("ok")], match="scout of the team")
    async with orchestrator as orc:
        reader = sqlite3.connect(orc.config.db_path, isolation_level=None)
        reader.execute("begin")
        reader.execute(
            "select count(*) from events"
        ).fetchone()  # a read transaction held open (Datasette-like)
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
        reader.execute("commit")
    assert result.success
    assert sqlite3.connect(orc.config.db_path).execute("select status from tasks").fetchall() == [
        ("succeeded",)
    ]


@pytest.mark.parametrize(
    "content", [b"this is not a database, just text\n" * 40, b"SQLite format 3\x00" + b"\xff" * 2000]
)
def test_a_corrupt_or_foreign_database_is_refused_untouched(tmp_path, content):
    db = default_store(tmp_path / "home")
    db.parent.mkdir(parents=True)
    db.write_bytes(content)
    env = clean_env(tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1")
    out = subprocess.run(
        [str(BIN / "orc"), "execute", "--scripted", "--roles", "scout", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 5, out.stderr
    assert "not a usable SQLite database" in out.stderr and "Traceback" not in out.stderr
    assert db.read_bytes() == content
    assert not db.with_name("orchestrator.db-wal").exists()


@pytest.mark.anyio
async def test_a_reader_role_cannot_write(orchestrator, scripted_model, orc_workdir):
    scripted_model.script(
        [tool("Write", {"file_path": "sneaky.txt", "content": "x"}), text("tried")],
        match="reviewer of the team",
    )
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["reviewer"], cwd=orc_workdir)
    assert not (orc_workdir / "sneaky.txt").exists()
    db = sqlite3.connect(orchestrator.config.db_path)
    assert db.execute("select name, is_error from tool_calls").fetchall() == [("Write", 1)]
    assert result.subtasks[0].output == "tried"


@pytest.mark.anyio
async def test_writers_are_confined_to_their_directory(orchestrator, scripted_model, orc_workdir, tmp_path):
    outside = tmp_path / "outside.txt"
    scripted_model.script(
        [tool("Write", {"file_path": str(outside), "content": "x"}), text("tried")],
        match="builder of the team",
    )
    async with orchestrator as orc:
        await orc.execute("x", roles=["builder"], cwd=orc_workdir)
    assert not outside.exists()
    db = sqlite3.connect(orchestrator.config.db_path)
    assert db.execute("select name, is_error from tool_calls").fetchall() == [("Write", 1)]


@pytest.mark.anyio
async def test_non_utf8_tool_output_and_a_large_prompt(orchestrator, scripted_model, orc_workdir):
    scripted_model.script(
        [tool("Bash", {"command": "printf 'ok \\377\\376 bytes'"}), text("done")], match="builder of the team"
    )
    prompt = "Make it so. " + "x" * (1024 * 1024)
    async with orchestrator as orc:
        result = await orc.execute(prompt, roles=["builder"], cwd=orc_workdir)
    assert result.success, result.error
    db = sqlite3.connect(orchestrator.config.db_path)
    (content,) = db.execute("select result from tool_calls").fetchone()
    assert content.startswith("ok ") and "bytes" in content
    assert len(db.execute("select prompt from tasks").fetchone()[0]) == len(prompt)


def test_three_processes_sixteen_agents_one_database(tmp_path, scripted_model, cli_env):
    """16 parallel agents in 3 concurrent orc processes writing one store: no lost or duplicated rows."""
    scripted_model.script([tool("Glob", {"pattern": "*"}), text("done")], match="scout of the team")
    env = {**cli_env, "ORCHESTRATOR_DB_PATH": str(tmp_path / "shared.db")}
    sizes = [6, 5, 5]
    procs = [
        subprocess.Popen(
            [
                str(BIN / "orc"),
                "execute",
                "--mode",
                "parallel",
                "--max-parallel",
                str(n),
                "-q",
                "--roles",
                ",".join(["scout"] * n),
                f"job {i}",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, n in enumerate(sizes)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outs]
    db = sqlite3.connect(tmp_path / "shared.db")
    assert db.execute("select count(*) from tasks where status = 'succeeded'").fetchone()[0] == 3
    assert db.execute("select count(*) from agents").fetchone()[0] == 16
    assert db.execute("select count(*) from subtasks where status = 'succeeded'").fetchone()[0] == 16
    # Every agent's events are numbered 1..n exactly once; every agent made exactly one tool call.
    for agent_id, count, top in db.execute(
        "select agent_id, count(*), max(seq) from events group by agent_id"
    ):
        assert count == top, agent_id
    assert db.execute("select count(*) from tool_calls").fetchone()[0] == 16
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)


def test_disk_full_stops_the_run_with_a_clear_error_and_keeps_earlier_rows(tmp_path):
    import resource

    env = clean_env(tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1", ORC_SCRIPTED_HOME=str(tmp_path / "scripted"))
    first = subprocess.run(
        [str(BIN / "orc"), "execute", "--scripted", "--roles", "scout", "-q", "first"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    db = default_store(tmp_path / "home")
    size = db.stat().st_size

    def small_disk():
        signal.signal(
            signal.SIGXFSZ, signal.SIG_IGN
        )  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 4096, size + 4096))

    out = subprocess.run(
        [str(BIN / "orc"), "execute", "--scripted", "-q", "Add CSV export"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert out.returncode == 5
    assert "cannot write any more" in out.stderr and out.stderr.count("cannot write any more") == 1
    assert "free space, then `orc resume" in out.stderr and "Traceback" not in out.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    assert conn.execute("select prompt, status from tasks where prompt = 'first'").fetchall() == [
        ("first", "succeeded")
    ]


def test_no_secret_in_what_orc_prints_or_stores(cli_env, scripted_model, orc_workdir, tmp_path):
    secret = "sk-live-very-secret-value-42"
    env = {**cli_env, "FOO_SECRET": secret}
    scripted_model.script(
        [
            tool("Bash", {"command": "echo leaked: $FOO_SECRET"}),
            lambda r: text(f"found {r.last_tool_output}"),
        ],
        match="builder of the team",
    )
    scripted_model.script([error(400, f"bad request near {secret}")] * 10, match="reviewer of the team")
    for args in (["-q"], ["--json"], ["-v"]):
        out = subprocess.run(
            [str(BIN / "orc"), "execute", "--roles", "builder,reviewer", *args, "x"],
            cwd=orc_workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 1, out.stderr
        assert secret not in out.stdout and secret not in out.stderr
        assert "[redacted FOO_SECRET]" in out.stdout + out.stderr
    for path in tmp_path.glob("orc.db*"):
        assert secret.encode() not in path.read_bytes()
