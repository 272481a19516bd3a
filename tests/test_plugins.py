"""Plugins as a user meets them: `orc plugins`, -p no:NAME, the ORC_* switches, and plugins that misbehave (#8).

Third-party plugins here are real installed distributions: a ``.dist-info`` directory with METADATA and
entry_points.txt (what pip writes) and the plugin's module beside it, on sys.path for the test.
"""

import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures import clean_env

from orchestrator_core import DEFAULT_PLUGINS, Orchestrator, Role, hookimpl, make_plugin_manager
from orchestrator_core.cli import cli
from orchestrator_core.plugin_listing import plugins as plugins_command
from orchestrator_core.plugins import notify
from orchestrator_core.testing import text

LOAD = {
    "ORC_DISABLE_PLUGIN_AUTOLOAD": None
}  # orc_cli turns autoload off; these tests want their plugins loaded


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(dist, version, {entry_point: module}, {module: source})``: an installed distribution on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules = []

    def install(dist, version, entry_points, sources):
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
        (info / "entry_points.txt").write_text(f"[orc]\n{lines}")
        for module, source in sources.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            modules.append(module)

    yield install
    for module in modules:
        sys.modules.pop(module, None)


def role_plugin(role, prompt="You are a plugin role."):
    return f"""
        from orchestrator_core import Role, hookimpl

        @hookimpl
        def orc_register_roles(register):
            register(Role({role!r}, "A role from a plugin.", {prompt!r}, tools=("Read", "Grep")))
        """


@pytest.fixture
def with_plugins_command():
    """`orc plugins` on the CLI, until cli.py adds it itself."""
    added = "plugins" not in cli.commands
    if added:
        cli.add_command(plugins_command)
    yield
    if added:
        cli.commands.pop("plugins", None)


# -- orc plugins ----------------------------------------------------------------------------------------------------


def test_plugins_lists_third_parties_with_their_distribution_and_hooks(
    orc_cli, install, with_plugins_command
):
    install(
        "orc-role-audit", "1.2.0", {"audit": "orc_audit_plugin"}, {"orc_audit_plugin": role_plugin("audit")}
    )
    out = orc_cli("plugins", env=LOAD)
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "audit  orc-role-audit 1.2.0",
        "       hooks: orc_register_roles",
        "       roles: audit",
    ]

    rows = json.loads(orc_cli("plugins", "--json", env=LOAD).stdout)
    assert rows == [{"name": "audit", "distribution": "orc-role-audit", "version": "1.2.0", "builtin": False,
                     "helper_of": None, "hooks": ["orc_register_roles"], "provides": {"roles": ["audit"]},
                     "disabled": None}]  # fmt: skip


def test_plugins_all_shows_the_builtins(orc_cli, with_plugins_command):
    rows = json.loads(orc_cli("plugins", "--all", "--json").stdout)
    assert [r["name"] for r in rows] == list(DEFAULT_PLUGINS)  # orc's core modules are not listed
    assert {r["distribution"] for r in rows} == {"orc-agents (built-in)"}
    roles = next(r for r in rows if r["name"] == "orc_roles")
    assert roles["hooks"] == ["orc_register_roles", "orc_scripted_model"]
    text = orc_cli("plugins", "--all").stdout
    assert (
        "orc_claude     orc-agents (built-in)\n" in text
        and "hooks: orc_make_runtime, orc_orchestrator_started, orc_register_runtimes, orc_tool_names\n"
        in text
    )


def test_plugins_with_none_installed_says_so(orc_cli, with_plugins_command):
    out = orc_cli("plugins")
    assert out.exit_code == 0 and "No third-party plugins are loaded" in out.stdout


def test_plugins_shows_what_is_disabled(orc_cli, install, with_plugins_command):
    install(
        "orc-role-audit", "1.0", {"audit": "orc_audit_plugin"}, {"orc_audit_plugin": role_plugin("audit")}
    )
    rows = json.loads(
        orc_cli("-p", "no:audit", "-p", "no:orc_store", "plugins", "--all", "--json", env=LOAD).stdout
    )
    assert [r["name"] for r in rows if not r["disabled"]] == [n for n in DEFAULT_PLUGINS if n != "orc_store"]
    assert {r["name"]: r["disabled"] for r in rows if r["disabled"]} == {
        "audit": "-p no:audit",
        "orc_store": "-p no:orc_store",
    }
    text = orc_cli("plugins").stdout  # autoload off (orc_cli's default) keeps it out too
    assert text == "audit  orc-role-audit 1.0  disabled: ORC_DISABLE_PLUGIN_AUTOLOAD is set\n"
    allowed = orc_cli("plugins", env={**LOAD, "ORC_LOAD_PLUGINS": "nothing-else"})
    assert allowed.exit_code == 4  # a name that matches nothing installed is an error (not a listing)


