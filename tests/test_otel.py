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
from fixtures import clean_env, rows, without_governor

from orchestrator_core import Config, Orchestrator, Plan, Subtask, hookimpl
from orchestrator_core.testing import Reply, Text, ToolUse, Usage, error, text, tool

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
    orc, exporter = traced(without_governor(orc_config), orc_pm)
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


def test_the_readmes_traces_command_sends_a_trace(tmp_path):
    """The README's command, offline (--scripted) and pointed at a local OTLP receiver: spans arrive over HTTP."""
    import http.server
    import re
    import shlex
    import threading

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    command = re.search(
        r"```bash\n(OTEL_EXPORTER_OTLP_ENDPOINT=.*?)\n```", readme.split("## Traces", 1)[1], re.DOTALL
    )
    names = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                service = [
                    a.value.string_value for a in resource.resource.attributes if a.key == "service.name"
                ]
                for scope in resource.scope_spans:
                    names.extend((service[0], span.name) for span in scope.spans)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        words = shlex.split(command.group(1))
        assignments = dict(
            w.split("=", 1)
            for w in words
            if "=" in w and not w.startswith("-") and w.isascii() and w[0].isupper()
        )
        argv = words[len(assignments) :]
        assert argv[:2] == ["orc", "execute"] and assignments["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith(
            "http://127.0.0.1"
        )
        assignments["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{server.server_address[1]}"
        env = clean_env(
            tmp_path,
            ORC_DISABLE_PLUGIN_AUTOLOAD="1",
            ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
            **assignments,
        )
        (tmp_path / "work").mkdir()
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "orc"),
                *argv[1:],
                "--scripted",
                "--cwd",
                str(tmp_path / "work"),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stdout + done.stderr
    spans = [name for service, name in names if service == "orc"]
    assert sum(n.startswith("invoke_workflow") for n in spans) == 1 and "plan" in spans
    assert sum(n.startswith("invoke_agent") for n in spans) == 2
    assert any(n.startswith("execute_tool") for n in spans)


