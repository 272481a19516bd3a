"""What a plugin author meets (#21): planners by name, planners and executors that answer wrongly, tool names the
runtime does not know, helpers named after their plugin, and a built-in another distribution replaced.

Third-party plugins here are real installed distributions (``install`` from test_plugins: a ``.dist-info`` with
METADATA and entry_points.txt, the module beside it, on sys.path).
"""

import json

import pytest
import test_plugins

install = test_plugins.install  # the fixture: a real installed distribution on sys.path

LOAD = {"ORC_DISABLE_PLUGIN_AUTOLOAD": None}

YAML_PLANNER = """
    from orchestrator_core import Plan, Subtask, hookimpl

    def yaml_planner(prompt, roles):
        '''Plans from a YAML file.'''
        return Plan([Subtask("1", "reviewer", "Review: " + prompt)], task_type="yaml")

    @hookimpl
    def orc_register_planners(register):
        register("yaml", yaml_planner)
    """


# -- planners by name -------------------------------------------------------------------------------------------------


def test_hook_orc_register_planners(orc_cli, install):
    """A planner registered by name answers --planner NAME, is listed in its help and in the error for a typo."""
    install("orc-yaml-planner", "0.1", {"yaml": "orc_yaml_planner"}, {"orc_yaml_planner": YAML_PLANNER})
    out = orc_cli("plan", "--planner", "yaml", "--json", "Check the parser", env=LOAD)
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    assert [(s["role"], s["instruction"]) for s in plan["subtasks"]] == [
        ("reviewer", "Review: Check the parser")
    ]
    assert "Planners: llm, template, yaml." in " ".join(orc_cli("plan", "--help", env=LOAD).stdout.split())
    refused = orc_cli("execute", "--planner", "yml", "Check the parser", env=LOAD)
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "Error: unknown planner 'yml'; choose one of: llm, template, yaml (see `orc plugins`)"
    )


def test_two_plugins_registering_one_planner_name_are_named(orc_cli, install):
    install("orc-yaml-planner", "0.1", {"yaml": "orc_yaml_planner"}, {"orc_yaml_planner": YAML_PLANNER})
    install("orc-llm2", "0.3", {"llm2": "orc_llm2"}, {"orc_llm2": """
        from orchestrator_core import hookimpl

        @hookimpl
        def orc_register_planners(register):
            register("llm", lambda prompt: None)
        """})  # fmt: skip
    out = orc_cli("plan", "--planner", "yaml", "Check the parser", env=LOAD)
    assert out.exit_code == 4
    assert "planner 'llm' is registered by both" in out.stderr and '"llm2" (orc-llm2 0.3)' in out.stderr


@pytest.mark.parametrize(
    "body, words",
    [
        (
            "async def orc_make_plan(prompt):\n            return None",
            "orc_make_plan answered with an awaitable that gave no plan: an `async def` impl answers even when it "
            "means to decline",
        ),
        (
            "def orc_make_plan(prompt):\n            return {'subtasks': []}",
            "orc_make_plan answered dict, not a Plan",
        ),
        (
            "def orc_make_plan(prompt):\n            from orchestrator_core import Plan\n"
            "            return Plan([{'id': '1', 'role': 'reviewer'}])",
            "orc_make_plan answered a Plan with a subtask that is dict, not a Subtask",
        ),
    ],
)
def test_a_planner_answering_no_plan_is_a_plugin_error_naming_it(orc_cli, install, body, words):
    install("orc-bad-planner", "0.2", {"badplan": "orc_bad_planner"}, {"orc_bad_planner": f"""
        from orchestrator_core import hookimpl

        @hookimpl(tryfirst=True)
        {body}
        """})  # fmt: skip
    for command in (("plan",), ("execute", "--scripted")):
        out = orc_cli(*command, "Add CSV export", env=LOAD)
        assert out.exit_code == 4, out.output
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith('Error: plugin "badplan" (orc-bad-planner 0.2)') and words in line
        assert "-p no:badplan" in line


