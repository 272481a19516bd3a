"""`orc mcp` (#26): orc's fleet served to MCP hosts, tried with real clients.

The MCP Python SDK's client over stdio and over streamable HTTP (a wrong token, foreign Host and Origin headers, a
cancel), and the real Claude Code CLI as the host: a scripted Claude Code session with `orc mcp` configured as its
MCP server plans, executes, waits for and reads a team's result. The teams are real orc runs (real CLI agents)
against this test's scripted model.
"""

import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fixtures import rows

from orchestrator_core.testing import text, tool

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.anyio


def team_scripts(scripted_model, scout=None):
    """A scout and a reviewer; returns the reviewer's script name."""
    scripted_model.script(scout or [text("SCOUTED: two files, nothing odd")], match="scout of the team")
    return scripted_model.script([text("REVIEWED: the scout's findings hold")], match="reviewer of the team")


def result_of(answer):
    """The JSON a tool call answered (MCP CallToolResult), or raise with its error text."""
    assert not answer.is_error, answer.content[0].text
    return json.loads(answer.content[0].text)


@asynccontextmanager
async def stdio_session(cli_env, workdir, *args):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=str(BIN / "orc"),
        args=["mcp", "--allow-dir", str(workdir), *args],
        env=cli_env,
        cwd=str(workdir),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def wait_until_done(session, task_id, progress=None):
    """Call wait_for_task until the task ends; ``progress`` (a list) collects the progress notifications."""

    async def heard(done, total, message):
        if progress is not None:
            progress.append((done, total, message))

    for _ in range(20):
        status = result_of(
            await session.call_tool(
                "wait_for_task", {"task_id": task_id, "timeout_seconds": 30}, progress_callback=heard
            )
        )
        if status["status"] not in ("running", "pending"):
            return status
    raise AssertionError(f"task {task_id} never ended: {status}")


async def test_a_host_plans_runs_watches_and_reads_a_team_over_stdio(
    cli_env, scripted_model, orc_workdir, tmp_path
):
    team_scripts(scripted_model)
    async with stdio_session(cli_env, orc_workdir, "--max-cost", "2") as session:
        names = {t.name for t in (await session.list_tools()).tools}
        assert {
            "list_roles", "list_task_types", "plan", "execute", "approve_plan", "task_status", "wait_for_task",
            "read_result", "read_transcript", "send_message", "cancel_task", "resume_task",
        } <= names  # fmt: skip
        roles = result_of(await session.call_tool("list_roles", {}))
        assert {"scout", "builder", "reviewer"} <= {r["name"] for r in roles["roles"]}

        plan = result_of(
            await session.call_tool(
                "plan", {"prompt": "look around", "task_type": "custom", "roles": ["scout", "reviewer"]}
            )
        )
        assert [s["role"] for s in plan["subtasks"]] == ["scout", "reviewer"]
        assert scripted_model.requests == [], "planning spent nothing"

        started = result_of(await session.call_tool("execute", {"prompt": "look around", "plan": plan}))
        assert started["status"] == "running" and started["task_id"].startswith("task-")
        progress = []
        status = await wait_until_done(session, started["task_id"], progress)
        assert status["status"] == "succeeded", status
        assert [a["role"] for a in status["agents"]] == ["scout", "reviewer"]
        # The host heard how far the team got while it waited.
        assert progress and progress[-1] == (2, 2, "succeeded: 2/2 subtasks")

        output = result_of(await session.call_tool("read_result", {"task_id": started["task_id"]}))
        assert "REVIEWED" in output["text"] and output["next_offset"] is None
        scout = status["agents"][0]["agent_id"]
        said = result_of(await session.call_tool("read_result", {"agent_id": scout}))
        assert said["text"].startswith("SCOUTED")
        transcript = result_of(await session.call_tool("read_transcript", {"agent_id": scout}))
        assert any("SCOUTED" in (e.get("text") or "") for e in transcript["entries"])
        assert any("look around" in (e.get("text") or "") for e in transcript["entries"])

        # Refused, saying why, with nothing run: a directory outside the allowed ones, a limit above the bound.
        outside = await session.call_tool("execute", {"prompt": "look around", "cwd": str(tmp_path)})
        assert outside.is_error and "outside the directories this server allows" in outside.content[0].text
        costly = await session.call_tool("execute", {"prompt": "look around", "max_cost_usd": 50})
        assert costly.is_error and "above this server's bound 2" in costly.content[0].text
        unknown = await session.call_tool("task_status", {"task_id": "task-nope"})
        assert unknown.is_error and "no task 'task-nope'" in unknown.content[0].text

    (task,) = rows(tmp_path / "orc.db", "select id, client, limits from tasks")
    assert task["id"] == started["task_id"]
    assert task["client"].startswith("mcp: ")
    assert json.loads(task["limits"])["max_cost_usd"] == 2


