"""Agents as resources (#5): create, send, read, delete, from this process and later ones, with context accounting."""

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator_core import AgentRole, AgentStatus, RunFailed, UsageError, hookimpl
from orchestrator_core.testing import Reply, Text, Usage, text, tool

pytestmark = pytest.mark.anyio
BIN = Path(sys.executable).parent


def transcript(config, agent):
    projects = Path(config.runtime_env["CLAUDE_CONFIG_DIR"]) / "projects"
    return list(projects.rglob(f"{agent.session_id}.jsonl")) if projects.exists() else []


async def test_create_send_twice_read_and_delete(orchestrator, scripted_model, orc_workdir):
    scout = scripted_model.script(
        [tool("Glob", {"pattern": "*.py"}), text("FIRST-ANSWER"), text("SECOND-ANSWER")],
        match="scout of the team",
    )
    (orc_workdir / "a.py").write_text("x = 1\n")
    async with orchestrator as orc:
        agent = await orc.create_agent(role=AgentRole.SCOUT, name="My scout", cwd=orc_workdir)
        assert agent.name == "My scout" and agent.status is AgentStatus.CREATED
        assert await orc.send_to_agent(agent.id, "Find all Python files") == "FIRST-ANSWER"
        assert await orc.send_to_agent(agent.id, "And again") == "SECOND-ANSWER"
        # The second message went to the same session, with the first turn in it.
        last = scripted_model.requests_for(scout)[-1]
        assert last.session_id == agent.session_id
        assert "Find all Python files" in last.search_text and "FIRST-ANSWER" in last.search_text

        details = orc.get_agent_details(agent.id)
        assert details["status"] == "idle" and details["session_id"] == agent.session_id
        assert details["metrics"]["tool_calls"] == 1 and details["metrics"]["messages"] == 3
        assert set(details["context_usage"]) == {"used_tokens", "window_tokens", "usage_percentage"}
        assert details["context_usage"]["window_tokens"] > 0
        assert transcript(orc.config, agent)

        await orc.delete_agent(agent.id)
        assert orc.get_agent_details(agent.id)["status"] == "deleted"
        assert transcript(orc.config, agent) == []
        with pytest.raises(UsageError, match="already deleted"):
            await orc.delete_agent(agent.id)
        with pytest.raises(UsageError, match="was deleted"):
            await orc.send_to_agent(agent.id, "hello?")
        with pytest.raises(UsageError, match="no agent 'nope'"):
            await orc.delete_agent("nope")
        status = orc.get_status()
        assert status["by_status"] == {"deleted": 1} and status["by_role"] == {"scout": 1}
        assert status["metrics"]["tool_calls"] == 1


async def test_custom_agent_and_refused_settings(orchestrator, scripted_model, orc_workdir):
    custom = scripted_model.script([text("custom says hi")], match="You are a haiku poet.")
    async with orchestrator as orc:
        with pytest.raises(UsageError, match="seed: not a setting a Claude Code session takes"):
            await orc.create_agent(role=AgentRole.CUSTOM, name="poet", system_prompt="x", seed=7)
        with pytest.raises(UsageError, match="needs a system_prompt"):
            await orc.create_agent(role=AgentRole.CUSTOM, name="poet")
        agent = await orc.create_agent(
            role=AgentRole.CUSTOM,
            name="poet",
            system_prompt="You are a haiku poet.",
            tools=["Read"],
            cwd=orc_workdir,
        )
        assert await orc.send_to_agent(agent.id, "a poem") == "custom says hi"
    request = scripted_model.requests_for(custom)[0]
    assert "You are a haiku poet." in request.system_text
    assert sorted(t["name"] for t in request.body["tools"] if t["name"] != "DeferredToolPlaceholder") == [
        "Read"
    ]


async def test_failed_turn_is_an_error_and_the_agent_stays_usable(orchestrator, scripted_model, orc_workdir):
    from orchestrator_core.testing import error

    scripted_model.script([*[error(400, "nope")] * 10], match="scout of the team")
    async with orchestrator as orc:
        agent = await orc.create_agent("scout", cwd=orc_workdir)
        with pytest.raises(RunFailed, match="could not answer"):
            await orc.send_to_agent(agent.id, "x")
        assert orc.get_agent_details(agent.id)["status"] == "failed"


class Flags:
    def __init__(self):
        self.flags = []

    @hookimpl
    def orc_agent_flagged(self, agent, kind, message):
        self.flags.append((agent.id, kind, message))