def test_plugins_shows_what_each_plugin_provides(orc_cli, with_plugins_command):
    rows = {r["name"]: r for r in json.loads(orc_cli("plugins", "--all", "--json").stdout)}
    assert rows["orc_executors"]["provides"] == {"modes": ["dag", "parallel", "sequential"]}
    assert rows["orc_planners"]["provides"]["planners"] == ["llm", "template"]
    assert "feature_implementation" in rows["orc_planners"]["provides"]["task_types"]
    assert "browse" in rows["orc_store"]["provides"]["commands"]
    worktree = rows["orc_worktree"]["provides"]
    assert "--isolation" in worktree["options"] and "ORC_ISOLATION" in worktree["settings"]


# -- a third-party role, end to end in-process ----------------------------------------------------------------------


def test_an_installed_role_is_listed_and_runs(orc_cli, install):
    source = (
        role_plugin("audit", "You are the audit plugin's auditor.")
        + """
        @hookimpl
        def orc_scripted_model(model):
            from orchestrator_core.testing import text, tool

            model.script([tool("Grep", {"pattern": "TODO"}), text("Audit: nothing to report.")],
                         match="You are the audit plugin's auditor.")
        """
    )
    install("orc-role-audit", "1.0", {"audit": "orc_audit_plugin"}, {"orc_audit_plugin": source})
    roles = {r["name"]: r for r in json.loads(orc_cli("roles", "--json", env=LOAD).stdout)}
    assert roles["audit"]["provided_by"] == "audit"
    run = orc_cli("execute", "--scripted", "--roles", "audit,reviewer", "--json", "look", env=LOAD)
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    assert [(s["role"], s["status"]) for s in result["subtasks"]] == [
        ("audit", "succeeded"),
        ("reviewer", "succeeded"),
    ]
    assert result["subtasks"][0]["output"] == "Audit: nothing to report."


def test_hook_orc_register_commands(orc_cli, install):
    install("orc-greeter", "0.1", {"greeter": "orc_greeter_plugin"}, {"orc_greeter_plugin": """
        import click
        from orchestrator_core import hookimpl

        @hookimpl
        def orc_register_commands(cli):
            @cli.command()
            @click.argument("name")
            def hello(name):
                "Say hello."
                click.echo(f"hello {name}")
        """})  # fmt: skip
    assert orc_cli("hello", "orc", env=LOAD).stdout == "hello orc\n"
    assert "hello" in orc_cli("--help", env=LOAD).stdout
    blocked = orc_cli("-p", "no:greeter", "hello", "orc", env=LOAD)
    assert blocked.exit_code == 2 and "No such command 'hello'" in blocked.output
    assert "hello" not in cli.commands  # the invocation's, never left on the module's group


# -- -p no:NAME for every built-in ----------------------------------------------------------------------------------