async def test_approval_then_a_lower_limit_per_call(cli_env, scripted_model, orc_workdir, tmp_path):
    team_scripts(scripted_model)
    async with stdio_session(cli_env, orc_workdir, "--approve", "--max-agents", "4") as session:
        waiting = result_of(
            await session.call_tool(
                "execute", {"prompt": "look around", "roles": ["scout", "reviewer"], "max_agents": 3}
            )
        )
        assert waiting["status"] == "awaiting_approval" and len(waiting["plan"]["subtasks"]) == 2
        rejected = result_of(
            await session.call_tool("approve_plan", {"approval_id": waiting["approval_id"], "approve": False})
        )
        assert rejected["status"] == "rejected"
        again = await session.call_tool("approve_plan", {"approval_id": waiting["approval_id"]})
        assert again.is_error and "waits for approval" in again.content[0].text
        assert (
            scripted_model.requests == []
            and not (tmp_path / "orc.db").exists()
            or not rows(tmp_path / "orc.db", "select id from tasks")
        )

        waiting = result_of(
            await session.call_tool(
                "execute", {"prompt": "look around", "roles": ["scout", "reviewer"], "max_agents": 3}
            )
        )
        started = result_of(await session.call_tool("approve_plan", {"approval_id": waiting["approval_id"]}))
        assert (await wait_until_done(session, started["task_id"]))["status"] == "succeeded"
    (task,) = rows(tmp_path / "orc.db", "select limits from tasks")
    assert json.loads(task["limits"])["max_agents"] == 3


async def test_a_host_messages_a_kept_agent(cli_env, scripted_model, orc_workdir):
    scout = scripted_model.script(
        [text("SCOUTED: two files"), text("STILL HERE: and a third, hidden")], match="scout of the team"
    )
    async with stdio_session(cli_env, orc_workdir) as session:
        started = result_of(
            await session.call_tool(
                "execute", {"prompt": "look around", "roles": ["scout"], "keep_agents": True}
            )
        )
        status = await wait_until_done(session, started["task_id"])
        (agent,) = status["agents"]
        reply = result_of(
            await session.call_tool(
                "send_message", {"agent_id": agent["agent_id"], "message": "Anything else?"}
            )
        )
        assert reply["text"].startswith("STILL HERE")
        empty = await session.call_tool("send_message", {"agent_id": agent["agent_id"], "message": " "})
        assert empty.is_error and "empty" in empty.content[0].text
    # Its own session went on: the model saw the earlier turn.
    last = scripted_model.requests_for(scout)[-1]
    assert "SCOUTED: two files" in json.dumps(last.messages) and "Anything else?" in json.dumps(last.messages)


