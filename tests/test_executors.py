"""Sequential, parallel and dag execution, the run-wide limits, fail-fast, retries and cancellation.

Real claude-agent-sdk sessions against the scripted model; concurrency is proven with a barrier the scripted
replies wait on (it only opens when the expected agents are talking at the same time), never with sleeps.
"""

import threading

import attrs
import pytest
from fixtures import alive, together, without_governor

from orchestrator_core import Orchestrator, Plan, Subtask, SubtaskStatus, TaskStatus, hookimpl
from orchestrator_core.testing import Reply, Text, Usage, error, text

pytestmark = pytest.mark.anyio


class Concurrency:
    """Records the most subtasks running at once, from the observer hooks."""

    def __init__(self):
        self.running = 0
        self.most = 0

    @hookimpl
    def orc_subtask_started(self, task, subtask, agent):
        self.running += 1
        self.most = max(self.most, self.running)

    @hookimpl
    def orc_subtask_finished(self, task, subtask, result):
        if result.agent_id:
            self.running -= 1


def diamond():
    return Plan(
        [
            Subtask("a", "analyst", "look"),
            Subtask("b", "builder", "left", depends_on=["a"]),
            Subtask("c", "tester", "right", depends_on=["a"]),
            Subtask("d", "reviewer", "join", depends_on=["b", "c"]),
        ]
    )


async def test_dag_runs_independent_branches_together_and_joins_their_results(
    orchestrator, scripted_model, orc_workdir
):
    both = threading.Barrier(2)
    scripted_model.script([text("A-RESULT")], match="analyst of the team")
    scripted_model.script([together(both, text("B-RESULT"))], match="builder of the team")
    scripted_model.script([together(both, text("C-RESULT"))], match="tester of the team")
    join = scripted_model.script([text("D-RESULT")], match="reviewer of the team")
    async with orchestrator as orc:
        result = await orc.execute("diamond", execution_mode="dag", plan=diamond(), cwd=orc_workdir)
    assert result.success, result.error
    assert scripted_model.errors == []
    sent = scripted_model.requests_for(join)[0].last_user_text
    assert "B-RESULT" in sent and "C-RESULT" in sent and "A-RESULT" not in sent  # exactly its dependencies


async def test_parallel_respects_max_parallel(orc_config, orc_pm, scripted_model, orc_workdir):
    slow = Reply(blocks=(Text("done"),), latency=0.5)
    scripted_model.script([slow], match="scout of the team")
    counter = Concurrency()
    orc_pm.register(counter)
    orc = Orchestrator(attrs.evolve(orc_config, max_parallel_agents=2), pm=orc_pm)
    async with orc:
        result = await orc.execute("x", execution_mode="parallel", roles=["scout"] * 4, cwd=orc_workdir)
    assert result.success
    assert counter.most == 2


async def test_parallel_gives_no_upstream_results(orchestrator, scripted_model, orc_workdir):
    both = threading.Barrier(2)
    scripted_model.script([together(both, text("FIRST"))], match="scout of the team")
    second = scripted_model.script([together(both, text("SECOND"))], match="reviewer of the team")
    async with orchestrator as orc:
        result = await orc.execute(
            "x", execution_mode="parallel", roles=["scout", "reviewer"], cwd=orc_workdir
        )
    assert result.success
    assert "FIRST" not in scripted_model.requests_for(second)[0].search_text


async def test_failure_skips_dependents_and_independent_branches_go_on(
    orchestrator, scripted_model, orc_workdir
):
    scripted_model.script([text("A")], match="analyst of the team")
    scripted_model.script([error(400, "no")] * 10, match="builder of the team")
    scripted_model.script([text("C")], match="tester of the team")
    async with orchestrator as orc:
        result = await orc.execute("x", execution_mode="dag", plan=diamond(), cwd=orc_workdir)
    status = {s.subtask_id: s.status for s in result.subtasks}
    assert status == {
        "a": SubtaskStatus.SUCCEEDED,
        "b": SubtaskStatus.FAILED,
        "c": SubtaskStatus.SUCCEEDED,
        "d": SubtaskStatus.SKIPPED,
    }
    assert result.status is TaskStatus.FAILED and result.stopped is None
    assert result.error.startswith("b (builder) failed")