def test_a_named_planner_that_declines_says_so(orc_cli, install):
    install("orc-shy", "0.1", {"shy": "orc_shy"}, {"orc_shy": """
        from orchestrator_core import hookimpl

        @hookimpl
        def orc_register_planners(register):
            register("shy", lambda task_type: None)
        """})  # fmt: skip
    out = orc_cli("plan", "--planner", "shy", "Add CSV export", env=LOAD)
    assert out.exit_code == 2
    assert out.stderr.strip() == "Error: planner 'shy' made no plan for task type 'auto'"


# -- a built-in replaced by another distribution ------------------------------------------------------------------------


def test_a_distribution_installing_into_orcs_package_is_a_warning_naming_it(
    orc_cli, install, tmp_path, caplog
):
    """pip overwrites orc's file with the intruder's (and deletes it when the intruder is uninstalled)."""
    install("orc-monitor", "1.0", {"fancy_monitor": "orc_fancy_monitor"}, {"orc_fancy_monitor": ""})
    info = tmp_path / "site" / "orc_monitor-1.0.dist-info"
    (info / "RECORD").write_text(
        "orc_agents/orc_monitor/__init__.py,sha256=x,10\norc_fancy_monitor.py,sha256=y,0\n"
        "orc_monitor-1.0.dist-info/RECORD,,\n"
    )
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 0, out.output
    (line,) = [r.getMessage() for r in caplog.records if "orc's own package" in r.getMessage()]
    assert line.startswith(
        "orc-monitor 1.0 installs files inside orc's own package orc_agents/ (orc_agents/orc_monitor/__init__.py)"
    )
    assert "uninstall orc-monitor and reinstall orc-agents" in line


def test_a_builtin_loaded_from_another_copy_is_a_warning_naming_its_distribution(tmp_path):
    """A pkgutil-style orc_agents earlier on sys.path shadows one built-in: orc says which, and whose copy it is."""
    import subprocess
    import sys
    from pathlib import Path

    from fixtures import clean_env

    import orc_agents

    site = tmp_path / "shadow"
    package = site / "orc_agents"
    (package / "orc_monitor").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n"
        f"__path__.append({str(Path(orc_agents.__file__).parent)!r})\n"
    )
    (package / "orc_monitor" / "__init__.py").write_text('"""Not orc\'s monitor."""\n')
    info = site / "shadow_monitor-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow-monitor\nVersion: 0.1\n")
    (info / "RECORD").write_text("orc_agents/__init__.py,,\norc_agents/orc_monitor/__init__.py,,\n")
    env = clean_env(tmp_path, PYTHONPATH=str(site), ORC_DISABLE_PLUGIN_AUTOLOAD="1")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "orc"), "roles"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    (line,) = [line for line in out.stderr.splitlines() if "built-in plugin" in line]
    assert f"built-in plugin orc_monitor is loaded from {package / 'orc_monitor' / '__init__.py'}" in line
    assert "(installed by shadow-monitor)" in line and "reinstall orc-agents" in line


# -- helpers are their plugin's -----------------------------------------------------------------------------------------

HELPER = """
    from orchestrator_core import hookimpl

    class Cache:
        @hookimpl
        def orc_task_started(self, task):
            raise RuntimeError("cache is full")

    @hookimpl
    def orc_configure(config, pm):
        pm.register(Cache(), "audit-cache")
    """


def test_a_helpers_failure_names_its_plugin_and_distribution(orc_cli, install, caplog):
    install("orc-audit", "1.0", {"audit": "orc_audit_helper"}, {"orc_audit_helper": HELPER})
    out = orc_cli("execute", "--scripted", "-q", "Add CSV export", env=LOAD)
    assert out.exit_code == 0, out.output
    (line,) = [r.getMessage() for r in caplog.records if "cache is full" in r.getMessage()]
    assert line.startswith(
        'plugin "audit" (orc-audit 1.0, its helper "audit-cache") failed in orc_task_started'
    )
    assert line.endswith("disable it with -p no:audit")


