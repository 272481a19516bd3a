"""Planning (#7): ``auto``, the LLM planner's dependency graph, plan files and ``--approve plan``.

The planner agent is real (claude-agent-sdk and the Claude CLI); each test scripts what its model answers.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from fixtures import default_store, run_in_terminal

from orc_agents.orc_planners import llm
from orc_agents.orc_planners.templates import choose_task_type
from orchestrator_core import Orchestrator, PlanError, Subtask
from orchestrator_core.testing import text

pytestmark = pytest.mark.anyio
BIN = Path(sys.executable).parent
PLANNER = "You are the planner of the team"
DIAMOND = {
    "subtasks": [
        {"id": "scan", "role": "scout", "instruction": "Find the parser.", "depends_on": []},
        {
            "id": "change",
            "role": "builder",
            "instruction": "Split the parser in two.",
            "depends_on": ["scan"],
        },
        {"id": "check", "role": "tester", "instruction": "Run the parser tests.", "depends_on": ["scan"]},
        {
            "id": "judge",
            "role": "reviewer",
            "instruction": "Review the split.",
            "depends_on": ["change", "check"],
        },
    ]
}
CYCLE = {
    "subtasks": [
        {"id": "a", "role": "scout", "instruction": "x", "depends_on": ["b"]},
        {"id": "b", "role": "builder", "instruction": "y", "depends_on": ["a"]},
    ]
}


def fenced(plan: dict) -> str:
    return f"Here is the plan.\n\n```json\n{json.dumps(plan, indent=2)}\n```\n"


def team_says(model, *roles):
    """Each role's agent answers one line naming itself; returns the script names by role."""
    return {
        role: model.script([text(f"{role} done")], match=f"You are the {role} of the team", name=role)
        for role in roles
    }


def rows(db_path, sql):
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql)]
    finally:
        db.close()


# -- choosing a template ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, chosen",
    [
        ("Add CSV export", "feature_implementation"),
        ("Implement retries for uploads", "feature_implementation"),
        ("Fix the crash on empty input", "bug_fix"),
        ("Refactor the storage layer", None),
        ("Migrate the settings to TOML", None),
    ],
)
def test_auto_says_when_no_template_fits(prompt, chosen):
    assert choose_task_type(prompt) == chosen


def test_without_credentials_auto_falls_back_to_a_template_with_a_warning(
    orc_pm, tmp_path, monkeypatch, caplog
):
    from orchestrator_core import Config

    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_OAUTH_TOKEN",
        "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDE_CODE_USE_VERTEX",
        "CLAUDE_CODE_USE_FOUNDRY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    orc = Orchestrator(
        Config(db_path=tmp_path / "o.db", runtime_env={"CLAUDE_CONFIG_DIR": str(tmp_path / "cc")}), pm=orc_pm
    )
    plan = orc.plan("Refactor the storage layer")
    assert plan.task_type == "feature_implementation"
    assert "planner agent cannot run (no Claude credentials" in caplog.text
    assert not (tmp_path / "o.db").exists()


# -- reading the planner's answer ---------------------------------------------------------------------------------


ROLES = ["analyst", "planner", "builder", "tester", "reviewer", "documenter", "scout"]


@pytest.mark.parametrize(
    "answer, words",
    [
        ("I would start with the scout.", "the answer has no JSON object in it"),
        ('{"subtasks": [{"id": "1", "role": "scout"', "the answer is not valid JSON (Expecting"),
        ('{"steps": []}', "expected an object with a 'subtasks' list"),
        ('{"subtasks": [{"id": "1", "role": "scout"}]}', "subtask 1 needs a non-empty string instruction"),
        (
            '{"subtasks": [{"id": "1", "role": "wizard", "instruction": "x"}]}',
            "unknown role 'wizard'; known roles:",
        ),
        (
            '{"subtasks": [{"id": "1", "role": "scout", "instruction": "x", "depends_on": ["9"]}]}',
            "subtask '1' depends on unknown subtask(s) 9",
        ),
        (json.dumps(CYCLE), "the plan has a dependency cycle among a, b"),
    ],
)
def test_a_plan_that_cannot_run_is_one_line(answer, words):
    with pytest.raises(PlanError) as caught:
        llm.parse(answer, ROLES)
    assert words in caught.value.message
    assert "\n" not in caught.value.message


def test_a_fenced_block_or_bare_json_is_a_plan():
    bare = llm.parse("Sure: " + json.dumps(DIAMOND) + " Good luck.", ROLES)
    assert bare == llm.parse(fenced(DIAMOND), ROLES)
    assert bare.subtasks[3] == Subtask("judge", "reviewer", "Review the split.", ("change", "check"))
    assert bare.task_type == "llm"


