"""The scripted Messages API server, checked against the real Claude Code CLI (no mocks).

One server serves the whole module. Each scenario registers its own script
under a unique ``match`` marker and runs the real ``claude_agent_sdk.query()``
in its own cwd and config dir; all scenarios run concurrently once per module
(CLI start-up dominates), and each test asserts on one scenario's outcome.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    query,
)

from orchestrator_core.testing.scripted_server import (
    Reply,
    ScriptedModel,
    ScriptedRequest,
    Text,
    ToolUse,
    Usage,
    error,
    text,
    tool,
)

SYSTEM = "You are a scripted test agent."
DEFAULT_TEXT = "(scripted model: no script matched)"
# claude-opus-5-5 (the CLI's default model) list prices in USD per token, as the CLI applies them.
PRICE_IN, PRICE_OUT, PRICE_CACHE_READ, PRICE_CACHE_WRITE = 4e-6, 20e-6, 0.2e-6, 5e-6


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    with ScriptedModel() as m:
        yield m


def _options(model: ScriptedModel, base: Path, tools: list[str], **extra: Any) -> ClaudeAgentOptions:
    cwd = base / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    return ClaudeAgentOptions(
        cwd=str(cwd),
        env=model.env(base / "cfg"),
        system_prompt=SYSTEM,
        tools=tools,
        allowed_tools=tools,
        permission_mode="acceptEdits",
        setting_sources=[],
        **extra,
    )


async def _run(
    model: ScriptedModel, base: Path, prompt: str, tools: list[str] | None = None, **extra: Any
) -> list[Any]:
    """All messages of one ``query()`` in ``base/cwd`` with config dir ``base/cfg``."""
    options = _options(model, base, tools or [], **extra)
    return [m async for m in query(prompt=prompt, options=options)]


def _result(messages: list[Any]) -> ResultMessage:
    (result,) = [m for m in messages if isinstance(m, ResultMessage)]
    assert not result.is_error, result
    return result


def _blocks(messages: list[Any], kind: type) -> list[Any]:
    return [
        b
        for m in messages
        if isinstance(m, AssistantMessage | UserMessage)
        for b in (m.content if isinstance(m.content, list) else [])
        if isinstance(b, kind)
    ]


# -- scenarios -------------------------------------------------------------------
# Each scenario registers its own script and drives the real CLI in its own directory.
# The module runs them concurrently (CLI start-up dominates) and each test checks one.

SCENARIOS: dict[str, Callable[[ScriptedModel, Path], Awaitable[dict[str, Any]]]] = {}


def scenario(fn: Callable[[ScriptedModel, Path], Awaitable[dict[str, Any]]]) -> Any:
    SCENARIOS[fn.__name__] = fn
    return fn


@pytest.fixture(scope="module")
def outcomes(model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    async def run_all() -> list[Any]:
        # More CLIs starting at once than cores only adds contention (start-up is CPU-bound).
        limit = asyncio.Semaphore(max(2, os.cpu_count() or 2))

        async def limited(name: str, fn: Any) -> Any:
            async with limit:
                return await fn(model, tmp_path_factory.mktemp(name))

        runs = [limited(name, fn) for name, fn in SCENARIOS.items()]
        return await asyncio.gather(*runs, return_exceptions=True)

    return dict(zip(SCENARIOS, asyncio.run(run_all()), strict=True))


@pytest.fixture
def outcome(outcomes: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The outcome of the scenario named like the test (``test_x`` -> ``x``)."""
    result = outcomes[request.node.name.removeprefix("test_")]
    if isinstance(result, BaseException):
        raise result
    return result


@scenario
async def plain_text(model: ScriptedModel, base: Path) -> dict[str, Any]:
    name = model.script([text("plain scripted answer")], match="PLAIN-MARKER")
    return {"name": name, "messages": await _run(model, base, "PLAIN-MARKER say something")}


