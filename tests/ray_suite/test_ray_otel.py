"""orc_otel with agents on a Ray cluster: their spans are made on the head from the events the nodes stream, so
remote agents land in the task's trace; each node's CLI gets its agent span's TRACEPARENT."""

import threading
from pathlib import Path

import attrs
import pytest

from orchestrator_core import Orchestrator, Plan, Subtask, hookimpl
from orchestrator_core.testing import text, tool

pytest.importorskip("opentelemetry.sdk", reason='the otel extra is not installed: pip install -e ".[otel]"')

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from orc_agents.orc_otel.switch import PLUGIN_NAME  # noqa: E402
from orc_agents.orc_otel.tracer import OtelTracer  # noqa: E402

pytestmark = pytest.mark.anyio


class Pids:
    def __init__(self):
        self.by_agent = {}

    @hookimpl
    def orc_agent_updated(self, agent):
        if agent.pid:
            self.by_agent[agent.id] = agent.pid

    def traceparents(self):
        found = {}
        for agent_id, pid in self.by_agent.items():
            try:
                raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
            except OSError:
                continue
            for item in raw.split("\0"):
                if item.startswith("TRACEPARENT="):
                    found[agent_id] = item.split("=", 1)[1]
        return found


async def test_remote_agents_spans_reach_the_tasks_trace(
    orc_config, orc_pm, scripted_model, orc_workdir, ray_cluster
):
    _, names = ray_cluster
    exporter = InMemorySpanExporter()
    config = attrs.evolve(orc_config, runtime="ray")
    orc_pm.register(OtelTracer(config, exporter), PLUGIN_NAME)
    pids = Pids()
    orc_pm.register(pids)
    both = threading.Barrier(2)
    seen = {}

    def write(request):
        both.wait(timeout=30)  # both agents' CLIs are running, one on each node
        seen.update(pids.traceparents())
        return tool("Write", {"file_path": f"{request.session_id}.txt", "content": "x\n"})

    scripted_model.script([write, text("done")], match="builder of the team")
    plan = Plan([Subtask("p1", "builder", "left"), Subtask("p2", "builder", "right")])
    async with Orchestrator(config, pm=orc_pm) as orc:
        result = await orc.execute("write", execution_mode="parallel", plan=plan, cwd=orc_workdir)
    assert result.success, result.error
    spans = exporter.get_finished_spans()
    (workflow,) = [s for s in spans if s.name.startswith("invoke_workflow")]
    agents = [s for s in spans if s.name.startswith("invoke_agent")]
    assert len(agents) == 2 and {s.context.trace_id for s in spans} == {workflow.context.trace_id}
    assert {a.parent.span_id for a in agents} == {workflow.context.span_id}
    assert {a.attributes["orc.ray.node_id"] for a in agents} == set(names.values())  # one on each node
    for agent in agents:
        tools = [
            s for s in spans if s.name == "execute_tool Write" and s.parent.span_id == agent.context.span_id
        ]
        assert len(tools) == 1
        traceparent = seen[agent.attributes["gen_ai.agent.id"]]
        assert traceparent.startswith(f"00-{agent.context.trace_id:032x}-{agent.context.span_id:016x}-")
