"""The specification's promises (#19): each snippet of the seed README runs as written, with ``orchestrator_core``
as the import name, against the scripted model (the real SDK and CLI; only the model is a stand-in).

Each test holds its snippet verbatim between ``# --- spec`` and ``# --- end`` lines, then checks what it did.
"""

import json
import logging
import pickle
import sqlite3
from pathlib import Path

import pytest

from orchestrator_core import Agent, AgentRole, Metrics, Orchestrator, hookimpl, money
from orchestrator_core.testing import Usage, text

pytestmark = pytest.mark.anyio


@pytest.fixture
def orchestrator(orc_config, orc_pm, orc_workdir, monkeypatch):
    """The spec's ``orchestrator``, working in an empty directory (the spec's calls take the current directory)."""
    monkeypatch.chdir(orc_workdir)
    return Orchestrator(orc_config, pm=orc_pm, enable_monitoring=True)


@pytest.fixture
def builtin_scripts(orc_pm, scripted_model):
    """The built-in roles' scripted behaviour (what `--scripted` shows), for tests that script nothing themselves."""
    orc_pm.hook.orc_scripted_model(model=scripted_model)


async def test_spec_manual_agent_control(orchestrator, orc_config, builtin_scripts):
    await orchestrator.start()
    try:
        # --- spec: Manual Agent Control
        # CREATE
        scout_id = await orchestrator.create_agent(role=AgentRole.SCOUT, name="My Planner")

        # READ
        details = orchestrator.get_agent_details(scout_id)

        # UPDATE (send messages)
        response = await orchestrator.send_to_agent(scout_id, "Find all Python files")

        # DELETE
        await orchestrator.delete_agent(scout_id)
        # --- end
    finally:
        await orchestrator.stop()
    assert isinstance(scout_id, str) and scout_id == details["id"] and str(scout_id).startswith("scout-")
    assert f"{scout_id}" == details["id"] and json.dumps(scout_id) == json.dumps(details["id"])
    assert pickle.loads(pickle.dumps(scout_id)) == details["id"]
    assert details["name"] == "My Planner" and details["status"] == "created"
    assert response.startswith("Found these Python files")
    assert orchestrator.get_agent_details(scout_id)["status"] == "deleted"
    # The store got the id as text (it once got the object: "type 'Agent' is not supported").
    db = sqlite3.connect(orc_config.db_path)
    assert db.execute("select name, status from agents where id = ?", [scout_id]).fetchall() == [
        ("My Planner", "deleted")
    ]


async def test_spec_agents_as_objects(orchestrator, scripted_model):
    tenth = Usage(input_tokens=100_000, output_tokens=10)  # of a 1M-token window
    scout = scripted_model.script(
        [text("FOUND: a.py", usage=tenth)], match="scout of the team"
    )  # per session
    async with orchestrator:
        # --- spec: Best practices 3, Clean Up Agents
        try:
            agent = await orchestrator.create_agent(role=AgentRole.SCOUT, name="files")
            result = await agent.execute_task("Find relevant files")
        finally:
            await orchestrator.delete_agent(agent.agent_id)
        # --- end
        assert result == "FOUND: a.py"
        assert agent.agent_id == agent.id == agent and agent.name == "files" and agent.role == "scout"
        assert agent.status.value == "deleted"  # read from the record now, not when created
        usage = agent.get_context_window_usage()
        assert set(usage) == {"used_tokens", "window_tokens", "usage_percentage"}
        assert usage["usage_percentage"] == pytest.approx(10, abs=0.5)

        agent_id = await orchestrator.create_agent(role=AgentRole.SCOUT)
        await agent_id.execute_task("Look")
        # --- spec: Best practices 4, Monitor Context Usage
        agent_details = orchestrator.get_agent_details(agent_id)
        usage = agent_details["context_usage"]

        if usage["usage_percentage"] > 80:
            # Time to wrap up and delete this agent
            await orchestrator.delete_agent(agent_id)
        # --- end
        assert (
            usage["usage_percentage"] == pytest.approx(10, abs=0.5)
            and orchestrator.get_agent_details(agent_id)["status"] == "idle"
        )
    assert [r.last_user_text for r in scripted_model.requests_for(scout)] == ["Find relevant files", "Look"]


