"""The policy API (#21): a plugin keeps the Orchestrator it is given and acts on its fleet."""

import attrs
import pytest

from orchestrator_core import Orchestrator, SubtaskStatus, hookimpl
from orchestrator_core.testing import text, tool

pytestmark = pytest.mark.anyio


class StopLoops:
    """A policy plugin: an agent flagged as looping stops its whole task, with a reason."""

    def __init__(self) -> None:
        self.orcs: list[Orchestrator] = []
        self.stopped: list[str] = []

    @hookimpl
    def orc_orchestrator_started(self, orc):
        self.orcs.append(orc)

    @hookimpl
    def orc_agent_flagged(self, agent, kind, message):
        if kind == "loop":
            for orc in self.orcs:
                if orc.stop_task(agent.task_id, f"stopped by the loop policy: {message}"):
                    self.stopped.append(agent.id)


async def test_a_policy_plugin_stops_a_looping_agent(orc_config, orc_pm, scripted_model, orc_workdir):
    # The scout asks for the same Glob again and again; it would go on for 20 turns without the policy.
    scout = scripted_model.script(
        [tool("Glob", {"pattern": "*.py"})] * 20 + [text("done at last")], match="scout of the team"
    )
    policy = StopLoops()
    orc_pm.register(policy, "stop-loops")
    async with Orchestrator(attrs.evolve(orc_config, loop_repeats=3), pm=orc_pm) as orc:
        result = await orc.execute("look around", roles=["scout", "reviewer"], cwd=orc_workdir)
    assert policy.orcs == [orc] and len(policy.stopped) == 1
    assert not result.success and result.stopped == "policy"
    first, second = result.subtasks
    assert first.status is SubtaskStatus.CANCELLED and first.error.startswith("stopped by the loop policy:")
    assert second.status is SubtaskStatus.CANCELLED  # the reviewer never started
    assert len(scripted_model.requests_for(scout)) < 10


async def test_a_policy_plugin_interrupts_one_agent_and_flags_it(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    """interrupt_agent ends the agent's turn as failed with the reason; flag_agent reaches every observer."""
    scripted_model.script(
        [tool("Glob", {"pattern": "*.py"})] * 20 + [text("done at last")], match="scout of the team"
    )
    scripted_model.script([text("REVIEWED")], match="reviewer of the team")
    flags: list[tuple[str, str]] = []

    class Interrupt:
        orc = None

        @hookimpl
        def orc_orchestrator_started(self, orc):
            Interrupt.orc = orc

        @hookimpl
        def orc_event(self, event):
            if event.kind == "tool_call" and event.seq > 6 and not flags:
                Interrupt.orc.flag_agent(event.agent_id, "policy", "too many globs")
                assert Interrupt.orc.interrupt_agent(event.agent_id, "interrupted by the glob policy")

        @hookimpl
        def orc_agent_flagged(self, agent, kind, message):
            flags.append((kind, message))

    orc_pm.register(Interrupt(), "interrupt")
    async with Orchestrator(orc_config, pm=orc_pm) as orc:
        result = await orc.execute(
            "look around", roles=["scout", "reviewer"], execution_mode="parallel", cwd=orc_workdir
        )
    scout, reviewer = result.subtasks
    assert ("policy", "too many globs") in flags
    assert scout.status is SubtaskStatus.FAILED and scout.error == "interrupted by the glob policy"
    assert reviewer.status is SubtaskStatus.SUCCEEDED


async def test_hook_orc_orchestrator_started(orc_config, orc_pm):
    """Called once per start, after plugins are configured, with the Orchestrator itself."""
    seen = []

    class Keep:
        @hookimpl
        def orc_orchestrator_started(self, orc):
            seen.append((orc, orc.started))

    orc_pm.register(Keep(), "keep")
    orchestrator = Orchestrator(orc_config, pm=orc_pm)
    assert seen == []
    async with orchestrator:
        assert seen == [(orchestrator, True)]
