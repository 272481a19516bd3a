"""Git worktrees for writing agents (``--isolation worktree``), merged after the task. Disable with
``-p no:orc_worktree``.

With ``ORC_ISOLATION=worktree`` (``--isolation worktree``) each agent whose role writes (``orc_worktree_isolate``) works in a git
worktree of its own, on the branch ``orc/<task>/<subtask>`` made from the commit the task started at, prepared by
``orc_worktree_setup`` (by default: copy what ``.worktreeinclude`` names, run ``ORC_WORKTREE_SETUP``). Readers stay
in the task's own checkout. An agent whose subtask depends on the work of one worktree works in that worktree (the
tester and reviewer after a builder see what it made), except in the parallel mode. Each subtask's changes are
committed on the branch when it ends; when the task ends the branches are merged in plan order into
``orc/<task>/merged`` (or ``--merge-into BRANCH``; ``HEAD`` is the branch checked out, whose checkout then moves).
Merging stops at the first conflict or overlap and the report (``result.reports["orc_worktree"]``) names the agents
and files; unmerged branches are kept, merged ones go. Worktrees go with their agents (``--keep-agents`` keeps both).
Worktrees live in ``$ORC_WORKTREE_DIR`` (default ``~/.local/share/orc/worktrees``); :mod:`orc_agents.orc_worktree.repository`
says why there.

Its settings (declared in :func:`orc_addoption`, read from ``orc.toml``, ``.env`` and the environment):
``ORC_ISOLATION``, ``ORC_MERGE_INTO``, ``ORC_WORKTREE_DIR``, ``ORC_WORKTREE_ROLES`` (comma-separated roles to
isolate, instead of every writing role), ``ORC_WORKTREE_SETUP`` (a shell command run in each new worktree),
``ORC_WORKTREE_OVERLAP`` (``stop``, the default, or ``merge``: let git combine agents' changes to the same file when
it can). A conflict is left to you: the report names it and the branches are kept.

The stateful part is registered as ``"orc-worktree"`` (a :class:`Worktrees`) in ``orc_configure``; this plugin's
hooks (:mod:`orc_agents.orc_worktree.hookspecs`) are added through ``orc_addhooks``, so other plugins implement them plainly.
"""

import click

from orchestrator_core import hookimpl
from orchestrator_core.config import choice

from . import hookspecs
from .merge import OVERLAP_VARIABLE
from .prepare import SETUP_VARIABLE
from .repository import DIR_VARIABLE
from .worktrees import ISOLATION, MERGE_INTO, ROLES_VARIABLE, Worktrees

PLUGIN_NAME = "orc-worktree"


@hookimpl
def orc_addoption(parser):
    parser.add_setting(
        ISOLATION,
        parse=choice("none", "worktree"),
        default="none",
        help="worktree: each writing agent works in a git worktree of its own; orc merges them after.",
    )
    parser.add_option("--isolation", setting=ISOLATION, type=click.Choice(["none", "worktree"]))
    parser.add_setting(
        MERGE_INTO,
        parse=lambda text: text.strip() or None,
        default=None,
        help="With --isolation worktree: merge the agents' branches into this branch (HEAD: the one "
        "checked out); empty: orc/<task>/merged.",
    )
    parser.add_option("--merge-into", setting=MERGE_INTO)
    parser.add_setting(
        DIR_VARIABLE,
        parse=lambda text: text.strip() or None,
        default=None,
        help="Where worktrees live; empty: $XDG_DATA_HOME/orc/worktrees.",
    )
    parser.add_setting(
        ROLES_VARIABLE,
        parse=lambda text: text.strip() or None,
        default=None,
        help="Comma-separated roles that get a worktree; empty: every role with a tool that writes.",
    )
    parser.add_setting(
        SETUP_VARIABLE,
        parse=str,
        default="",
        help="A shell command run in each new worktree (uv sync, npm ci).",
    )
    parser.add_setting(
        OVERLAP_VARIABLE,
        parse=choice("stop", "merge"),
        default="stop",
        help="stop: two agents changing one file stops the merge; merge: let git combine them.",
    )


@hookimpl
def orc_addhooks(pm):
    pm.add_hookspecs(hookspecs)


@hookimpl
def orc_configure(config, pm):
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(Worktrees(config, pm), PLUGIN_NAME)


@hookimpl
def orc_unconfigure(config, pm):
    plugin = pm.get_plugin(PLUGIN_NAME)
    if plugin is not None:
        pm.unregister(plugin, PLUGIN_NAME)


__all__ = ["PLUGIN_NAME", "Worktrees", "hookspecs"]
