"""Agents' conversations kept in the store (#25): written line by line as the session goes, redacted, deleted with the
agent, and continued from the store alone on another machine (its own working copy, CLAUDE_CONFIG_DIR and HOME).
Real `orc` processes, a real SIGKILL, the real SDK and CLI against the scripted model."""

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from fixtures import alive, clean_env, wait_for

from orchestrator_core.testing import text, tool

BIN = Path(sys.executable).parent
BUILDER = "builder of the team"


def query(db, sql, params=()):
    try:
        return sqlite3.connect(db).execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []


def machine(root: Path, scripted_model, **extra):
    """The environment of `orc` on a machine of its own: its HOME, Claude config folder and store."""
    (root / "home").mkdir(parents=True)
    return clean_env(
        root,
        **scripted_model.env(root / "claude-config"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORCHESTRATOR_DB_PATH=str(root / "orc.db"),
        **extra,
    )


def copy_store(source: Path, target: Path) -> None:
    """Copy a store as one file, what was committed before the kill included (SQLite's backup)."""
    with sqlite3.connect(source) as a, sqlite3.connect(target) as b:
        a.backup(b)


def test_killed_on_machine_a_resumed_on_machine_b_from_the_store_alone(scripted_model, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env_a = machine(tmp_path / "a", scripted_model, SECRET_TOKEN="s3cret-value-of-machine-a")
    db_a = tmp_path / "a" / "orc.db"
    release = threading.Event()

    def hangs(request):
        release.wait(timeout=60)
        return text("never read: orc was killed")

    builder = scripted_model.script(
        [
            # The secret's value reaches the conversation: the store keeps it redacted.
            tool("Write", {"file_path": "half.txt", "content": "half done s3cret-value-of-machine-a\n"}),
            hangs,
            text("BUILT on machine B"),
        ],
        match=BUILDER,
    )
    proc = subprocess.Popen(
        [str(BIN / "orc"), "execute", "--roles", "builder", "-q", "build WORD-ALPHA"],
        cwd=work,
        env=env_a,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # The second model call waits: the Write and its result are in the conversation, so in the store.
        wait_for(lambda: len(scripted_model.requests_for(builder)) == 2)
        wait_for(lambda: query(db_a, "select 1 from transcripts where entry like '%tool_result%'"))
        (session,) = {r.session_id for r in scripted_model.requests_for(builder)}
        pids = [p for (p,) in query(db_a, "select pid from agents where pid is not null")]
        (task_id,) = [t for (t,) in query(db_a, "select id from tasks")]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
        release.set()
    assert pids and wait_for(lambda: not any(alive(p) for p in pids), timeout=10)
    kept = [json.loads(e) for (e,) in query(db_a, "select entry from transcripts order by rowid")]
    assert {e.get("sessionId") for e in kept if e.get("sessionId")} == {session}
    assert "s3cret-value-of-machine-a" not in json.dumps(kept)  # redacted like every row
    assert "SECRET_TOKEN" in json.dumps(kept)

    # Machine B: another working copy at the task's path, its own HOME and Claude config; only the store is carried.
    shutil.move(work, tmp_path / "a" / "work")
    work.mkdir()
    env_b = machine(tmp_path / "b", scripted_model)
    copy_store(db_a, tmp_path / "b" / "orc.db")
    resumed = subprocess.run(
        [str(BIN / "orc"), "resume", task_id, "-q"],
        cwd=work,
        env=env_b,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "BUILT on machine B" in resumed.stdout
    last = scripted_model.requests_for(builder)[-1]
    assert last.session_id == session  # the agent's own session, continued
    # The model sees the earlier turns: the first prompt, its Write call and the tool's result, then the note.
    roles = [m["role"] for m in last.messages]
    assert roles.count("assistant") >= 1 and len(last.messages) >= 4, roles
    assert "build WORD-ALPHA" in last.search_text and "half.txt" in last.search_text
    assert "The run was interrupted" in last.last_user_text
    # Machine B never had the CLI's file of the session: the SDK wrote the stored lines to a temporary folder.
    assert not list((tmp_path / "b").rglob(f"{session}.jsonl"))
    # The task ended and deleted its agent: its conversation left the store with it.
    db_b = tmp_path / "b" / "orc.db"
    assert query(db_b, "select status from agents") == [("deleted",)]
    assert query(db_b, "select count(*) from transcripts") == [(0,)]
