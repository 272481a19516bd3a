"""Packages as users get them: orc's wheel, built once per test session, and fresh venvs with wheels installed.

Installing orc's dependencies into a new venv would download claude-agent-sdk (a 177 MB wheel) every run, so a
fresh venv reaches the dependencies already installed for this suite through a ``.pth`` file, and gets only the
wheels under test: orc's (distribution ``orc-agents``), built from this checkout, then the plugin's from the local
wheels alone (``--no-index``), so the plugin's dependency on orc must name orc's distribution. Building uses pip's
build isolation, which needs setuptools from the package index (or pip's cache).
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")


def run(*args, **kwargs):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=180, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, args))}\n{out.stdout}\n{out.stderr}"
    return out


def build_wheel(source: Path, wheels: Path) -> None:
    """Build ``source``'s wheel into ``wheels``, from a copy (building in place leaves build/ and egg-info)."""
    copy = wheels.parent / f"{source.name}-src"
    shutil.copytree(source, copy, ignore=IGNORE)
    run(*PIP, "wheel", "--no-deps", "-w", wheels, copy)


@pytest.fixture(scope="session")
def orc_wheel(tmp_path_factory) -> Path:
    """orc's wheel, built once per session from a copy of this checkout."""
    tmp = tmp_path_factory.mktemp("orc-wheel")
    source = tmp / "orc"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("orchestrator_core", "orc_agents"):
        shutil.copytree(ROOT / name, source / name, ignore=IGNORE)
    wheels = tmp / "wheels"
    run(*PIP, "wheel", "--no-deps", "-w", wheels, source)
    (wheel,) = wheels.glob("orc_agents-*.whl")
    return wheel


def fresh_venv(tmp: Path, orc_wheel: Path) -> tuple[Path, dict[str, str]]:
    """A new venv in ``tmp / "venv"`` with orc's wheel installed (the suite's dependencies through a .pth);
    returns its bin directory and an environment for commands in it (no credentials, HOME in ``tmp``)."""
    env_dir = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", env_dir)
    python = env_dir / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # Only the dependencies: the suite's own site-packages, appended after the venv's (a .pth line is a path).
    (site / "orc-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # orc's wheel first: the suite's own orc, seen through the .pth, would otherwise count as installed.
    run(*PIP, "--python", python, "install", "--no-deps", orc_wheel)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORC_", "ORCHESTRATOR_"))
    }
    env.pop("PYTHONPATH", None)
    env.update(HOME=str(tmp / "home"), PATH=f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return env_dir / "bin", env


def install_from_wheels(bin_dir: Path, orc_wheel: Path, wheels: Path, distribution: str) -> None:
    """Install ``distribution`` from the wheels in ``wheels`` and orc's alone (``--no-index``)."""
    shutil.copy(orc_wheel, wheels / orc_wheel.name)
    run(*PIP, "--python", bin_dir / "python", "install", "--no-index", "--find-links", wheels, distribution)