def test_plain_text(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    messages = outcome["messages"]
    assert [b.text for b in _blocks(messages, TextBlock)] == ["plain scripted answer"]
    assert _result(messages).result == "plain scripted answer"
    (request,) = model.requests_for(outcome["name"])
    assert request.path.startswith("/v1/messages")
    assert SYSTEM in request.system_text
    assert "PLAIN-MARKER say something" in request.last_user_text
    assert request.session_id == _result(messages).session_id
    assert request.body["stream"] is True


@scenario
async def write_tool_then_text(model: ScriptedModel, base: Path) -> dict[str, Any]:
    target = base / "cwd" / "out.txt"
    write = tool("Write", {"file_path": str(target), "content": "written by the script\n"})
    name = model.script([write, text("wrote it")], match="WRITE-MARKER")
    messages = await _run(model, base, "WRITE-MARKER please", ["Write"])
    return {"name": name, "messages": messages, "target": target}


def test_write_tool_then_text(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    messages = outcome["messages"]
    assert outcome["target"].read_text() == "written by the script\n"
    (use,) = _blocks(messages, ToolUseBlock)
    assert use.name == "Write" and use.id.startswith("toolu_")
    assert _result(messages).result == "wrote it" and _result(messages).num_turns == 2
    assert [r.tool_results[0]["tool_use_id"] for r in model.requests_for(outcome["name"])[1:]] == [use.id]


@scenario
async def read_tool_result_reaches_model(model: ScriptedModel, base: Path) -> dict[str, Any]:
    source = base / "cwd" / "notes.txt"
    source.parent.mkdir(parents=True)
    source.write_text("line one\nline two\n")
    seen: list[ScriptedRequest] = []

    def answer(request: ScriptedRequest) -> Reply:
        seen.append(request)
        return text(f"the file says: {request.tool_results[0]['content']!r}")

    read = Reply(blocks=[ToolUse("Read", {"file_path": str(source)}, id="toolu_read_1")])
    name = model.script([read, answer], match="READ-MARKER")
    messages = await _run(model, base, "READ-MARKER read it", ["Read"])
    return {"name": name, "messages": messages, "seen": seen}


def test_read_tool_result_reaches_model(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    messages = outcome["messages"]
    (result_block,) = _blocks(messages, ToolResultBlock)
    assert result_block.tool_use_id == "toolu_read_1"
    assert "line one" in str(result_block.content)
    (second,) = outcome["seen"]
    assert second.script == outcome["name"] and len(model.requests_for(outcome["name"])) == 2
    (tool_result,) = second.tool_results
    assert tool_result["tool_use_id"] == "toolu_read_1"
    assert "line one" in second.last_user_text and "line two" in second.last_user_text
    assert "line two" in _result(messages).result


@scenario
async def bash_runs(model: ScriptedModel, base: Path) -> dict[str, Any]:
    name = model.script([tool("Bash", {"command": "echo hi"}), text("ran it")], match="BASH-MARKER")
    return {"name": name, "messages": await _run(model, base, "BASH-MARKER run", ["Bash"])}


def test_bash_runs(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    messages = outcome["messages"]
    (result_block,) = _blocks(messages, ToolResultBlock)
    assert result_block.content == "hi" and result_block.is_error is False
    assert model.requests_for(outcome["name"])[1].last_user_text.strip() == "hi"
    assert _result(messages).result == "ran it"


# Keep each call's context (input + cache + output tokens) below ~975k: above that the CLI
# auto-compacts, i.e. sends an extra summary request to the model before going on.
USAGE_1 = Usage(
    input_tokens=123_456,
    output_tokens=7_890,
    cache_read_input_tokens=40_000,
    cache_creation_input_tokens=5_000,
)
USAGE_2 = Usage(
    input_tokens=200_001,
    output_tokens=31_337,
    cache_read_input_tokens=160_000,
    cache_creation_input_tokens=1_234,
)


@scenario
async def usage_and_cost_match_served_usage(model: ScriptedModel, base: Path) -> dict[str, Any]:
    replies = [tool("Bash", {"command": "true"}, usage=USAGE_1), text("done", usage=USAGE_2)]
    model.script(replies, match="USAGE-MARKER")
    return {"messages": await _run(model, base, "USAGE-MARKER count", ["Bash"])}


def test_usage_and_cost_match_served_usage(outcome: dict[str, Any]) -> None:
    result = _result(outcome["messages"])
    fields = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    for field in fields:
        assert result.usage[field] == getattr(USAGE_1, field) + getattr(USAGE_2, field), field
    expected = sum(
        u.input_tokens * PRICE_IN
        + u.output_tokens * PRICE_OUT
        + u.cache_read_input_tokens * PRICE_CACHE_READ
        + u.cache_creation_input_tokens * PRICE_CACHE_WRITE
        for u in (USAGE_1, USAGE_2)
    )
    assert result.total_cost_usd == pytest.approx(expected, rel=1e-12)
    (per_model,) = result.model_usage.values()
    assert (per_model["inputTokens"], per_model["outputTokens"]) == (323_457, 39_227)


@scenario
async def million_tokens_cost_24_dollars(model: ScriptedModel, base: Path) -> dict[str, Any]:
    model.script([text("pricey", usage=Usage(1_000_000, 1_000_000))], match="PRICE-MARKER")
    return {"messages": await _run(model, base, "PRICE-MARKER")}


def test_million_tokens_cost_24_dollars(outcome: dict[str, Any]) -> None:
    result = _result(outcome["messages"])
    assert (result.usage["input_tokens"], result.usage["output_tokens"]) == (1_000_000, 1_000_000)
    assert result.total_cost_usd == pytest.approx(24.0, rel=1e-12)


@scenario
async def overloaded_then_ok_is_retried(model: ScriptedModel, base: Path) -> dict[str, Any]:
    name = model.script([error(529), text("ok after retry")], match="RETRY-MARKER")
    return {"name": name, "messages": await _run(model, base, "RETRY-MARKER")}


def test_overloaded_then_ok_is_retried(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    messages = outcome["messages"]
    retries = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "api_retry"]
    assert [r.data["error_status"] for r in retries] == [529]
    assert _result(messages).result == "ok after retry"
    assert len(model.requests_for(outcome["name"])) == 2


@scenario
async def parallel_sessions_each_get_the_whole_script(model: ScriptedModel, base: Path) -> dict[str, Any]:
    name = model.script([tool("Bash", {"command": "echo step1"}), text("step2")], match="PARALLEL-MARKER")
    runs = [_run(model, base / str(i), "PARALLEL-MARKER go", ["Bash"]) for i in range(2)]
    return {"name": name, "runs": await asyncio.gather(*runs)}


def test_parallel_sessions_each_get_the_whole_script(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    for messages in outcome["runs"]:
        assert [b.content for b in _blocks(messages, ToolResultBlock)] == ["step1"]
        assert _result(messages).result == "step2"
    sessions = {_result(m).session_id for m in outcome["runs"]}
    assert len(sessions) == 2
    requests = model.requests_for(outcome["name"])
    assert sorted(r.session_id for r in requests) == sorted([*sessions, *sessions])


@scenario
async def resumed_session_continues_the_script(model: ScriptedModel, base: Path) -> dict[str, Any]:
    name = model.script([text("first answer"), text("second answer")], match="RESUME-MARKER")
    first = await _run(model, base, "RESUME-MARKER first turn")
    # A fresh query() (a new CLI process); its prompt carries no marker: the session stays bound.
    second = await _run(model, base, "and now the second turn", resume=_result(first).session_id)
    return {"name": name, "first": first, "second": second}


def test_resumed_session_continues_the_script(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    session_id = _result(outcome["first"]).session_id
    assert _result(outcome["first"]).result == "first answer"
    assert _result(outcome["second"]).result == "second answer"
    assert _result(outcome["second"]).session_id == session_id
    last = model.requests_for(outcome["name"])[-1]
    assert last.session_id == session_id
    history = json.dumps(last.messages)
    assert "RESUME-MARKER first turn" in history and "first answer" in history
    assert "and now the second turn" in last.last_user_text


@scenario
async def unmatched_request_gets_default_reply(model: ScriptedModel, base: Path) -> dict[str, Any]:
    return {"messages": await _run(model, base, "NOTHING-SCRIPTED-FOR-THIS")}


def test_unmatched_request_gets_default_reply(model: ScriptedModel, outcome: dict[str, Any]) -> None:
    result = _result(outcome["messages"])
    assert result.result == DEFAULT_TEXT
    (request,) = [r for r in model.requests if r.session_id == result.session_id]
    assert request.script is None
    assert request in model.requests_for(None)


# -- the HTTP surface alone ----------------------------------------------------------


def _post(url: str, body: dict[str, Any]) -> tuple[int, str, bytes]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_http_surface_without_cli() -> None:
    with ScriptedModel(default=text("fallback")) as m:
        m.script(
            [Reply(blocks=[Text("a"), ToolUse("Bash", {"command": "ls"})]), error(500, "boom")],
            match="HTTP-MARKER",
        )
        ask = {
            "model": "m1",
            "stream": False,
            "messages": [{"role": "user", "content": "HTTP-MARKER"}],
            "metadata": {"user_id": json.dumps({"session_id": "s-1"})},
        }
        status, ctype, data = _post(m.url + "/v1/messages", ask)
        message = json.loads(data)
        assert (status, ctype) == (200, "application/json")
        assert (message["stop_reason"], message["model"]) == ("tool_use", "m1")
        assert [c["type"] for c in message["content"]] == ["text", "tool_use"]
        assert message["id"].startswith("msg_") and message["content"][1]["id"].startswith("toolu_")
        status, _, data = _post(m.url + "/v1/messages?beta=true", ask)
        assert status == 500 and json.loads(data)["error"] == {"type": "api_error", "message": "boom"}
        status, ctype, data = _post(m.url + "/v1/messages", {**ask, "stream": True})
        assert (status, ctype) == (200, "text/event-stream")
        events = [line.split(": ", 1)[1] for line in data.decode().splitlines() if line.startswith("event:")]
        assert events == [
            "message_start",
            "ping",
            "content_block_start",
            *["content_block_delta"] * 3,
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        deltas = [
            json.loads(line[6:])["delta"]
            for line in data.decode().splitlines()
            if line.startswith("data:") and "text_delta" in line
        ]
        assert "".join(d["text"] for d in deltas) == "fallback"
        status, _, data = _post(m.url + "/v1/complete", ask)
        assert status == 404 and json.loads(data)["type"] == "error"
        assert [r.session_id for r in m.requests] == ["s-1"] * 4
        assert [r.script for r in m.requests] == ["script-1", "script-1", "script-1", None]


def test_failing_callable_answers_500_and_is_kept() -> None:
    def broken(request: ScriptedRequest) -> Reply:
        raise KeyError("no such thing")

    with ScriptedModel() as m:
        m.script([broken])
        status, _, data = _post(m.url + "/v1/messages", {"messages": []})
        assert status == 500 and "no such thing" in json.loads(data)["error"]["message"]
        assert [type(e) for e in m.errors] == [KeyError]


def test_stop_hangs_up_on_a_waiting_request() -> None:
    m = ScriptedModel()
    m.script([text("too late", latency=60)])
    m.start()
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            _post(m.url + "/v1/messages", {"messages": []})
        except Exception as exc:  # the connection is closed without an answer
            outcome.append(exc)

    client = threading.Thread(target=ask)
    client.start()
    while not m.requests:
        time.sleep(0.01)
    started = time.monotonic()
    m.stop()
    client.join(timeout=5)
    assert time.monotonic() - started < 2 and not client.is_alive()
    assert len(outcome) == 1
    with pytest.raises(RuntimeError):
        assert m.url


def _post_headers(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            response.read()
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, dict(exc.headers)


def test_limit_refuses_beyond_k_at_once_without_taking_a_reply() -> None:
    """#23: the K+1st request at once gets 429 with retry-after; it advances no script, so the next one gets the
    reply it would have had; exhaust() answers a spent quota with its reset time."""
    with ScriptedModel() as m:
        started = threading.Event()

        def slow(request: ScriptedRequest) -> Reply:
            started.set()
            return text("first", latency=1.0)

        m.script([slow, text("second")], match="LIMIT-MARKER")
        m.limit(1, retry_after=2.5)
        body = {"messages": [{"role": "user", "content": "LIMIT-MARKER"}]}
        url = f"{m.url}/v1/messages"
        first = threading.Thread(target=_post_headers, args=(url, body))
        first.start()
        assert started.wait(timeout=10)
        status, headers = _post_headers(url, body)
        first.join()
        assert (status, headers["retry-after"], headers["retry-after-ms"]) == (429, "3", "2500")
        assert len(m.rejected) == 1 and m.peak_concurrent == 1
        status, _ = _post_headers(url, body)
        assert status == 200
        assert [r.script for r in m.requests] == ["script-1", "script-1"]  # the refused one took no reply
        reset = time.time() + 60
        m.exhaust(reset)
        status, headers = _post_headers(url, body)
        assert status == 429
        assert headers["anthropic-ratelimit-unified-status"] == "rejected"
        assert headers["anthropic-ratelimit-unified-reset"] == str(int(reset))
        m.exhaust(None)
        assert _post_headers(url, body)[0] == 200


def test_a_spent_token_budget_says_so_as_the_api_does() -> None:
    """#23: a request refused for the token budget carries ``anthropic-ratelimit-tokens-remaining: 0`` and waits
    until the minute's oldest tokens leave it; one refused for too many at once does not say a budget is spent."""
    with ScriptedModel() as m:
        m.script([text("spent", usage=Usage(input_tokens=900, output_tokens=200))], match="BUDGET-MARKER")
        m.limit(None, tokens_per_minute=1000)
        body = {"messages": [{"role": "user", "content": "BUDGET-MARKER"}]}
        url = f"{m.url}/v1/messages"
        assert _post_headers(url, body)[0] == 200
        status, headers = _post_headers(url, body)
        assert status == 429
        assert headers["anthropic-ratelimit-tokens-remaining"] == "0"
        assert headers["anthropic-ratelimit-tokens-limit"] == "1000"
        assert 58 <= float(headers["retry-after-ms"]) / 1000 <= 60
        m.limit(0)
        status, headers = _post_headers(url, body)
        assert status == 429 and "anthropic-ratelimit-tokens-remaining" not in headers
