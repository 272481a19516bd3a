"""Every hook: what a plugin implementing it sees and changes, in a real run (#8).

Each hook has a ``test_hook_<name>`` test somewhere under tests/ (some live beside the feature they drive, e.g.
test_plugins.py for the CLI hooks); ``test_every_hook_has_a_test`` enforces it, as datasette does. The observer
hooks share one scripted run of a two-agent team, made once for this module.
"""

import ast
import contextlib
import inspect
import re
import tempfile
from pathlib import Path

import anyio
import attrs
import pytest

from orchestrator_core import (
    Agent,
    AgentStatus,
    Config,
    ConfigError,
    EventKind,
    Orchestrator,
    Plan,
    PlanError,
    PluginError,
    Role,
    Subtask,
    SubtaskStatus,
    TaskStatus,
    TaskType,
    TurnResult,
    UsageError,
    hookimpl,
    hookspec,
    make_plugin_manager,
)
from orchestrator_core.hookspecs import OBSERVER_HOOKS
from orchestrator_core.testing import ScriptedModel, text, tool

TESTS = Path(__file__).parent
NO_AUTOLOAD = {"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}


def hook_names():
    pm = make_plugin_manager(environ=NO_AUTOLOAD)
    return sorted(name for name in vars(pm.hook) if name.startswith("orc_"))


# -- the rules ------------------------------------------------------------------------------------------------------


def test_every_hook_has_a_test():
    defined = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_hook_"
            ):
                defined.add(node.name.removeprefix("test_hook_"))
    missing = [name for name in hook_names() if name not in defined]
    assert missing == [], f"write a test_hook_<name> test for: {', '.join(missing)}"


@pytest.mark.parametrize(
    "name",
    [n for n in hook_names()],
)
def test_hookspec_docstring(name):
    pm = make_plugin_manager(environ=NO_AUTOLOAD)
    spec = getattr(pm.hook, name).spec
    doc = inspect.getdoc(spec.function) or ""
    summary = doc.splitlines()[0] if doc else ""
    assert summary.strip() and not summary.startswith(":"), f"{name}: no one-line summary"
    documented = re.findall(r"^:param (\w+):", doc, re.MULTILINE)
    assert documented == list(spec.argnames), (
        f"{name}: :param lines {documented} for arguments {spec.argnames}"
    )
    assert "**Sync or async**" in doc, f"{name}: no **Sync or async** section"
    if spec.opts.get("firstresult"):
        assert "first non-None result" in doc, f"{name}: a firstresult hook must say where the call stops"


def test_observer_hooks_are_the_observation_section():
    source = inspect.getsource(__import__("orchestrator_core.hookspecs", fromlist=["x"]))
    observation = source.split("# Observation")[1]
    assert {n for n in hook_names() if f"def {n}(" in observation} == set(OBSERVER_HOOKS)


# -- shared pieces --------------------------------------------------------------------------------------------------


class Recorder:
    """Records every observer hook call, in order."""

    def __init__(self):
        self.calls = []

    def of(self, name):
        return [kwargs for hook, kwargs in self.calls if hook == name]


def _recorder_with_all_observers():
    recorder = Recorder()
    for name in OBSERVER_HOOKS:
        spec = getattr(make_plugin_manager(environ=NO_AUTOLOAD).hook, name).spec

        def record(*args, _name=name, _argnames=spec.argnames, **kwargs):
            recorder.calls.append((_name, {**dict(zip(_argnames, args, strict=False)), **kwargs}))

        record.__wrapped__ = spec.function  # pluggy reads the argument names from the spec
        setattr(recorder, name, hookimpl(record))
    return recorder


