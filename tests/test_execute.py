"""Integration: the real claude-agent-sdk and Claude Code CLI run a team against the scripted model."""

import json
import sqlite3
from pathlib import Path

import pytest

from orchestrator_core import AgentRole, Orchestrator, Subtask, SubtaskStatus, TaskStatus
from orchestrator_core.testing import Usage, error, text, tool

pytestmark = pytest.mark.anyio


def transcripts(config_dir: Path) -> list[Path]:
    return sorted((config_dir / "projects").rglob("*.jsonl")) if (config_dir / "projects").exists() else []


async def test_feature_team_runs_passes_results_on_records_and_cleans_up(
    orchestrator, scripted_model, orc_workdir
):
    orchestrator.pm.hook.orc_scripted_model(model=scripted_model)
    config_dir = Path(orchestrator.config.runtime_env["CLAUDE_CONFIG_DIR"])

    async with orchestrator as orc:
        result = await orc.execute("Add CSV export", task_type="feature_implementation", cwd=orc_workdir)

    assert result.success, result.error
    assert [s.role for s in result.subtasks] == ["analyst", "planner", "builder", "tester", "reviewer"]
    # The builder really wrote the module, the tester really ran it.
    module = orc_workdir / "add_csv_export.py"
    assert "def export(rows" in module.read_text()
    tester = next(s for s in result.subtasks if s.role == "tester")
    assert "id,name" in tester.output and "1,orc" in tester.output
    assert result.output.startswith("Review of add_csv_export.py")

    # Each downstream agent got its upstream result, not its transcript.
    planner_first = scripted_model.requests_for("planner")[0]
    analyst_output = result.subtasks[0].output
    assert analyst_output in planner_first.search_text
    assert "Glob" not in planner_first.last_user_text  # the analyst's tool calls stay with the analyst

    # Accounting: the task's tokens are what the model server reported, in total.
    served = [r for r in scripted_model.requests if r.script]
    assert len(served) == 9
    assert result.metrics.input_tokens == 1800 + 2100 + 2300 + 2600 + 3100 + 2400 + 2700 + 2500 + 3000
    assert result.metrics.output_tokens == 60 + 140 + 180 + 420 + 90 + 80 + 120 + 50 + 110
    expected_cost = result.metrics.input_tokens * 4e-6 + result.metrics.output_tokens * 20e-6
    assert result.metrics.total_cost == pytest.approx(expected_cost, rel=1e-9)

    # Agents are deleted: transcripts gone, records stay with status deleted.
    assert transcripts(config_dir) == []
    db = sqlite3.connect(orchestrator.config.db_path)
    db.row_factory = sqlite3.Row
    task = db.execute("select * from tasks").fetchone()
    assert (task["id"], task["status"], task["success"]) == (result.task_id, "succeeded", 1)
    assert task["cost_usd"] == pytest.approx(expected_cost)
    agents = db.execute(
        "select role, status, session_id, cost_usd from agents order by created_at"
    ).fetchall()
    assert [a["role"] for a in agents] == ["analyst", "planner", "builder", "tester", "reviewer"]
    assert {a["status"] for a in agents} == {"deleted"}
    assert [a["session_id"] for a in agents] == [
        r.session_id
        for r in (
            scripted_model.requests_for(role)[0]
            for role in ("analyst", "planner", "builder", "tester", "reviewer")
        )
    ]
    subtasks = db.execute(
        "select subtask_id, status, depends_on from subtasks order by subtask_id"
    ).fetchall()
    assert [(s["subtask_id"], s["status"]) for s in subtasks] == [(str(i), "succeeded") for i in range(1, 6)]
    assert json.loads(subtasks[4]["depends_on"]) == ["4"]
    writes = [
        json.loads(p)
        for (p,) in db.execute("select payload from events where kind = 'file_access'")
        if json.loads(p)["operation"] == "write"
    ]
    assert [w["path"] for w in writes] == [str(module)]
    # Every agent's events are numbered 1..n without gaps.
    for (agent_id,) in db.execute("select id from agents"):
        seqs = [
            s for (s,) in db.execute("select seq from events where agent_id = ? order by seq", [agent_id])
        ]
        assert seqs == list(range(1, len(seqs) + 1))


async def test_keep_agents_keeps_transcripts(orc_config, orc_pm, scripted_model, orc_workdir):
    import attrs

    scripted_model.script([text("scouted")], match="scout of the team")
    orc = Orchestrator(attrs.evolve(orc_config, keep_agents=True), pm=orc_pm)
    async with orc:
        result = await orc.execute("look around", roles=[AgentRole.SCOUT], cwd=orc_workdir)
    assert result.success and result.output == "scouted"
    kept = transcripts(Path(orc_config.runtime_env["CLAUDE_CONFIG_DIR"]))
    assert [p.stem for p in kept] == [orc.list_agents()[0].session_id]


