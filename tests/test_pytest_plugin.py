"""orc's pytest plugin and conformance checks, tested the way pytest and anyio test theirs: with pytester (#8)."""

import textwrap
import time

import pytest

from orchestrator_core import Role, hookimpl
from orchestrator_core.testing.conformance import check_executor, check_observer, check_role

pytest_plugins = ["pytester"]


def run_inner(pytester, source, *args):
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n")
    pytester.makepyfile(test_author=textwrap.dedent(source))
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_fixtures_for_plugin_authors(pytester):
    result = run_inner(
        pytester,
        """
        import json

        from orchestrator_core import DEFAULT_PLUGINS, Orchestrator, Role, hookimpl
        from orchestrator_core.testing.conformance import check_role

        AUDITOR = Role("auditor", "Audits.", "You are the auditor.", tools=("Read", "Grep"))

        class Plugin:
            @hookimpl
            def orc_register_roles(self, register):
                register(AUDITOR)

        def test_pm_has_only_the_builtins(orc_pm):
            names = {name for name, plugin in orc_pm.list_name_plugin() if plugin is not None}
            assert names == set(DEFAULT_PLUGINS) | {"orchestrator_core.planners"}  # and a core plugin

        def test_register_for_one_test(orc_pm, orc_register, orc_config):
            name = orc_register(Plugin(), "auditor-plugin")
            assert name == "auditor-plugin"
            orc = Orchestrator(orc_config, pm=orc_pm)
            assert orc.roles["auditor"].provided_by == "auditor-plugin"
            check_role(orc.roles["auditor"])

        def test_registration_is_gone_next_test(orc_pm):
            assert orc_pm.get_plugin("auditor-plugin") is None

        def test_store_is_migrated(orc_store_db):
            assert {"tasks", "subtasks", "agents", "events"} <= set(orc_store_db.table_names())
            assert orc_store_db.journal_mode == "wal"

        def test_cli_is_isolated(orc_cli, monkeypatch):
            monkeypatch.setenv("ORCHESTRATOR_MAX_PARALLEL_AGENTS", "many")  # would break any command that reads it
            result = orc_cli("roles", "--json")
            assert result.exit_code == 0, result.output
            assert "reviewer" in [r["name"] for r in json.loads(result.stdout)]
            bad = orc_cli("execute", "--scripted", "   ")
            assert bad.exit_code == 2 and "the prompt is empty" in bad.output

        def test_hooks_recorder(orc_pm, orc_hooks, orc_config):
            Orchestrator(orc_config, pm=orc_pm).plan("Fix the crash", roles=["scout"])
            orc_hooks.assert_called("orc_register_roles", times=1)
            (plan_call,) = orc_hooks.assert_called("orc_make_plan", times=1)
            assert plan_call.roles == ("scout",) and plan_call.prompt == "Fix the crash"
        """,
    )
    result.assert_outcomes(passed=6)


def test_orc_hooks_sees_a_real_scripted_run(pytester):
    result = run_inner(
        pytester,
        """
        import pytest

        from orchestrator_core.testing import text, tool

        pytestmark = pytest.mark.anyio

        async def test_run(orchestrator, orc_hooks, scripted_model, orc_workdir):
            scripted_model.script([tool("Glob", {"pattern": "*"}), text("found nothing")], match="scout of the team")
            async with orchestrator as orc:
                result = await orc.execute("look", roles=["scout"], cwd=orc_workdir)
            assert result.success
            orc_hooks.assert_called("orc_task_started", times=1)
            orc_hooks.assert_called("orc_task_finished", times=1)
            (started,) = orc_hooks.assert_called("orc_subtask_started", times=1)
            assert started.subtask.role == "scout"
            kinds = [c.event.kind.value for c in orc_hooks.getcalls("orc_event")]
            assert "tool_call" in kinds
            assert orc_hooks.names.index("orc_configure") < orc_hooks.names.index("orc_task_started")
        """,
    )
    result.assert_outcomes(passed=1)