def test_orc_plugins_lists_a_helper_under_its_plugin(orc_cli, install):
    install("orc-audit", "1.0", {"audit": "orc_audit_early"}, {"orc_audit_early": """
        from orchestrator_core import hookimpl

        class Cache:
            @hookimpl
            def orc_task_started(self, task):
                pass

        @hookimpl
        def orc_addhooks(pm):
            pm.register(Cache(), "audit-cache")
        """})  # fmt: skip
    rows = {r["name"]: r for r in json.loads(orc_cli("plugins", "--json", env=LOAD).stdout)}
    assert rows["audit-cache"]["helper_of"] == "audit"
    assert (rows["audit-cache"]["distribution"], rows["audit-cache"]["version"]) == ("orc-audit", "1.0")
    assert rows["audit-cache"]["hooks"] == ["orc_task_started"]
    text = orc_cli("plugins", env=LOAD).stdout
    assert "audit-cache  orc-audit 1.0 (helper of audit)\n" in text


# -- tool names the runtime knows -------------------------------------------------------------------------------------


def tool_role(tools):
    return f"""
        from orchestrator_core import Role, hookimpl

        @hookimpl
        def orc_register_roles(register):
            register(Role("auditor", "Audits.", "You audit.", tools={tools!r}))
        """


def test_hook_orc_tool_names(orc_cli, install):
    """A role listing a tool the runtime does not name is refused when it is registered, not when it runs."""
    install("orc-auditor", "0.1", {"auditor": "orc_auditor"}, {"orc_auditor": tool_role(("Read", "Writ"))})
    out = orc_cli("roles", env=LOAD)
    assert out.exit_code == 4, out.output
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith('Error: plugin "auditor" (orc-auditor 0.1) registered something unusable: role ')
    assert "lists tools the agent runtime does not know: 'Writ' (did you mean 'Write'?)" in line
    assert "-p no:auditor" in line


def test_mcp_tools_pass_and_without_a_runtime_nothing_is_checked(orc_cli, install):
    install(
        "orc-auditor",
        "0.1",
        {"auditor": "orc_auditor"},
        {"orc_auditor": tool_role(("Read", "mcp__docs__search"))},
    )
    out = orc_cli("roles", "--json", env=LOAD)
    assert out.exit_code == 0, out.output
    assert "auditor" in {r["name"] for r in json.loads(out.stdout)}
    install(
        "orc-other",
        "0.1",
        {"other": "orc_other"},
        {"orc_other": tool_role(("Teleport",)).replace("auditor", "mover")},
    )
    assert orc_cli("roles", env=LOAD).exit_code == 4
    # The runtime names the tools: with another runtime (none here), orc cannot tell, so it does not refuse.
    assert orc_cli("-p", "no:orc_claude", "-p", "no:orc_conductor", "roles", env=LOAD).exit_code == 0


def test_an_executor_or_planner_that_cannot_take_orcs_arguments_is_refused_at_registration(orc_cli, install):
    """Else the call fails inside orc's code, reported as an internal error (exit 70) naming nobody."""
    install("orc-odd", "0.1", {"odd": "orc_odd"}, {"orc_odd": """
        from orchestrator_core import hookimpl

        class Yaml:
            async def run(self):
                pass

        @hookimpl
        def orc_register_executors(register):
            register("yaml", Yaml())
        """})  # fmt: skip
    out = orc_cli("execute", "--scripted", "--mode", "yaml", "Add CSV export", env=LOAD)
    assert out.exit_code == 4, out.output
    assert (
        "the run method of executor 'yaml' does not take the run: write `async def run(self, run)`"
        in out.stderr
    )
    install("orc-odd-planner", "0.1", {"oddplan": "orc_odd_planner"}, {"orc_odd_planner": """
        from orchestrator_core import hookimpl

        @hookimpl
        def orc_register_planners(register):
            register("odd", lambda prompt, request: None)
        """})  # fmt: skip
    out = orc_cli("-p", "no:odd", "plan", "--planner", "odd", "Add CSV export", env=LOAD)
    assert out.exit_code == 4, out.output
    assert 'plugin "oddplan" (orc-odd-planner 0.1)' in out.stderr
    assert "planner 'odd' takes 'request', which orc does not pass" in out.stderr
