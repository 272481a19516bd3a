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
    from orc_agents.orc_store import open_database

    open_database(path).close()


def orc(*args, env, cwd, **kwargs):
    return subprocess.Popen(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs
    )


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
        (numbers,) = rows(
            db, "select count(*) as n, max(seq) as top from events where agent_id = ?", [agent["id"]]
        )
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
    proc = orc(
        "execute",
        "--roles",
        "scout,reviewer",
        "-q",
        "look",
        env={**cli_env, "ORC_STORE_LOCK_TIMEOUT": "60"},
        cwd=orc_workdir,
    )
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
    proc = orc(
        "execute",
        "--roles",
        "scout,reviewer",
        "-q",
        "look",
        env={**cli_env, "ORC_STORE_LOCK_TIMEOUT": "2"},
        cwd=orc_workdir,
    )
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
        signal.signal(
            signal.SIGXFSZ, signal.SIG_IGN
        )  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = orc(
        "execute",
        "--mode",
        mode,
        "--max-parallel",
        "1",
        "--roles",
        "scout,scout,scout",
        "-q",
        "look",
        env=cli_env,
        cwd=orc_workdir,
        preexec_fn=small_disk,
    )
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
    conn.execute(
        "create trigger no_globs before insert on tool_calls when new.name = 'Glob' "
        "begin select raise(abort, 'injected: no Glob rows'); end"
    )
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
    done = subprocess.run(
        [os.fsencode(BIN / "orc"), *args], cwd=orc_workdir, env=cli_env, capture_output=True, timeout=60
    )
    err = done.stderr.decode(errors="replace")
    assert done.returncode == 2, err
    (line,) = err.strip().splitlines()
    assert "not UTF-8 text (byte ff" in line
    assert not (tmp_path / "orc.db").exists()


def test_a_writer_that_fails_never_blocks_a_flush(tmp_path):
    """Whatever kills the writer thread, flush returns, the failure is recorded, and later rows count as lost."""
    from orc_agents.orc_store.writer import Writer

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
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--roles", "builder,reviewer", "-q", "tidy up"],
        cwd=orc_workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # (The sandboxed Bash leaves the CLI's .claude/.cc-writes behind; no store file is there.)
    assert not list(orc_workdir.glob("orchestrator.db*"))
    assert_complete(tmp_path / "home" / ".local" / "share" / "orc" / "orchestrator.db", 2)


