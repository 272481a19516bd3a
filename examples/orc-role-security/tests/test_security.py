"""Tests for orc-role-security, written with orc's pytest plugin (its fixtures load with orc; nothing to import).

The model is the only stand-in: ``scripted_model`` is a real HTTP server on 127.0.0.1 and the real Claude Code CLI
runs the auditor's Grep in a temporary directory.
"""

import importlib.metadata
import json

import orc_role_security
import pytest
from orc_role_security.role import CHECKLIST, SECURITY

from orchestrator_core import Orchestrator
from orchestrator_core.testing.conformance import check_role


def test_the_role_is_a_valid_read_only_role():
    check_role(SECURITY)
    assert not {"Write", "Edit", "Bash"} & set(SECURITY.tools)


def test_registered_as_coming_from_this_plugin(orc_pm, orc_register, orc_config):
    orc_register(orc_role_security, "security")
    role = Orchestrator(orc_config, pm=orc_pm).roles["security"]
    assert role.provided_by == "security" and role.tools == ("Read", "Glob", "Grep")


@pytest.mark.anyio
async def test_the_scripted_auditor_greps_and_reports(
    orc_pm, orc_register, orc_config, scripted_model, orc_workdir
):
    (orc_workdir / "settings.py").write_text('password = "hunter2"\n')
    (orc_workdir / "app.py").write_text("print('hello')\n")
    orc_register(orc_role_security, "security")
    orc_pm.hook.orc_scripted_model(model=scripted_model)  # every plugin's scripts: ours and the reviewer's
    async with Orchestrator(orc_config, pm=orc_pm) as orc:
        result = await orc.execute("Audit the settings", roles=["security", "reviewer"], cwd=orc_workdir)
    assert result.success, result.error
    audit = result.subtasks[0]
    assert audit.output.startswith("Security review: 1 finding(s).")
    assert "settings.py" in audit.output and "app.py" not in audit.output
    (grep_result,) = [r for r in scripted_model.requests_for("security") if r.tool_results]
    assert "settings.py" in str(grep_result.tool_results[0]["content"])  # the CLI really ran the Grep


def installed():
    try:
        importlib.metadata.distribution("orc-role-security")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not installed(), reason="the command comes through the entry point: pip install -e . first"
)
def test_the_checklist_command(orc_cli):
    load = {"ORC_DISABLE_PLUGIN_AUTOLOAD": None, "ORC_LOAD_PLUGINS": "orc-role-security"}
    out = orc_cli("security-checklist", "--json", env=load)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == list(CHECKLIST)
    roles = {r["name"]: r for r in json.loads(orc_cli("roles", "--json", env=load).stdout)}
    assert roles["security"]["provided_by"] == "security"