async def test_failed_subtask_skips_its_dependents(orchestrator, scripted_model, orc_workdir):
    scripted_model.script([tool("Glob", {"pattern": "*"}), text("analysed")], match="analyst of the team")
    # The CLI tries a 400 again a few times (3 or 4 requests seen): refuse every try.
    scripted_model.script([error(400, "scripted refusal")] * 10, match="builder of the team")
    reviewer = scripted_model.script([text("reviewed")], match="reviewer of the team")
    async with orchestrator as orc:
        result = await orc.execute("Fix it", roles=["analyst", "builder", "reviewer"], cwd=orc_workdir)
    assert not result.success
    assert result.status is TaskStatus.FAILED
    statuses = [(s.role, s.status) for s in result.subtasks]
    assert statuses == [
        ("analyst", SubtaskStatus.SUCCEEDED),
        ("builder", SubtaskStatus.FAILED),
        ("reviewer", SubtaskStatus.SKIPPED),
    ]
    assert "scripted refusal" in result.subtasks[1].error
    assert "2 (builder) failed" in result.error
    assert scripted_model.requests_for(reviewer) == []


async def test_veto_hook_refuses_a_subtask_before_any_spend(orchestrator, scripted_model, orc_workdir):
    from orchestrator_core import hookimpl

    class NoBuilders:
        @hookimpl
        def orc_subtask_veto(self, task, subtask):
            return "builders are not allowed today" if subtask.role == "builder" else None

    orchestrator.pm.register(NoBuilders())
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["builder", "reviewer"], cwd=orc_workdir)
    assert [s.status for s in result.subtasks] == [SubtaskStatus.FAILED, SubtaskStatus.SKIPPED]
    assert result.subtasks[0].error == "builders are not allowed today"
    assert scripted_model.requests == []


async def test_upstream_results_are_bounded(orc_config, orc_pm, scripted_model, orc_workdir):
    import attrs

    scripted_model.script([text("A" * 5000)], match="analyst of the team")
    reviewer = scripted_model.script([text("ok")], match="reviewer of the team")
    orc = Orchestrator(attrs.evolve(orc_config, max_result_chars=300), pm=orc_pm)
    async with orc:
        result = await orc.execute("x", roles=["analyst", "reviewer"], cwd=orc_workdir)
    assert result.success
    sent = scripted_model.requests_for(reviewer)[0].search_text
    assert "A" * 260 in sent and "A" * 400 not in sent
    assert "more characters not shown" in sent


async def test_a_raising_observer_does_not_break_the_run(orchestrator, scripted_model, orc_workdir):
    from orchestrator_core import hookimpl

    class Broken:
        @hookimpl
        def orc_event(self, event):
            raise RuntimeError("observer bug")

    orchestrator.pm.register(Broken(), "broken-observer")
    scripted_model.script([text("fine")], match="scout of the team")
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.success and result.output == "fine"
    db = sqlite3.connect(orchestrator.config.db_path)
    assert db.execute("select count(*) from events").fetchone()[0] > 0  # the store still saw every event


async def test_usage_with_cache_tokens_is_exact(orchestrator, scripted_model, orc_workdir):
    usage = Usage(
        input_tokens=1000, output_tokens=100, cache_read_input_tokens=5000, cache_creation_input_tokens=200
    )
    scripted_model.script([text("cached", usage=usage)], match="scout of the team")
    async with orchestrator as orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    m = result.metrics
    assert (m.input_tokens, m.output_tokens, m.cache_read_tokens, m.cache_creation_tokens) == (
        1000,
        100,
        5000,
        200,
    )
    assert m.context_used == 6200
    assert m.context_window > 0


def test_custom_task_type_needs_roles(orchestrator):
    from orchestrator_core import UsageError

    with pytest.raises(UsageError, match="--roles"):
        orchestrator.plan("x", "custom")


def test_plan_for_custom_roles_is_a_chain(orchestrator):
    plan = orchestrator.plan("x", "custom", ["scout", AgentRole.BUILDER])
    assert plan.subtasks == (
        Subtask("1", "scout", plan.subtasks[0].instruction),
        Subtask("2", "builder", plan.subtasks[1].instruction, ["1"]),
    )


@pytest.mark.parametrize(
    "prompt, task_type",
    [
        ("Fix the crash on empty input", "bug_fix"),
        ("Review the parser", "code_review"),
        ("Document the API", "documentation"),
        ("Add CSV export", "feature_implementation"),
    ],
)
def test_auto_chooses_a_template(orchestrator, prompt, task_type):
    assert orchestrator.plan(prompt).task_type == task_type


@pytest.mark.parametrize(
    "task_type, roles",
    [
        ("feature_implementation", ["analyst", "planner", "builder", "tester", "reviewer"]),
        ("bug_fix", ["analyst", "planner", "builder", "tester", "reviewer"]),
        ("code_review", ["analyst", "planner", "reviewer", "tester"]),
        ("documentation", ["analyst", "planner", "documenter", "reviewer"]),
    ],
)
def test_the_teams_are_the_specifications(orchestrator, task_type, roles):
    """The specification's teams (#19 item 8), each a chain in that order."""
    plan = orchestrator.plan("x", task_type)
    assert [s.role for s in plan.subtasks] == roles
    assert all(s.depends_on == ((str(int(s.id) - 1),) if s.id != "1" else ()) for s in plan.subtasks)