def test_every_builtin_can_be_disabled():
    for name in DEFAULT_PLUGINS:
        pm = make_plugin_manager([f"no:{name}"], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
        assert pm.get_plugin(name) is None and pm.is_blocked(name)


def test_without_orc_roles_there_are_no_roles(orc_cli):
    assert json.loads(orc_cli("-p", "no:orc_roles", "roles", "--json").stdout) == []
    out = orc_cli("-p", "no:orc_roles", "plan", "--roles", "scout", "x")
    assert out.exit_code == 2 and "unknown role(s) scout" in out.stderr


def test_without_orc_planners_nothing_plans(orc_cli):
    out = orc_cli("-p", "no:orc_planners", "plan", "Fix the crash")
    assert out.exit_code == 2 and "no planner made a plan" in out.stderr and "Traceback" not in out.output


def test_without_orc_executors_there_is_no_mode(orc_cli):
    out = orc_cli("-p", "no:orc_executors", "execute", "--scripted", "--roles", "scout", "x")
    assert out.exit_code == 2 and "unknown execution mode 'sequential'" in out.stderr


def test_without_orc_claude_there_is_no_runtime(orc_cli):
    out = orc_cli("-p", "no:orc_claude", "execute", "--scripted", "--roles", "scout", "x")
    assert out.exit_code == 6
    assert out.stderr.strip().splitlines() == [
        "Error: no agent runtime plugin is loaded (disabled here: -p no:orc_claude); do not disable the one "
        "that runs agents, or install a plugin that provides one (`orc plugins --all` lists what is loaded)"
    ]


def test_without_orc_store_runs_leave_no_database(orc_cli):
    out = orc_cli("-p", "no:orc_store", "execute", "--scripted", "--roles", "scout", "-q", "look")
    assert out.exit_code == 0, out.output
    assert list(orc_cli.cwd.iterdir()) == []


def test_without_orc_monitor_runs_silently(orc_cli):
    loud = orc_cli("execute", "--scripted", "--roles", "scout", "look")
    assert loud.exit_code == 0 and "scout" in loud.stderr  # progress lines: stderr is not a terminal here
    quiet = orc_cli("-p", "no:orc_monitor", "execute", "--scripted", "--roles", "scout", "look")
    assert quiet.exit_code == 0 and quiet.stdout.startswith("Success: 1/1 subtasks")
    assert quiet.stderr == ""


# -- the ORC_* switches ---------------------------------------------------------------------------------------------


@pytest.fixture
def two_roles(install):
    install("orc-role-a", "1.0", {"a": "orc_a_plugin"}, {"orc_a_plugin": role_plugin("role-a")})
    install("orc-role-b", "1.0", {"b": "orc_b_plugin"}, {"orc_b_plugin": role_plugin("role-b")})


def role_names(out):
    assert out.exit_code == 0, out.output
    return {r["name"] for r in json.loads(out.stdout)} - {"analyst", "planner", "builder", "tester", "reviewer",
                                                          "documenter", "scout"}  # fmt: skip


def test_autoload_loads_installed_plugins_unless_disabled(orc_cli, two_roles):
    assert role_names(orc_cli("roles", "--json", env=LOAD)) == {"role-a", "role-b"}
    assert role_names(orc_cli("roles", "--json", env={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})) == set()
    assert role_names(orc_cli("-p", "no:b", "roles", "--json", env=LOAD)) == {"role-a"}


@pytest.mark.parametrize(
    "allow, loaded", [("orc-role-a", {"role-a"}), ("b", {"role-b"}), ("a, orc-role-b", {"role-a", "role-b"})]
)
def test_load_plugins_is_an_allowlist_of_distributions_or_entry_points(orc_cli, two_roles, allow, loaded):
    assert role_names(orc_cli("roles", "--json", env={**LOAD, "ORC_LOAD_PLUGINS": allow})) == loaded


@pytest.mark.parametrize("allow", ["orc_a_plugin", "orc_role_a", "ORC-Role-A"])
def test_load_plugins_takes_the_module_and_any_spelling_of_the_distribution(orc_cli, two_roles, allow):
    assert role_names(orc_cli("roles", "--json", env={**LOAD, "ORC_LOAD_PLUGINS": allow})) == {"role-a"}


def test_load_plugins_naming_nothing_installed_is_one_line(orc_cli, two_roles):
    out = orc_cli("roles", env={**LOAD, "ORC_LOAD_PLUGINS": "a, orc-audit"})
    assert out.exit_code == 4 and "Traceback" not in out.output
    (line,) = out.stderr.strip().splitlines()
    assert (
        "ORC_LOAD_PLUGINS names orc-audit" in line and "a (orc-role-a)" in line and "b (orc-role-b)" in line
    )


@pytest.mark.parametrize("typo, meant", [("orc_stor", "orc_store"), ("bb", "b")])
def test_disabling_a_plugin_that_does_not_exist_is_one_line(orc_cli, two_roles, typo, meant):
    out = orc_cli("-p", f"no:{typo}", "roles", env=LOAD)
    assert out.exit_code == 4
    (line,) = out.stderr.strip().splitlines()
    assert f"no plugin is named {typo!r}" in line and f"did you mean -p no:{meant}?" in line


def test_a_plugin_named_like_a_builtin_is_refused_naming_both(orc_cli, install):
    install(
        "orc-monitor", "9.9", {"orc_monitor": "orc_fake_monitor"}, {"orc_fake_monitor": role_plugin("fake")}
    )
    for args in (
        ["roles"],
        ["-p", "no:orc_monitor", "roles"],
    ):  # disabling the built-in must not let it in either
        out = orc_cli(*args, env=LOAD)
        assert out.exit_code == 4, out.output
        (line,) = out.stderr.strip().splitlines()
        assert 'orc-monitor 9.9 installs a plugin named "orc_monitor", the name of a built-in plugin' in line


def test_two_distributions_with_one_plugin_name_are_refused_naming_both(orc_cli, install):
    install("orc-audit-one", "1.0", {"audit": "orc_audit_one"}, {"orc_audit_one": role_plugin("audit-one")})
    install("orc-audit-two", "2.0", {"audit": "orc_audit_two"}, {"orc_audit_two": role_plugin("audit-two")})
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 4
    (line,) = out.stderr.strip().splitlines()
    assert 'plugin named "audit"' in line and "orc-audit-one 1.0" in line and "orc-audit-two 2.0" in line


def test_trace_plugins_prints_hook_calls_to_stderr(orc_cli, capfd):
    out = orc_cli("plan", "--roles", "scout", "x", env={"ORC_TRACE_PLUGINS": "1"})
    assert out.exit_code == 0
    trace = capfd.readouterr().err  # the tracer writes to file descriptor 2 itself, so it also reaches pipes
    assert "orc_register_commands" in trace and "orc_make_plan" in trace
    assert "roles: ('scout',)" in trace
    orc_cli("plan", "--roles", "scout", "x")
    assert "orc_make_plan" not in capfd.readouterr().err


# -- plugins that misbehave -----------------------------------------------------------------------------------------


def test_two_plugins_with_the_same_role_is_one_line_naming_both(orc_cli, install):
    install("orc-role-sec-a", "1.0", {"sec-a": "orc_sec_a"}, {"orc_sec_a": role_plugin("security")})
    install("orc-role-sec-b", "2.0", {"sec-b": "orc_sec_b"}, {"orc_sec_b": role_plugin("security")})
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 4
    (line,) = out.stderr.strip().splitlines()
    assert "role 'security' is registered by both" in line
    assert '"sec-a" (orc-role-sec-a 1.0)' in line and '"sec-b" (orc-role-sec-b 2.0)' in line
    assert "-p no:" in line
    assert orc_cli("-p", "no:sec-b", "roles", env=LOAD).exit_code == 0  # the way out it names works


def test_a_plugin_with_an_unknown_hook_is_named(orc_cli, install):
    install("orc-typo", "0.3", {"typo": "orc_typo_plugin"}, {"orc_typo_plugin": """
        from orchestrator_core import hookimpl

        @hookimpl
        def orc_register_role(register):
            pass
        """})  # fmt: skip
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 4 and "Traceback" not in out.output
    (line,) = out.stderr.strip().splitlines()
    assert 'plugin "typo" (orc-typo 0.3) implements an unknown hook `orc_register_role`' in line
    assert "did you mean `orc_register_roles`?" in line and "-p no:typo" in line


RAISES = """
    from orchestrator_core import hookimpl

    @hookimpl
    def orc_register_roles(register):
        raise ValueError("the plugin's own bug")
    """


def test_a_raising_hook_is_a_plugin_error_naming_the_plugin(orc_cli, install):
    install("orc-buggy", "0.2", {"buggy": "orc_buggy_plugin"}, {"orc_buggy_plugin": RAISES})
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 4, out.output
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith('Error: plugin "buggy" (orc-buggy 0.2) failed: ValueError: the plugin\'s own bug')
    assert "-p no:buggy" in line and "internal error" not in line


@pytest.mark.parametrize("source", [RAISES, "raise ImportError('no such thing')\n"])
def test_orc_debug_shows_a_plugins_traceback(install, tmp_path, source):
    install("orc-buggy", "0.2", {"buggy": "orc_buggy_plugin"}, {"orc_buggy_plugin": source})
    env = {**clean_env(tmp_path), "PYTHONPATH": str(tmp_path / "site"), "ORC_DEBUG": "1"}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "orc"), "roles"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 4 and "Traceback (most recent call last)" in out.stderr, out.stderr
    assert "orc_buggy_plugin.py" in out.stderr