async def test_spec_observability(orchestrator, builtin_scripts, capsys):
    async with orchestrator:
        await orchestrator.execute("Add CSV export", roles=["builder", "reviewer"])
        capsys.readouterr()
        # --- spec: Observability
        # Get comprehensive status
        status = orchestrator.get_status()

        # Fleet metrics
        print(status["fleet"])

        # Files consumed vs produced
        print(status["monitoring"]["files"])

        # Per-agent breakdown
        agents = orchestrator.list_agents()
        for agent in agents:
            print(agent["metrics"])
        # --- end
    fleet = status["fleet"]
    assert fleet["by_role"] == {"builder": 1, "reviewer": 1} and fleet["by_status"] == {"deleted": 2}
    assert fleet["total_tokens"] > 0 and fleet["total_cost_usd"] == money(
        sum(a.metrics.cost_usd for a in agents)
    )
    assert status["monitoring"]["files"] == {"files_consumed": 1, "files_produced": 1}
    assert status["by_role"] == fleet["by_role"] and status["files_produced"] == 1  # the flat keys stay
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4 and "'by_role'" in printed[0] and "files_produced" in printed[1]
    assert all("'total_tokens'" in line for line in printed[2:])


async def test_spec_custom_agent_roles(orchestrator, scripted_model, caplog):
    custom = scripted_model.script([text("SPECIALIST-ANSWER")], match="You are a specialized agent for")
    async with orchestrator:
        agent_manager = orchestrator.agent_manager
        with caplog.at_level(logging.WARNING, logger="orc"):
            # --- spec: Custom Agent Roles
            agent = await agent_manager.create_agent(
                name="Custom Specialist",
                role=AgentRole.CUSTOM,
                system_prompt="You are a specialized agent for...",
                max_tokens=8192,
                temperature=0.7,
            )
            # --- end
        assert await agent.execute_task("Go") == "SPECIALIST-ANSWER"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "temperature=0.7: no effect on Claude Code agents (a Claude Code session has no such "
        "setting); the agent is created without it"
    ]
    request = scripted_model.requests_for(custom)[0]
    assert (
        request.body["max_tokens"] == 8192
    )  # what the CLI sent the model: max_tokens became its output limit
    assert "You are a specialized agent for..." in request.system_text
    assert agent.name == "Custom Specialist" and agent.role == "custom"


async def test_max_tokens_of_a_registered_role(orchestrator, scripted_model):
    scout = scripted_model.script([text("ok")], match="scout of the team")
    async with orchestrator:
        agent = await orchestrator.create_agent(AgentRole.SCOUT, max_tokens=1000)
        await agent.execute_task("hi")
    assert scripted_model.requests_for(scout)[0].body["max_tokens"] == 1000
    assert agent.role == "scout"


@pytest.mark.parametrize("given", ["plan", "task", "subtasks", "roles"])
async def test_spec_task_dependencies(orchestrator, orc_config, scripted_model, given):
    for role in ("analyst", "planner", "builder", "tester", "reviewer"):
        scripted_model.script([text(f"{role.upper()}-OUT")], match=f"{role} of the team", name=role)
    async with orchestrator:
        executor = orchestrator.executor
        plan = orchestrator.plan("Add CSV export", "feature_implementation")
        task = {
            "plan": plan,
            "task": await _a_recorded_task(orchestrator, plan),
            "subtasks": list(plan.subtasks),
            "roles": [AgentRole.ANALYST, AgentRole.PLANNER, AgentRole.BUILDER, AgentRole.TESTER],
        }[given]
        if given in ("roles", "subtasks"):
            with pytest.raises(Exception, match="give the task's goal"):
                await executor.execute_with_dependencies(task=task, dependencies={1: [0]})
            await executor.execute_with_dependencies(
                task=task, dependencies={1: [0], 2: [0, 1], 3: [2]}, prompt="Add CSV export"
            )
        else:
            # --- spec: Task Dependencies
            # Execute subtasks with dependencies
            await executor.execute_with_dependencies(
                task=task,
                dependencies={
                    1: [0],  # Subtask 1 depends on 0
                    2: [0, 1],  # Subtask 2 depends on 0 and 1
                    3: [2],  # Subtask 3 depends on 2
                },
            )
            # --- end
    statuses = sqlite3.connect(orc_config.db_path).execute("select status, mode from tasks").fetchall()
    assert statuses == [("succeeded", "dag")]
    sent = {r.script: r.last_user_text for r in scripted_model.requests if r.script}
    assert all("Add CSV export" in message for message in sent.values()), sent  # every agent got the goal
    assert not any("'s part of the task." in message for message in sent.values())
    assert "ANALYST-OUT" in sent["builder"] and "PLANNER-OUT" in sent["builder"]
    assert "BUILDER-OUT" in sent["tester"] and "ANALYST-OUT" not in sent["tester"]


