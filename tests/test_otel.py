"""orc_otel: the spans of scripted runs (real CLI, scripted model) in the SDK's in-memory exporter, the agents'
TRACEPARENT, redaction and the opt-in content, errors and cancellations; and that traces cost nothing when off.

The test against a real backend (Arize Phoenix) is tests/test_otel_phoenix.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from fixtures import rows

from orchestrator_core import Config, Orchestrator, Plan, Subtask, hookimpl
from orchestrator_core.testing import Reply, Text, ToolUse, Usage, error, text

pytest.importorskip("opentelemetry.sdk", reason='the otel extra is not installed: pip install -e ".[otel]"')

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from orc_agents.orc_otel.switch import CONTENT, CONTENT_MAX, PLUGIN_NAME, SETTING, wanted  # noqa: E402
from orc_agents.orc_otel.tracer import OtelTracer  # noqa: E402

pytestmark = pytest.mark.anyio
USAGE = Usage(input_tokens=120, output_tokens=30, cache_read_input_tokens=400, cache_creation_input_tokens=50)


class Pids:
    """The CLI process of each agent (from the observer hooks), so a scripted reply can read its environment."""

    def __init__(self):
        self.by_agent = {}

    @hookimpl
    def orc_agent_updated(self, agent):
        if agent.pid:
            self.by_agent[agent.id] = agent.pid

    def environments(self):
        found = {}
        for agent_id, pid in self.by_agent.items():
            try:
                raw = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            found[agent_id] = dict(
                item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item
            )
        return found


def traced(orc_config, orc_pm, **settings):
    """An Orchestrator whose tracer exports to memory; returns (orc, exporter)."""
    exporter = InMemorySpanExporter()
    config = attrs.evolve(orc_config, plugin_settings={**orc_config.plugin_settings, **settings})
    orc_pm.register(OtelTracer(config, exporter), PLUGIN_NAME)
    return Orchestrator(config, pm=orc_pm), exporter


def by_name(spans, prefix):
    return [s for s in spans if s.name.startswith(prefix)]


def parent_of(span):
    return span.parent.span_id if span.parent else None


async def test_a_dag_run_is_one_trace_task_plan_agents_tools_and_the_stores_tokens(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    (orc_workdir / "notes.txt").write_text("the notes\n")
    pids = Pids()
    orc_pm.register(pids)
    seen_env = {}

    def read_then_answer(request):
        seen_env.update(pids.environments())
        return Reply(blocks=(Text("the analysis"),), usage=USAGE)

    scripted_model.script(
        [Reply(blocks=(ToolUse("Read", {"file_path": "notes.txt"}),), usage=USAGE), read_then_answer],
        match="analyst of the team",
    )
    scripted_model.script(
        [
            Reply(blocks=(ToolUse("Write", {"file_path": "out.txt", "content": "made"}),), usage=USAGE),
            text("built", usage=USAGE),
        ],
        match="builder of the team",
    )
    orc, exporter = traced(orc_config, orc_pm)
    async with orc:
        result = await orc.execute(
            "make it", execution_mode="dag", roles=["analyst", "builder"], cwd=orc_workdir
        )
    assert result.success, result.error
    spans = exporter.get_finished_spans()

    (workflow,) = by_name(spans, "invoke_workflow")
    assert workflow.parent is None and workflow.name == "invoke_workflow custom"
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["orc.task.id"] == result.task_id
    assert {s.context.trace_id for s in spans} == {workflow.context.trace_id}  # one trace
    (plan,) = by_name(spans, "plan")
    assert parent_of(plan) == workflow.context.span_id and plan.attributes["gen_ai.operation.name"] == "plan"

    agents = by_name(spans, "invoke_agent")
    store = {r["id"]: r for r in rows(orc_config.db_path, "select * from agents")}
    assert sorted(a.attributes["gen_ai.agent.id"] for a in agents) == sorted(store)
    for agent in agents:
        assert parent_of(agent) == workflow.context.span_id
        row = store[agent.attributes["gen_ai.agent.id"]]
        a = agent.attributes
        assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.provider.name"] == "anthropic"
        assert a["orc.agent.role"] == row["role"] and a["gen_ai.conversation.id"] == row["session_id"]
        assert a["gen_ai.usage.output_tokens"] == row["output_tokens"] == 60
        assert a["gen_ai.usage.cache_read.input_tokens"] == row["cache_read_tokens"] == 800
        assert a["gen_ai.usage.cache_creation.input_tokens"] == row["cache_creation_tokens"] == 100
        assert a["orc.usage.input_tokens"] == row["input_tokens"] == 240
        assert (
            a["gen_ai.usage.input_tokens"]
            == row["input_tokens"] + row["cache_read_tokens"] + row["cache_creation_tokens"]
        )
        assert a["orc.cost_usd"] == pytest.approx(row["cost_usd"])
        assert agent.status.status_code is StatusCode.UNSET
        tools = [
            s for s in spans if s.name.startswith("execute_tool") and parent_of(s) == agent.context.span_id
        ]
        chats = [s for s in spans if s.name.startswith("chat") and parent_of(s) == agent.context.span_id]
        assert len(tools) == 1 and len(chats) == 2  # one tool call, two model calls
        assert tools[0].attributes["gen_ai.tool.call.id"].startswith("toolu_")
        assert chats[0].end_time <= tools[0].end_time <= chats[1].start_time
        assert agent.start_time <= tools[0].start_time and tools[0].end_time <= agent.end_time
    analyst = next(a for a in agents if a.attributes["orc.agent.role"] == "analyst")
    builder = next(a for a in agents if a.attributes["orc.agent.role"] == "builder")
    assert [s.name for s in spans if parent_of(s) == analyst.context.span_id and "tool" in s.name] == [
        "execute_tool Read"
    ]
    assert analyst.attributes["orc.files_read"] == (str((orc_workdir / "notes.txt").resolve()),)
    assert builder.attributes["orc.files_written"] == (str((orc_workdir / "out.txt").resolve()),)
    # The dag dependency is a link from the builder's span to the analyst's.
    assert [link.context.span_id for link in builder.links] == [analyst.context.span_id]
    task_row = rows(orc_config.db_path, "select * from tasks")[0]
    assert workflow.attributes["gen_ai.usage.output_tokens"] == result.metrics.output_tokens == 120
    assert workflow.attributes["orc.cost_usd"] == pytest.approx(
        task_row.get("cost_usd", result.metrics.cost_usd)
    )
    # The analyst's CLI was started with its agent span's trace context.
    traceparent = seen_env[analyst.attributes["gen_ai.agent.id"]]["TRACEPARENT"]
    assert traceparent.startswith(f"00-{analyst.context.trace_id:032x}-{analyst.context.span_id:016x}-")
    # Content is opt-in: none by default.
    assert not [
        s
        for s in spans
        if any(
            k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.tool.call.a", "gen_ai.tool.call.r"))
            for k in s.attributes
        )
    ]


async def test_content_is_opt_in_redacted_like_the_store_and_bounded(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    key = orc_config.runtime_env["ANTHROPIC_API_KEY"]
    long = "x" * 5000
    scripted_model.script(
        [Reply(blocks=(ToolUse("Read", {"file_path": "missing.txt"}),)), text(f"the key is {key} {long}")],
        match="analyst of the team",
    )
    orc, exporter = traced(orc_config, orc_pm, **{CONTENT: True, CONTENT_MAX: 300})
    async with orc:
        result = await orc.execute(f"use {key}", roles=["analyst"], cwd=orc_workdir)
    assert result.success, result.error
    spans = exporter.get_finished_spans()
    values = [str(v) for s in spans for v in s.attributes.values()]
    assert not [v for v in values if key in v]
    (agent,) = by_name(spans, "invoke_agent")
    output = json.loads(agent.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"]
    store_text = rows(orc_config.db_path, "select payload from events where kind = 'result'")[0]["payload"]
    label = output.split("the key is ", 1)[1].split(" ", 1)[0]
    assert label in store_text and key not in store_text  # the same redaction as the store's
    assert len(output) <= 300 and "more characters not shown" in output
    (tool,) = by_name(spans, "execute_tool")
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"file_path": "missing.txt"}
    assert "gen_ai.tool.call.result" in tool.attributes
    (workflow,) = by_name(spans, "invoke_workflow")
    assert key not in workflow.attributes["gen_ai.input.messages"]


async def test_a_failed_agent_and_its_task_are_errors(orc_config, orc_pm, scripted_model, orc_workdir):
    scripted_model.script([error(529)] * 6, match="analyst of the team")
    orc, exporter = traced(orc_config, orc_pm)
    async with orc:
        result = await orc.execute("fail", roles=["analyst"], cwd=orc_workdir)
    assert not result.success
    spans = exporter.get_finished_spans()
    (agent,) = by_name(spans, "invoke_agent")
    (workflow,) = by_name(spans, "invoke_workflow")
    assert agent.status.status_code is StatusCode.ERROR and agent.attributes["error.type"] == "agent_error"
    assert workflow.status.status_code is StatusCode.ERROR
    assert workflow.attributes["orc.task.status"] == "failed"


async def test_a_cancelled_run_sets_cancelled_statuses(orc_config, orc_pm, scripted_model, orc_workdir):
    scripted_model.script([Reply(blocks=(Text("late"),), latency=60)], match="analyst of the team")
    orc, exporter = traced(attrs.evolve(orc_config, timeout_seconds=2), orc_pm)
    async with orc:
        result = await orc.execute("hang", roles=["analyst"], cwd=orc_workdir)
    assert result.stopped == "timeout"
    spans = exporter.get_finished_spans()
    (agent,) = by_name(spans, "invoke_agent")
    (workflow,) = by_name(spans, "invoke_workflow")
    assert agent.status.status_code is StatusCode.ERROR and agent.attributes["error.type"] == "cancelled"
    assert (
        workflow.status.status_code is StatusCode.ERROR
        and workflow.attributes["orc.stop_reason"] == "timeout"
    )


async def test_hook_orc_agent_environment(orc_config, orc_pm, scripted_model, orc_workdir):
    class Marker:
        @hookimpl
        def orc_agent_environment(self, agent, role):
            return {"ORC_TEST_MARK": f"{role.name}:{agent.id}"}

    pids = Pids()
    orc_pm.register(pids)
    orc_pm.register(Marker())
    seen = {}

    def answer(request):
        seen.update(pids.environments())
        return text("ok")

    scripted_model.script([answer], match="analyst of the team")
    async with Orchestrator(orc_config, pm=orc_pm) as orc:
        result = await orc.execute("x", plan=Plan([Subtask("1", "analyst", "look")]), cwd=orc_workdir)
    assert result.success, result.error
    ((agent_id, env),) = seen.items()
    assert env["ORC_TEST_MARK"] == f"analyst:{agent_id}"


def test_traces_are_off_unless_asked_for():
    config = Config(plugin_settings={SETTING: "auto"})
    assert not wanted(config, {})
    assert wanted(config, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert wanted(config, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert not wanted(config, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"})
    assert not wanted(config, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"})
    assert wanted(Config(plugin_settings={SETTING: "on"}), {})
    assert not wanted(Config(plugin_settings={SETTING: "off"}), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})


def test_orc_help_and_a_run_with_traces_off_import_no_opentelemetry(tmp_path):
    code = (
        "import sys; from orchestrator_core.cli import main; sys.argv=['orc','--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "from orchestrator_core import Config, make_plugin_manager\n"
        "from orc_agents.orc_otel.switch import tracer_for\n"
        "assert tracer_for(make_plugin_manager(environ={'ORC_DISABLE_PLUGIN_AUTOLOAD': '1'}), Config()) is None\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'opentelemetry imported'"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ORC_"))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_without_orc_otel_there_is_no_otel_option(tmp_path):
    orc = Path(sys.executable).parent / "orc"
    env = {**os.environ, "ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    listed = subprocess.run(
        [str(orc), "execute", "--help"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    disabled = subprocess.run(
        [str(orc), "-p", "no:orc_otel", "execute", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert "--otel" in listed.stdout
    assert disabled.returncode == 0 and "--otel" not in disabled.stdout, disabled.stderr
