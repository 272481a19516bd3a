"""The example role package, as a user gets it: built into a wheel, installed with orc into a fresh venv (#8).

Installing orc's dependencies into a new venv would download claude-agent-sdk (a 177 MB wheel) every run, so the
fresh venv reaches the dependencies already installed for this suite through a ``.pth`` file, and gets only the
two wheels under test: orc (distribution ``orc-agents``), built from this checkout, and orc-role-security,
installed from those wheels alone (``--no-index``), so the example's dependency on orc must name orc's
distribution. Building uses pip's build isolation, which needs setuptools from the package index (or pip's cache).
Runs in the normal suite; about 15-25 s on two cores.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "orc-role-security"

pytestmark = pytest.mark.timeout(240)


def run(*args, **kwargs):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=180, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, args))}\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with orc and orc-role-security installed from wheels; yields (bin dir, env, workdir)."""
    tmp = tmp_path_factory.mktemp("example-package")
    # Build orc from a copy: building in the checkout would leave build/ and egg-info there.
    source = tmp / "orc-src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("orchestrator_core", "orc_agents"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    example = tmp / "example-src"
    shutil.copytree(EXAMPLE, example, ignore=ignore)
    wheels = tmp / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "wheel", "--no-deps", "-w", wheels, source, example)

    env_dir = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", env_dir)
    python = env_dir / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # Only the dependencies: the suite's own site-packages, appended after the venv's (a .pth line is a path).
    (site / "orc-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # orc's wheel first (the suite's own orc, seen through the .pth, would otherwise count as installed), then the
    # example from the local wheels only (--no-index): its dependency on orc is resolved by name, so a wrong name
    # (`orc` on PyPI is another project) fails here.
    run(*pip, "--python", python, "install", "--no-deps", *wheels.glob("orc_agents-*.whl"))
    run(*pip, "--python", python, "install", "--no-index", "--find-links", wheels, "orc-role-security")

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORC_", "ORCHESTRATOR_"))
    }
    env.pop("PYTHONPATH", None)
    env.update(HOME=str(tmp / "home"), PATH=f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    work = tmp / "work"
    work.mkdir()
    (work / "settings.py").write_text('api_key = "sk-not-a-real-key"\n')
    return env_dir / "bin", env, work, example


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
