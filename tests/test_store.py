"""The run store (orc_store): schema and migrations, what a real run records, exact accounting, the switches,
secrets, the lookup hooks and the seed's Database API. Real SDK and CLI against the scripted model."""

import json
from pathlib import Path

import attrs
import pytest
import sqlite_utils
from fixtures import rows

from orc_agents.orc_store import Database
from orc_agents.orc_store.migrations import migrations
from orc_agents.orc_store.writer import Writer
from orchestrator_core import Orchestrator, make_plugin_manager
from orchestrator_core.plugins import notify
from orchestrator_core.testing import Usage, text, tool

pytestmark = pytest.mark.anyio

BUILDER = "builder of the team"
SCOUT = "scout of the team"


def schema(db):
    return sorted(
        (r["type"], r["name"], r["sql"]) for r in db.query("select type, name, sql from sqlite_master")
    )


# -- schema ---------------------------------------------------------------------------------------------------


def test_migrations_make_the_tables_views_keys_and_search():
    db = sqlite_utils.Database(memory=True)
    migrations.apply(db)
    assert {
        "tasks",
        "subtasks",
        "agents",
        "events",
        "messages",
        "tool_calls",
        "file_accesses",
        "usage",
        "context_samples",
        "status_snapshots",
        "agent_flags",
        "retries",
    } <= set(db.table_names())
    assert set(db.view_names()) == {
        "cost_by_role",
        "agent_totals",
        "task_totals",
        "files_consumed_vs_produced",
        "fleet_status",
        "throttling_by_agent",
    }
    assert db["agents"].columns_dict["started"] is int
    assert db["tool_calls"].pks == ["id"]
    for table in (
        "messages",
        "tool_calls",
        "file_accesses",
        "usage",
        "context_samples",
        "agent_flags",
        "retries",
    ):
        assert {(fk.column, fk.other_table) for fk in db[table].foreign_keys} == {
            ("task_id", "tasks"),
            ("agent_id", "agents"),
        }
    assert db["messages"].detect_fts() == "messages_fts"
    assert {t.name for t in db["messages"].triggers} == {"messages_ai", "messages_ad", "messages_au"}
    assert {tuple(i.columns) for i in db["file_accesses"].indexes} >= {("path",), ("agent_id",), ("task_id",)}
    before = schema(db)
    migrations.apply(db)
    assert schema(db) == before


def test_migration_names_are_unique_and_ordered():
    names = [m.name for m in migrations._migrations]
    assert names == sorted(names) and len(set(names)) == len(names)
    with pytest.raises(ValueError):
        migrations(name=names[0])(lambda db: None)


def test_m019_recounts_an_agents_files_as_distinct_paths():
    db = sqlite_utils.Database(memory=True)
    migrations.apply(db, stop_before="m019_files_read_are_distinct_paths")
    db["tasks"].insert({"id": "t1", "prompt": "p", "status": "succeeded"})
    for agent, read, written in (("a1", 3, 2), ("a2", 4, 0)):  # access counts, as rows were written before
        db["agents"].insert(
            {"id": agent, "task_id": "t1", "name": agent, "role": "builder", "status": "idle"}
            | {"files_read": read, "files_written": written}
        )
    accesses = [
        ("/w/a.py", "read"),
        ("/w/a.py", "read"),
        ("/w/b.py", "read"),
        ("/w/a.py", "edit"),
        (".", "search"),
    ]
    db["file_accesses"].insert_all(
        {"task_id": "t1", "agent_id": "a1", "path": path, "operation": operation, "tool": "x"}
        for path, operation in accesses
    )
    migrations.apply(db)
    assert [
        (r["id"], r["files_read"], r["files_written"]) for r in db.query("select * from agents order by id")
    ] == [
        ("a1", 2, 1),
        ("a2", 4, 0),  # no file access recorded for it: its count stays
    ]
    assert [
        (r["files_read"], r["files_written"])
        for r in db.query("select * from agent_totals where agent_id = 'a1'")
    ] == [(2, 1)]