@pytest.fixture(scope="module")
def team_run():
    """One scripted run: a scout that globs three times (a loop flag) and a reviewer that reads; both deleted."""
    recorder = _recorder_with_all_observers()
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as model:
        base = Path(tmp)
        work = base / "work"
        work.mkdir()
        (work / "app.py").write_text("x = 1\n")
        glob = tool("Glob", {"pattern": "*.py"})
        model.script([glob, glob, glob, text("found app.py")], match="scout of the team")
        model.script([tool("Read", {"file_path": "app.py"}), text("Approved.")], match="reviewer of the team")
        config = Config(
            db_path=base / "o.db",
            runtime_env=model.env(base / "claude"),
            plugin_settings={"ORC_SCRIPTED": True},
        )
        orc = Orchestrator(config, pm=make_plugin_manager(plugins=[recorder], environ=NO_AUTOLOAD))

        async def go():
            async with orc:
                return await orc.execute("look", roles=["scout", "reviewer"], cwd=work)

        result = anyio.run(go)
        yield result, recorder


@pytest.fixture
def orc(orc_config, orc_pm):
    return lambda *plugins, **kw: Orchestrator(attrs.evolve(orc_config, **kw), pm=_with(orc_pm, plugins))


def _with(pm, plugins):
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


class EchoRuntime:
    """A runtime that is not Claude: it answers every message with its first line, in-process."""

    def __init__(self):
        self.deleted = []

    def check(self):
        pass

    @contextlib.asynccontextmanager
    async def session(self, agent, role, emit, *, max_budget_usd=None):
        yield EchoSession(role, emit)

    async def delete(self, agent):
        self.deleted.append(agent.id)


class EchoSession:
    pid = None

    def __init__(self, role, emit):
        self.role = role
        self.emit = emit

    async def send(self, message, agent):
        answer = f"{self.role.name} echoes: {message.splitlines()[0]}"
        self.emit(EventKind.MESSAGE, {"role": "assistant", "text": answer})
        return TurnResult(answer, session_id=agent.session_id)


pytestmark = pytest.mark.anyio

# -- registration ---------------------------------------------------------------------------------------------------


def test_hook_orc_register_roles(orc, orc_config):
    class Auditors:
        @hookimpl
        def orc_register_roles(self, register):
            register(Role("auditor", "Audits.", "You are the auditor.", tools=("Read",)))

    roles = orc(Auditors()).roles
    assert roles["auditor"].provided_by != "orc_roles" and roles["auditor"].tools == ("Read",)
    assert roles["scout"].provided_by == "orc_roles"

    class Impostor:
        @hookimpl
        def orc_register_roles(self, register):
            register(Role("scout", "Not the real one.", "x"))

    with pytest.raises(
        PluginError, match=r"""role 'scout' is registered by both "orc_roles" and "impostor\""""
    ):
        Orchestrator(orc_config, pm=_named(Impostor(), "impostor"))


def _named(plugin, name):
    pm = make_plugin_manager(environ=NO_AUTOLOAD)
    pm.register(plugin, name)
    return pm


def test_hook_orc_register_task_types(orc):
    class Audit:
        @hookimpl
        def orc_register_task_types(self, register):
            register(TaskType("audit", "Scout, then review.", [
                Subtask("1", "scout", "Find the code for: {prompt}"),
                Subtask("2", "reviewer", "Review what the scout found.", ["1"]),
            ]))  # fmt: skip

    orchestrator = orc(Audit())
    assert orchestrator.task_types["audit"].provided_by is not None
    assert orchestrator.task_types["bug_fix"].provided_by == "orc_planners"
    with pytest.raises(PluginError, match="registered by both"):
        orc(Audit())  # the same name again, from a second plugin


def test_a_plugin_task_type_is_planned(orc):
    class Audit:
        @hookimpl
        def orc_register_task_types(self, register):
            register(
                TaskType(
                    "audit", "Scout, then review.", [Subtask("1", "scout", "Find the code for: {prompt}")]
                )
            )

    plan = orc(Audit()).plan("the parser", "audit")
    assert plan.task_type == "audit" and plan.subtasks[0].instruction == "Find the code for: the parser"