async def test_a_planner_agent_is_under_the_plan_span_and_gets_no_second_span(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    plan = {"subtasks": [{"id": "1", "role": "scout", "instruction": "look", "depends_on": []}]}
    scripted_model.script([text(json.dumps(plan))], match="Answer with the plan as JSON only")
    scripted_model.script([text("looked")], match="scout of the team")
    orc, exporter = traced(attrs.evolve(orc_config, plugin_settings={"ORC_PLANNER": "llm"}), orc_pm)
    async with orc:
        result = await orc.execute("plan and look", cwd=orc_workdir)
    assert result.success, result.error
    spans = exporter.get_finished_spans()
    (workflow,) = by_name(spans, "invoke_workflow")
    (planning,) = by_name(spans, "plan")
    agents = {s.attributes["orc.agent.role"]: s for s in by_name(spans, "invoke_agent")}
    assert sorted(agents) == ["planner", "scout"] and len(by_name(spans, "invoke_agent")) == 2
    assert parent_of(planning) == workflow.context.span_id
    assert parent_of(agents["planner"]) == planning.context.span_id  # the planner's work is the plan's
    assert parent_of(agents["scout"]) == workflow.context.span_id
    assert (
        planning.start_time <= agents["planner"].start_time
        and agents["planner"].end_time <= planning.end_time
    )
    assert planning.attributes["orc.plan.subtasks"] == 1
    assert workflow.attributes["orc.task.id"] == result.task_id


async def test_the_orchestrator_agents_children_are_under_its_span(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    from test_conductor import LONG, ORCHESTRATOR, agent_config, conductor

    scripted_model.script([conductor] * 30, match=ORCHESTRATOR)
    scripted_model.script(
        [tool("Write", {"file_path": "alpha.txt", "content": "A\n"}), text(LONG)], match="WRITE-ALPHA"
    )
    scripted_model.script(
        [tool("Write", {"file_path": "beta.txt", "content": "B\n"}), text("BETA-DONE")], match="WRITE-BETA"
    )
    orc, exporter = traced(agent_config(orc_config), orc_pm)
    async with orc:
        result = await orc.execute("Write two files", cwd=orc_workdir)
    assert result.success, result.error
    spans = exporter.get_finished_spans()
    (workflow,) = by_name(spans, "invoke_workflow")
    agents = by_name(spans, "invoke_agent")
    (boss,) = [a for a in agents if a.attributes["orc.agent.role"] == "orchestrator"]
    children = [a for a in agents if a is not boss]
    assert parent_of(boss) == workflow.context.span_id and len(children) == 2
    assert {parent_of(c) for c in children} == {boss.context.span_id}
    assert {c.attributes["orc.agent.parent_id"] for c in children} == {boss.attributes["gen_ai.agent.id"]}
    for child in children:
        (write,) = [
            s for s in spans if s.name == "execute_tool Write" and parent_of(s) == child.context.span_id
        ]
    fleet_tools = {
        s.attributes["gen_ai.tool.name"]
        for s in spans
        if parent_of(s) == boss.context.span_id and s.name.startswith("execute_tool")
    }
    assert any(name.startswith("mcp__") for name in fleet_tools)


def test_a_backend_that_is_down_delays_the_end_by_at_most_the_close_timeout(caplog):
    import socket
    import time

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from orc_agents.orc_otel.tracer import CLOSE_TIMEOUT_S

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tracer = OtelTracer(Config(), OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"))
    tracer.tracer.start_span("x").end()
    began = time.monotonic()
    tracer.close()
    assert time.monotonic() - began < CLOSE_TIMEOUT_S + 1
    lines = [r.getMessage() for r in caplog.records if r.name == "orc.otel"]
    assert len(lines) == 1 and "lost" in lines[0]


def test_without_the_extra_on_is_one_clear_line_and_auto_a_warning(monkeypatch, caplog):
    from orc_agents.orc_otel.switch import tracer_for
    from orchestrator_core import ConfigError, make_plugin_manager

    monkeypatch.setitem(
        sys.modules, "orc_agents.orc_otel.tracer", None
    )  # as if OpenTelemetry were not installed
    pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    with pytest.raises(ConfigError) as caught:
        tracer_for(pm, Config(plugin_settings={SETTING: "on"}))
    assert 'pip install "orc-agents[otel]"' in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracer_for(pm, Config(plugin_settings={SETTING: "auto"})) is None
    assert tracer_for(pm, Config(plugin_settings={SETTING: "auto"})) is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "orc.otel"]
    assert len(warnings) == 1 and "not installed" in warnings[0]


def test_exporters_orc_cannot_use_are_one_clear_line():
    from orc_agents.orc_otel.sending import make_exporter
    from orchestrator_core import ConfigError

    assert make_exporter({"OTEL_TRACES_EXPORTER": "none"}) is None
    assert type(make_exporter({})).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    for environ, named in (
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER=zipkin"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL=http/json"),
    ):
        with pytest.raises(ConfigError) as caught:
            make_exporter(environ)
        assert named in str(caught.value) and "\n" not in str(caught.value)


def test_a_runtime_without_env_still_runs_and_is_told_once(caplog):
    from orchestrator_core import AgentManager, Role, make_plugin_manager
    from orchestrator_core.records import Agent

    class OldRuntime:  # written before orc_agent_environment: session() takes no env
        def check(self):
            pass

        def session(self, agent, role, emit, *, max_budget_usd=None):
            raise NotImplementedError

        async def delete(self, agent):
            pass

    class Marker:
        @hookimpl
        def orc_agent_environment(self, agent, role):
            return {"TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

    pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    pm.register(Marker())
    role = Role("r", "a role", "prompt")
    agent = Agent(id="r-1", name="r-1", role="r", cwd="/")
    old = AgentManager(pm, OldRuntime(), {"r": role}, Config())
    assert old.environment(agent, role) == {} and old.environment(agent, role) == {}
    warnings = [r.getMessage() for r in caplog.records if r.name == "orc.agents"]
    assert len(warnings) == 1 and "OldRuntime takes no env" in warnings[0] and "TRACEPARENT" in warnings[0]
    from orc_agents.orc_claude.runtime import ClaudeRuntime

    current = AgentManager(pm, ClaudeRuntime(Config()), {"r": role}, Config())
    assert current.environment(agent, role)["TRACEPARENT"].startswith("00-0af7")
