"""Faults of the run store injected for real (#17): another program holding the lock, a full disk in every mode,
the file deleted under the run, a row SQLite refuses, bytes that are not UTF-8. Each asserts that the record is
complete, or that orc says in one line what was lost and exits non-zero; never "Success" over a lost row."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fixtures import rows

from orchestrator_core.testing import text, tool

BIN = Path(sys.executable).parent
SCOUT = "scout of the team"
REVIEWER = "reviewer of the team"


def make_store(path: Path) -> None:
    """A migrated, empty store at ``path`` (what the first `orc execute` makes)."""
    from orc_store import open_database

    open_database(path).close()


def orc(*args, env, cwd, **kwargs):
    return subprocess.Popen([str(BIN / "orc"), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def assert_complete(db: Path, subtasks: int) -> None:
    """Every row of the one recorded task is there: prompt, plan, subtasks, agents, and each agent's events."""
    (task,) = rows(db, "select * from tasks")
    assert task["prompt"] and task["plan"] and task["status"] == "succeeded"
    assert [r["status"] for r in rows(db, "select status from subtasks")] == ["succeeded"] * subtasks
    agents = rows(db, "select id, status from agents")
    assert len(agents) == subtasks and {a["status"] for a in agents} == {"deleted"}
    for agent in agents:
        (numbers,) = rows(db, "select count(*) as n, max(seq) as top from events where agent_id = ?", [agent["id"]])
        assert numbers["n"] > 3 and numbers["n"] == numbers["top"], agent


# -- 1. another program holds the store's write lock ----------------------------------------------------------


