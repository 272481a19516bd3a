"""The hooks ``orc_worktree`` adds to orc: which agents get a worktree, and how a new worktree is prepared.

They are added through ``orc_addhooks`` when the plugin loads, before orc checks other plugins' hook names, so a
plugin implements them with a plain ``@hookimpl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator_core import hookspec

if TYPE_CHECKING:
    from orchestrator_core import Config, Role, Subtask, Task


@hookspec(firstresult=True)
def orc_worktree_isolate(task: Task, subtask: Subtask, role: Role | None, config: Config) -> bool | None:
    """Decide whether a subtask's agent works in a git worktree of its own (with ``--isolation worktree``).

    Called just before the agent is created, once per subtask, unless the subtask depends on the work of exactly one
    worktree (then its agent works there, outside the parallel mode). The call stops at the first non-None result;
    return None to leave the choice to the next implementation. The default (``trylast``) isolates the roles named
    in ``ORC_WORKTREE_ROLES`` (comma-separated) when it is set, else every role with a tool that writes (Write,
    Edit, MultiEdit, NotebookEdit, Bash); readers stay in the task's own checkout and see what it holds.

    :param task: the task being run.
    :param subtask: the subtask whose agent is about to be created.
    :param role: the subtask's registered role, or None when no plugin registered it.
    :param config: the settings.
    :returns: True for a worktree, False for the task's directory, None to decline.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_worktree_setup(
    worktree: Path, source: Path, task: Task, subtask: Subtask, config: Config
) -> list[str] | None:
    """Prepare a new worktree before its agent starts: copy the untracked files it needs, install, build.

    Called once per worktree, right after ``git worktree add`` checked out the task's base commit. The call stops
    at the first non-None result; return None to leave it to the next implementation. The default (``trylast``)
    copies the files and directories ``.worktreeinclude`` names (one path or glob a line, relative to the
    repository's top; ``#`` starts a comment) from ``source``, then runs the shell command in
    ``ORC_WORKTREE_SETUP``, if set, inside the worktree. To add to the default rather than replace it, call
    :func:`orc_agents.orc_worktree.prepare.default_setup` from your implementation. Raise an :class:`OrcError` to stop the
    run with its message.

    :param worktree: the new worktree's top directory.
    :param source: the top of the task's own checkout, where untracked files such as ``.env`` live.
    :param task: the task being run.
    :param subtask: the subtask the worktree is for.
    :param config: the settings.
    :returns: the paths (relative to ``worktree``) that were put there and must never be committed, such as a copied
        ``.env``; None to decline.

    **Sync or async**: sync only.
    """