async def test_hook_orc_register_executors(orc, scripted_model, orc_workdir):
    class Backwards:
        async def run(self, run):
            for subtask in reversed(run.plan.subtasks):
                await run.run_subtask(subtask)

    class Plugin:
        @hookimpl
        def orc_register_executors(self, register):
            register("backwards", Backwards())

    scripted_model.script([text("scouted")], match="scout of the team", name="scout")
    scripted_model.script([text("reviewed")], match="reviewer of the team", name="reviewer")
    plan = Plan([Subtask("1", "scout", "look"), Subtask("2", "reviewer", "review")])
    async with orc(Plugin()) as orchestrator:
        result = await orchestrator.execute("x", execution_mode="backwards", plan=plan, cwd=orc_workdir)
    assert result.success
    firsts = [r.script for r in scripted_model.requests if r.script]
    assert firsts.index("reviewer") < firsts.index("scout")


async def test_hook_orc_configure(orc, orc_workdir):
    seen = []

    class Careful:
        @hookimpl
        def orc_configure(self, config, pm):
            seen.append((config.max_parallel_agents, pm.get_plugin("careful") is self))
            if config.max_parallel_agents > 3:
                raise ConfigError("careful plugin: set ORCHESTRATOR_MAX_PARALLEL_AGENTS to 3 or less")

    refused = orc(_as("careful", Careful()), max_parallel_agents=4)
    with pytest.raises(ConfigError, match="3 or less"):
        await refused.execute("x", roles=["scout"], cwd=orc_workdir)
    assert seen == [(4, True)]


def _as(name, plugin):
    plugin.__name__ = name  # pluggy names a plugin object by its __name__ when it has one
    return plugin


async def test_hook_orc_unconfigure(orc_config, orc_pm, scripted_model, orc_workdir):
    calls = []

    class Tidy:
        @hookimpl
        def orc_configure(self, config, pm):
            calls.append("configure")

        @hookimpl
        def orc_unconfigure(self, config, pm):
            calls.append("unconfigure")

    scripted_model.script([text("ok")], match="scout of the team")
    orc = Orchestrator(orc_config, pm=_with(orc_pm, [Tidy()]))
    async with orc:
        await orc.execute("x", roles=["scout"], cwd=orc_workdir)
        await orc.execute("y", roles=["scout"], cwd=orc_workdir)
        assert calls == ["configure"]
    assert calls == ["configure", "unconfigure"]
    # The store's connection is closed by its own orc_unconfigure: the file is complete for the next reader.
    assert orc_pm.get_plugin("orc-store") is None


async def test_hook_orc_make_runtime(orc, orc_workdir):
    runtime = EchoRuntime()

    class NotClaude:
        @hookimpl
        def orc_make_runtime(self, config):
            return runtime

    async with orc(NotClaude()) as orchestrator:
        result = await orchestrator.execute("Add CSV export", roles=["scout", "reviewer"], cwd=orc_workdir)
    assert result.success
    assert result.output == "reviewer echoes: Task: Add CSV export"
    assert len(runtime.deleted) == 2  # the core asked our runtime to delete its agents


async def test_hook_orc_scripted_model(orc_config, orc_pm, orc_workdir):
    from orc_agents.orc_scripted.environment import scripted_environment

    class Security:
        @hookimpl
        def orc_register_roles(self, register):
            register(Role("security", "Audits.", "You are the security auditor.", tools=("Grep",)))

        @hookimpl
        def orc_scripted_model(self, model):
            model.script(
                [tool("Grep", {"pattern": "password"}), text("No secrets found.")],
                match="You are the security auditor",
                name="security",
            )

    orc_pm.register(Security())
    with scripted_environment(orc_pm) as env:
        orc = Orchestrator(attrs.evolve(orc_config, runtime_env=env), pm=orc_pm)
        async with orc:
            result = await orc.execute("audit", roles=["security"], cwd=orc_workdir)
    assert result.success and result.output == "No secrets found."