async def test_context_threshold_flags_then_hands_over(orchestrator, scripted_model, orc_workdir):
    big = Usage(input_tokens=850_000, output_tokens=10)

    def answer(request):
        asked = request.last_user_text
        if "Write a complete, self-contained summary" in asked:
            return text("SUMMARY: looked at a.py")
        if "Reply only with: ready" in asked:
            return text("ready")
        return text("fresh answer") if "second" in asked else text("busy answer", usage=big)

    scout = scripted_model.script([answer] * 5, match="scout of the team")
    flags = Flags()
    orchestrator.pm.register(flags)
    async with orchestrator as orc:
        agent = await orc.create_agent("scout", cwd=orc_workdir)
        await orc.send_to_agent(agent.id, "first")
        assert orc.get_agent_details(agent.id)["context_usage"]["usage_percentage"] == pytest.approx(85.0)
        assert [(k, a) for a, k, _ in flags.flags] == [("context", agent.id)]
        # Past the threshold, the next message goes to a fresh agent that starts from the old one's summary.
        assert await orc.send_to_agent(agent.id, "second") == "fresh answer"
        new_id = orc.last_handover[agent.id]
        assert new_id != agent.id and orc.get_agent_details(agent.id)["status"] == "deleted"
        assert orc.get_agent_details(new_id)["role"] == "scout"
        assert flags.flags[-1][:2] == (new_id, "handover")
    fresh = [r for r in scripted_model.requests_for(scout) if r.session_id != agent.session_id]
    assert "SUMMARY: looked at a.py" in fresh[0].search_text
    assert "busy answer" not in fresh[-1].search_text  # the fresh agent never saw the old transcript


# -- across processes -----------------------------------------------------------------------------------------


def orc(env, cwd, *args, **kwargs):
    return subprocess.run(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


def test_later_processes_continue_the_conversation(cli_env, scripted_model, orc_workdir, tmp_path):
    scout = scripted_model.script([text("ANSWER-ONE"), text("ANSWER-TWO")], match="scout of the team")
    created = orc(cli_env, orc_workdir, "agents", "create", "--role", "scout", "--name", "My scout")
    assert created.returncode == 0, created.stderr
    agent_id = created.stdout.strip()
    first = orc(cli_env, orc_workdir, "agents", "send", agent_id, "WORD-ALPHA")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "ANSWER-ONE"
    second = orc(cli_env, orc_workdir, "agents", "send", agent_id, "WORD-BETA")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "ANSWER-TWO"
    # The model got the first process's turn in the third process's request.
    requests = scripted_model.requests_for(scout)
    assert len({r.session_id for r in requests}) == 1
    assert "WORD-ALPHA" in requests[-1].search_text and "ANSWER-ONE" in requests[-1].search_text

    shown = json.loads(orc(cli_env, orc_workdir, "agents", "show", agent_id, "--json").stdout)
    assert shown["agent"]["status"] == "idle" and shown["agent"]["session_id"] == requests[0].session_id
    listed = json.loads(orc(cli_env, orc_workdir, "agents", "list", "--role", "scout", "--json").stdout)
    assert [a["id"] for a in listed] == [agent_id]
    seed_alias = orc(cli_env, orc_workdir, "list-agents")
    assert agent_id in seed_alias.stdout

    deleted = orc(cli_env, orc_workdir, "agents", "delete", agent_id)
    assert deleted.returncode == 0 and not list((tmp_path / "claude-config").rglob("*.jsonl"))
    again = orc(cli_env, orc_workdir, "agents", "delete", agent_id)
    assert again.returncode == 2 and "already deleted" in again.stderr and "Traceback" not in again.stderr
    unknown = orc(cli_env, orc_workdir, "agents", "send", "scout-0000000000", "hi")
    assert unknown.returncode == 2 and "no agent 'scout-0000000000'" in unknown.stderr
    db = sqlite3.connect(tmp_path / "orc.db")
    seqs = [s for (s,) in db.execute("select seq from events where agent_id = ? order by seq", [agent_id])]
    assert seqs == list(range(1, len(seqs) + 1))  # numbering went on across processes


def test_a_second_sender_is_told_the_agent_is_busy(cli_env, scripted_model, orc_workdir, tmp_path):
    scripted_model.script([Reply(blocks=(Text("slow"),), latency=30)], match="scout of the team")
    agent_id = orc(cli_env, orc_workdir, "agents", "create", "--role", "scout").stdout.strip()
    first = subprocess.Popen(
        [str(BIN / "orc"), "agents", "send", agent_id, "one"],
        cwd=orc_workdir,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not scripted_model.requests and time.monotonic() < deadline:  # the first turn reached the model
            time.sleep(0.05)
        assert scripted_model.requests
        started = time.monotonic()
        second = orc(cli_env, orc_workdir, "agents", "send", agent_id, "two")
        assert second.returncode == 2 and "is busy" in second.stderr
        assert time.monotonic() - started < 10
    finally:
        first.kill()
        first.communicate()
