"""The example role package, as a user gets it: built into a wheel, installed with orc into a fresh venv (#8).

orc's wheel is the session's (``orc_wheel``, built once; see tests/wheels.py); the example's wheel is installed
beside it from local wheels alone (``--no-index``), so the example's dependency on orc must name orc's distribution.
Runs in the normal suite; about 15-25 s on two cores.
"""

import json
from pathlib import Path

import pytest
from wheels import ROOT, build_wheel, fresh_venv, install_from_wheels, run

EXAMPLE = ROOT / "examples" / "orc-role-security"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def venv(tmp_path_factory, orc_wheel):
    """A fresh venv with orc and orc-role-security installed from wheels; yields (bin dir, env, workdir)."""
    tmp = tmp_path_factory.mktemp("example-package")
    wheels = tmp / "wheels"
    build_wheel(EXAMPLE, wheels)
    bin_dir, env = fresh_venv(tmp, orc_wheel)
    install_from_wheels(bin_dir, orc_wheel, wheels, "orc-role-security")
    work = tmp / "work"
    work.mkdir()
    (work / "settings.py").write_text('api_key = "sk-not-a-real-key"\n')
    return bin_dir, env, work, EXAMPLE


def test_orc_and_the_plugin_come_from_the_wheels(venv):
    bin_dir, env, work, _ = venv
    probe = run(
        bin_dir / "python", "-c",
        "import orchestrator_core, orc_role_security, importlib.metadata as m;"
        "print(orchestrator_core.__file__); print(orc_role_security.__file__); print(m.version('orc-role-security'))",
        env=env, cwd=work,
    ).stdout.splitlines()  # fmt: skip
    venv_dir = str(bin_dir.parent)
    assert probe[0].startswith(venv_dir) and probe[1].startswith(venv_dir), probe
    assert probe[2] == "0.1.0"


def test_roles_lists_security_from_the_plugin(venv):
    bin_dir, env, work, _ = venv
    roles = {
        r["name"]: r for r in json.loads(run(bin_dir / "orc", "roles", "--json", env=env, cwd=work).stdout)
    }
    assert roles["security"]["provided_by"] == "security"
    assert roles["security"]["tools"] == ["Read", "Glob", "Grep"]
    assert roles["reviewer"]["provided_by"] == "orc_roles"
    hidden = run(bin_dir / "orc", "-p", "no:security", "roles", "--json", env=env, cwd=work).stdout
    assert "security" not in {r["name"] for r in json.loads(hidden)}


def test_scripted_execute_runs_the_security_agent(venv):
    bin_dir, env, work, _ = venv
    out = run(
        bin_dir / "orc", "execute", "--scripted", "--roles", "security,reviewer", "Audit the settings",
        "--cwd", work, env=env, cwd=work,
    )  # fmt: skip
    assert out.stdout.startswith("Success: 2/2 subtasks"), out.stdout
    assert "Grep" in out.stderr  # the progress line of the security agent's tool call
    db = Path(env["HOME"]) / ".local" / "share" / "orc" / "orchestrator.db"
    import sqlite3

    rows = (
        sqlite3.connect(db)
        .execute(
            "select a.role, e.payload from events e join agents a on a.id = e.agent_id where e.kind = 'tool_call'"
        )
        .fetchall()
    )
    calls = [(role, json.loads(payload)["name"]) for role, payload in rows]
    assert ("security", "Grep") in calls
    outputs = dict(sqlite3.connect(db).execute("select role, output from subtasks").fetchall())
    assert (
        outputs["security"].startswith("Security review: 1 finding(s).")
        and "settings.py" in outputs["security"]
    )


def test_the_plugin_adds_its_command(venv):
    bin_dir, env, work, _ = venv
    assert "security-checklist" in run(bin_dir / "orc", "--help", env=env, cwd=work).stdout
    out = run(bin_dir / "orc", "security-checklist", env=env, cwd=work).stdout
    assert out.startswith("1. Secrets in the code or config")


def test_the_plugins_own_tests_pass_with_orcs_pytest_plugin(venv):
    bin_dir, env, work, example = venv
    out = run(
        bin_dir / "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        example / "tests",
        env=env,
        cwd=work,
    )
    assert "4 passed" in out.stdout, out.stdout