async def test_hook_orc_find_agent(orc, orc_workdir):
    elsewhere = Agent(
        id="agent-elsewhere", name="kept", role="scout", cwd=str(orc_workdir), status=AgentStatus.IDLE
    )

    class Registry:
        @hookimpl
        def orc_find_agent(self, agent_id):
            return elsewhere if agent_id == elsewhere.id else None

    async with orc(Registry()) as orchestrator:
        assert orchestrator.agents.get("agent-elsewhere") is elsewhere
        with pytest.raises(Exception, match="no agent 'nobody'"):
            orchestrator.agents.get("nobody")


async def test_hook_orc_query_agents(orc, orc_workdir):
    recorded = Agent(
        id="agent-old", name="old", role="builder", cwd=str(orc_workdir), status=AgentStatus.DELETED
    )
    asked = []

    class Registry:
        @hookimpl(tryfirst=True)
        def orc_query_agents(self, role, status):
            asked.append((role, status))
            return [recorded] if role in (None, "builder") else []

    orchestrator = orc(Registry())
    assert [a.id for a in orchestrator.list_agents(role="builder")] == ["agent-old"]
    assert orchestrator.list_agents(role="scout") == []
    assert asked == [("builder", None), ("scout", None)]


# -- planning and execution -----------------------------------------------------------------------------------------


def test_hook_orc_make_plan(orc):
    class Planner:
        @hookimpl
        def orc_make_plan(self, prompt, task_type, roles, config):
            if not prompt.startswith("pair:"):
                return None  # decline: the built-in templates answer
            return Plan(
                [Subtask("a", "scout", prompt), Subtask("b", roles[0] if roles else "wizard", "x", ["a"])]
            )

    orchestrator = orc(Planner())
    plan = orchestrator.plan("pair: the parser", "custom", ["reviewer"])
    assert [(s.id, s.role) for s in plan.subtasks] == [("a", "scout"), ("b", "reviewer")]
    assert orchestrator.plan("Fix the crash").task_type == "bug_fix"
    with pytest.raises(PlanError, match="wizard"):  # the core checks a plugin's plan before anything is spent
        orchestrator.plan("pair: nobody")


async def test_hook_orc_subtask_veto(orc, scripted_model, orc_workdir):
    vetoed = []

    class NoReviews:
        @hookimpl
        def orc_subtask_veto(self, task, subtask):
            vetoed.append(subtask.id)
            return "reviews are frozen" if subtask.role == "reviewer" else None

    scripted_model.script([text("scouted")], match="scout of the team")
    async with orc(NoReviews()) as orchestrator:
        result = await orchestrator.execute("x", roles=["reviewer", "scout"], cwd=orc_workdir)
    assert [(s.role, s.status, s.error) for s in result.subtasks][0] == (
        "reviewer",
        SubtaskStatus.FAILED,
        "reviews are frozen",
    )
    assert result.subtasks[1].status is SubtaskStatus.SKIPPED
    assert vetoed == ["1"]  # the skipped subtask is not offered for a veto
    assert scripted_model.requests == []


async def test_hook_orc_subtask_retry(orc, scripted_model, orc_workdir):
    sessions = []

    def first_session_loops(request):
        if request.session_id not in sessions:
            sessions.append(request.session_id)
        # One turn allowed: a tool call makes the first agent's turn an error; the second agent just answers.
        return (
            tool("Glob", {"pattern": "*"}) if sessions.index(request.session_id) == 0 else text("second try")
        )

    class Flaky:
        @hookimpl
        def orc_register_roles(self, register):
            register(Role("flaky", "Fails once.", "You are the flaky one.", tools=("Glob",), max_turns=1))

    asked = []

    class RetryOnce:
        @hookimpl(tryfirst=True)
        def orc_subtask_retry(self, task, subtask, result, attempt, config):
            asked.append((subtask.id, attempt, result.status))
            return attempt < 2

    scripted_model.script([first_session_loops] * 3, match="You are the flaky one")
    async with orc(Flaky(), RetryOnce()) as orchestrator:
        result = await orchestrator.execute("x", roles=["flaky"], cwd=orc_workdir)
    assert result.success and result.output == "second try"
    assert asked == [("1", 1, SubtaskStatus.FAILED)]
    assert result.subtasks[0].attempts == 2 and len(sessions) == 2