@pytest.mark.parametrize(
    "body, words",
    [
        (
            "register(Role('auditor', 'x', 'p', tools=('Read',), permission_mode='yolo'))",
            "role 'auditor' has permission mode 'yolo'; use one of default, acceptEdits",
        ),
        ("register(Role('two words', 'x', 'p'))", "role name 'two words' must be letters"),
        (
            "register(Role('auditor', 'x', 'p', tools=('Read Write',)))",
            "tools that are not tool names: 'Read Write'",
        ),
    ],
)
def test_registering_an_unusable_role_is_one_line_naming_the_plugin(orc_cli, install, body, words):
    install("orc-bad-role", "0.1", {"badrole": "orc_bad_role"}, {"orc_bad_role": f"""
        from orchestrator_core import Role, hookimpl

        @hookimpl
        def orc_register_roles(register):
            {body}
        """})  # fmt: skip
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 4, out.output
    (line,) = out.stderr.strip().splitlines()
    assert 'plugin "badrole" (orc-bad-role 0.1) registered something unusable' in line and words in line


def test_an_executor_registered_as_a_class_and_a_stray_brace_are_named(orc_cli, install):
    install("orc-bad-mode", "0.1", {"badmode": "orc_bad_mode"}, {"orc_bad_mode": """
        from orchestrator_core import hookimpl

        class Yaml:
            async def run(self, run):
                pass

        @hookimpl
        def orc_register_executors(register):
            register("yaml", Yaml)
        """})  # fmt: skip
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 4
    assert "executor 'yaml' is the class Yaml; register an instance: Yaml()" in out.stderr
    install("orc-bad-type", "0.1", {"badtype": "orc_bad_type"}, {"orc_bad_type": """
        from orchestrator_core import Subtask, TaskType, hookimpl

        @hookimpl
        def orc_register_task_types(register):
            register(TaskType("audit", "x", [Subtask("1", "reviewer", "Check {prompt} for {secrets}")]))
        """})  # fmt: skip
    out = orc_cli("-p", "no:badmode", "roles", env=LOAD)
    assert out.exit_code == 4
    assert (
        "task type 'audit', subtask 1: its instruction uses {secrets}; only {prompt} is filled in"
        in out.stderr
    )


