"""orc_otel against a real OpenTelemetry backend: a scripted `orc execute` (real CLI, real store) exports its trace
to Arize Phoenix over OTLP/HTTP, turned on by the standard OTEL_* environment alone; Phoenix's own query API
shows the trace's shape and numbers. Claude Code's own telemetry, when turned on, nests under each agent's span.
"""

import json
import subprocess
import sys
import uuid
from pathlib import Path

from fixtures import clean_env, rows, wait_for

from orchestrator_core.testing import Reply, ToolUse, Usage, text

USAGE = Usage(input_tokens=70, output_tokens=20, cache_read_input_tokens=300, cache_creation_input_tokens=40)
#: Claude Code's own session tracing: spans need both switches (with ENABLE_TELEMETRY alone the CLI sends only
#: metrics and log events); the CLI inherits orc's environment, so it sends to the same OTLP endpoint.
CLAUDE_CODE_TRACING = {
    "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_TRACES_EXPORT_INTERVAL": "200",
}


def test_a_scripted_runs_trace_in_phoenix(phoenix, scripted_model, tmp_path):
    project = f"orc-{uuid.uuid4().hex[:8]}"
    work = tmp_path / "work"
    work.mkdir()
    (work / "spec.txt").write_text("the spec\n")
    scripted_model.script(
        [
            Reply(blocks=(ToolUse("Read", {"file_path": "spec.txt"}),), usage=USAGE),
            text("analysed", usage=USAGE),
        ],
        match="analyst of the team",
    )
    scripted_model.script(
        [
            Reply(blocks=(ToolUse("Write", {"file_path": "made.txt", "content": "x"}),), usage=USAGE),
            Reply(blocks=(ToolUse("Read", {"file_path": "made.txt"}),), usage=USAGE),
            text("built", usage=USAGE),
        ],
        match="builder of the team",
    )
    env = clean_env(
        tmp_path,
        # (Its DISABLE_TELEMETRY=1 does not stop the CLI's OpenTelemetry export: only Anthropic's own analytics.)
        **scripted_model.env(tmp_path / "claude-config"),
        **CLAUDE_CODE_TRACING,
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
        # No ORC_OTEL: the standard OTEL_* environment alone turns orc's traces on.
        OTEL_EXPORTER_OTLP_ENDPOINT=phoenix.url,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_SERVICE_NAME="orc-test",
        OTEL_RESOURCE_ATTRIBUTES=f"openinference.project.name={project}",
    )
    orc = Path(sys.executable).parent / "orc"
    done = subprocess.run(
        [str(orc), "execute", "build it", "--roles", "analyst,builder", "--mode", "dag", "--cwd", str(work)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    agents_in_store = {r["id"]: r for r in rows(tmp_path / "orc.db", "select * from agents")}
    assert len(agents_in_store) == 2

    def complete():
        # Phoenix ingests in the background: wait until every span orc and the CLIs sent is queryable.
        try:
            spans = phoenix.spans(project)
        except OSError:
            return None
        names = [s["name"] for s in spans]
        orc_done = sum(n.startswith("invoke_agent") for n in names) == 2 and "plan" in names
        cc_done = sum(n == "claude_code.interaction" for n in names) == 2
        tools_done = sum(n.startswith("execute_tool") for n in names) == 3
        return (
            spans
            if orc_done and cc_done and tools_done and any(n.startswith("invoke_workflow") for n in names)
            else None
        )

    spans = wait_for(complete, timeout=60)
    by_id = {s["context"]["span_id"]: s for s in spans}
    (workflow,) = [s for s in spans if s["name"].startswith("invoke_workflow")]
    assert workflow["parent_id"] is None
    assert {s["context"]["trace_id"] for s in spans} == {workflow["context"]["trace_id"]}  # one trace
    agents = [s for s in spans if s["name"].startswith("invoke_agent")]
    assert {a["parent_id"] for a in agents} == {workflow["context"]["span_id"]}
    assert sorted(a["attributes"]["gen_ai.agent.id"] for a in agents) == sorted(agents_in_store)
    tool_calls = rows(tmp_path / "orc.db", "select agent_id, payload from events where kind = 'tool_call'")
    for agent in agents:
        attributes = agent["attributes"]
        row = agents_in_store[attributes["gen_ai.agent.id"]]
        assert attributes["gen_ai.usage.output_tokens"] == row["output_tokens"] > 0
        assert attributes["gen_ai.usage.cache_read.input_tokens"] == row["cache_read_tokens"] > 0
        assert attributes["gen_ai.usage.cache_creation.input_tokens"] == row["cache_creation_tokens"] > 0
        assert attributes["orc.usage.input_tokens"] == row["input_tokens"] > 0
        assert attributes["gen_ai.usage.input_tokens"] == (
            row["input_tokens"] + row["cache_read_tokens"] + row["cache_creation_tokens"]
        )
        tools = [
            s
            for s in spans
            if s["name"].startswith("execute_tool") and s["parent_id"] == agent["context"]["span_id"]
        ]
        stored = [json.loads(r["payload"]) for r in tool_calls if r["agent_id"] == row["id"]]
        assert sorted(t["attributes"]["gen_ai.tool.call.id"] for t in tools) == sorted(
            p["tool_use_id"] for p in stored
        )
        assert sorted(t["name"] for t in tools) == sorted(f"execute_tool {p['name']}" for p in stored)
        # Claude Code's own spans (its interaction, model requests, tools) nest under the agent's span.
        (interaction,) = [
            s
            for s in spans
            if s["name"] == "claude_code.interaction" and s["parent_id"] == agent["context"]["span_id"]
        ]
        assert interaction["attributes"]["parent.source"] == "env"
        requests = [
            s
            for s in spans
            if s["name"] == "claude_code.llm_request" and s["parent_id"] == interaction["context"]["span_id"]
        ]
        assert len(requests) == len(stored) + 1
        assert sum(r["attributes"]["gen_ai.usage.output_tokens"] for r in requests) == row["output_tokens"]
    assert all(s["parent_id"] is None or s["parent_id"] in by_id for s in spans)