# -- observation: one real run, every observer hook -----------------------------------------------------------------


def test_hook_orc_task_started(team_run):
    result, recorder = team_run
    (call,) = recorder.of("orc_task_started")
    assert call["task"].id == result.task_id and call["task"].status is TaskStatus.RUNNING
    assert [s.role for s in call["task"].plan.subtasks] == ["scout", "reviewer"]
    assert recorder.calls[0][0] != "orc_event"  # before any agent did anything
    assert [h for h, _ in recorder.calls].index("orc_task_started") < [h for h, _ in recorder.calls].index(
        "orc_agent_created"
    )


def test_hook_orc_task_finished(team_run):
    result, recorder = team_run
    (call,) = recorder.of("orc_task_finished")
    assert call["result"] == result and call["task"].status is TaskStatus.SUCCEEDED
    assert recorder.calls[-1][0] == "orc_task_finished"


def test_hook_orc_subtask_started(team_run):
    _, recorder = team_run
    calls = recorder.of("orc_subtask_started")
    assert [(c["subtask"].role, c["agent"].role) for c in calls] == [
        ("scout", "scout"),
        ("reviewer", "reviewer"),
    ]


def test_hook_orc_subtask_finished(team_run):
    result, recorder = team_run
    calls = recorder.of("orc_subtask_finished")
    assert [c["result"] for c in calls] == list(result.subtasks)
    assert calls[1]["subtask"].depends_on == ("1",)


def test_hook_orc_agent_created(team_run):
    _, recorder = team_run
    agents = [c["agent"] for c in recorder.of("orc_agent_created")]
    assert [a.role for a in agents] == ["scout", "reviewer"]
    assert all(a.status is AgentStatus.CREATED and a.session_id for a in agents)


def test_hook_orc_agent_updated(team_run):
    result, recorder = team_run
    scout = [c["agent"] for c in recorder.of("orc_agent_updated") if c["agent"].role == "scout"]
    assert AgentStatus.RUNNING in [a.status for a in scout]
    assert scout[-1].status is AgentStatus.IDLE and scout[-1].metrics.input_tokens > 0
    assert scout[-1].metrics == result.subtasks[0].metrics


def test_hook_orc_agent_deleted(team_run):
    result, recorder = team_run
    deleted = [c["agent"] for c in recorder.of("orc_agent_deleted")]
    assert {a.id for a in deleted} == {s.agent_id for s in result.subtasks}
    assert {a.status for a in deleted} == {AgentStatus.DELETED}


def test_hook_orc_status(team_run):
    result, recorder = team_run
    last = recorder.of("orc_status")[-1]["snapshot"]
    assert last.task_id == result.task_id
    assert last.subtasks == {"1": "succeeded", "2": "succeeded"}
    assert len(last.agents) == 2


def test_hook_orc_agent_flagged(team_run):
    _, recorder = team_run
    (flag,) = recorder.of("orc_agent_flagged")
    assert flag["agent"].role == "scout" and flag["kind"] == "loop"
    assert "same call 3 times" in flag["message"]