def test_an_orc_function_without_hookimpl_is_a_warning(orc_cli, install, caplog):
    install("orc-forgot", "0.1", {"forgot": "orc_forgot_plugin"}, {"orc_forgot_plugin": """
        from orchestrator_core import Role

        def orc_register_roles(register):
            register(Role("forgotten", "never registered", "You are forgotten.", tools=("Read",)))
        """})  # fmt: skip
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 0
    assert 'plugin "forgot" (orc-forgot 0.1) defines orc_register_roles without @hookimpl' in caplog.text


def test_a_raising_observer_is_logged_and_the_run_goes_on(orc_cli, install, caplog):
    install("orc-noisy", "0.1", {"noisy": "orc_noisy_plugin"}, {"orc_noisy_plugin": """
        from orchestrator_core import hookimpl

        @hookimpl
        def orc_subtask_finished(task, subtask, result):
            raise RuntimeError("observer bug")
        """})  # fmt: skip
    out = orc_cli("execute", "--scripted", "--roles", "scout,reviewer", "-q", "look", env=LOAD)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("Success: 2/2 subtasks")
    failures = [
        r.getMessage() for r in caplog.records if r.name == "orc.plugins" and r.levelname == "WARNING"
    ]
    assert failures == [
        'plugin "noisy" (orc-noisy 0.1) failed in orc_subtask_finished: RuntimeError: observer bug; '
        "the run goes on; disable it with -p no:noisy"
    ]  # once, though it failed for both subtasks
    # The built-in observers still saw everything: the store recorded both subtasks.
    import sqlite3

    from fixtures import default_store

    db = sqlite3.connect(default_store(orc_cli.cwd.parent / "home"))
    assert db.execute("select count(*) from subtasks where status = 'succeeded'").fetchone() == (2,)