def test_a_store_deleted_during_the_run_is_reported(cli_env, scripted_model, orc_workdir):
    """A store the user put in the agents' directory: orc warns at the start, notices the deletion, says what is
    lost in one line and exits 5; no later agent starts."""
    db = orc_workdir / "orchestrator.db"
    scripted_model.script([WIPE, text("WIPED")], match=BUILDER)
    reviewer = scripted_model.script([text("REVIEWED")], match=REVIEWER)
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--roles", "builder,reviewer", "-q", "tidy up"],
        cwd=orc_workdir,
        env={**cli_env, "ORCHESTRATOR_DB_PATH": str(db)},
        capture_output=True,
        text=True,
        timeout=120,
    )
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
    proc = subprocess.Popen(
        [str(BIN / "orc"), "browse", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
    # Nothing after the serving lines (mission control's address, when orc_web is loaded): no traceback.
    assert [line for line in out.splitlines() if not line.startswith("Mission control: ")] == []
    lines = err.splitlines()
    assert len(lines) == 3 and len(err) < 1000, err[:2000]
    assert all("GET /orc.json failed (400): SQL query took too long" in line for line in lines)


# -- 16. a store that cannot be written, or was edited ----------------------------------------------------------

#: Runs "$@" with a fresh tmpfs at $1 (size $2) holding a copy of $3 (if given), mounted with options $4, in a
#: mount namespace of its own: a real read-only or full file system, gone when the process ends.
ON_MOUNT = """
d="$1"; size="$2"; src="$3"; options="$4"; shift 4
mount -t tmpfs -o "size=$size" tmpfs "$d" || exit 97
if [ -n "$src" ]; then cp "$src" "$d/orc.db" || exit 96; fi
mount -o "remount,$options" "$d" || exit 98
exec "$@"
"""


def mount_namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_mounts = pytest.mark.skipif(
    not mount_namespaces_work(), reason="needs `unshare -m` (root) for a real read-only or full file system"
)


def on_mount(tmp_path, *args, size="4m", src=None, options="ro", env, popen=False):
    mount = tmp_path / "mnt"
    mount.mkdir(exist_ok=True)
    argv = [
        "unshare",
        "-m",
        "sh",
        "-c",
        ON_MOUNT,
        "on_mount",
        str(mount),
        size,
        str(src or ""),
        options,
        str(BIN / "orc"),
        *(str(a).replace("MNT", str(mount)) for a in args),
    ]
    if popen:
        return subprocess.Popen(
            argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def recorded_store(path: Path) -> None:
    """A store holding one finished task, written by the store's own writer."""
    from orc_agents.orc_store.writer import Writer

    make_store(path)
    writer = Writer(path)
    writer.state(
        "tasks",
        {
            "id": "task-ro",
            "prompt": "kept",
            "status": "succeeded",
            "mode": "sequential",
            "created_at": "2026-01-01T00:00:00",
        },
    )
    writer.close()


@needs_mounts
def test_a_store_on_a_read_only_file_system_can_be_read(home, tmp_path):
    src = tmp_path / "src.db"
    recorded_store(src)
    env = home[1]
    listed = on_mount(tmp_path, "list-tasks", "--json", "--db", "MNT/orc.db", src=src, env=env)
    assert listed.returncode == 0, listed.stderr
    assert [t["id"] for t in __import__("json").loads(listed.stdout)] == ["task-ro"]
    status = on_mount(tmp_path, "status", "--db", "MNT/orc.db", src=src, env=env)
    assert status.returncode == 0, status.stderr
    server = on_mount(tmp_path, "browse", "--port", "0", "--db", "MNT/orc.db", src=src, env=env, popen=True)
    try:
        line = server.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        import urllib.request

        with urllib.request.urlopen(f"{url}/tasks.json?_shape=array", timeout=20) as answer:
            assert [t["id"] for t in __import__("json").loads(answer.read())] == ["task-ro"]
    finally:
        server.terminate()
        server.communicate(timeout=30)
    # A run cannot be recorded there: one line that says why.
    run = on_mount(
        tmp_path, "execute", "--scripted", "--roles", "scout", "--db", "MNT/orc.db", "x", src=src, env=env
    )
    assert run.returncode == 5, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert "is read-only" in line and "set ORCHESTRATOR_DB_PATH to a writable file" in line


@needs_mounts
def test_a_full_disk_is_named_as_such(home, tmp_path):
    run = on_mount(
        tmp_path,
        "execute",
        "--scripted",
        "--roles",
        "scout",
        "--db",
        "MNT/orc.db",
        "x",
        size="64k",
        options="rw",
        env=home[1],
    )
    assert run.returncode == 5, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert "the disk is full" in line and "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "edit, words",
    [
        ("drop table tool_calls", ["lacks part of orc's schema (", "tool_calls", "changed by hand"]),
        ("alter table agents rename column role to kind", ["lacks part of orc's schema (", "agents.role"]),
        (
            "insert into _sqlite_migrations (migration_set, name, applied_at) values ('orc.store', 'm999_x', 'now')",
            ["was written by a newer orc (migration m999_x)"],
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["list-tasks"], ["task-details", "task-ro"], ["execute", "--scripted", "x"]]
)
def test_a_hand_edited_store_is_one_line_and_exit_5(home, tmp_path, edit, words, command):
    db = tmp_path / "orc.db"
    recorded_store(db)
    conn = sqlite3.connect(db)
    conn.execute(edit)
    conn.commit()
    conn.close()
    done = subprocess.run(
        [str(BIN / "orc"), *command, "--db", str(db)],
        cwd=home[0],
        env=home[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 5, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert all(w in line for w in words), line


def test_missing_credentials_create_no_store(home, tmp_path):
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--roles", "scout", "x"],
        cwd=home[0],
        env=home[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 6 and "no Claude credentials" in done.stderr
    assert not (tmp_path / "home" / ".local").exists() and list(home[0].iterdir()) == []


def test_python_m_runs_the_cli(home):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator_core.cli",
            "execute",
            "--scripted",
            "--roles",
            "scout",
            "-q",
            "look",
        ],
        cwd=home[0],
        env=home[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Success: 1/1")
    for args, words in ((["plugins", "--all"], "orc_store"), (["agents", "list"], "scout")):
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator_core.cli", *args],
            cwd=home[0],
            env=home[1],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert words in done.stdout


@pytest.mark.anyio
async def test_the_seed_database_api_raises_on_a_lost_row(tmp_path):
    """The Python API's Database says so on close when a row it was given could not be written."""
    from orc_agents.orc_store import Database
    from orchestrator_core import Agent, AgentStatus, StoreError

    db = tmp_path / "orc.db"
    make_store(db)
    conn = sqlite3.connect(db)
    conn.execute(
        "create trigger no_analysts before insert on agents when new.role = 'analyst' "
        "begin select raise(abort, 'injected: no analysts'); end"
    )
    conn.commit()
    conn.close()
    store = await Database(db).connect()
    await store.save_agent(
        Agent(id="a-1", name="mine", role="analyst", cwd=str(tmp_path), status=AgentStatus.IDLE)
    )
    with pytest.raises(StoreError, match="lost 1 rows: dropped a agents row: injected: no analysts"):
        await store.close()