def test_hook_orc_event(team_run):
    result, recorder = team_run
    events = [c["event"] for c in recorder.of("orc_event")]
    reviewer = [e for e in events if e.agent_id == result.subtasks[1].agent_id]
    assert [e.seq for e in reviewer] == list(range(1, len(reviewer) + 1))
    calls = [e.payload["name"] for e in events if e.kind is EventKind.TOOL_CALL]
    assert calls == ["Glob", "Glob", "Glob", "Read"]
    reads = [e.payload for e in reviewer if e.kind is EventKind.FILE_ACCESS]
    assert [(Path(r["path"]).name, r["operation"]) for r in reads] == [("app.py", "read")]
    assert all(e.task_id == result.task_id for e in events)


async def test_hook_orc_plan_gate(orc, scripted_model, orc_workdir):
    class NotOnFridays:
        @hookimpl
        def orc_plan_gate(self, plan, prompt, cwd, config):
            return f"refused: {len(plan.subtasks)} agents for {prompt!r}"

    orchestrator = orc(NotOnFridays())
    with pytest.raises(PlanError, match="refused: 1 agents for 'x'"):
        await orchestrator.execute("x", roles=["scout"], cwd=orc_workdir)
    assert scripted_model.requests == []


async def test_hook_orc_check_request(orc, scripted_model, orc_workdir):
    """Every impl sees the checked request (``auto`` with roles is ``custom`` by then) before planning; one that
    raises refuses the task and nothing is spent (#18)."""
    seen = []

    class Look:
        @hookimpl(tryfirst=True)
        def orc_check_request(self, request, config):
            seen.append(request)

    class Refuse:
        @hookimpl
        def orc_check_request(self, request):
            raise UsageError(f"not in {request.cwd}")

    class Planner:
        @hookimpl(tryfirst=True)
        def orc_make_plan(self, prompt):
            seen.append("planned")

    orchestrator = orc(Look(), Refuse(), Planner())
    with pytest.raises(UsageError, match=f"not in {orc_workdir}"):
        await orchestrator.execute("x", roles=["scout"], cwd=orc_workdir)
    (request,) = seen  # asked once, before the planners
    assert (request.prompt, request.task_type, request.roles, request.mode) == (
        "x",
        "custom",
        ("scout",),
        "sequential",
    )
    assert request.cwd == str(orc_workdir.resolve()) and request.plan is None
    assert scripted_model.requests == [] and not orchestrator.started


async def test_a_plan_gate_may_edit_the_plan(orc, scripted_model, orc_workdir):
    """A gate's edited plan is checked and put to every gate again; the task runs it (#18)."""
    shown = []

    class Policy:
        @hookimpl
        def orc_plan_gate(self, plan):
            shown.append(("policy", [s.role for s in plan.subtasks]))

    class OnlyTheScout:
        @hookimpl(trylast=True)
        def orc_plan_gate(self, plan, roles):
            shown.append(("editor", [s.role for s in plan.subtasks]))
            assert "scout" in roles
            return attrs.evolve(plan, subtasks=plan.subtasks[:1]) if len(plan.subtasks) > 1 else None

    class Broken:
        @hookimpl(trylast=True)
        def orc_plan_gate(self, plan):
            return attrs.evolve(plan, subtasks=[attrs.evolve(plan.subtasks[0], role="wizard")])

    scripted_model.script([text("looked")], match="scout of the team")
    async with orc(Policy(), OnlyTheScout()) as orchestrator:
        result = await orchestrator.execute("x", roles=["scout", "builder"], cwd=orc_workdir)
    assert result.success, result.error
    assert [s.role for s in result.subtasks] == ["scout"]
    assert shown == [
        ("policy", ["scout", "builder"]),
        ("editor", ["scout", "builder"]),
        ("policy", ["scout"]),
        ("editor", ["scout"]),
    ]
    with pytest.raises(PlanError, match="unknown role 'wizard'"):
        await orc(Broken()).execute("x", roles=["scout"], cwd=orc_workdir)


