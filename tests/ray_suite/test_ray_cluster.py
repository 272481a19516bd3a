"""orc_ray on a real 2-node Ray cluster (one machine, loopback-only namespace) with the real SDK, CLI and store.

Concurrency and liveness are shown with barriers and events the scripted replies wait on, never with sleeps.
"""

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time

import anyio
import attrs
import pytest
from conftest import NODE_KEY
from fixtures import alive, together, wait_for

from orchestrator_core import Orchestrator, Plan, Subtask, hookimpl
from orchestrator_core.testing import Reply, Text, text, tool

pytestmark = pytest.mark.anyio


@pytest.fixture
def ray_config(orc_config, ray_cluster):
    return attrs.evolve(orc_config, runtime="ray")


def events(db_path):
    conn = sqlite3.connect(db_path)
    rows = conn.execute("select agent_id, seq, kind, payload from events order by id").fetchall()
    return [(a, s, k, json.loads(p)) for a, s, k, p in rows]


def node_of(rows, agent_id):
    (node,) = [p["node_id"] for a, _, k, p in rows if a == agent_id and k == "session"]
    return node


def assert_exactly_once_in_order(rows):
    by_agent = {}
    for agent_id, seq, _, _ in rows:
        by_agent.setdefault(agent_id, []).append(seq)
    for agent_id, seqs in by_agent.items():
        assert seqs == list(range(1, len(seqs) + 1)), (agent_id, seqs)
    calls = [p["tool_use_id"] for _, _, k, p in rows if k == "tool_call"]
    assert len(calls) == len(set(calls))


class Seen:
    """Events as the head's observers get them, with a flag per (agent, kind) a scripted reply can wait for."""

    def __init__(self):
        self.kinds = {}

    def flag(self, agent_id, kind):
        return self.kinds.setdefault((agent_id, kind), threading.Event())

    @hookimpl
    def orc_event(self, event):
        self.flag(event.agent_id, event.kind.value).set()


def agent_for(orc, request):
    (agent,) = [a for a in orc.agents.agents.values() if a.session_id == request.session_id]
    return agent


async def test_agents_land_on_both_nodes_and_events_stream_live_once_in_order(
    ray_config, orc_pm, scripted_model, orc_workdir, ray_cluster
):
    _, names = ray_cluster
    seen = Seen()
    orc_pm.register(seen)
    orc = Orchestrator(ray_config, pm=orc_pm)
    both = threading.Barrier(2)
    live = []

    def after_tool(request):
        # The turn is still going (the model has not answered): the head must already have this agent's tool
        # result, streamed from its node.
        agent = agent_for(orc, request)
        live.append(seen.flag(agent.id, "tool_result").wait(timeout=20))
        return text(f"wrote {agent.name}")

    def write(request):
        both.wait(timeout=30)  # the two agents work at the same time
        agent = agent_for(orc, request)
        name = "left.txt" if "(p1)" in agent.name else "right.txt"
        return tool("Write", {"file_path": name, "content": f"from {agent.name}\n"})

    scripted_model.script([write, after_tool], match="builder of the team")
    plan = Plan([Subtask("p1", "builder", "left"), Subtask("p2", "builder", "right")])
    async with orc:
        result = await orc.execute("write", execution_mode="parallel", plan=plan, cwd=orc_workdir)
    assert result.success, result.error
    assert scripted_model.errors == []
    assert live == [True, True]
    rows = events(ray_config.db_path)
    assert_exactly_once_in_order(rows)
    agents = {s.subtask_id: s.agent_id for s in result.subtasks}
    nodes = {node_of(rows, agents["p1"]), node_of(rows, agents["p2"])}
    assert nodes == set(names.values())
    # The directory went to each node as an archive; what each agent wrote came back to the head's directory.
    assert (orc_workdir / "left.txt").read_text() == "from builder (p1)\n"
    assert (orc_workdir / "right.txt").read_text() == "from builder (p2)\n"
    written = {p["path"] for _, _, k, p in rows if k == "file_access"}
    assert written == {str(orc_workdir / "left.txt"), str(orc_workdir / "right.txt")}
    # The key the CLI used is the node's own: the head sent only its name.
    assert {r.headers.get("x-api-key") for r in scripted_model.requests} == {NODE_KEY}