async def test_fail_fast_interrupts_running_agents(orc_config, orc_pm, scripted_model, orc_workdir):
    scripted_model.script([error(400, "no")] * 10, match="builder of the team")
    scripted_model.script([Reply(blocks=(Text("never"),), latency=60)], match="scout of the team")
    orc = Orchestrator(attrs.evolve(orc_config, fail_fast=True), pm=orc_pm)
    async with orc:
        result = await orc.execute(
            "x", execution_mode="parallel", roles=["builder", "scout"], cwd=orc_workdir
        )
    assert result.stopped == "fail_fast" and result.status is TaskStatus.FAILED
    status = {s.role: s.status for s in result.subtasks}
    assert status == {"builder": SubtaskStatus.FAILED, "scout": SubtaskStatus.CANCELLED}
    pids = [a.pid for a in orc.list_agents()]
    assert len(pids) == 2 and all(pids) and not any(alive(pid) for pid in pids)
    assert result.elapsed_s < 30


async def test_max_cost_stops_starting_agents(orc_config, orc_pm, scripted_model, orc_workdir):
    scripted_model.script(
        [text("pricey", usage=Usage(input_tokens=10_000, output_tokens=1_000))], match="scout of the team"
    )
    orc = Orchestrator(attrs.evolve(orc_config, max_cost_usd=0.01), pm=orc_pm)
    async with orc:
        result = await orc.execute("x", roles=["scout", "scout", "scout"], cwd=orc_workdir)
    assert result.stopped == "max_cost" and result.status is TaskStatus.CANCELLED
    # The CLI itself cut the first agent off at the run's remaining budget (max_budget_usd), then orc stopped.
    assert [s.status for s in result.subtasks] == [
        SubtaskStatus.FAILED,
        SubtaskStatus.CANCELLED,
        SubtaskStatus.CANCELLED,
    ]
    assert "budget" in result.subtasks[0].error.lower(), result.subtasks[0].error
    assert "--max-cost" in result.error
    assert result.metrics.cost_usd == pytest.approx(0.06)


async def test_max_agents(orc_config, orc_pm, scripted_model, orc_workdir):
    scripted_model.script([text("ok")], match="scout of the team")
    orc = Orchestrator(attrs.evolve(orc_config, max_agents=2), pm=orc_pm)
    async with orc:
        result = await orc.execute("x", roles=["scout"] * 3, cwd=orc_workdir)
    assert result.stopped == "max_agents"
    assert len(orc.list_agents()) == 2
    assert [s.status for s in result.subtasks][-1] is SubtaskStatus.CANCELLED


