"""Running git: one function, and the error a failed git command becomes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from orchestrator_core import OrcError

#: Variables that would point git at another repository than the directory it runs in.
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
)
#: Who commits an agent's work when the repository names nobody (a fresh `git init`, a CI machine).
FALLBACK_IDENTITY = ("-c", "user.name=orc", "-c", "user.email=orc@localhost")


class GitError(OrcError):
    """A git command failed; the message names the command and what git said."""


def git(cwd: str | os.PathLike[str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``git *args`` in ``cwd`` and return the finished process (``stdout`` is text).

    :raises GitError: with ``check``, when git exits non-zero or is not installed.
    """
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH); --isolation worktree needs it") from None
    if check and done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(
            f"`git {' '.join(args)}` failed in {cwd}: {said[-1] if said else f'exit {done.returncode}'}"
        )
    return done


def out(cwd: str | os.PathLike[str], *args: str) -> str:
    """The stripped standard output of ``git *args``; raises :class:`GitError` when it fails."""
    return git(cwd, *args).stdout.strip()


def lines(cwd: str | os.PathLike[str], *args: str) -> list[str]:
    """The non-empty output lines of ``git *args``."""
    return [line for line in git(cwd, *args).stdout.splitlines() if line.strip()]


def identity(cwd: Path) -> tuple[str, ...]:
    """``-c`` options naming orc as the committer when the repository names nobody, else nothing."""
    known = git(cwd, "var", "GIT_COMMITTER_IDENT", check=False).returncode == 0
    return () if known else FALLBACK_IDENTITY


def changed_paths(worktree: Path) -> list[str]:
    """What differs from the commit checked out in ``worktree``: changed and untracked paths (a new directory once)."""
    listing = git(worktree, "status", "--porcelain", "-z", "--untracked-files=normal", "--no-renames").stdout
    return [entry[3:] for entry in listing.split("\0") if len(entry) > 3]
