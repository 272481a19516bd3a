"""The default preparation of a new worktree: copy what ``.worktreeinclude`` names, then run a setup command.

A fresh worktree holds only committed files. What an agent also needs but git does not track (``.env``, local
settings, a fetched model) is listed in ``.worktreeinclude`` at the top of the repository and copied from the
task's own checkout. ``ORC_WORKTREE_SETUP`` is a shell command run in each new worktree (``uv sync``, ``npm ci``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from orchestrator_core import OrcError

INCLUDE_FILE = ".worktreeinclude"
SETUP_VARIABLE = "ORC_WORKTREE_SETUP"


def included(source: Path) -> list[str]:
    """The paths under ``source`` that its ``.worktreeinclude`` names and that exist, relative and sorted."""
    listing = source / INCLUDE_FILE
    if not listing.is_file():
        return []
    found: set[str] = set()
    for raw in listing.read_text().splitlines():
        pattern = raw.split("#", 1)[0].strip().lstrip("/")
        if not pattern:
            continue
        for path in source.glob(pattern):
            relative = path.relative_to(source)
            if relative.parts and relative.parts[0] != ".git":
                found.add(relative.as_posix())
    return sorted(found)


def copy_included(worktree: Path, source: Path) -> list[str]:
    """Copy what ``source``'s ``.worktreeinclude`` names into ``worktree``; returns the copied paths."""
    copied = []
    for relative in included(source):
        origin, target = source / relative, worktree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, target, follow_symlinks=False)
        copied.append(relative)
    return copied


def run_setup_command(worktree: Path, command: str | None = None) -> None:
    """Run ``command`` (default: ``$ORC_WORKTREE_SETUP``) with the shell in ``worktree``.

    :raises OrcError: the command failed; the message has its exit status and last line of output.
    """
    command = command if command is not None else os.environ.get(SETUP_VARIABLE, "")
    if not command.strip():
        return
    done = subprocess.run(
        command, shell=True, cwd=worktree, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise OrcError(
            f"the worktree setup command {command!r} failed (exit {done.returncode}) in {worktree}"
            f"{': ' + said[-1] if said else ''}; fix it or unset {SETUP_VARIABLE}"
        )


def default_setup(worktree: Path, source: Path, command: str | None = None) -> list[str]:
    """Copy the ``.worktreeinclude`` files, then run ``command`` (default: ``$ORC_WORKTREE_SETUP``); returns the
    copied paths."""
    copied = copy_included(worktree, source)
    run_setup_command(worktree, command)
    return copied
