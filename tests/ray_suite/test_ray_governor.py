"""The fleet governor with agents on a 2-node Ray cluster (#23): one admission per endpoint for the whole run, so
what the endpoint taught one node holds on the other, and a spent quota seen on a node stops the run."""

import json
import time

import anyio
import attrs
import pytest
from fixtures import rows, wait_for

from orchestrator_core import Orchestrator, Plan, Subtask
from orchestrator_core.testing import text, tool

pytestmark = pytest.mark.anyio


@pytest.fixture
def ray_config(orc_config, ray_cluster):
    return attrs.evolve(orc_config, runtime="ray", max_parallel_agents=4)


def node_by_agent(db_path):
    found = rows(db_path, "select agent_id, payload from events where kind = 'session'")
    return {r["agent_id"]: json.loads(r["payload"])["node_id"] for r in found}


async def test_the_limit_one_node_met_holds_on_the_other(ray_config, orc_pm, scripted_model, orc_workdir):
    """The model takes one request at once. The agents on the two nodes both ask; one is answered, the other refused.
    While the answered one is still out, the refused one, its cooldown over, waits in the run's shared admission
    for a place: it is not sent (a node with an admission of its own would send it and be refused again)."""
    scripted_model.limit(1, retry_after=0.2)
    orc = Orchestrator(ray_config, pm=orc_pm)
    held = {}

    def hold_until_the_other_node_waits(request):
        wait_for(lambda: scripted_model.rejected, timeout=60)  # the other agent's first request was refused
        governor = orc.pm.get_plugin("orc-governor")

        def waits_for_a_place():
            (endpoint,) = governor.stats().values()
            return (
                endpoint["waiting"] >= 1
                and endpoint["in_flight"] >= endpoint["allowed"]
                and time.time() > endpoint["cooldown_until"]
            )

        wait_for(waits_for_a_place, timeout=60)
        held.update(rejected=len(scripted_model.rejected), session=request.session_id)
        return tool("Write", {"file_path": f"{request.session_id}.txt", "content": "x\n"})

    builder = scripted_model.script(
        [hold_until_the_other_node_waits, text("BUILT")], match="builder of the team"
    )
    plan = Plan([Subtask("p1", "builder", "left"), Subtask("p2", "builder", "right")])
    async with orc:
        with anyio.fail_after(180):
            result = await orc.execute("write", execution_mode="parallel", plan=plan, cwd=orc_workdir)
    assert result.success, result.error
    assert held["rejected"] == 1, "the waiting request was sent while the other was out"
    nodes = node_by_agent(ray_config.db_path)
    assert len(set(nodes.values())) == 2, "the agents did not run on both nodes"
    answered = scripted_model.requests_for(builder)
    turns = [(r.session_id, len(r.messages)) for r in answered]
    assert len(answered) == 4 and len(turns) == len(set(turns)), "a turn was answered twice"
    refused = scripted_model.rejected
    assert {r.session_id for r in refused} <= {r.session_id for r in answered}
    retries = [
        json.loads(r["payload"])
        for r in rows(ray_config.db_path, "select payload from events where kind = 'retry'")
    ]
    assert retries and all(r["by"] == "governor" for r in retries)
    assert len(retries) == len(refused)  # every refusal the nodes' relays waited out reached the head's store


async def test_a_spent_quota_on_a_node_stops_the_run(ray_config, orc_pm, scripted_model, orc_workdir):
    reset = time.time() + 3600

    def then_spent(request):
        scripted_model.exhaust(reset)
        return tool("Write", {"file_path": "out.txt", "content": "x"})

    builder = scripted_model.script([then_spent, text("BUILT")], match="builder of the team")
    try:
        async with Orchestrator(ray_config, pm=orc_pm) as orc:
            with anyio.fail_after(180):
                result = await orc.execute("write", roles=["builder"], cwd=orc_workdir)
    finally:
        scripted_model.exhaust(None)
    assert not result.success
    assert "usage limit is reached until" in (result.error or "")
    assert f"orc resume {result.task_id}" in (result.error or "")
    assert scripted_model.rejected, "the quota was never hit"
    assert len(scripted_model.requests_for(builder)) == 1  # the refused request was not answered, so not paid


async def test_a_dead_workers_place_is_given_back(ray_config, orc_pm, scripted_model, orc_workdir):
    """--max-parallel 1: the agent's worker is SIGKILLed while its request holds the run's one place. The session
    moves to the other node, whose relay gets the place once the dead relay's lease has run out; without that it
    would wait for the place for ever."""
    import os
    import signal

    import ray
    from test_ray_cluster import kept_lines

    from orc_agents.orc_ray.cluster import HOSTS

    config = attrs.evolve(ray_config, max_parallel_agents=1)
    orc = Orchestrator(config, pm=orc_pm)
    killed = {}

    def kill_the_worker(request):
        (agent,) = [a for a in orc.agents.agents.values() if a.session_id == request.session_id]
        node_id = orc.agents.runtime.nodes[agent.id]
        wait_for(lambda: kept_lines(config.db_path, request.session_id, "tool_result"))  # it can move
        (endpoint,) = orc.pm.get_plugin("orc-governor").stats().values()
        killed.update(node=node_id, in_flight=endpoint["in_flight"])
        os.kill(ray.get(HOSTS.get(node_id).info.remote())["pid"], signal.SIGKILL)
        return text("never", latency=60)

    scout = scripted_model.script(
        [tool("Glob", {"pattern": "*"}), kill_the_worker, text("recovered")], match="scout of the team"
    )
    async with orc:
        with anyio.fail_after(180):
            result = await orc.execute("look around", roles=["scout"], cwd=orc_workdir)
    assert result.success, result.error
    assert killed["in_flight"] == 1  # the dead worker's request held the one place
    sessions = [
        json.loads(r["payload"])["node_id"]
        for r in rows(config.db_path, "select payload from events where kind = 'session'")
    ]
    assert sessions[0] == killed["node"] != sessions[-1]
    # The moved session got the place, asked, and was answered, in its own session (not a new one).
    assert result.subtasks[0].output == "recovered"
    assert len({r.session_id for r in scripted_model.requests_for(scout)}) == 1