# -- the planner agent against the scripted model -------------------------------------------------------------------


async def test_auto_asks_the_planner_agent_for_a_graph_and_it_runs(orchestrator, scripted_model, orc_workdir):
    planner = scripted_model.script([text(fenced(DIAMOND))], match=PLANNER, name="planner")
    team = team_says(scripted_model, "scout", "builder", "tester", "reviewer")
    async with orchestrator as orc:
        plan = await orc.make_plan("Refactor the parser", cwd=orc_workdir)
        assert [(s.id, s.role, s.depends_on) for s in plan.subtasks] == [
            ("scan", "scout", ()),
            ("change", "builder", ("scan",)),
            ("check", "tester", ("scan",)),
            ("judge", "reviewer", ("change", "check")),
        ]
        result = await orc.execute("Refactor the parser", execution_mode="dag", plan=plan, cwd=orc_workdir)

    assert result.success, result.error
    assert sorted(s.role for s in result.subtasks) == ["builder", "reviewer", "scout", "tester"]
    asked = scripted_model.requests_for(planner)
    assert len(asked) == 1
    assert "Task: Refactor the parser" in asked[0].last_user_text and llm.ASK in asked[0].last_user_text
    assert "- scout: " in asked[0].last_user_text and "- documenter: " in asked[0].last_user_text
    # The reviewer started after both of its dependencies and got their results.
    assert "builder done" in scripted_model.requests_for(team["reviewer"])[0].search_text
    assert "tester done" in scripted_model.requests_for(team["reviewer"])[0].search_text
    # The planner agent is an agent like any other: recorded with its cost, and deleted.
    agents = rows(
        orchestrator.config.db_path, "select role, name, status, cost_usd, task_id, cwd from agents"
    )
    planners = [a for a in agents if a["role"] == "planner"]
    assert [(a["name"], a["status"]) for a in planners] == [("planner (plan)", "deleted")]
    assert planners[0]["cost_usd"] > 0
    # ... that belongs to the task it planned: it worked in the task's directory and its cost is the task's.
    assert planners[0]["task_id"] == result.task_id and planners[0]["cwd"] == str(orc_workdir)
    assert result.metrics.cost_usd == pytest.approx(sum(a["cost_usd"] for a in agents))


async def test_bad_json_goes_back_to_the_same_agent_with_the_exact_error(orc_config, orc_pm, scripted_model):
    bad = 'Plan: {"subtasks": [{"id": "1", "role": "scout", "instruction": "look"},]}'
    with pytest.raises(PlanError) as first_error:
        llm.parse(bad, ROLES)
    planner = scripted_model.script([text(bad), text(fenced(DIAMOND))], match=PLANNER, name="planner")
    async with Orchestrator(
        attrs.evolve(orc_config, plugin_settings={"ORC_PLANNER": "llm"}), pm=orc_pm
    ) as orc:
        plan = await orc.make_plan(
            "Add CSV export"
        )  # a template fits, but the user asked for the planner agent
    assert [s.id for s in plan.subtasks] == ["scan", "change", "check", "judge"]
    first, second = scripted_model.requests_for(planner)
    assert first.session_id == second.session_id
    assert first_error.value.message in second.last_user_text
    assert second.last_user_text.startswith("That plan cannot run: the answer is not valid JSON")


async def test_a_cycle_twice_fails_clearly_and_runs_nobody(orchestrator, scripted_model, orc_workdir):
    scripted_model.script([text(fenced(CYCLE)), text(json.dumps(CYCLE))], match=PLANNER, name="planner")
    team_says(scripted_model, "scout", "builder")
    async with orchestrator as orc:
        with pytest.raises(PlanError) as caught:
            await orc.execute("Refactor the parser", cwd=orc_workdir)
        assert [(a.role, a.status.value) for a in orc.list_agents()] == [("planner", "deleted")]
    message = caught.value.message
    assert "even after it was told why: the plan has a dependency cycle among a, b" in message
    assert "\n" not in message
    assert {r.script for r in scripted_model.requests} == {"planner"}
    assert len(scripted_model.requests) == 2
    assert rows(orchestrator.config.db_path, "select id from tasks") == []