def test_a_store_written_before_m002_is_carried_forward():
    db = sqlite_utils.Database(memory=True)
    migrations.apply(db, stop_before="m002_agent_started")
    db["tasks"].insert({"id": "t1", "prompt": "p", "status": "succeeded"})
    db["agents"].insert({"id": "a1", "task_id": "t1", "name": "a", "role": "builder", "status": "idle"})
    db["agents"].insert({"id": "a2", "task_id": "t1", "name": "b", "role": "scout", "status": "created"})
    events = [
        ("message", {"role": "user", "text": "write the parser"}),
        ("tool_call", {"tool_use_id": "toolu_1", "name": "Write", "input": {"file_path": "p.py"}}),
        (
            "tool_result",
            {
                "tool_use_id": "toolu_1",
                "name": "Write",
                "is_error": False,
                "content": "ok",
                "duration_ms": 12,
            },
        ),
        ("file_access", {"path": "/w/p.py", "operation": "write", "tool": "Write", "tool_use_id": "toolu_1"}),
        (
            "usage",
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_read_tokens": 1,
                "cache_creation_tokens": 2,
                "cost_usd": 0.5,
                "session_cost_usd": 0.5,
            },
        ),
        ("context", {"used_tokens": 13, "window_tokens": 100, "usage_percentage": 13.0}),
        ("retry", {"attempt": 1, "error_status": 529, "error": "overloaded", "retry_delay_ms": 550}),
        ("result", {"is_error": False}),
    ]
    db["events"].insert_all(
        {
            "task_id": "t1",
            "agent_id": "a1",
            "seq": i,
            "ts": f"2026-01-01T00:00:0{i}",
            "kind": k,
            "payload": json.dumps(p),
        }
        for i, (k, p) in enumerate(events, 1)
    )
    migrations.apply(db)
    assert {r["id"]: r["started"] for r in db["agents"].rows} == {"a1": 1, "a2": 0}
    assert [r["text"] for r in db["messages"].search("parser")] == ["write the parser"]
    call = db["tool_calls"].get("toolu_1")
    assert (
        call["name"],
        json.loads(call["input"]),
        call["result"],
        call["is_error"],
        call["duration_ms"],
    ) == ("Write", {"file_path": "p.py"}, "ok", 0, 12)
    assert [(f["path"], f["operation"], f["tool_call_id"]) for f in db["file_accesses"].rows] == [
        ("/w/p.py", "write", "toolu_1")
    ]
    usage = next(db["usage"].rows)
    assert (usage["input_tokens"], usage["cache_creation_tokens"], usage["cost_usd"]) == (10, 2, 0.5)
    assert next(db["context_samples"].rows)["usage_percentage"] == 13.0
    retry = next(db["retries"].rows)
    assert (retry["by"], retry["error_status"], retry["retry_delay_ms"]) == ("cli", 529, 550)
    assert next(db["throttling_by_agent"].rows)["waited_s"] == 0.55


# -- a real run -------------------------------------------------------------------------------------------------

BUILDER_USAGE = [
    Usage(1200, 40, 300, 50),
    Usage(1500, 60, 400, 0),
    Usage(900, 30, 0, 70),
    Usage(1700, 80, 0, 0),
]


def script_builder(model):
    u = BUILDER_USAGE
    return model.script(
        [
            tool("Write", {"file_path": "notes.txt", "content": "a first line\n"}, usage=u[0]),
            tool("Read", {"file_path": "notes.txt"}, usage=u[1]),
            tool("Read", {"file_path": "missing.txt"}, usage=u[2]),
            text("Wrote notes.txt and read it back.", usage=u[3]),
        ],
        match=BUILDER,
    )


