"""A task's repository and the worktrees made for its agents: where they live and what they are called.

Worktrees live outside the checkout, in ``$ORC_WORKTREE_DIR`` (default ``$XDG_DATA_HOME/orc/worktrees``, that is
``~/.local/share/orc/worktrees``), as ``<repository name>-<hash>/<task>/<subtask>``. Not in ``.git/``: Claude Code
refuses to edit files under a ``.git`` directory ("a sensitive file"). Not inside the checkout: even when git ignores
them, every other tool that walks the tree (pytest, grep, a build) would find the other agents' copies. Not beside
the repository: that is a directory the user did not hand to orc. ``git worktree list`` shows them all.

Each is on the branch ``orc/<task>/<subtask>`` made from the task's base commit (HEAD when the task started). The
agents' work is merged into ``orc/<task>/merged``: a branch cannot be called ``orc/<task>`` while branches under
``orc/<task>/`` exist (git keeps refs as files and directories).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import attrs

from orchestrator_core import Subtask, Task, UsageError

from .git import GitError, git, identity, out

DIR_VARIABLE = "ORC_WORKTREE_DIR"
MERGED = "merged"


def worktrees_dir(explicit: str | None = None) -> Path:
    """Where orc keeps worktrees: ``explicit`` (the ``ORC_WORKTREE_DIR`` setting), else
    ``$XDG_DATA_HOME/orc/worktrees``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "orc" / "worktrees"


def ref_safe(name: str) -> str:
    """``name`` made fit for a branch name component (and a directory name)."""
    safe = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "-", name)).strip(".-").removesuffix(".lock")
    safe = safe or "subtask"
    return f"{safe}-subtask" if safe == MERGED else safe


@attrs.define
class Tree:
    """One agent's worktree: its path, its branch, and the files setup put there that are never committed."""

    subtask: Subtask
    path: Path
    branch: str
    private: list[str] = attrs.field(factory=list)
    #: The subtasks that worked in it, in the order they were placed (its own first, then those downstream).
    members: list[Subtask] = attrs.field(factory=list)
    #: What each member's commit changed, by subtask id.
    files: dict[str, list[str]] = attrs.field(factory=dict)
    #: Delete the branch when the worktree goes (its work is merged, or there was none).
    disposable: bool = False
    #: An agent works in it (it is removed when that agent is deleted).
    claimed: bool = False


@attrs.define
class TaskRepository:
    """The repository a task runs in, its base commit, and the worktrees made for its agents so far."""

    task_id: str
    top: Path
    common: Path
    base: str
    #: The task's directory relative to ``top`` (agents in a worktree start in the same place).
    relative: Path
    #: The branch checked out when the task started (None when HEAD was detached).
    branch: str | None
    trees: dict[str, Tree] = attrs.field(factory=dict)
    #: ``-c`` options naming a committer when the repository names none.
    identity: tuple[str, ...] = ()
    #: Where each subtask's agent works: a tree, or None for the task's own checkout.
    placed: dict[str, Tree | None] = attrs.field(factory=dict)
    #: ``ORC_WORKTREE_DIR`` as the run's settings give it (None: the default place).
    worktrees: str | None = None

    @classmethod
    def open(cls, task: Task) -> TaskRepository:
        """Find the repository of ``task.cwd`` and its HEAD commit.

        :raises UsageError: not in a git repository, or one without a commit.
        """
        found = git(task.cwd, "rev-parse", "--show-toplevel", check=False)
        if found.returncode != 0:
            raise UsageError(
                f"--isolation worktree needs a git repository, and {task.cwd} is not in one; "
                "run `git init` and commit, or drop --isolation worktree"
            )
        top = Path(found.stdout.strip()).resolve()
        head = git(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if head.returncode != 0:
            raise UsageError(
                f"--isolation worktree branches from the current commit, and the repository at {top} has none "
                "yet; commit first"
            )
        common = Path(out(top, "rev-parse", "--path-format=absolute", "--git-common-dir")).resolve()
        branch = git(top, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip() or None
        return cls(
            task.id,
            top,
            common,
            head.stdout.strip(),
            Path(task.cwd).resolve().relative_to(top),
            branch,
            identity=identity(top),
        )

    @property
    def root(self) -> Path:
        """Where this task's worktrees live."""
        digest = hashlib.sha256(str(self.common).encode()).hexdigest()[:8]
        return worktrees_dir(self.worktrees) / f"{self.top.name}-{digest}" / self.task_id

    @property
    def merged_branch(self) -> str:
        return f"orc/{self.task_id}/{MERGED}"

    def upstream(self, subtask: Subtask) -> list[Tree]:
        """The trees the work ``subtask`` depends on was done in."""
        found: list[Tree] = []
        for dependency in subtask.depends_on:
            tree = self.placed.get(dependency)
            if tree is not None and tree not in found:
                found.append(tree)
        return found

    def add(self, subtask: Subtask) -> Tree:
        """Make a worktree for ``subtask`` on a branch of its own, from the base commit."""
        name = ref_safe(subtask.id)
        for n in range(1, 1000):
            # A resumed task meets the branches its earlier run kept: never reuse one.
            candidate = name if n == 1 else f"{name}-{n}"
            branch, path = f"orc/{self.task_id}/{candidate}", self.root / candidate
            taken = git(self.top, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
            if taken.returncode != 0 and not path.exists():
                break
        else:  # pragma: no cover - a thousand runs of one task
            raise GitError(f"no free branch name for subtask {subtask.id!r} of task {self.task_id}")
        path.parent.mkdir(parents=True, exist_ok=True)
        git(self.top, "worktree", "add", "--quiet", "-b", branch, str(path), self.base)
        tree = Tree(subtask, path, branch)
        self.trees[subtask.id] = tree
        return tree

    def workdir(self, tree: Tree) -> Path:
        """Where the agent of ``tree`` starts: the task's directory, inside the worktree."""
        path = tree.path / self.relative
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove(self, tree: Tree) -> None:
        """Remove ``tree``'s worktree (uncommitted files included) and, if disposable, its branch."""
        remove_worktree(self.common, tree.path)
        if tree.disposable:
            git(self.top, "branch", "--quiet", "-D", tree.branch, check=False)

    def tree_at(self, path: str | Path) -> Tree | None:
        """The tree ``path`` is in, if any."""
        path = Path(path)
        return next((t for t in self.trees.values() if path == t.path or t.path in path.parents), None)


def remove_worktree(common: Path, path: Path) -> None:
    """``git worktree remove --force`` and prune; then the task's directory if it is empty."""
    if path.exists():
        git(common, "worktree", "remove", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
    git(common, "worktree", "prune", check=False)
    for directory in (path.parent, path.parent.parent):  # the task's, then the repository's
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def worktree_of(cwd: str | Path) -> tuple[Path, Path] | None:
    """``(git common dir, worktree)`` when ``cwd`` is inside a worktree orc made for an agent, else None.

    Needs no state, so ``orc agents delete`` in a later process removes a kept agent's worktree too: a linked
    worktree (its ``.git`` is a file) in a directory named after its task, on a branch ``orc/<task>/...``.
    """
    path = Path(cwd)
    for candidate in (path, *path.parents):
        if not (candidate / ".git").is_file():
            continue
        branch = git(candidate, "symbolic-ref", "--quiet", "HEAD", check=False).stdout.strip()
        if not branch.startswith(f"refs/heads/orc/{candidate.parent.name}/"):
            return None
        common = git(candidate, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
        return (Path(common.stdout.strip()), candidate) if common.returncode == 0 else None
    return None