def test_conformance_failures_read_as_one_line(pytester):
    result = run_inner(
        pytester,
        """
        from orchestrator_core import Role
        from orchestrator_core.testing.conformance import check_role

        def test_bad_tool():
            check_role(Role("spy", "Spies.", "You spy.", tools=("Read", "Teleport")))
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * role 'spy': unknown tool 'Teleport'; known tools: *"])
    # __tracebackhide__: the author sees their own line, not the checker's internals.
    assert "def _fail" not in result.stdout.str()


@pytest.mark.parametrize(
    "role, words",
    [
        (Role("Security Team", "x", "p"), "lowercase"),
        (Role("custom", "x", "p"), "reserves"),
        (Role("sec", "", "p"), "one non-empty line"),
        (Role("sec", "x", "  "), "system prompt is empty"),
        (Role("sec", "x", "p", tools=("Read", "Read")), "listed twice"),
        (Role("sec", "x", "p", permission_mode="yolo"), "unknown permission mode 'yolo'"),
        (Role("sec", "x", "p", max_turns=0), "max_turns"),
    ],
)
def test_check_role_rejects(role, words):
    with pytest.raises(AssertionError, match=words):
        check_role(role)


def test_check_role_accepts_builtins_and_mcp_tools(orc_config, orc_pm):
    from orchestrator_core import Orchestrator

    for role in Orchestrator(orc_config, pm=orc_pm).roles.values():
        check_role(role)
    check_role(Role("sec", "x", "p", tools=("mcp__scanner__scan", "Read")))
    check_role(Role("sec", "x", "p", tools=("Scan",)), extra_tools=("Scan",))


class RunsTwice:
    async def run(self, run):
        for subtask in run.plan.subtasks:
            await run.run_subtask(subtask)
            await run.run_subtask(subtask)


class IgnoresDependencies:
    async def run(self, run):
        import anyio

        async with anyio.create_task_group() as group:
            for subtask in run.plan.subtasks:
                group.start_soon(run.run_subtask, subtask)


class ForgetsOne:
    async def run(self, run):
        for subtask in run.plan.subtasks[:2]:
            await run.run_subtask(subtask)


@pytest.mark.anyio
async def test_check_executor_passes_the_builtin():
    from orc_agents.orc_executors.sequential import SequentialExecutor

    await check_executor(SequentialExecutor())


@pytest.mark.anyio
@pytest.mark.parametrize(
    "executor, words",
    [
        (RunsTwice(), "already run|ran twice|finish exactly once"),
        (IgnoresDependencies(), "started before its dependency"),
        (ForgetsOne(), "never ran subtask.*c"),
    ],
)
async def test_check_executor_catches(executor, words):
    with pytest.raises(AssertionError, match=words):
        await check_executor(executor)


class QuietObserver:
    @hookimpl
    def orc_event(self, event):
        pass

    @hookimpl
    def orc_agent_flagged(self, agent, kind, message):
        pass


class RaisingObserver:
    @hookimpl
    def orc_subtask_finished(self, task, subtask, result):
        raise ValueError("observer bug")


class AsyncObserver:
    @hookimpl
    async def orc_task_started(self, task):
        pass


class SlowObserver:
    """Holds up the run's event loop: the fault under test is the sleep itself."""

    @hookimpl
    def orc_task_started(self, task):
        time.sleep(0.25)


class WrappingObserver:
    @hookimpl(wrapper=True)
    def orc_subtask_finished(self, task, subtask, result):
        return (yield)


def test_check_observer_counts_the_calls():
    counts = check_observer(QuietObserver())
    assert counts["orc_event"] > 10 and counts["orc_agent_flagged"] == 1
    # Wrappers are observers too (#18).
    assert check_observer(WrappingObserver()) == {"orc_subtask_finished": 3}


@pytest.mark.parametrize(
    "plugin, words",
    [
        (RaisingObserver(), "raised during a real run: .*orc_subtask_finished: ValueError: observer bug"),
        (AsyncObserver(), "orc_task_started must be a plain"),
        (SlowObserver(), r"an observer hook is slow: .*took 0\.\d\d s in orc_task_started"),
    ],
)
def test_check_observer_catches(plugin, words):
    with pytest.raises(AssertionError, match=words):
        check_observer(plugin)


def test_check_observer_rejects_unknown_arguments():
    class Nosy:
        @hookimpl
        def orc_event(self, event, secret):
            pass

    with pytest.raises(AssertionError, match="does not register.*secret"):
        check_observer(Nosy())


def test_orchestrators_with_plugins_and_scripts_by_role(pytester):
    """An author tests a role without copying its prompt: make_orchestrator(plugins=...) or the orc_plugins
    marker, and scripted_model.script(..., role=NAME); a role the model was not told about is reported."""
    result = run_inner(
        pytester,
        """
        import pytest

        from orchestrator_core import Role, hookimpl
        from orchestrator_core.testing import text, tool

        class Plugin:
            @hookimpl
            def orc_register_roles(self, register):
                register(Role("auditor", "Audits.", "A prompt the test never repeats.", tools=("Read",)))

        @pytest.mark.anyio
        async def test_factory(make_orchestrator, scripted_model, orc_workdir):
            (orc_workdir / "notes.txt").write_text("remember the milk\\n")
            scripted_model.script([tool("Read", {"file_path": "notes.txt"}), text("1 finding")], role="auditor")
            async with make_orchestrator(plugins=[Plugin()]) as orc:
                result = await orc.execute("Audit", roles=["auditor"], cwd=orc_workdir)
            assert result.success and result.subtasks[0].output == "1 finding"
            assert "remember the milk" in scripted_model.requests[-1].last_tool_output

        @pytest.mark.anyio
        @pytest.mark.orc_plugins(Plugin())
        async def test_marker(orchestrator, scripted_model, orc_workdir):
            scripted_model.script([text("from the auditor")], role="auditor")
            scripted_model.script([text("from anyone else")])
            async with orchestrator as orc:
                result = await orc.execute("Audit", roles=["auditor", "reviewer"], cwd=orc_workdir)
            assert [s.output for s in result.subtasks] == ["from the auditor", "from anyone else"]

        def test_an_unknown_role_is_reported(scripted_model):
            import urllib.request, json
            scripted_model.script([text("x")], role="wizard")
            body = json.dumps({"model": "m", "max_tokens": 5, "system": "s", "messages": [
                {"role": "user", "content": "hi"}]}).encode()
            request = urllib.request.Request(scripted_model.url + "/v1/messages", body,
                                             {"content-type": "application/json"})
            urllib.request.urlopen(request).read()
            assert "answers role 'wizard', which the scripted model does not know" in str(scripted_model.errors[0])
        """,
    )
    result.assert_outcomes(passed=3)