async def test_dag_across_nodes_passes_results_downstream(ray_config, orc_pm, scripted_model, orc_workdir):
    both = threading.Barrier(2)
    scripted_model.script([text("A-RESULT")], match="analyst of the team")
    scripted_model.script([together(both, text("B-RESULT"))], match="builder of the team")
    scripted_model.script([together(both, text("C-RESULT"))], match="tester of the team")
    join = scripted_model.script([text("D-RESULT")], match="reviewer of the team")
    plan = Plan(
        [
            Subtask("a", "analyst", "look"),
            Subtask("b", "builder", "left", depends_on=["a"]),
            Subtask("c", "tester", "right", depends_on=["a"]),
            Subtask("d", "reviewer", "join", depends_on=["b", "c"]),
        ]
    )
    async with Orchestrator(ray_config, pm=orc_pm) as orc:
        result = await orc.execute("diamond", execution_mode="dag", plan=plan, cwd=orc_workdir)
    assert result.success, result.error
    sent = scripted_model.requests_for(join)[0].last_user_text
    assert "B-RESULT" in sent and "C-RESULT" in sent and "A-RESULT" not in sent
    rows = events(ray_config.db_path)
    agents = {s.subtask_id: s.agent_id for s in result.subtasks}
    assert node_of(rows, agents["b"]) != node_of(rows, agents["c"])  # the two branches ran on different nodes
    assert_exactly_once_in_order(rows)


async def test_cancel_kills_the_remote_cli_and_orc_nodes_shows_it(
    ray_config, orc_pm, scripted_model, orc_workdir, orc_cli
):
    from orc_agents.orc_ray.commands import nodes_report

    asked = threading.Event()

    def slow(request):
        asked.set()
        return Reply(blocks=(Text("late"),), latency=60)

    scripted_model.script([slow], match="scout of the team")
    orc = Orchestrator(ray_config, pm=orc_pm)
    timing = {}

    async def cancel_when_asked():
        await anyio.to_thread.run_sync(asked.wait, 30)
        (agent,) = orc.list_agents()
        timing["pid"] = agent.pid
        timing["report"] = await anyio.to_thread.run_sync(nodes_report, None)
        timing["cancelled"] = time.monotonic()
        orc.cancel("interrupted by test")

    async with orc:
        async with anyio.create_task_group() as group:
            group.start_soon(cancel_when_asked)
            result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.stopped == "interrupted"
    gone = time.monotonic() - timing["cancelled"]
    assert not alive(timing["pid"]), "the remote CLI outlived the cancel"
    assert gone < 1.0, f"the run took {gone:.2f}s to stop"
    (agent,) = orc.list_agents()
    running = {row["node_id"]: row["agents"] for row in timing["report"]}
    assert [n for n, ids in running.items() if agent.id in ids] == [
        node_of(events(ray_config.db_path), agent.id)
    ]
    listed = orc_cli("nodes", "--json")
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.stdout)
    assert len(report) == 2 and all(row["slots"] == 4 and row["running"] == 0 for row in report)


