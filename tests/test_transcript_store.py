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

import attrs
import pytest
from fixtures import alive, clean_env, wait_for

from orchestrator_core import Orchestrator, hookimpl, make_plugin_manager
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
    """Copy a store as one file, what was committed before the kill included: SQLite's backup, as the README says
    (``sqlite3 orchestrator.db ".backup copy.db"``; its Python API where the sqlite3 program is not installed)."""
    if shutil.which("sqlite3"):
        subprocess.run(["sqlite3", str(source), f".backup {target}"], check=True, timeout=60)
        return
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


class Keeper:
    """A third party's transcript keeper (orc_store disabled): lines by (session, subpath), in memory."""

    def __init__(self):
        self.lines = {}
        self.loads = []

    @hookimpl
    def orc_transcript_append(self, agent, session_id, subpath, entries):
        self.lines.setdefault((agent.id, session_id, subpath), []).extend(entries)

    @hookimpl
    def orc_transcript_load(self, agent, session_id, subpath):
        self.loads.append((agent.id, session_id, subpath))
        return self.lines.get((agent.id, session_id, subpath))


def without_store():
    return make_plugin_manager(["no:orc_store"], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})


@pytest.mark.anyio
async def test_hook_orc_transcript_append(orc_config, scripted_model, orc_workdir):
    """Every line of the session's transcript reaches the keeper as the session writes it, secrets redacted."""
    keeper = Keeper()
    pm = without_store()
    pm.register(keeper)
    config = attrs.evolve(orc_config, runtime_env={**orc_config.runtime_env, "MY_TOKEN": "tok-abcdef-123456"})
    scripted_model.script([text("noted tok-abcdef-123456")], match="scout of the team")
    async with Orchestrator(config, pm=pm) as orc:
        agent = await orc.create_agent("scout", cwd=orc_workdir)
        assert await orc.send_to_agent(agent.id, "remember WORD-GAMMA")
        session = orc.agents.get(agent.id).session_id
    ((agent_id, session_id, subpath),) = keeper.lines
    assert (agent_id, session_id, subpath) == (agent.id, session, "")
    kept = json.dumps(keeper.lines[agent_id, session_id, subpath])
    assert "WORD-GAMMA" in kept and "noted" in kept
    assert "tok-abcdef-123456" not in kept and "MY_TOKEN" in kept


@pytest.mark.anyio
async def test_hook_orc_transcript_load(orc_config, scripted_model, orc_workdir, tmp_path):
    """With the CLI's own files gone (another machine), the session continues from what the keeper gives back."""
    keeper = Keeper()
    pm = without_store()
    pm.register(keeper)
    scout = scripted_model.script([text("first"), text("second")], match="scout of the team")
    async with Orchestrator(attrs.evolve(orc_config, keep_agents=True), pm=pm) as orc:
        agent = await orc.create_agent("scout", cwd=orc_workdir)
        await orc.send_to_agent(agent.id, "remember WORD-DELTA")
        shutil.rmtree(tmp_path / "claude-config")  # this machine's transcripts: gone
        assert await orc.send_to_agent(agent.id, "what was the word?") == "second"
    first, second = scripted_model.requests_for(scout)
    assert second.session_id == first.session_id and "WORD-DELTA" in second.search_text
    assert (agent.id, first.session_id, "") in keeper.loads


def test_kept_agents_keep_their_conversation_until_deleted(cli_env, scripted_model, orc_workdir, tmp_path):
    """`--keep-agents`: the lines stay with the agent; `orc agents delete` takes them out of the store."""
    db = tmp_path / "orc.db"
    scripted_model.script([text("LOOKED")], match="scout of the team")
    run = subprocess.run(
        [str(BIN / "orc"), "execute", "--roles", "scout", "--keep-agents", "--json", "look"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    agent_id = json.loads(run.stdout)["subtasks"][0]["agent_id"]
    assert query(db, "select count(*) from transcripts where agent_id = ?", [agent_id])[0][0] > 0
    deleted = subprocess.run(
        [str(BIN / "orc"), "agents", "delete", agent_id], cwd=orc_workdir, env=cli_env, capture_output=True
    )
    assert deleted.returncode == 0, deleted.stderr
    assert query(db, "select count(*) from transcripts") == [(0,)]
    assert query(db, "select status from agents") == [("deleted",)]