def test_a_runtime_no_plugin_provides_is_bad_usage_listing_the_registered(orc_cli):
    out = orc_cli("-p", "no:orc_ray", "execute", "--scripted", "--runtime", "ray", "--roles", "scout", "x")
    assert out.exit_code == 2
    assert "unknown runtime 'ray' (--runtime or ORC_RUNTIME); choose one of: local " in out.stderr
    assert "disabled here: -p no:orc_ray" in out.stderr


# -- plugins declare settings and options (#18) ---------------------------------------------------------------------


def contributing_block(after: str) -> str:
    """The first Python block of CONTRIBUTING.md after the heading ``after``: the docs run as written."""
    text = (Path(__file__).parent.parent / "CONTRIBUTING.md").read_text()
    return re.search(r"```python\n(.*?)```", text[text.index(after) :], re.DOTALL).group(1)


AUDIT_LEVEL = contributing_block("### Settings and options")


def test_hook_orc_addoption(orc_cli, install, tmp_path):
    """A plugin's setting is read like the core's (default, orc.toml, .env, environment, its option winning), its
    bad value is the core's one-line error, `orc init` lists it, and its option exists only while it is loaded."""
    install("orc-audit", "1.0", {"audit": "orc_audit_plugin"}, {"orc_audit_plugin": AUDIT_LEVEL})
    assert orc_cli("audit-level", env=LOAD).stdout == "1\n"
    (tmp_path / "cwd" / "orc.toml").write_text("ORC_AUDIT_LEVEL = 2\n")
    assert orc_cli("audit-level", env=LOAD).stdout == "2\n"
    assert orc_cli("audit-level", env={**LOAD, "ORC_AUDIT_LEVEL": "3"}).stdout == "3\n"
    assert orc_cli("audit-level", "--audit-level", "5", env={**LOAD, "ORC_AUDIT_LEVEL": "3"}).stdout == "5\n"
    bad = orc_cli("audit-level", env={**LOAD, "ORC_AUDIT_LEVEL": "lots"})
    assert bad.exit_code == 3
    assert bad.stderr.strip() == (
        "Error: ORC_AUDIT_LEVEL='lots' (from the environment) must be a whole number; fix or unset it"
    )
    (tmp_path / "cwd" / "orc.toml").unlink()
    assert orc_cli("init", env=LOAD).exit_code == 0
    written = (tmp_path / "cwd" / "orc.toml").read_text()
    assert "# How hard the auditor looks.\nORC_AUDIT_LEVEL = 1\n" in written
    assert "--audit-level" in orc_cli("execute", "--help", env=LOAD).stdout
    assert "--audit-level" not in orc_cli("-p", "no:audit", "execute", "--help", env=LOAD).stdout


def test_a_builtins_options_exist_only_while_it_is_loaded(orc_cli):
    assert "--ray-address" in orc_cli("execute", "--help").stdout
    assert "--ray-address" not in orc_cli("-p", "no:orc_ray", "execute", "--help").stdout
    assert "--isolation" not in orc_cli("-p", "no:orc_worktree", "execute", "--help").stdout
    assert "--orchestrator" not in orc_cli("-p", "no:orc_conductor", "execute", "--help").stdout


FAR_RUNTIME = """
from orchestrator_core import hookimpl


@hookimpl
def orc_register_runtimes(register):
    register("far")
"""


def test_hook_orc_register_runtimes(orc_cli, install):
    """A runtime plugin's names are what --runtime takes: listed in the error for a name nobody registers."""
    install("orc-far", "1.0", {"far": "orc_far_plugin"}, {"orc_far_plugin": FAR_RUNTIME})
    out = orc_cli("execute", "--scripted", "--runtime", "nowhere", "--roles", "scout", "x", env=LOAD)
    assert out.exit_code == 2 and "choose one of: far, local, ray " in out.stderr
    out = orc_cli(
        "-p", "no:far", "execute", "--scripted", "--runtime", "far", "--roles", "scout", "x", env=LOAD
    )
    assert out.exit_code == 2 and "choose one of: local, ray " in out.stderr


def test_the_deprecated_executor_option_still_works_and_says_so(orc_cli, caplog):
    out = orc_cli("-p", "no:orc_ray", "execute", "--scripted", "--executor", "ray", "--roles", "scout", "x")
    assert out.exit_code == 2 and "unknown runtime 'ray'" in out.stderr
    assert "--executor is deprecated: it is --runtime now (--runtime ray)" in caplog.text