async def test_git_worktree_results_come_back(ray_config, orc_pm, scripted_model, orc_workdir):
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=orc_workdir, check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    (orc_workdir / "tracked.txt").write_text("v1\n")
    git("add", "tracked.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    (orc_workdir / "tracked.txt").write_text("v2, not committed\n")
    (orc_workdir / "notes.txt").write_text("untracked notes\n")
    steps = [
        tool("Read", {"file_path": "notes.txt"}),
        tool(
            "Edit",
            {"file_path": "tracked.txt", "old_string": "v2, not committed", "new_string": "v3 by agent"},
        ),
        tool("Write", {"file_path": "made.txt", "content": "made on a node\n"}),
        text("done"),
    ]
    builder = scripted_model.script(steps, match="builder of the team")
    config = attrs.evolve(ray_config, keep_agents=True)
    async with Orchestrator(config, pm=orc_pm) as orc:
        result = await orc.execute("edit", roles=["builder"], cwd=orc_workdir)
    assert result.success, result.error
    # The node's worktree had the head's uncommitted and untracked state.
    assert "untracked notes" in scripted_model.requests_for(builder)[1].last_user_text
    assert (orc_workdir / "tracked.txt").read_text() == "v3 by agent\n"
    assert (orc_workdir / "made.txt").read_text() == "made on a node\n"
    agent_id = result.subtasks[0].agent_id
    # The agent's work is also on the head as a commit, for review or merging by hand.
    assert git("show", f"refs/orc/ray/{agent_id}:made.txt") == "made on a node\n"
    assert git("rev-list", "--count", "HEAD") == "1\n"  # the head's branch is untouched


def kept_lines(db_path, session_id, like):
    """The store's transcript lines of a session that contain ``like`` (#25)."""
    try:
        conn = sqlite3.connect(db_path)
        return conn.execute(
            "select entry from transcripts where session_id = ? and entry like ?", (session_id, f"%{like}%")
        ).fetchall()
    except sqlite3.OperationalError:
        return []


async def test_a_lost_nodes_agent_continues_its_session_on_the_other_node(
    ray_config, orc_pm, scripted_model, orc_workdir
):
    """SIGKILL the node's agent host mid-turn: the same agent's session continues on the other node, from the
    conversation the store kept (the model sees the earlier turns); no retry, no new agent, no replay by Ray."""
    import ray

    from orc_agents.orc_ray.cluster import HOSTS

    orc = Orchestrator(ray_config, pm=orc_pm)
    killed = {}

    def kill_node_worker(request):
        agent = agent_for(orc, request)
        node_id = orc.agents.runtime.nodes[agent.id]
        # The Glob call and its result reached the head's store before the node goes.
        wait_for(lambda: kept_lines(ray_config.db_path, request.session_id, "tool_result"))
        info = ray.get(HOSTS.get(node_id).info.remote())
        killed.update(agent=agent.id, node=node_id, worker=info["pid"], cli=agent.pid)
        os.kill(info["pid"], signal.SIGKILL)
        # Silent from here on: the CLI would never write, so only its parent-death signal ends it.
        return Reply(blocks=(Text("never"),), latency=60)

    scout = scripted_model.script(
        [tool("Glob", {"pattern": "*"}), kill_node_worker, text("recovered")], match="scout of the team"
    )
    async with orc:
        # A bound, not a timing: moving a session starts a CLI on the other node, slow on a loaded machine.
        with anyio.fail_after(120):
            result = await orc.execute("look for WORD-ALPHA", roles=["scout"], cwd=orc_workdir)
    assert result.success, result.error
    (subtask,) = result.subtasks
    assert subtask.attempts == 1 and subtask.output == "recovered"
    assert subtask.agent_id == killed["agent"] and len(orc.list_agents()) == 1
    rows = events(ray_config.db_path)
    sessions = [p["node_id"] for a, _, k, p in rows if k == "session"]
    assert sessions[0] == killed["node"] != sessions[1] and len(sessions) == 2
    moved = [p["message"] for _, _, k, p in rows if k == "notice"]
    assert len(moved) == 1 and "lost" in moved[0] and "continues on node" in moved[0]
    assert_exactly_once_in_order(rows)
    requests = scripted_model.requests_for(scout)
    assert len(requests) == 3 and len({r.session_id for r in requests}) == 1  # one session, no replay by Ray
    last = requests[-1]
    assert "WORD-ALPHA" in last.search_text and "Glob" in json.dumps(last.messages)  # the earlier turns
    assert "The machine you worked on was lost" in last.last_user_text
    assert not alive(killed["cli"]), "the silent CLI outlived its worker"


def test_a_ray_agent_answers_a_later_process(
    ray_cluster, node_model, ray_config, orc_pm, orc_workdir, tmp_path
):
    """`orc agents send` from a later process (a new driver that sends no endpoint or key: the nodes have their own)
    to an agent a Ray run kept: its own session goes on, on whichever node, from the store."""
    import sys
    from pathlib import Path

    cluster, _ = ray_cluster
    scout = node_model.script([text("first answer"), text("second answer")], match="scout of the team")
    config = attrs.evolve(
        ray_config,
        runtime_env={},
        keep_agents=True,
        plugin_settings={**ray_config.plugin_settings, "ORC_SCRIPTED": False},
    )

    async def first_run():
        async with Orchestrator(config, pm=orc_pm) as orc:
            return await orc.execute("remember WORD-BETA", roles=["scout"], cwd=orc_workdir)

    result = anyio.run(first_run)
    assert result.success, result.error
    agent_id = result.subtasks[0].agent_id
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORC_"))}
    env.update(
        HOME=str(tmp_path),
        ORC_RUNTIME="ray",
        ORC_RAY_ADDRESS=cluster.address,
        ORCHESTRATOR_DB_PATH=str(config.db_path),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    sent = subprocess.run(
        [str(Path(sys.executable).parent / "orc"), "agents", "send", agent_id, "and now?"],
        cwd=orc_workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "second answer" in sent.stdout
    first, second = node_model.requests_for(scout)
    assert second.session_id == first.session_id  # its own session
    assert "WORD-BETA" in second.search_text and "first answer" in second.search_text  # the earlier turn
    sessions = [p for a, _, k, p in events(config.db_path) if a == agent_id and k == "session"]
    assert len(sessions) == 2


def test_orc_execute_on_the_cluster_from_the_command_line(ray_cluster, tmp_path):
    """What a user runs: `orc execute --runtime ray --ray-address ...`, a new driver joining the cluster."""
    import sys
    from pathlib import Path

    cluster, names = ray_cluster
    orc = Path(sys.executable).parent / "orc"
    db = tmp_path / "o.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORC_"))}
    done = subprocess.run(
        [
            str(orc),
            "execute",
            "--scripted",
            "--runtime",
            "ray",
            "--ray-address",
            cluster.address,
            "--mode",
            "parallel",
            "--roles",
            "scout,reviewer",
            "--db",
            str(db),
            "-q",
            "look around",
        ],
        cwd=tmp_path,
        env={**env, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    nodes = {p["node_id"] for _, _, k, p in events(db) if k == "session"}
    assert nodes == set(names.values())
    assert_exactly_once_in_order(events(db))