async def test_hook_orc_agent_workdir(orc, scripted_model, orc_workdir):
    own = orc_workdir / "builder-space"
    own.mkdir()

    class OwnDirectory:
        @hookimpl
        def orc_agent_workdir(self, task, subtask, config):
            return str(own) if subtask.role == "builder" else None

    scripted_model.script(
        [tool("Write", {"file_path": "out.txt", "content": "hi\n"}), text("wrote")],
        match="builder of the team",
    )
    scripted_model.script([text("looked")], match="scout of the team")
    async with orc(OwnDirectory()) as orchestrator:
        result = await orchestrator.execute("x", roles=["scout", "builder"], cwd=orc_workdir)
    assert result.success, result.error
    assert (own / "out.txt").read_text() == "hi\n" and not (orc_workdir / "out.txt").exists()
    cwds = {a.role: a.cwd for a in orchestrator.list_agents()}
    assert cwds == {"scout": str(orc_workdir), "builder": str(own)}


async def test_hook_orc_task_complete(orc, scripted_model, orc_workdir):
    class Counter:
        @hookimpl
        def orc_task_complete(self, task, results, agents):
            return {
                "counter.subtasks": len(results),
                "counter.agents": sorted(a.role for a in agents.values()),
            }

    class Broken:
        @hookimpl
        def orc_task_complete(self, task):
            raise RuntimeError("merge exploded")

    class Late:
        @hookimpl
        def orc_task_complete(self, task):
            async def merge():
                raise OSError("disk full")

            return merge()

    scripted_model.script([text("ok")], match="scout of the team")
    orchestrator = orc(Counter())
    orchestrator.pm.register(Broken(), "broken")
    orchestrator.pm.register(Late(), "late")
    async with orchestrator:
        result = await orchestrator.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.success
    assert result.reports == {
        "counter.subtasks": 1,
        "counter.agents": ["scout"],
        "broken.error": "RuntimeError: merge exploded",
        "late.error": "OSError: disk full",
    }


async def test_hook_orc_load_task(orc, scripted_model, orc_workdir):
    from orchestrator_core import (
        Plan,
        Subtask,
        SubtaskResult,
        SubtaskStatus,
        Task,
        TaskRecord,
        TaskStatus,
        UsageError,
    )

    plan = Plan([Subtask("1", "scout", "look"), Subtask("2", "reviewer", "judge", depends_on=["1"])])
    earlier = Task("task-earlier", "x", "custom", "sequential", str(orc_workdir), TaskStatus.RUNNING, plan)

    class Remembers:
        @hookimpl
        def orc_load_task(self, task_id):
            if task_id != earlier.id:
                return None
            done = SubtaskResult("1", "scout", SubtaskStatus.SUCCEEDED, output="SCOUTED-EARLIER")
            return TaskRecord(earlier, {"1": done})

    reviewer = scripted_model.script([text("judged")], match="reviewer of the team")
    async with orc(Remembers()) as orchestrator:
        result = await orchestrator.resume(earlier.id)
        with pytest.raises(UsageError, match="no task 'task-unknown'"):
            await orchestrator.resume("task-unknown")
    assert result.success and result.task_id == earlier.id
    assert [s.output for s in result.subtasks] == ["SCOUTED-EARLIER", "judged"]
    assert "SCOUTED-EARLIER" in scripted_model.requests_for(reviewer)[0].search_text
    assert all(r.script == reviewer for r in scripted_model.requests)  # the scout was not run again


def test_hook_orc_addhooks():
    class Specs:
        @hookspec
        def orc_widget_made(self, widget):
            """A widget was made."""

    class Provider:
        @hookimpl
        def orc_addhooks(self, pm):
            pm.add_hookspecs(Specs)

    class Consumer:
        seen = []

        @hookimpl  # no optionalhook: the spec exists before the check
        def orc_widget_made(self, widget):
            self.seen.append(widget)

    pm = make_plugin_manager(plugins=[Consumer(), Provider()], environ=NO_AUTOLOAD)
    pm.hook.orc_widget_made(widget="w1")
    assert Consumer.seen == ["w1"]
