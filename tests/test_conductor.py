"""The orchestrator agent (#13): a scripted orchestrator model commands real agents through orc's fleet tools.

The real claude-agent-sdk and CLI run both the orchestrator and its agents against the scripted model; the fleet
tools are an in-process MCP server, so every tool call below really goes CLI -> SDK -> orc and back.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import attrs
import pytest
from fixtures import rows

from orc_agents.orc_claude.conductor.role import SYSTEM_PROMPT
from orc_agents.orc_claude.conductor.scripted import agent_of, call, tool_results
from orchestrator_core import AgentStatus, Orchestrator
from orchestrator_core.testing import Usage, text, tool

pytestmark = pytest.mark.anyio
BIN = Path(sys.executable).parent
ORCHESTRATOR = "You are the orchestrator of orc"
LONG = "ALPHA-DONE " + "a" * 6000


def history(request):
    """(tool name without the mcp prefix, input, parsed result, is_error) for each fleet call so far."""
    calls = {}
    for message in request.messages:
        for block in message.get("content") if isinstance(message.get("content"), list) else ():
            if isinstance(block, dict) and block.get("type") == "tool_use":
                calls[block["id"]] = (block["name"].rsplit("__", 1)[-1], block["input"])
    out = []
    for message in request.messages:
        for block in message.get("content") if isinstance(message.get("content"), list) else ():
            if isinstance(block, dict) and block.get("type") == "tool_result":
                name, args = calls[block["tool_use_id"]]
                (body,) = tool_results(Conversation([{"content": [block]}]))
                out.append((name, args, body, bool(block.get("is_error"))))
    return out


@attrs.frozen
class Conversation:
    messages: list


def conductor(request):
    """Create two agents, command both, check status until both are done, read one result, delete both."""
    h = history(request)
    names = [n for n, *_ in h]
    created = [r["agent_id"] for n, _, r, err in h if n == "create_agent" and not err]
    if names.count("create_agent") == 0:
        return call("create_agent", {"role": "builder", "name": "alpha", "instructions": "WRITE-ALPHA"})
    if names.count("create_agent") == 1:
        return call("create_agent", {"role": "builder", "name": "beta", "instructions": "WRITE-BETA"})
    if names.count("command_agent") < 2:
        return call("command_agent", {"agent_id": created[names.count("command_agent")], "message": "go"})
    done = any(n == "agent_status" and all(a["status"] == "idle" for a in r["agents"]) for n, _, r, _ in h)
    if not done:
        if names[-1] == "agent_status":
            return call("wait_for_agents", {"timeout_seconds": 60})
        return call("agent_status", {})
    reads = [r for n, _, r, _ in h if n == "read_result"]
    if not reads:
        return call("read_result", {"agent_id": created[0]})
    if len(reads) == 1:
        return call("read_result", {"agent_id": created[0], "offset": reads[0]["next_offset"]})
    if names.count("delete_agent") < 2:
        return call("delete_agent", {"agent_id": created[names.count("delete_agent")]})
    return text("TEAM-DONE: alpha and beta wrote their files")


def agent_config(orc_config, **limits):
    return attrs.evolve(
        orc_config, plugin_settings={"ORC_ORCHESTRATOR": "agent"}, max_result_chars=2000, **limits
    )


async def test_orchestrator_agent_runs_a_team(orc_config, orc_pm, scripted_model, orc_workdir):
    boss = scripted_model.script([conductor] * 30, match=ORCHESTRATOR)
    scripted_model.script(
        [tool("Write", {"file_path": "alpha.txt", "content": "A\n"}), text(LONG)], match="WRITE-ALPHA"
    )
    scripted_model.script(
        [tool("Write", {"file_path": "beta.txt", "content": "B\n"}), text("BETA-DONE")], match="WRITE-BETA"
    )
    config = agent_config(orc_config)
    async with Orchestrator(config, pm=orc_pm, enable_monitoring=False) as orc:
        result = await orc.execute("Write two files", cwd=orc_workdir)
        agents = {a.id: a for a in orc.list_agents()}
    assert scripted_model.errors == []
    assert result.success, result.error
    assert result.output == "TEAM-DONE: alpha and beta wrote their files"
    assert [s.role for s in result.subtasks] == ["orchestrator"]
    # The two agents really ran: their scripted Write calls happened on disk.
    assert (orc_workdir / "alpha.txt").read_text() == "A\n" and (
        orc_workdir / "beta.txt"
    ).read_text() == "B\n"

    last = scripted_model.requests_for(boss)[-1]
    h = history(last)
    assert [n for n, *_ in h][:4] == ["create_agent", "create_agent", "command_agent", "command_agent"]
    assert not any(err for *_, err in h)
    statuses = [r for n, _, r, _ in h if n == "agent_status"]
    assert {a["status"] for a in statuses[-1]["agents"]} == {"idle"}
    alpha = next(a for a in statuses[-1]["agents"] if a["name"] == "alpha")
    assert alpha["turns"] == 1 and alpha["files"] == [f"write {orc_workdir / 'alpha.txt'}"]
    assert len(alpha["result_summary"]) <= 300 and alpha["result_chars"] == len(LONG)
    # Results reach the orchestrator bounded, in pieces: never the whole result in one tool result.
    first, second = [r for n, _, r, _ in h if n == "read_result"]
    assert first["text"] == LONG[:2000] and first["next_offset"] == 2000 and second["text"] == LONG[2000:4000]
    assert all(len(json.dumps(r)) <= 3000 for *_, r, _ in h)
    assert LONG not in last.search_text

    # The store holds the tree: three agents of the task, the orchestrator's events name its two children.
    parent = next(a for a in agents.values() if a.role == "orchestrator")
    children = sorted(a.id for a in agents.values() if a.role == "builder")
    assert all(a.status is AgentStatus.DELETED for a in agents.values())
    stored = rows(config.db_path, "select id, role, status from agents where task_id = ?", (result.task_id,))
    assert sorted(r["id"] for r in stored) == sorted([parent.id, *children])
    assert {r["status"] for r in stored} == {"deleted"}
    notices = rows(
        config.db_path, "select payload from events where agent_id = ? and kind = 'notice'", (parent.id,)
    )
    tree = [json.loads(n["payload"]) for n in notices]
    assert sorted(t["child_agent_id"] for t in tree) == children
    assert {t["parent_agent_id"] for t in tree} == {parent.id}
    parents = rows(config.db_path, "select id, parent_id from agents where task_id = ?", (result.task_id,))
    assert {r["id"]: r["parent_id"] for r in parents} == {parent.id: None, **{c: parent.id for c in children}}
    from orc_agents.orc_store import queries, store

    details = queries.task_details(store.open_database(config.db_path, create=False), result.task_id)
    assert {a["agent_id"]: a["parent_id"] for a in details["agents"]} == {
        parent.id: None,
        **{c: parent.id for c in children},
    }
    # The run's metrics count the orchestrator and its team; the orchestrator's own context use is tracked.
    team = sum(agents[c].metrics.cost_usd for c in children)
    assert result.metrics.cost_usd == pytest.approx(parent.metrics.cost_usd + team)
    assert parent.metrics.context_used > 0
    context = rows(config.db_path, "select used_tokens from context_samples where agent_id = ?", (parent.id,))
    assert context and context[-1]["used_tokens"] == parent.metrics.context_used


async def test_a_call_over_budget_is_refused_and_the_run_ends_cleanly(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    boss = scripted_model.script(
        [
            call("create_agent", {"role": "scout", "name": "one", "instructions": "look"}),
            call("create_agent", {"role": "scout", "name": "two", "instructions": "look again"}),
            text("FINISHED WITH ONE"),
        ],
        match=ORCHESTRATOR,
    )
    async with Orchestrator(
        agent_config(orc_config, max_agents=1), pm=orc_pm, enable_monitoring=False
    ) as orc:
        result = await orc.execute("Look around", cwd=orc_workdir)
        agents = orc.list_agents()
    assert result.success, result.error
    assert result.output == "FINISHED WITH ONE"
    refused = scripted_model.requests_for(boss)[-1].tool_results[0]
    assert refused["is_error"] is True
    assert "refused to create an agent: this run may create at most 1 (max agents)" in str(refused["content"])
    assert sorted(a.role for a in agents) == ["orchestrator", "scout"]
    assert all(a.status is AgentStatus.DELETED for a in agents)


async def test_parallel_and_cost_limits_bind_the_tool_calls(orc_config, orc_pm, scripted_model, orc_workdir):
    gate = threading.Event()

    def release_then_wait(request):
        gate.set()  # the first agent answers only now: it was surely still working when the second was commanded
        return call("wait_for_agents", {"timeout_seconds": 60})

    def first_answer(request):
        gate.wait(timeout=20)
        return text("ONE-DONE", usage=Usage(input_tokens=200_000, output_tokens=10))

    boss = scripted_model.script(
        [
            call("create_agent", {"role": "scout", "name": "one", "instructions": "SCOUT-ONE"}),
            call("create_agent", {"role": "scout", "name": "two", "instructions": "SCOUT-TWO"}),
            lambda r: call("command_agent", {"agent_id": agent_of(r, "scout"), "message": "go"}),
            lambda r: call("command_agent", {"agent_id": tool_results(r)[1]["agent_id"], "message": "go"}),
            release_then_wait,
            lambda r: call("command_agent", {"agent_id": agent_of(r, "scout"), "message": "again"}),
            text("STOPPED AT THE LIMITS"),
        ],
        match=ORCHESTRATOR,
    )
    scripted_model.script([first_answer], match="SCOUT-ONE")
    config = agent_config(orc_config, max_parallel_agents=1, max_cost_usd=0.5)
    async with Orchestrator(config, pm=orc_pm, enable_monitoring=False) as orc:
        result = await orc.execute("Look twice", cwd=orc_workdir)
    assert scripted_model.errors == []
    answers = [r.tool_results[0] for r in scripted_model.requests_for(boss)[1:]]
    parallel, waited, costly = answers[3], answers[4], answers[5]
    assert parallel["is_error"] and "1 agents are working, the run's limit (max parallel agents 1)" in str(
        parallel["content"]
    )
    assert not waited.get("is_error") and "ONE-DONE" in str(waited["content"])
    assert costly["is_error"] and "reaching its limit of $0.5000 (max cost)" in str(costly["content"])
    # The orchestrator finished; the run then reports the budget it reached, as any run does.
    assert result.subtasks[0].output == "STOPPED AT THE LIMITS"
    assert result.stopped == "max_cost"


async def test_an_unknown_agent_id_is_an_error_result(orc_config, orc_pm, scripted_model, orc_workdir):
    boss = scripted_model.script(
        [
            call("command_agent", {"agent_id": "builder-nope", "message": "hi"}),
            call("read_result", {"agent_id": "builder-nope"}),
            call("create_agent", {"role": "wizard", "name": "w", "instructions": "x"}),
            call("create_agent", {"role": "scout", "name": "s", "instructions": "x"}),
            lambda r: call("delete_agent", {"agent_id": agent_of(r, "scout")}),
            lambda r: call("delete_agent", {"agent_id": agent_of(r, "scout")}),
            lambda r: call("command_agent", {"agent_id": agent_of(r, "scout"), "message": "x"}),
            text("GAVE UP"),
        ],
        match=ORCHESTRATOR,
    )
    async with Orchestrator(agent_config(orc_config), pm=orc_pm, enable_monitoring=False) as orc:
        result = await orc.execute("Do it", cwd=orc_workdir)
    assert result.success and result.output == "GAVE UP"
    answers = [r.tool_results[0] for r in scripted_model.requests_for(boss)[1:]]
    assert [bool(a.get("is_error")) for a in answers] == [True, True, True, False, False, True, True]
    assert "no agent 'builder-nope' in your team" in str(answers[0]["content"])
    assert "no agent 'builder-nope' in your team" in str(answers[1]["content"])
    assert "unknown role 'wizard'" in str(answers[2]["content"])
    assert "is already deleted" in str(answers[5]["content"]) and "was deleted" in str(answers[6]["content"])


def test_the_orchestrator_role_exists_in_agent_mode_only(orc_config, orc_pm):
    planned = Orchestrator(orc_config, pm=orc_pm)
    assert "orchestrator" not in planned.roles
    assert [s.role for s in planned.plan("Add CSV export").subtasks][0] == "analyst"
    orc = Orchestrator(agent_config(orc_config), pm=orc_pm)
    plan = orc.plan("Add CSV export", roles=["builder"])
    assert [(s.id, s.role) for s in plan.subtasks] == [("orchestrator", "orchestrator")]
    assert "Prefer these roles: builder." in plan.subtasks[0].instruction
    role = orc.roles["orchestrator"]
    # No built-in tool: the fleet tools are added to its session (mcp__orc__*), nothing else.
    assert role.tools == () and role.system_prompt == SYSTEM_PROMPT and role.provided_by == "orc_claude"


@pytest.fixture
def env(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_"))
    }
    env.update(
        HOME=str(tmp_path / "home"), ORC_DISABLE_PLUGIN_AUTOLOAD="1", ORC_SCRIPTED_HOME=str(tmp_path / "sh")
    )
    return env


def test_execute_scripted_orchestrator_agent_end_to_end(tmp_path, env):
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run(
        [
            str(BIN / "orc"),
            "execute",
            "--scripted",
            "--orchestrator",
            "agent",
            "Add CSV export",
            "--cwd",
            str(work),
            "--db",
            str(tmp_path / "o.db"),
            "-q",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Success: 1/1 subtasks") and "Approved" in out.stdout
    assert "def export(rows" in (work / "add_csv_export.py").read_text()
    roles = rows(tmp_path / "o.db", "select role, status from agents order by created_at")
    assert roles == [{"role": r, "status": "deleted"} for r in ("orchestrator", "builder", "reviewer")]


def test_chat_answers_slash_commands_without_the_model(tmp_path, env):
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run(
        [str(BIN / "orc"), "chat", "--scripted", "--cwd", str(work), "--db", str(tmp_path / "c.db")],
        input="/agents\n/cost\n/quit\nnever read\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("orc chat with the orchestrator agent orchestrator-")
    assert lines[1] == "no agents yet"
    assert lines[2].startswith("orchestrator $0.0000 (0 tokens) + agents $0.0000")
    assert len(lines) == 3
    stored = rows(tmp_path / "c.db", "select role, status from agents")
    assert stored == [{"role": "orchestrator", "status": "deleted"}]