# -- every hook is called through pluggy (#18) ----------------------------------------------------------------------


class WrapsObservers:
    """New- and old-style wrappers of an observer hook and of a registration hook, as pluggy documents them."""

    def __init__(self):
        self.seen = []

    @hookimpl(wrapper=True)
    def orc_subtask_finished(self, task, subtask, result):
        self.seen.append(("before", subtask.id))
        answers = yield
        self.seen.append(("after", subtask.id, answers))
        return answers

    @hookimpl(hookwrapper=True)
    def orc_task_finished(self, task, result):
        outcome = yield
        self.seen.append(("task", result.success, outcome.get_result()))

    @hookimpl(wrapper=True)
    def orc_register_roles(self, register):
        register(Role("wrapped", "a role a wrapper registers", "You are wrapped.", tools=("Read",)))
        return (yield)


class Raises:
    """Observers that raise: a plain one, and wrappers before and after their yield."""

    @hookimpl
    def orc_subtask_finished(self, task, subtask, result):
        raise RuntimeError("plain observer bug")

    @hookimpl(wrapper=True)
    def orc_subtask_started(self, task, subtask, agent):
        raise RuntimeError("wrapper bug before its yield")
        yield  # pragma: no cover

    @hookimpl(wrapper=True)
    def orc_task_finished(self, task, result):
        yield
        raise RuntimeError("wrapper bug after its yield")


@pytest.mark.anyio
async def test_wrappers_of_observer_and_registration_hooks_work(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    wrapper = WrapsObservers()
    orc_pm.register(wrapper, "wrapper-plugin")
    scripted_model.script([text("done")], match="scout of the team")
    orc = Orchestrator(orc_config, pm=orc_pm)
    assert orc.roles["wrapped"].provided_by == "wrapper-plugin"  # provenance through a wrapper
    assert orc.roles["scout"].provided_by == "orc_roles"
    async with orc:
        result = await orc.execute("x", roles=["scout"], cwd=orc_workdir)
    assert result.success
    sid = result.subtasks[0].subtask_id
    assert wrapper.seen == [("before", sid), ("after", sid, []), ("task", True, [])]


@pytest.mark.anyio
async def test_raising_observers_stop_neither_the_others_nor_the_run(
    orc_config, orc_pm, scripted_model, orc_workdir, caplog
):
    wrapper = WrapsObservers()
    orc_pm.register(wrapper, "wrapper-plugin")
    orc_pm.register(Raises(), "raiser")
    scripted_model.script([text("done")], match="scout of the team")
    scripted_model.script([text("ok")], match="reviewer of the team")
    async with Orchestrator(orc_config, pm=orc_pm) as orc:
        result = await orc.execute("x", roles=["scout", "reviewer"], cwd=orc_workdir)
    assert result.success
    assert [s[0] for s in wrapper.seen] == ["before", "after", "before", "after", "task"]
    failures = sorted(
        r.getMessage() for r in caplog.records if r.name == "orc.plugins" and r.levelname == "WARNING"
    )
    assert failures == [
        f'plugin "raiser" failed in {hook}: RuntimeError: {words}; the run goes on; disable it with -p no:raiser'
        for hook, words in [
            ("orc_subtask_finished", "plain observer bug"),
            ("orc_subtask_started", "wrapper bug before its yield"),
            ("orc_task_finished", "wrapper bug after its yield"),
        ]
    ]  # once per hook, though two subtasks raised in each
    db = sqlite3.connect(orc_config.db_path)
    assert db.execute("select count(*) from subtasks where status = 'succeeded'").fetchone() == (2,)


def test_notify_goes_through_pluggy_so_tracing_and_monitoring_see_observers(capfd):
    pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1", "ORC_TRACE_PLUGINS": "1"})
    seen = []
    pm.add_hookcall_monitoring(lambda name, impls, kwargs: seen.append(name), lambda *a: None)
    pm.register(Raises(), "raiser")
    assert notify(pm, "orc_subtask_finished", task=None, subtask=None, result=None) == [
        'plugin "raiser" failed in orc_subtask_finished: RuntimeError: plain observer bug; the run goes on; '
        "disable it with -p no:raiser"
    ]
    assert seen == ["orc_subtask_finished"]
    assert "orc_subtask_finished" in capfd.readouterr().err