async def test_a_run_records_messages_tool_calls_files_usage_and_context(
    orchestrator, scripted_model, orc_workdir
):
    script_builder(scripted_model)
    scripted_model.script([text("Found notes.txt", usage=Usage(500, 20, 0, 0))], match=SCOUT)
    async with orchestrator as orc:
        result = await orc.execute("Keep notes", roles=["builder", "scout"], cwd=orc_workdir)
    assert result.success, result.error
    db_path = orchestrator.config.db_path
    builder = result.subtasks[0].agent_id

    messages = rows(db_path, "select role, text from messages where agent_id = ? order by seq", [builder])
    assert messages[0]["role"] == "user" and messages[0]["text"].startswith("Task: Keep notes")
    assert messages[-1] == {"role": "assistant", "text": "Wrote notes.txt and read it back."}
    found = rows(
        db_path,
        "select m.agent_id from messages m join messages_fts f on f.rowid = m.id "
        "where messages_fts match 'notes'",
    )
    assert {r["agent_id"] for r in found} == {builder, result.subtasks[1].agent_id}

    calls = rows(db_path, "select * from tool_calls where agent_id = ? order by seq", [builder])
    assert [(c["name"], json.loads(c["input"])["file_path"], c["is_error"]) for c in calls] == [
        ("Write", "notes.txt", 0),
        ("Read", "notes.txt", 0),
        ("Read", "missing.txt", 1),
    ]
    assert "a first line" in calls[1]["result"]
    assert all(c["duration_ms"] >= 0 and c["finished_at"] >= c["called_at"] for c in calls)

    accesses = rows(
        db_path,
        "select path, operation, tool_call_id from file_accesses where agent_id = ? order by id",
        [builder],
    )
    notes = str(orc_workdir / "notes.txt")
    assert accesses == [
        {"path": notes, "operation": "write", "tool_call_id": calls[0]["id"]},
        {"path": notes, "operation": "read", "tool_call_id": calls[1]["id"]},
    ]
    [per_task] = rows(db_path, "select * from files_consumed_vs_produced where scope = 'task'")
    assert (per_task["files_consumed"], per_task["files_produced"]) == (1, 1)

    samples = rows(db_path, "select * from context_samples where agent_id = ?", [builder])
    assert len(samples) == 1 and samples[0]["window_tokens"] > 0
    assert samples[0]["used_tokens"] == result.subtasks[0].metrics.context_used

    [snapshot] = rows(db_path, "select * from status_snapshots")
    assert snapshot["task_id"] == result.task_id
    assert json.loads(snapshot["subtasks"]) == {"1": "succeeded", "2": "succeeded"}
    assert snapshot["cost_usd"] == pytest.approx(result.metrics.cost_usd)
    # Every event is there, numbered without gaps, and the raw stream agrees with the tables it feeds.
    for agent in (builder, result.subtasks[1].agent_id):
        seqs = [
            r["seq"] for r in rows(db_path, "select seq from events where agent_id = ? order by seq", [agent])
        ]
        assert seqs == list(range(1, len(seqs) + 1))
    assert rows(db_path, "select count(*) as n from events where kind = 'message'")[0]["n"] == len(
        rows(db_path, "select id from messages")
    )


async def test_tokens_equal_what_the_model_served_and_cost_what_the_sdk_reported(
    orchestrator, scripted_model, orc_workdir
):
    builder_script = script_builder(scripted_model)
    async with orchestrator as orc:
        result = await orc.execute("Keep notes", roles=["builder"], cwd=orc_workdir)
    db_path = orchestrator.config.db_path
    agent_id = result.subtasks[0].agent_id
    served = scripted_model.requests_for(builder_script)
    assert len(served) == len(BUILDER_USAGE)  # every scripted reply was served, once
    expected = {
        "input_tokens": sum(u.input_tokens for u in BUILDER_USAGE),
        "output_tokens": sum(u.output_tokens for u in BUILDER_USAGE),
        "cache_read_tokens": sum(u.cache_read_input_tokens for u in BUILDER_USAGE),
        "cache_creation_tokens": sum(u.cache_creation_input_tokens for u in BUILDER_USAGE),
    }
    columns = ", ".join(f"sum({c}) as {c}" for c in expected)
    assert rows(db_path, f"select {columns} from usage where agent_id = ?", [agent_id])[0] == expected
    agent = rows(db_path, "select * from agents where id = ?", [agent_id])[0]
    assert {c: agent[c] for c in expected} == expected
    totals = rows(db_path, "select * from agent_totals where agent_id = ?", [agent_id])[0]
    assert totals["total_tokens"] == sum(expected.values())

    [usage] = rows(db_path, "select cost_usd, session_cost_usd from usage where agent_id = ?", [agent_id])
    # The SDK's total for the session is what every table says the agent, the task and the role cost.
    reported = usage["session_cost_usd"]
    assert reported > 0
    assert usage["cost_usd"] == reported == agent["cost_usd"] == result.metrics.cost_usd
    assert rows(db_path, "select cost_usd from tasks")[0]["cost_usd"] == reported
    assert (
        rows(db_path, "select cost_usd from cost_by_role where role = 'builder'")[0]["cost_usd"] == reported
    )
    assert rows(db_path, "select cost_usd from task_totals")[0]["cost_usd"] == reported