async def test_max_agents_equal_to_the_team_runs_the_whole_team(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    """Sequential mode prepares the next agent while one works; that agent is counted once, when it is made, so a
    team of N runs under --max-agents N (#19: it stopped at N-1)."""
    scripted_model.script([text("ok")], match="scout of the team")
    orc = Orchestrator(attrs.evolve(orc_config, max_agents=3), pm=orc_pm)
    async with orc:
        result = await orc.execute("x", roles=["scout"] * 3, cwd=orc_workdir, execution_mode="sequential")
    assert result.success and result.stopped is None, result.error
    assert len(orc.list_agents()) == 3


async def test_timeout_interrupts_and_leaves_no_process(orc_config, orc_pm, scripted_model, orc_workdir):
    scripted_model.script([Reply(blocks=(Text("late"),), latency=60)], match="scout of the team")
    # 6 s: time for the prepared reviewer's session to open even on a loaded machine (it must have a process).
    orc = Orchestrator(attrs.evolve(orc_config, timeout_seconds=6), pm=orc_pm)
    async with orc:
        result = await orc.execute("x", roles=["scout", "reviewer"], cwd=orc_workdir)
    assert result.stopped == "timeout" and result.status is TaskStatus.CANCELLED
    assert [s.status for s in result.subtasks] == [SubtaskStatus.CANCELLED, SubtaskStatus.CANCELLED]
    # The reviewer's session is opened ahead (prepared) while the scout works: every process that started is gone.
    # (On a loaded machine the prepared one may not have started within the 6 s; the scout's always has.)
    pids = {a.role: a.pid for a in orc.list_agents()}
    assert len(pids) == 2 and pids["scout"] and not any(alive(pid) for pid in pids.values() if pid)
    assert result.elapsed_s < 20


async def test_retry_policy_runs_a_transient_failure_again(orc_config, orc_pm, scripted_model, orc_workdir):
    calls = []

    def flaky(request):
        calls.append(request.session_id)
        # The CLI itself tries 3 times (CLAUDE_CODE_MAX_RETRIES=2); all of the first session's tries fail.
        return error(529) if request.session_id == calls[0] else text("recovered")

    scripted_model.script([flaky] * 5, match="scout of the team")
    orc = Orchestrator(attrs.evolve(without_governor(orc_config), retries=1), pm=orc_pm)
    async with orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.success, result.error
    (subtask,) = result.subtasks
    assert subtask.attempts == 2 and subtask.output == "recovered"
    assert len(orc.list_agents()) == 2
    assert len(set(calls)) == 2


async def test_no_retries_by_default(orchestrator, scripted_model, orc_workdir):
    scripted_model.script([error(529)] * 10, match="scout of the team")
    orchestrator.config = without_governor(orchestrator.config)
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert not result.success and result.subtasks[0].retryable and result.subtasks[0].attempts == 1


async def test_a_plugin_can_decide_retries(orchestrator, scripted_model, orc_workdir):
    class Never:
        @hookimpl
        def orc_subtask_retry(self, task, subtask, result, attempt, config):
            return False

    orchestrator.pm.register(Never())
    orchestrator.config = attrs.evolve(without_governor(orchestrator.config), retries=3)
    scripted_model.script([error(529)] * 10, match="scout of the team")
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.subtasks[0].attempts == 1


async def test_cancel_from_outside_records_a_cancelled_task(orchestrator, scripted_model, orc_workdir):
    import anyio

    class CancelOnStart:
        @hookimpl
        def orc_subtask_started(self, task, subtask, agent):
            orchestrator.cancel("interrupted by test")

    orchestrator.pm.register(CancelOnStart())
    scripted_model.script([Reply(blocks=(Text("late"),), latency=60)], match="scout of the team")
    async with orchestrator as orc:
        with anyio.fail_after(20):
            result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.stopped == "interrupted" and result.status is TaskStatus.CANCELLED
    assert result.error == "interrupted by test"


async def test_sequential_opens_the_next_session_while_the_current_agent_works(
    orchestrator, scripted_model, orc_workdir
):
    seen = {}

    def first(request):
        # Answer only once the second agent's CLI is up: its session was opened ahead of its turn.
        seen["second_pid"] = second_pid = _wait_for_second_agent()
        return text(f"first done while {second_pid} waited")

    def _wait_for_second_agent():
        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            agents = [a for a in list(orchestrator.agents.agents.values()) if a.role == "reviewer" and a.pid]
            if agents:
                return agents[0].pid
            time.sleep(0.01)
        raise AssertionError("the next session was not opened ahead")

    scripted_model.script([first], match="scout of the team")
    scripted_model.script([text("second")], match="reviewer of the team")
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["scout", "reviewer"], cwd=orc_workdir)
    assert result.success, result.error
    assert scripted_model.errors == []
    assert seen["second_pid"] == [a for a in orc.list_agents() if a.role == "reviewer"][0].pid


async def test_execute_with_dependencies_the_seed_api(orchestrator, scripted_model, orc_workdir):
    from orchestrator_core import AgentRole, PlanError

    for role in ("scout", "analyst", "builder", "reviewer"):
        scripted_model.script([text(f"{role.upper()}-OUT")], match=f"{role} of the team")
    async with orchestrator as orc:
        result = await orc.execute_with_dependencies(
            task=[AgentRole.SCOUT, ("analyst", "study it"), "builder", AgentRole.REVIEWER],
            dependencies={1: [0], 2: [0, 1], 3: [2]},
            prompt="Add CSV export",
            cwd=orc_workdir,
        )
        assert result.success, result.error
        with pytest.raises(PlanError, match=r"step\(s\) \[7\]"):
            await orc.execute_with_dependencies(["scout"], {7: [0]}, cwd=orc_workdir)
    builder = [r for r in scripted_model.requests if "builder of the team" in r.system_text][0]
    assert "SCOUT-OUT" in builder.last_user_text and "ANALYST-OUT" in builder.last_user_text
    reviewer = [r for r in scripted_model.requests if "reviewer of the team" in r.system_text][0]
    assert "BUILDER-OUT" in reviewer.last_user_text and "SCOUT-OUT" not in reviewer.last_user_text