# -- HTTP ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def http_server(cli_env, orc_workdir, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t0ken-" + "x" * 30 + "\n")
    proc = subprocess.Popen(
        [
            str(BIN / "orc"),
            "mcp",
            "--http",
            "0",
            "--token-file",
            str(token_file),
            "--allow-dir",
            str(orc_workdir),
        ],
        cwd=orc_workdir,
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/mcp", line)
        assert match, line + proc.stderr.read()
        yield match.group(0), token_file.read_text().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def post(url, headers):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_http_refuses_a_missing_or_wrong_token_and_foreign_hosts(http_server):
    url, token = http_server
    assert post(url, {}) == 401
    assert post(url, {"authorization": "Bearer wrong"}) == 401
    assert post(url, {"authorization": f"Bearer {token}x"}) == 401
    good = {"authorization": f"Bearer {token}"}
    assert post(url, {**good, "host": "evil.example"}) in (400, 403, 421)
    assert post(url, {**good, "origin": "http://evil.example"}) in (400, 403)
    # With the token and loopback headers the server answers (the ping needs an initialized session: not 401/403).
    assert post(url, good) not in (401, 403, 421)


async def test_over_http_a_host_cancels_a_running_task(http_server, scripted_model, tmp_path):
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url, token = http_server
    waiting, release = threading.Event(), threading.Event()

    def held(request):
        waiting.set()
        assert release.wait(timeout=120), "the test never released the scout"
        return text("SCOUTED late")

    reviewer = team_scripts(
        scripted_model, scout=[tool("Glob", {"pattern": "*"}), held, text("SCOUTED again")]
    )
    try:
        async with httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60) as client:
            async with (
                streamable_http_client(url, http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                started = result_of(
                    await session.call_tool(
                        "execute", {"prompt": "look around", "roles": ["scout", "reviewer"]}
                    )
                )
                import anyio

                await anyio.to_thread.run_sync(waiting.wait, 120)
                cancelled = result_of(await session.call_tool("cancel_task", {"task_id": started["task_id"]}))
                assert cancelled["status"] == "cancelling"
                release.set()
                status = await wait_until_done(session, started["task_id"])
                assert status["status"] == "cancelled", status
                assert scripted_model.requests_for(reviewer) == [], "the reviewer never ran"

                # Resumed from the host, under the same id: it carries on to the end.
                resumed = result_of(await session.call_tool("resume_task", {"task_id": started["task_id"]}))
                assert resumed == {"task_id": started["task_id"], "status": "running"}
                assert (await wait_until_done(session, started["task_id"]))["status"] == "succeeded"
                assert len(scripted_model.requests_for(reviewer)) == 1
    finally:
        release.set()
    (task,) = rows(tmp_path / "orc.db", "select status, client from tasks")
    assert task["status"] == "succeeded" and task["client"].startswith("mcp: ")


# -- the real Claude Code CLI as the host -------------------------------------------------------------------------

HOST = "You are the HOST of test_mcp: drive an orc team through its MCP tools."


def answered(request):
    """The JSON text of the tool result the host's last request carries."""
    (result,) = request.tool_results
    content = result["content"]
    if isinstance(content, list):
        content = "".join(block.get("text", "") for block in content)
    assert not result.get("is_error"), content
    return json.loads(content)


async def test_claude_code_drives_an_orc_team_through_orc_mcp(cli_env, scripted_model, orc_workdir, tmp_path):
    """A scripted Claude Code session with `orc mcp` as its MCP server: it plans, executes, waits and reads."""
    from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, ResultMessage, query

    team_scripts(scripted_model)
    seen = {}

    def execute(request):
        seen["plan"] = answered(request)
        return tool("mcp__orc__execute", {"prompt": "look around", "plan": seen["plan"]})

    def wait(request):
        seen["task_id"] = answered(request)["task_id"]
        return tool("mcp__orc__wait_for_task", {"task_id": seen["task_id"], "timeout_seconds": 60})

    def read(request):
        assert answered(request)["status"] == "succeeded"
        return tool("mcp__orc__read_result", {"task_id": seen["task_id"]})

    def report(request):
        return text(f"The team says: {answered(request)['text']}")

    host = scripted_model.script(
        [
            tool(
                "mcp__orc__plan",
                {"prompt": "look around", "task_type": "custom", "roles": ["scout", "reviewer"]},
            ),
            execute,
            wait,
            read,
            report,
        ],
        match=HOST,
    )
    tools = [f"mcp__orc__{name}" for name in ("plan", "execute", "wait_for_task", "read_result")]
    options = ClaudeAgentOptions(
        cwd=str(orc_workdir),
        env=scripted_model.env(tmp_path / "host-config"),
        system_prompt=HOST,
        tools=[],
        allowed_tools=tools,
        setting_sources=[],
        mcp_servers={
            "orc": {
                "type": "stdio",
                "command": str(BIN / "orc"),
                "args": ["mcp", "--allow-dir", str(orc_workdir)],
                "env": cli_env,
            }
        },
    )
    said, final = [], None
    async for message in query(prompt="Have an orc team look around.", options=options):
        if isinstance(message, AssistantMessage):
            said += [getattr(block, "text", "") for block in message.content]
        elif isinstance(message, ResultMessage):
            final = message
    assert final is not None and not final.is_error, final
    assert len(scripted_model.requests_for(host)) == 5
    assert any("The team says: REVIEWED" in s for s in said)
    (task,) = rows(tmp_path / "orc.db", "select id, status, client from tasks")
    assert task["id"] == seen["task_id"] and task["status"] == "succeeded"
    # The host named itself when it connected: the store says which client started the task.
    assert task["client"].startswith("mcp: claude-code ")
