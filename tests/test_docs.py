"""The docs cannot drift from the code (#19): every command line of the README's quick start, every Python block of
the README and of CONTRIBUTING, and the specification's five examples run as written, offline (scripted model)."""

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from fixtures import clean_env, rows, run_in_terminal, wait_for

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text()
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text()
SPEC_EXAMPLES = (
    "basic_orchestration",
    "specialized_agents",
    "parallel_execution",
    "manual_agent_control",
    "observability_demo",
)
#: Commands (as their leading words) that talk to a model, so they take --scripted.
MODEL_COMMANDS = (
    ("execute",),
    ("plan",),
    ("resume",),
    ("agents", "create"),
    ("agents", "send"),
    ("agents", "delete"),
)


def blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", markdown, re.DOTALL)


def quick_start() -> list[str]:
    """The README's quick start, one command a line (``a; b`` is two), comments dropped."""
    section = README.split("## Quick start", 1)[1]
    commands = []
    for line in blocks(section, "bash")[0].splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        commands += [part.strip() for part in line.split("; ") if part.strip()]
    return commands


def scripted(argv: list[str]) -> list[str]:
    """``argv`` with --scripted after its command's name, if the command talks to a model."""
    start = 0
    while start < len(argv) and argv[start].startswith("-"):  # orc's own options: -p NAME
        start += 1 if argv[start].startswith("-p") and len(argv[start]) > 2 else 2
    for command in MODEL_COMMANDS:
        if tuple(argv[start : start + len(command)]) == command:
            at = start + len(command)
            return [*argv[:at], "--scripted", *argv[at:]]
    return argv


@pytest.fixture
def user(tmp_path):
    """A new user's machine: no credentials, a home, an empty project directory, no third-party plugins."""
    project = tmp_path / "project"
    project.mkdir()
    env = clean_env(
        tmp_path,
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORC_SCRIPTED_HOME=str(tmp_path / "scripted"),
        COLUMNS="200",
        BROWSER="true",
    )  # `orc browse --open`: a browser that opens nothing
    return project, env


def test_every_quick_start_command_runs(user, tmp_path):
    project, env = user
    home = Path(env["HOME"])
    (home / "src" / "app").mkdir(parents=True)
    store = home / ".local" / "share" / "orc" / "orchestrator.db"
    names: dict[str, str] = {}
    ran = []

    def orc(argv: list[str]) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [str(BIN / "orc"), *argv], cwd=project, env=env, capture_output=True, text=True, timeout=180
        )
        assert "Traceback" not in out.stderr, out.stderr
        return out

    for line in quick_start():
        argv = [a.replace("~", str(home)) for a in shlex.split(line)][1:]
        if argv[-1] == "...":  # `orc -p no:orc_store execute ...`: any run
            argv[-1:] = ["Add CSV export"]
        if "TASK_ID" in argv and "TASK_ID" not in names:
            names["TASK_ID"] = interrupted_task(project, env, store)
        if (
            "AGENT_ID" in argv and "AGENT_ID" not in names
        ):  # before `orc agents create`: one of the task's agents
            names["AGENT_ID"] = rows(
                store, "select id from agents where task_id = ? order by created_at", [names["TASK_ID"]]
            )[0]["id"]
        argv = scripted([names.get(a, a) for a in argv])
        ran.append(argv)
        if argv[:1] == ["browse"]:
            browse(project, env, argv)
            continue
        if "--approve" in argv:
            code, screen = run_in_terminal(env, project, argv, "y")
            assert code == 0 and "Success: 5/5 subtasks" in screen, screen
            continue
        out = orc(argv)
        assert out.returncode == 0, f"orc {shlex.join(argv)}: {out.stderr}"
        if argv[:2] == ["agents", "create"]:
            names["AGENT_ID"] = out.stdout.strip()
        if argv[:1] == ["plan"] and "--output" in argv:
            assert json.loads((project / "plan.json").read_text())["prompt"] == "Refactor the parser"
        if argv[:2] == ["execute", "--scripted"] and "--plan" in argv:
            assert (
                "Success: 4/4 subtasks" in out.stdout and "--mode" in argv
            )  # the plan file's own prompt ran
        if argv[:1] == ["resume"]:
            assert "Success" in out.stdout
    assert len(ran) == len(quick_start()) >= 25
    assert (home / "src" / "app" / "add_csv_export.py").exists()
    assert {r["status"] for r in rows(store, "select status from tasks")} == {"succeeded"}