async def _a_recorded_task(orchestrator, plan):
    """A Task record as a program gets one back: the task of an earlier run of ``plan``."""
    from orchestrator_core import Task

    return Task(
        id="task-earlier", prompt=plan.prompt, task_type=plan.task_type, mode="dag", cwd=".", plan=plan
    )


async def test_spec_database_persistence(orchestrator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    agent_record = Agent(id="scout-1", name="s", role="scout", cwd=".", metrics=Metrics(cost_usd=0.1))
    builder = Agent(id="builder-1", name="b", role="builder", cwd=".", metrics=Metrics(cost_usd=0.2))
    # --- spec: Database Persistence
    from orchestrator_core.storage import Database

    db = Database(Path("orchestrator.db"))
    await db.connect()

    # Save agent records
    await db.save_agent(agent_record)

    # Query agents
    agents = await db.list_agents(role="scout")

    # Analytics
    total_cost = await db.get_total_cost()
    cost_by_role = await db.get_cost_by_role()
    # --- end
    assert [a.id for a in agents] == ["scout-1"]
    await db.save_agent(builder)
    for _ in range(3):
        await db.save_agent(
            Agent(id=f"tester-{_}", name="t", role="tester", cwd=".", metrics=Metrics(cost_usd=0.1))
        )
    total_cost, cost_by_role = await db.get_total_cost(), await db.get_cost_by_role()
    await db.close()
    assert 0.1 + 0.2 + 0.3 != 0.6  # what a plain float sum would show: 0.6000000000000001
    assert str(total_cost) == "0.6" and cost_by_role == {"tester": 0.3, "builder": 0.2, "scout": 0.1}
    assert str(cost_by_role["tester"]) == "0.3"  # 0.1 + 0.1 + 0.1 would print 0.30000000000000004
    view = (
        sqlite3.connect(tmp_path / "orchestrator.db")
        .execute("select cost_usd from fleet_status where role = 'tester'")
        .fetchone()[0]
    )
    assert repr(view) == "0.3"


def test_money_sums_show_no_float_noise():
    parts = [Metrics(cost_usd=0.0115)] * 10 + [Metrics(cost_usd=0.1), Metrics(cost_usd=0.2)]
    total = sum(parts, Metrics())
    assert repr(total.cost_usd) == "0.415" and repr(total.total_cost) == "0.415"
    assert repr(money(sum([0.1] * 500))) == "50.0"  # a plain sum is 49.99999999999862
    assert money(0.0000003) == 3e-07  # the price of a cached token survives


async def test_hook_orc_storage_api(orc_register):
    import orchestrator_core.storage as storage
    from orc_agents.orc_store import Database

    assert storage.Database is Database

    class Other:
        @hookimpl(tryfirst=True)
        def orc_storage_api(self, name):
            return "theirs" if name == "Database" else None

    orc_register(Other(), "other-store")
    from orchestrator_core.plugins import make_plugin_manager

    assert make_plugin_manager(plugins=[Other()]).hook.orc_storage_api(name="Database") == "theirs"
    with pytest.raises(AttributeError):
        storage.Nothing  # noqa: B018


async def test_orchestrator_scripted_starts_and_stops_its_own_model(orc_pm, tmp_path, monkeypatch):
    """The public switch (#19): no credentials, no endpoint given; the Orchestrator brings the scripted model."""
    from orchestrator_core import Config

    monkeypatch.setenv("ORC_SCRIPTED_HOME", str(tmp_path / "scripted"))
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    orchestrator = Orchestrator(Config(db_path=tmp_path / "orc.db"), pm=orc_pm, scripted=True)
    async with orchestrator:
        url = orchestrator.config.runtime_env["ANTHROPIC_BASE_URL"]
        assert url.startswith("http://127.0.0.1:")
        agent = await orchestrator.create_agent(AgentRole.SCOUT)
        assert (await agent.execute_task("Find all Python files")).startswith("Found these Python files")
    assert "ANTHROPIC_BASE_URL" not in orchestrator.config.runtime_env
    with pytest.raises(OSError):
        import urllib.request

        urllib.request.urlopen(url, timeout=5)  # the model stopped with the Orchestrator
    async with orchestrator:  # and a new one serves the agents made before
        assert (await agent.execute_task("again")).startswith("Found these Python files")


async def test_spec_python_api_and_parallel_execution(orchestrator, builtin_scripts, capsys):
    # --- spec: Python API (the body of its main())
    try:
        await orchestrator.start()

        # Execute a high-level task
        result = await orchestrator.execute(
            prompt="Implement a feature to export data to CSV",
            task_type="feature_implementation",
            execution_mode="sequential",
        )

        print(f"Success: {result.success}")
        print(f"Cost: ${result.metrics.total_cost:.4f}")
        print(f"Output: {result.output}")

    finally:
        await orchestrator.stop()
    # --- end
    assert [s.role for s in result.subtasks] == ["analyst", "planner", "builder", "tester", "reviewer"]
    async with orchestrator:
        # --- spec: Parallel Execution
        result = await orchestrator.execute(
            prompt="Analyze code quality and suggest improvements", execution_mode="parallel"
        )
        # --- end
    assert result.success, result.error
    assert capsys.readouterr().out.startswith("Success: True\nCost: $0.")


#: The specification's "CLI Usage" block, as written (``<task-id>`` and ``<agent-id>`` filled in by the test).
SPEC_CLI = """
orchestrator init
orchestrator execute "Find and analyze all Python files in the project"
orchestrator execute "Fix the bug in user authentication" --task-type bug_fix
orchestrator execute "Add comprehensive documentation" --mode parallel
orchestrator status
orchestrator list-agents
orchestrator list-tasks
orchestrator task-details <task-id>
orchestrator agent-details <agent-id>
"""


def test_spec_cli_usage(tmp_path):
    """Every command of the specification's CLI block, offline: the commands that run agents with --scripted."""
    import shlex
    import subprocess
    import sys

    from fixtures import clean_env, default_store, rows

    project = tmp_path / "project"
    project.mkdir()
    env = clean_env(tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1", ORC_SCRIPTED_HOME=str(tmp_path / "scripted"))
    store = default_store(tmp_path / "home")
    for line in SPEC_CLI.strip().splitlines():
        argv = shlex.split(line)
        if argv[1] == "execute":
            argv.insert(2, "--scripted")
        if argv[-1] == "<task-id>":
            argv[-1] = rows(store, "select id from tasks order by created_at")[0]["id"]
        if argv[-1] == "<agent-id>":
            argv[-1] = rows(store, "select id from agents order by created_at")[0]["id"]
        out = subprocess.run(
            [str(Path(sys.executable).parent / argv[0]), *argv[1:]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode == 0, f"{line}: {out.stderr}"
        assert out.stdout.strip() and "Traceback" not in out.stderr
    assert [t["status"] for t in rows(store, "select status from tasks")] == ["succeeded"] * 3
    assert (project / "orc.toml").exists()


async def test_a_start_that_fails_leaves_no_scripted_model_running(tmp_path, monkeypatch):
    from orchestrator_core import Config, RuntimeUnavailable, make_plugin_manager

    monkeypatch.setenv("ORC_SCRIPTED_HOME", str(tmp_path / "scripted"))
    pm = make_plugin_manager(["no:orc_claude"], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    orchestrator = Orchestrator(Config(db_path=tmp_path / "orc.db"), pm=pm, scripted=True)
    with pytest.raises(RuntimeUnavailable, match="no agent runtime plugin is loaded"):
        await orchestrator.start()
    assert orchestrator.config.runtime_env == {} and orchestrator.config.get("ORC_SCRIPTED")