async def test_cost_tracking_off_records_no_cost_or_token_value(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    script_builder(scripted_model)
    orc = Orchestrator(attrs.evolve(orc_config, enable_cost_tracking=False), pm=orc_pm)
    async with orc:
        result = await orc.execute("Keep notes", roles=["builder"], cwd=orc_workdir)
    assert (
        result.success and result.metrics.input_tokens > 0
    )  # the run still counts; the store does not record
    db_path = orc_config.db_path
    assert rows(db_path, "select * from usage") == []
    cost_columns = ["cost_usd", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"]
    for table in ("tasks", "subtasks", "agents"):
        for row in rows(db_path, f"select {', '.join(cost_columns)} from {table}"):
            assert set(row.values()) == {None}, table
    assert {r["cost_usd"] for r in rows(db_path, "select cost_usd, total_tokens from status_snapshots")} == {
        None
    }
    [usage_event] = rows(db_path, "select payload from events where kind = 'usage'")
    assert not set(json.loads(usage_event["payload"])) & {*cost_columns, "session_cost_usd"}
    # The event keeps its place in the sequence, so a later process numbers on without reusing a seq.
    seqs = [r["seq"] for r in rows(db_path, "select seq from events order by seq")]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_observability_off_records_no_event_message_or_tool_call(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    script_builder(scripted_model)
    orc = Orchestrator(attrs.evolve(orc_config, enable_observability=False), pm=orc_pm)
    async with orc:
        result = await orc.execute("Keep notes", roles=["builder"], cwd=orc_workdir)
    assert result.success
    db_path = orc_config.db_path
    for table in ("events", "messages", "tool_calls", "file_accesses", "context_samples"):
        assert rows(db_path, f"select count(*) as n from {table}")[0]["n"] == 0, table
    assert rows(db_path, "select status from tasks") == [{"status": "succeeded"}]
    assert rows(db_path, "select sum(input_tokens) as n from usage")[0]["n"] == sum(
        u.input_tokens for u in BUILDER_USAGE
    )


async def test_no_api_key_or_secret_value_is_ever_stored(
    orc_config, orc_pm, scripted_model, orc_workdir, monkeypatch
):
    secret = "s3cr3t-marker-FOO-0123456789"
    api_key = "sk-ant-api03-marker-not-a-real-key-abcdef"
    monkeypatch.setenv("FOO_SECRET", secret)
    monkeypatch.setenv("ANTHROPIC_API_KEY", api_key)
    dummy_key = orc_config.runtime_env["ANTHROPIC_API_KEY"]  # what the CLI really gets in a scripted run
    scripted_model.script(
        [
            tool("Bash", {"command": "echo leaked:$FOO_SECRET; echo key:$ANTHROPIC_API_KEY"}),
            text(f"saw {secret}"),
        ],
        match=BUILDER,
    )
    orc = Orchestrator(attrs.evolve(orc_config, keep_agents=True), pm=orc_pm)
    async with orc:
        result = await orc.execute(
            f"Check that {secret} stays out of the logs", roles=["builder"], cwd=orc_workdir
        )
    assert result.success, result.error
    [call] = rows(orc_config.db_path, "select result from tool_calls")
    assert "leaked:[redacted FOO_SECRET]" in call["result"]  # the tool really printed it; the store hid it
    assert "key:[redacted ANTHROPIC_API_KEY]" in call["result"]
    for path in Path(orc_config.db_path).parent.glob(Path(orc_config.db_path).name + "*"):
        data = path.read_bytes()
        for value in (secret, api_key, dummy_key):
            assert value.encode() not in data, (value, path.name)


# -- hooks --------------------------------------------------------------------------------------------------------


async def test_find_agent_and_query_agents_answer_from_the_store_in_a_new_orchestrator(
    orc_config, scripted_model, orc_workdir
):
    scripted_model.script([text("first answer"), text("second answer")], match=SCOUT)
    first = Orchestrator(
        attrs.evolve(orc_config, keep_agents=True),
        pm=make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    )
    async with first:
        result = await first.execute("look", roles=["scout"], cwd=orc_workdir)
    agent_id = result.subtasks[0].agent_id

    # A fresh plugin manager and store, as a later `orc` process would have.
    later = Orchestrator(orc_config, pm=make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    async with later:
        found = later.pm.hook.orc_find_agent(agent_id=agent_id)
        assert found is not None and found.session_started is True
        assert (found.role, found.status.value, found.task_id) == ("scout", "idle", result.task_id)
        assert found.session_id == scripted_model.requests[0].session_id
        assert found.metrics.input_tokens == result.metrics.input_tokens
        assert found.last_seq == rows(orc_config.db_path, "select max(seq) as s from events")[0]["s"]
        assert later.pm.hook.orc_find_agent(agent_id="scout-nobody") is None
        assert [a.id for a in later.list_agents(role="scout")] == [agent_id]
        assert later.list_agents(role="builder") == []
        assert [a.id for a in later.pm.hook.orc_query_agents(role=None, status="idle")] == [agent_id]
        # The session goes on from the store's record: resumed, and events numbered on without a gap.
        answer = await later.send_to_agent(agent_id, "and again")
    assert answer == "second answer"
    assert "first answer" in scripted_model.requests[-1].search_text
    seqs = [
        r["seq"]
        for r in rows(
            orc_config.db_path, "select seq from events where agent_id = ? order by seq", [agent_id]
        )
    ]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_status_snapshots_and_agent_flags_are_recorded(orchestrator, scripted_model, orc_workdir):
    from orchestrator_core.records import StatusSnapshot

    scripted_model.script([text("ok")], match=SCOUT)
    async with orchestrator as orc:
        result = await orc.execute("look", roles=["scout"], cwd=orc_workdir)
        agent = orc.agents.get(result.subtasks[0].agent_id)
        assert (
            notify(orc.pm, "orc_agent_flagged", agent=agent, kind="stall", message="no event for 120s") == []
        )
        snapshot = StatusSnapshot(result.task_id, (agent,), {"1": "running"}, elapsed_s=1.5)
        assert notify(orc.pm, "orc_status", snapshot=snapshot) == []
    db_path = orchestrator.config.db_path
    assert rows(db_path, "select agent_id, task_id, kind, message from agent_flags") == [
        {"agent_id": agent.id, "task_id": result.task_id, "kind": "stall", "message": "no event for 120s"}
    ]
    last = rows(db_path, "select * from status_snapshots order by id desc limit 1")[0]
    assert (last["elapsed_s"], json.loads(last["agents"]), json.loads(last["subtasks"])) == (
        1.5,
        {"deleted": [agent.id]},
        {"1": "running"},
    )


# -- the writer and the seed API ----------------------------------------------------------------------------------


def test_writer_batches_flushes_and_loses_only_a_bad_row(tmp_path):
    from orc_agents.orc_store import open_database

    path = tmp_path / "w.db"
    open_database(path).close()
    writer = Writer(path)
    writer.state("tasks", {"id": "t1", "prompt": "p", "status": "running"})
    writer.state("agents", {"id": "a1", "task_id": "t1", "name": "a", "role": "scout", "status": "idle"})
    for seq in range(1, 501):
        writer.insert(
            "events",
            {
                "task_id": "t1",
                "agent_id": "a1",
                "seq": seq,
                "ts": "t",
                "kind": "notice",
                "payload": {"n": seq},
            },
        )
    writer.insert(
        "events",
        {"task_id": "t1", "agent_id": "nobody", "seq": 1, "ts": "t", "kind": "notice", "payload": {}},
    )  # violates the agents foreign key
    writer.flush()
    assert rows(path, "select count(*) as n from events")[0]["n"] == 500
    assert json.loads(rows(path, "select payload from events where seq = 7")[0]["payload"]) == {"n": 7}
    assert len(writer.errors) == 2 and "FOREIGN KEY" in writer.errors[1]
    assert writer.rows == 502 and writer.batches < 100
    writer.close()
    writer.close()


async def test_database_seed_api(orchestrator, scripted_model, orc_workdir):
    from orchestrator_core import Agent, AgentStatus

    scripted_model.script([text("ok", usage=Usage(100, 10, 0, 0))], match=SCOUT)
    async with orchestrator as orc:
        await orc.execute("look", roles=["scout"], cwd=orc_workdir)
    db = Database(Path(orchestrator.config.db_path))
    await db.connect()
    try:
        scouts = await db.list_agents(role="scout")
        assert [a.role for a in scouts] == ["scout"]
        mine = Agent(
            id="custom-1", name="mine", role="analyst", cwd=str(orc_workdir), status=AgentStatus.IDLE
        )
        await db.save_agent(mine)
        assert [a.id for a in await db.list_agents(role="analyst")] == ["custom-1"]
        total = await db.get_total_cost()
        assert total == pytest.approx(scouts[0].metrics.cost_usd) and total > 0
        assert await db.get_cost_by_role() == {"scout": pytest.approx(total), "analyst": 0.0}
    finally:
        await db.close()


def test_the_session_event_fills_an_empty_model_and_keeps_a_given_one():
    """#20: m012 fills the model of agents recorded before it from their session event, and from then on a session
    event fills it as it is written; an agent given a model keeps it, and a later update does not empty it."""
    db = sqlite_utils.Database(memory=True)
    migrations.apply(db, stop_before="m012_list_indexes_and_session_model")
    db["tasks"].insert({"id": "t1", "prompt": "p", "status": "running"})
    for agent_id, model in (("old", None), ("given", "claude-given")):
        db["agents"].insert(
            {
                "id": agent_id,
                "task_id": "t1",
                "name": agent_id,
                "role": "scout",
                "status": "idle",
                "model": model,
            }
        )
        db["events"].insert(
            {
                "task_id": "t1",
                "agent_id": agent_id,
                "seq": 1,
                "ts": "2026-01-01T00:00:00",
                "kind": "session",
                "payload": json.dumps({"model": "claude-reported"}),
            }
        )
    migrations.apply(db)
    assert {r["id"]: r["model"] for r in db["agents"].rows} == {
        "old": "claude-reported",
        "given": "claude-given",
    }

    from orc_agents.orc_store.rows import agent_row
    from orchestrator_core import Agent

    db["agents"].insert(
        agent_row(Agent(id="new", name="n", role="scout", cwd="/w", task_id="t1"), True, "now")
    )
    db["events"].insert(
        {
            "task_id": "t1",
            "agent_id": "new",
            "seq": 1,
            "ts": "2026-01-01T00:00:01",
            "kind": "session",
            "payload": json.dumps({"model": "claude-new"}),
        }
    )
    db["agents"].upsert(
        agent_row(Agent(id="new", name="n", role="scout", cwd="/w", task_id="t1"), True, "later"), pk="id"
    )
    assert db["agents"].get("new")["model"] == "claude-new"