def interrupted_task(project: Path, env: dict, store: Path) -> str:
    """A task stopped by Ctrl-C after its first subtask: what `orc resume TASK_ID` carries on."""
    proc = subprocess.Popen(
        [str(BIN / "orc"), "execute", "--scripted", "-q", "Add CSV export"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _first_subtask_done(store))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return rows(store, "select id from tasks where status = 'cancelled'")[0]["id"]


def _first_subtask_done(store: Path) -> bool:
    try:
        return bool(
            rows(
                store,
                "select 1 from subtasks s join tasks t on t.id = s.task_id "
                "where t.status = 'running' and s.status = 'succeeded'",
            )
        )
    except sqlite3.Error:  # not made yet, or its schema is being written
        return False


def browse(project: Path, env: dict, argv: list[str]) -> None:
    """`orc browse` serves the store on 127.0.0.1 until stopped: ask it for a page, then stop it."""
    proc = subprocess.Popen(
        [str(BIN / "orc"), *argv],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/?\S*)", line).group(1)
        page = wait_for(lambda: _get(url))
        assert "tasks" in page
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            return response.read().decode()
    except OSError:
        return None


@pytest.mark.parametrize("number", range(len(blocks(README, "python"))))
def test_every_readme_python_block_runs(user, number):
    """Each block is a whole program: run it as written, offline through the public switch."""
    project, env = user
    script = project.parent / "block.py"
    script.write_text(blocks(README, "python")[number])
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=project,
        env={**env, "ORC_SCRIPTED": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_every_contributing_python_block_runs(user):
    """CONTRIBUTING's blocks, each where it says it lives: the plugin package, its tests (run by pytest with orc's
    pytest plugin, as an author would), and the settings plugin (loaded and asked, as orc would)."""
    project, env = user
    python = blocks(CONTRIBUTING, "python")
    assert len(python) == 4
    package = project / "orc_role_security"
    package.mkdir()
    hooks = next(b for b in python if b.startswith("# orc_role_security/__init__.py"))
    (package / "__init__.py").write_text(hooks)
    (package / "checklist.py").write_text(
        "import click\n\n@click.command('security-checklist')\n"
        "def security_checklist():\n    click.echo('checked')\n"
    )
    tests = [b for b in python if "def test_" in b]
    assert len(tests) == 2
    for i, block in enumerate(tests):
        (project / f"test_block_{i}.py").write_text(block)
    settings = next(b for b in python if "orc_addoption" in b)
    (project / "audit_plugin.py").write_text(settings)
    (project / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n"
    )
    env = {**env, "PYTHONPATH": str(project)}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed" in out.stdout, out.stdout
    check = (
        "import audit_plugin, orc_role_security\n"
        "from orchestrator_core import make_plugin_manager, Orchestrator\n"
        "pm = make_plugin_manager(plugins=[audit_plugin, orc_role_security])\n"
        "orc = Orchestrator(pm=pm)\n"
        "print(orc.config.get('ORC_AUDIT_LEVEL'), orc.roles['security'].provided_by is not None)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check],
        cwd=project,
        env={**env, "ORC_AUDIT_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "True"]


@pytest.mark.parametrize("name", SPEC_EXAMPLES)
def test_spec_example_runs_offline(user, name):
    project, env = user
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py")],
        cwd=project,
        env={**env, "ORC_SCRIPTED": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and out.stdout.strip()
    if name == "manual_agent_control":
        assert out.stdout.startswith("created scout-") and "My Planner: scout, created" in out.stdout
    elif name == "observability_demo":
        assert "'files_consumed': 1, 'files_produced': 1" in out.stdout and "total cost $" in out.stdout
    else:
        assert "Success: True" in out.stdout


@pytest.mark.parametrize("name", ("quickstart", "manual_agent_control"))
def test_an_example_without_credentials_ends_in_one_line(user, name):
    project, env = user
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 6, out.stderr
    assert out.stderr.startswith("Error: no Claude credentials") and "ORC_SCRIPTED=1" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and out.stdout == ""
    assert not os.listdir(project)


def test_every_other_contributing_block_is_run_or_checked():
    """CONTRIBUTING's shell and TOML blocks (its Python blocks run above): the lint commands run here; the rest are
    checked against what they name, each saying why it does not run in a test."""
    import py_compile
    import tomllib

    develop, bench, publish = blocks(CONTRIBUTING, "bash")
    (entry_point,) = blocks(CONTRIBUTING, "toml")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())

    # Develop and test: the extras it installs exist; the lint and format checks run (the suite is this very run,
    # mypy runs in CI: .ci/run).
    for extra in re.findall(r'"\.\[([\w,-]+)\]"', develop)[0].split(","):
        assert extra in pyproject["project"]["optional-dependencies"], extra
    lint = next(line for line in develop.splitlines() if "ruff check" in line).split("#")[0]
    for command in lint.split("&&"):
        argv = shlex.split(command.replace(".venv/bin/", f"{BIN}/"))
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"{command}: {out.stdout}{out.stderr}"
    assert (BIN / "mypy").exists() and "mypy orchestrator_core orc_agents" in develop
    assert all((ROOT / name).is_dir() for name in ("orchestrator_core", "orc_agents"))

    # Benchmarks: each script exists and compiles (they take minutes and measure; bench/ is not the suite).
    scripts = re.findall(r"bench/\w+\.py", bench)
    assert len(scripts) >= 3 and len(scripts) == len(set(scripts))
    for script in scripts:
        py_compile.compile(str(ROOT / script), doraise=True)

    # Publish: not run (it uploads); tests/test_example_package.py builds and installs the example's wheel instead.
    assert publish.strip().startswith("python -m build && twine upload")

    # The entry point: what the example package, built and installed by test_example_package.py, declares.
    example = tomllib.loads((ROOT / "examples" / "orc-role-security" / "pyproject.toml").read_text())
    declared = tomllib.loads(entry_point)
    assert declared["project"]["name"] == example["project"]["name"]
    assert declared["project"]["dependencies"] == example["project"]["dependencies"] == ["orc-agents>=0.1"]
    assert declared["project"]["entry-points"]["orc"] == example["project"]["entry-points"]["orc"]
    hooks = next(b for b in blocks(CONTRIBUTING, "python") if b.startswith("# orc_role_security/__init__.py"))
    assert hooks and set(declared["project"]["entry-points"]["orc"].values()) == {"orc_role_security"}