class LockHolder:
    """Another program's connection that takes the store's write lock (BEGIN IMMEDIATE) when a scripted reply is
    served, and keeps it until the test releases it."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.held = threading.Event()

    def then(self, reply):
        def hold(request):
            if not self.held.is_set():
                self.conn.execute("begin immediate")
                self.held.set()
            return reply

        return hold

    def release(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("commit")
        self.conn.close()


def read_until(stream, words: str) -> list[str]:
    """Lines of ``stream`` up to the first that holds ``words`` (or its end)."""
    seen = []
    for line in iter(stream.readline, b""):
        seen.append(line.decode())
        if words in seen[-1]:
            break
    return seen


def test_a_lock_released_in_time_loses_nothing(cli_env, scripted_model, tmp_path, orc_workdir):
    """The writer waits for the lock, says so, and once it is released every row is written: nothing dropped."""
    db = tmp_path / "orc.db"
    make_store(db)
    holder = LockHolder(db)
    scripted_model.script([holder.then(tool("Glob", {"pattern": "*"})), text("SCOUTED")], match=SCOUT)
    scripted_model.script([text("REVIEWED")], match=REVIEWER)
    proc = orc("execute", "--roles", "scout,reviewer", "-q", "look", env={**cli_env, "ORC_STORE_LOCK_TIMEOUT": "60"},
               cwd=orc_workdir)
    try:
        seen = read_until(proc.stderr, "waiting for the store lock held by another process")
        assert holder.held.is_set() and "waiting for the store lock" in seen[-1], seen
    finally:
        holder.release()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, "".join(seen) + err.decode()
    assert out.decode().startswith("Success: 2/2")
    assert_complete(db, 2)
    assert [r["name"] for r in rows(db, "select name from tool_calls")] == ["Glob"]


def test_a_lock_held_past_the_bound_stops_the_run_with_exit_5(cli_env, scripted_model, tmp_path, orc_workdir):
    """Held longer than ORC_STORE_LOCK_TIMEOUT: no later agent starts, no "Success", one line and exit 5."""
    db = tmp_path / "orc.db"
    make_store(db)
    holder = LockHolder(db)
    scripted_model.script([holder.then(tool("Glob", {"pattern": "*"})), text("SCOUTED")], match=SCOUT)
    reviewer = scripted_model.script([text("REVIEWED")], match=REVIEWER)
    proc = orc("execute", "--roles", "scout,reviewer", "-q", "look", env={**cli_env, "ORC_STORE_LOCK_TIMEOUT": "2"},
               cwd=orc_workdir)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        holder.release()
    err = err.decode()
    assert proc.returncode == 5, err
    assert "Success" not in out.decode() and "Traceback" not in err
    (line,) = error_lines(err)
    assert "lost" in line and "held the store's write lock for more than 2s" in line
    assert "waiting for the store lock held by another process" in err
    assert not scripted_model.requests_for(reviewer)


# -- 2. the disk fills up, in every mode ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sequential", "parallel", "dag"])
def test_disk_full_starts_no_more_agents_in_any_mode(cli_env, scripted_model, tmp_path, orc_workdir, mode):
    """One agent at a time (--max-parallel 1): the first fills the disk; the others wait for a slot meanwhile, and
    none starts once the store cannot record it. One line, exit 5, earlier rows intact."""
    import resource

    db = tmp_path / "orc.db"
    make_store(db)
    limit = db.stat().st_size + 4096
    scout = scripted_model.script([text("x" * 120_000)] * 3, match=SCOUT)

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = orc("execute", "--mode", mode, "--max-parallel", "1", "--roles", "scout,scout,scout", "-q", "look",
               env=cli_env, cwd=orc_workdir, preexec_fn=small_disk)
    out, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 5, err
    assert "Success" not in out.decode() and "Traceback" not in err
    (line,) = error_lines(err)
    assert "lost" in line and "is the disk full?" in line
    assert "exit code" not in err  # the agent itself worked: only the store's file was too big
    assert len({r.session_id for r in scripted_model.requests_for(scout)}) == 1
    conn = sqlite3.connect(db)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)


# -- 4. a row SQLite refuses ------------------------------------------------------------------------------------


def test_a_refused_row_fails_the_run_and_says_what_was_lost(cli_env, scripted_model, tmp_path, orc_workdir):
    """A tool call row the database refuses (a trigger, as a hand-made constraint would) is not swallowed."""
    db = tmp_path / "orc.db"
    make_store(db)
    conn = sqlite3.connect(db)
    conn.execute("create trigger no_globs before insert on tool_calls when new.name = 'Glob' "
                 "begin select raise(abort, 'injected: no Glob rows'); end")
    conn.commit()
    conn.close()
    scripted_model.script([tool("Glob", {"pattern": "*"}), text("SCOUTED")], match=SCOUT)
    proc = orc("execute", "--roles", "scout", "-q", "look", env=cli_env, cwd=orc_workdir)
    out, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 5, err
    assert "Success" not in out.decode()
    (line,) = error_lines(err)
    assert "lost" in line and "tool_calls" in line and "injected: no Glob rows" in line
    assert rows(db, "select status from tasks")[0]["status"] == "succeeded"


# -- 12. bytes that are not UTF-8 -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["prompt", "cwd"])
def test_non_utf8_prompt_or_cwd_is_refused_in_one_line(cli_env, tmp_path, orc_workdir, where):
    bad = orc_workdir / os.fsdecode(b"dir-\xff")
    bad.mkdir()
    args = [b"execute", b"--roles", b"scout", b"-q"]
    args += [b"bad \xff prompt"] if where == "prompt" else [b"--cwd", os.fsencode(bad), b"look"]
    done = subprocess.run([os.fsencode(BIN / "orc"), *args], cwd=orc_workdir, env=cli_env, capture_output=True,
                          timeout=60)
    err = done.stderr.decode(errors="replace")
    assert done.returncode == 2, err
    (line,) = err.strip().splitlines()
    assert "not UTF-8 text (byte ff" in line
    assert not (tmp_path / "orc.db").exists()


def test_a_writer_that_fails_never_blocks_a_flush(tmp_path):
    """Whatever kills the writer thread, flush returns, the failure is recorded, and later rows count as lost."""
    from orc_store.writer import Writer

    class Unprintable:
        def __str__(self):
            raise RuntimeError("cannot be shown")

    path = tmp_path / "w.db"
    make_store(path)
    writer = Writer(path)
    writer.state("tasks", {"id": "t1", "prompt": "p", "status": "running"})
    writer.state("tasks", {"id": "t2", "prompt": Unprintable(), "status": "running"})
    finished = threading.Event()
    threading.Thread(target=lambda: (writer.flush(), finished.set()), daemon=True).start()
    assert finished.wait(timeout=10)
    assert "RuntimeError: cannot be shown" in writer.fatal
    writer.state("tasks", {"id": "t3", "prompt": "p", "status": "running"})
    writer.flush()
    writer.close()
    assert sum(writer.lost.values()) >= 2


# -- 3. an agent deletes the store ------------------------------------------------------------------------------

BUILDER = "builder of the team"
WIPE = tool("Bash", {"command": "rm -f orchestrator.db* && ls -a"})


def test_the_default_store_is_out_of_the_agents_reach(cli_env, scripted_model, tmp_path, orc_workdir):
    """With no ORCHESTRATOR_DB_PATH, a builder that wipes *.db files in its directory erases no history."""
    env = {k: v for k, v in cli_env.items() if k != "ORCHESTRATOR_DB_PATH"}
    scripted_model.script([WIPE, text("WIPED")], match=BUILDER)
    scripted_model.script([tool("Glob", {"pattern": "*"}), text("REVIEWED")], match=REVIEWER)
    done = subprocess.run([str(BIN / "orc"), "execute", "--roles", "builder,reviewer", "-q", "tidy up"],
                          cwd=orc_workdir, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(orc_workdir.iterdir()) == []
    assert_complete(tmp_path / "home" / ".local" / "share" / "orc" / "orchestrator.db", 2)


def test_a_store_deleted_during_the_run_is_reported(cli_env, scripted_model, orc_workdir):
    """A store the user put in the agents' directory: orc warns at the start, notices the deletion, says what is
    lost in one line and exits 5; no later agent starts."""
    db = orc_workdir / "orchestrator.db"
    scripted_model.script([WIPE, text("WIPED")], match=BUILDER)
    reviewer = scripted_model.script([text("REVIEWED")], match=REVIEWER)
    done = subprocess.run([str(BIN / "orc"), "execute", "--roles", "builder,reviewer", "-q", "tidy up"],
                          cwd=orc_workdir, env={**cli_env, "ORCHESTRATOR_DB_PATH": str(db)}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 5, done.stderr
    assert "Success" not in done.stdout and "Traceback" not in done.stderr
    assert "is inside" in done.stderr and "an agent can delete it" in done.stderr
    (line,) = error_lines(done.stderr)
    assert "the store file was deleted during the run" in line and "lost" in line
    assert not scripted_model.requests_for(reviewer)
    assert not db.exists()


# -- 13. `orc browse` and failed requests -----------------------------------------------------------------------

SLOW = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"


def test_browse_logs_one_line_per_failed_request_and_keeps_answering(tmp_path):
    import urllib.error
    import urllib.parse
    import urllib.request

    db = tmp_path / "orc.db"
    make_store(db)
    proc = subprocess.Popen([str(BIN / "orc"), "browse", "--port", "0", "--db", str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        url = first.split(" at ")[1].split()[0]
        for _ in range(3):  # each over sql_time_limit_ms: one traceback used to fill a pipe's 64 KB
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(f"{url}.json?{urllib.parse.urlencode({'sql': SLOW})}", timeout=20)
            assert caught.value.code == 400
        with urllib.request.urlopen(f"{url}.json?sql=select+42&_shape=array", timeout=20) as answer:
            assert answer.read() == b'[{"42": 42}]'
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 3 and len(err) < 1000, err[:2000]
    assert all("GET /orc.json failed (400): SQL query took too long" in line for line in lines)