async def test_an_unknown_role_is_named_to_the_planner(orc_config, orc_pm, scripted_model):
    wizard = {"subtasks": [{"id": "1", "role": "wizard", "instruction": "Conjure it."}]}
    scout_only = {"subtasks": [{"id": "1", "role": "scout", "instruction": "Look around."}]}
    planner = scripted_model.script([text(json.dumps(wizard)), text(json.dumps(scout_only))], match=PLANNER)
    async with Orchestrator(
        attrs.evolve(orc_config, plugin_settings={"ORC_PLANNER": "llm"}), pm=orc_pm
    ) as orc:
        plan = await orc.make_plan("Explain the cache", roles=["scout", "reviewer"])
    assert plan.subtasks == (Subtask("1", "scout", "Look around."),)
    first, second = scripted_model.requests_for(planner)
    # Given --roles, the planner is offered those roles only, and told the others are unknown.
    assert "- scout: " in first.last_user_text and "- builder: " not in first.last_user_text
    assert "unknown role 'wizard'; known roles: reviewer, scout" in second.last_user_text


# -- the command line ---------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, scripted_model):
    """An `orc` process whose agents talk to this test's scripted model (no --scripted)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_"))
    }
    env.update(scripted_model.env(tmp_path / "claude-config"))
    env.update(
        HOME=str(tmp_path / "home"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
        COLUMNS="200",
    )
    return env


def orc(env, cwd, *args):
    return subprocess.run(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_orc_plan_with_the_llm_planner_then_execute_exactly_that_plan(
    cli_env, scripted_model, orc_workdir, tmp_path
):
    scripted_model.script([text(fenced(DIAMOND))], match=PLANNER, name="planner")
    team = team_says(scripted_model, "scout", "builder", "tester", "reviewer")
    plan_file = tmp_path / "plan.json"
    shown = orc(
        cli_env, orc_workdir, "plan", "--planner", "llm", "Refactor the parser", "--output", str(plan_file)
    )
    assert shown.returncode == 0, shown.stderr
    assert "task type: llm, 4 agent(s)" in shown.stdout
    assert "step 2: [change] builder, [check] tester  <- scan" in shown.stdout
    assert "step 3: [judge] reviewer  <- change, check" in shown.stdout
    assert [r.script for r in scripted_model.requests] == ["planner"]
    # The planner agent's cost is recorded like any agent's.
    planners = rows(tmp_path / "orc.db", "select role, status, cost_usd from agents")
    assert [(a["role"], a["status"]) for a in planners] == [("planner", "deleted")] and planners[0][
        "cost_usd"
    ] > 0

    # The user edits the plan: no tester, and the reviewer waits for the builder only.
    edited = json.loads(plan_file.read_text())
    edited["subtasks"] = [s for s in edited["subtasks"] if s["role"] != "tester"]
    edited["subtasks"][-1]["depends_on"] = ["change"]
    edited["subtasks"][-1]["instruction"] = "Review the split, EDITED."
    plan_file.write_text(json.dumps(edited))
    ran = orc(cli_env, orc_workdir, "execute", "--plan", str(plan_file), "--json", "Refactor the parser")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert [s["role"] for s in result["subtasks"]] == ["scout", "builder", "reviewer"]
    assert scripted_model.requests_for(team["tester"]) == []
    assert [r.script for r in scripted_model.requests].count("planner") == 1  # the plan was not made again
    assert "Review the split, EDITED." in scripted_model.requests_for(team["reviewer"])[0].search_text


def test_approve_without_a_terminal_refuses_before_spending(cli_env, scripted_model, orc_workdir, tmp_path):
    out = orc(cli_env, orc_workdir, "execute", "--approve", "plan", "--planner", "llm", "Refactor the parser")
    assert out.returncode == 2
    assert "--approve plan needs a terminal" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert scripted_model.requests == []
    assert not (tmp_path / "orc.db").exists()


@pytest.mark.parametrize("answer", ["y", "n"])
def test_approve_on_a_terminal(cli_env, scripted_model, orc_workdir, tmp_path, answer):
    team = team_says(scripted_model, "scout", "builder")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"subtasks": [
        {"id": "1", "role": "scout", "instruction": "Look.", "depends_on": []},
        {"id": "2", "role": "builder", "instruction": "Build.", "depends_on": ["1"]},
    ]}))  # fmt: skip
    code, screen = run_in_terminal(
        cli_env,
        orc_workdir,
        ["execute", "-q", "--approve", "plan", "--plan", str(plan_file), "Build it"],
        answer,
    )
    assert "step 2: [2] builder  <- 1" in screen
    if answer == "y":
        assert code == 0, screen
        assert "Success: 2/2 subtasks" in screen
        assert [len(scripted_model.requests_for(team[r])) for r in ("scout", "builder")] == [1, 1]
    else:
        assert code == 130, screen
        assert "not approved" in screen
        assert scripted_model.requests == []


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"subtasks": [', "is not valid JSON"),
        ('{"subtasks": [{"id": "1", "role": "scout"}]}', "subtask 1 needs a non-empty string instruction"),
        ('{"subtasks": [{"id": "1", "role": "wizard", "instruction": "x"}]}', "unknown role 'wizard'"),
        (json.dumps(CYCLE), "dependency cycle among a, b"),
    ],
)
def test_a_malformed_plan_file_is_one_line_and_runs_nothing(orc_cli, scripted_model, content, words):
    (orc_cli.cwd / "plan.json").write_text(content)
    env = scripted_model.env(orc_cli.cwd.parent / "claude-config")
    out = orc_cli("execute", "--plan", "plan.json", "Refactor the parser", env=env)
    assert out.exit_code == 2, out.output
    assert words in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.output
    assert scripted_model.requests == []
    assert not default_store(orc_cli.cwd.parent / "home").exists()


def test_scripted_demo_plans_with_the_planner_agent(cli_env, tmp_path):
    env = {k: v for k, v in cli_env.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    out = orc(env, tmp_path, "plan", "--scripted", "--json", "Refactor the parser")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["task_type"] == "llm"
    assert [(s["role"], s["depends_on"]) for s in plan["subtasks"]] == [
        ("analyst", []),
        ("builder", ["1"]),
        ("tester", ["2"]),
        ("reviewer", ["2"]),
    ]
    assert "'Refactor the parser'" in plan["subtasks"][0]["instruction"]
    assert [a["role"] for a in rows(tmp_path / "orc.db", "select role from agents")] == ["planner"]


def test_an_unknown_planner_is_refused(orc_cli):
    out = orc_cli("plan", "--planner", "oracle", "Refactor the parser")
    assert out.exit_code == 2
    assert "unknown planner 'oracle'; choose one of: llm, template (see `orc plugins`)" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_saved_plan_runs_with_its_own_prompt_and_refuses_what_it_would_ignore(orc_cli, scripted_model):
    """`orc execute --plan plan.json` (the README's quick start) needs no PROMPT: the file carries it (#19)."""
    builder = scripted_model.script([text("BUILT")], match="builder of the team")
    env = scripted_model.env(orc_cli.cwd.parent / "claude-config")
    plan = {
        "prompt": "Add CSV export",
        "subtasks": [{"id": "1", "role": "builder", "instruction": "Build it."}],
    }
    (orc_cli.cwd / "plan.json").write_text(json.dumps(plan))
    for extra, named in ((["--roles", "scout"], "--roles"), (["-t", "bug_fix"], "--task-type")):
        out = orc_cli("execute", "--plan", "plan.json", *extra, env=env)
        assert out.exit_code == 2 and f"{named} cannot change it" in out.stderr, out.output
    assert scripted_model.requests == []
    out = orc_cli("execute", "--plan", "plan.json", "--mode", "dag", env=env)
    assert out.exit_code == 0, out.output
    assert "Task: Add CSV export" in scripted_model.requests_for(builder)[0].last_user_text
    (orc_cli.cwd / "bare.json").write_text(json.dumps({"subtasks": plan["subtasks"]}))
    out = orc_cli("execute", "--plan", "bare.json", env=env)
    assert out.exit_code == 2 and 'does not say what the task is (no "prompt")' in out.stderr
    out = orc_cli("execute", env=env)
    assert out.exit_code == 2 and "or run a saved plan with --plan plan.json" in out.stderr


def test_orc_plan_spends_nothing_unless_a_planner_agent_is_asked_for(cli_env, scripted_model, orc_workdir):
    """`orc plan` under auto with no fitting template starts no agent (#20): it says which template it used and
    how to ask for a planner agent; with --planner llm it does ask one."""
    out = orc(cli_env, orc_workdir, "plan", "Refactor the parser")
    assert out.returncode == 0, out.stderr
    assert scripted_model.requests == []
    assert (
        "no template fits the prompt; this plan uses the feature_implementation template and spent nothing"
        in out.stderr
    )
    assert "`--planner llm` asks a planner agent" in out.stderr
    planner = scripted_model.script([text(fenced(DIAMOND))], match=PLANNER, name="planner")
    asked = orc(cli_env, orc_workdir, "plan", "--planner", "llm", "Refactor the parser")
    assert asked.returncode == 0, asked.stderr
    assert scripted_model.requests_for(planner) and "task type: llm" in asked.stdout
