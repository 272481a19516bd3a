"""The ``"orc-worktree"`` plugin object: a worktree per writing agent, its setup, the merge, and the clean-up."""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread
import pluggy

from orchestrator_core import (
    Agent,
    Config,
    OrcError,
    Role,
    Subtask,
    SubtaskResult,
    Task,
    UsageError,
    hookimpl,
)

from .git import changed_paths, lines, out
from .merge import (
    OVERLAP_VARIABLE,
    BranchWork,
    Member,
    changed_files,
    checked_out_at,
    commit_work,
    describe_stop,
    merge_in_order,
    move_branch,
    tip_of,
)
from .prepare import SETUP_VARIABLE, default_setup
from .repository import DIR_VARIABLE, TaskRepository, Tree, remove_worktree, worktree_of

ROLES_VARIABLE = "ORC_WORKTREE_ROLES"
#: The settings that turn isolation on, and name the branch the work is merged into (``--isolation``,
#: ``--merge-into``; declared in ``orc_agents.orc_worktree.orc_addoption``).
ISOLATION = "ORC_ISOLATION"
MERGE_INTO = "ORC_MERGE_INTO"
#: Tools that change files: a role with any of them writes, and gets a worktree by default.
WRITING_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit", "Bash"})

log = logging.getLogger("orc.worktree")


def where_the_work_is(top: Path, report: dict[str, Any]) -> str:
    """The report in one line for people: where the agents' changes are, and the git command that takes them.

    The work lands on a branch, not in the checkout the user looks at (unless ``--merge-into HEAD``): without
    this line a user saw ``into=orc/task-.../merged`` and no word of how to get the change (#20).
    """
    into, stop = report["into"], report["stop"]
    if into is None:
        said = "no agent's change was merged" if stop else "the agents changed no file; nothing to merge"
    elif (checkout := checked_out_at(top, into)) is not None:
        said = f"the agents' changes are merged into {into}, checked out in {checkout}"
    else:
        said = (
            f"the agents' changes are on the branch {into}, not in your checkout: take them with "
            f"`git merge {into}` (in {top})"
        )
    if report.get("error"):
        said = f"{report['error']}; {said}"
    return f"{said}; {stop['message']}" if stop else said


class Worktrees:
    """Per-Orchestrator state: the repository of each running task and the worktrees made for its agents."""

    def __init__(self, config: Config, pm: pluggy.PluginManager) -> None:
        self.config = config
        self.pm = pm
        self.roles: dict[str, Role] = {}
        pm.hook.orc_register_roles(register=lambda role: self.roles.setdefault(role.name, role))
        #: By task id; a task whose directory is not a usable repository maps to the UsageError to raise.
        self.tasks: dict[str, TaskRepository | UsageError] = {}
        # Tasks of one Orchestrator may run at once; their git commands on one repository take turns.
        self.lock = threading.Lock()

    # -- defaults of this plugin's own hooks (trylast: any other plugin answers first) ------------------------

    @hookimpl(trylast=True)
    def orc_worktree_isolate(self, task: Task, subtask: Subtask, role: Role | None, config: Config) -> bool:
        """trylast: the default per-role policy."""
        named = config.get(ROLES_VARIABLE) or ""
        if named.strip():
            return subtask.role in {n.strip() for n in named.split(",")}
        return role is not None and bool(WRITING_TOOLS & set(role.tools))

    @hookimpl(trylast=True)
    def orc_worktree_setup(
        self, worktree: Any, source: Any, task: Task, subtask: Subtask, config: Config
    ) -> list:
        """trylast: the default preparation, which a plugin replaces by answering first."""
        return default_setup(worktree, source, config.get(SETUP_VARIABLE) or "")

    # -- orc's hooks ----------------------------------------------------------------------------------------

    @hookimpl
    def orc_task_started(self, task: Task) -> None:
        if self.config.get(ISOLATION) == "worktree":
            self._open(task)

    @hookimpl
    def orc_agent_workdir(self, task: Task, subtask: Subtask, config: Config) -> str | None:
        if config.get(ISOLATION) != "worktree":
            return None
        repository = self.tasks.get(task.id) or self._open(task)
        if isinstance(repository, UsageError):
            raise repository
        if subtask.id in repository.placed:  # a retry, or a hand-over: the same place
            tree = repository.placed[subtask.id]
            return None if tree is None else str(repository.workdir(tree))
        tree = self._place(repository, task, subtask, config)
        repository.placed[subtask.id] = tree
        if tree is None:
            return None
        tree.members.append(subtask)
        return str(repository.workdir(tree))

    def _place(self, repository: TaskRepository, task: Task, subtask: Subtask, config: Config) -> Tree | None:
        """Where ``subtask``'s agent works: where its upstream's work is, else a new worktree if it writes.

        A subtask that depends on the work of exactly one worktree works in it (the tester and the reviewer after
        a builder see what the builder made), except in the parallel mode, which ignores dependencies and would
        run them side by side. Otherwise a writer gets a worktree of its own and a reader stays in the checkout.
        """
        upstream = repository.upstream(subtask) if task.mode != "parallel" else []
        if len(upstream) == 1:
            return upstream[0]
        isolate = self.pm.hook.orc_worktree_isolate(
            task=task, subtask=subtask, role=self.roles.get(subtask.role), config=config
        )
        if not isolate:
            return None
        with self.lock:
            tree = repository.add(subtask)
        private = self.pm.hook.orc_worktree_setup(
            worktree=tree.path, source=repository.top, task=task, subtask=subtask, config=config
        )
        # Whatever the setup step left (copied .env, a build, a log) is the setup's, not the agent's work.
        tree.private = sorted({*(private or ()), *changed_paths(tree.path)})
        return tree

    @hookimpl
    def orc_subtask_finished(self, task: Task, subtask: Subtask, result: SubtaskResult) -> None:
        """Commit what the subtask's agent changed, so the report can say which agent changed which files."""
        repository = self.tasks.get(task.id)
        if not isinstance(repository, TaskRepository):
            return
        tree = repository.placed.get(subtask.id)
        if tree is not None:
            with self.lock:
                self._commit(repository, tree, subtask, task)

    @hookimpl
    def orc_agent_created(self, agent: Agent) -> None:
        repository = self.tasks.get(agent.task_id or "")
        tree = repository.tree_at(agent.cwd) if isinstance(repository, TaskRepository) else None
        if tree is not None:
            tree.claimed = True

    @hookimpl
    def orc_task_complete(
        self, task: Task, results: dict[str, SubtaskResult], agents: dict[str, Agent]
    ) -> Any:
        repository = self.tasks.get(task.id)
        if repository is None:
            return None
        if isinstance(repository, UsageError):
            del self.tasks[task.id]
            return {"orc_worktree": {"error": repository.message}}
        if not repository.trees:
            del self.tasks[task.id]
            return None
        return anyio.to_thread.run_sync(functools.partial(self._complete, task, repository, results, agents))

    @hookimpl
    def orc_agent_deleted(self, agent: Agent) -> None:
        """Remove the agent's worktree with it (and its branch, when nothing in it needs keeping)."""
        key = agent.task_id or ""
        repository = self.tasks.get(key)
        tree = repository.tree_at(agent.cwd) if isinstance(repository, TaskRepository) else None
        with self.lock:
            if isinstance(repository, TaskRepository) and tree is not None:
                repository.remove(tree)
                del repository.trees[tree.subtask.id]
                if not repository.trees:
                    del self.tasks[key]
            else:
                found = worktree_of(agent.cwd)  # an agent kept by an earlier process
                if found is not None:
                    remove_worktree(*found)

    # -- the work -------------------------------------------------------------------------------------------

    def _open(self, task: Task) -> TaskRepository | UsageError:
        repository: TaskRepository | UsageError
        try:
            opened = TaskRepository.open(task)
            opened.worktrees = self.config.get(DIR_VARIABLE)
            repository = opened
        except UsageError as exc:
            repository = exc
        self.tasks[task.id] = repository
        return repository

    def _complete(
        self,
        task: Task,
        repository: TaskRepository,
        results: dict[str, SubtaskResult],
        agents: dict[str, Agent],
    ) -> dict[str, Any]:
        with self.lock:
            return {"orc_worktree": self._merge(task, repository, results, agents)}

    def _merge(
        self,
        task: Task,
        repository: TaskRepository,
        results: dict[str, SubtaskResult],
        agents: dict[str, Agent],
    ) -> dict[str, Any]:
        top, base = repository.top, repository.base
        order = [s.id for s in task.plan.subtasks] if task.plan else list(repository.trees)
        works: list[tuple[BranchWork, Tree]] = []
        for tree in sorted(repository.trees.values(), key=lambda t: order.index(t.subtask.id)):
            if tree.members:  # what an agent left uncommitted (a cancelled one) belongs to the last one there
                self._commit(repository, tree, tree.members[-1], task)
            members = [
                Member(m.id, m.role, agents[m.id].id if m.id in agents else None, tree.files.get(m.id, []))
                for m in tree.members
            ]
            succeeded = bool(members) and all(
                m.id in results and results[m.id].succeeded for m in tree.members
            )
            files = changed_files(top, base, tree.branch)
            works.append((BranchWork(tree.branch, str(tree.path), members, succeeded, files), tree))
        into = self._target(repository)
        start = tip_of(top, into)
        allow_overlap = (self.config.get(OVERLAP_VARIABLE) or "stop") == "merge"
        tip, stop = merge_in_order(
            top,
            start or base,
            [w for w, _ in works],
            repository.identity,
            allow_overlap=allow_overlap,
            into=into,
        )
        report: dict[str, Any] = {
            "base": base,
            "into": into if tip != (start or base) else None,
            "stop": None,
            "worktrees": "kept" if self.config.keep_agents else "removed",
        }
        if tip != (start or base):
            try:
                move_branch(top, into, tip, start)
            except OrcError as exc:
                # The checkout has changes in the way: the merge is kept on the task's own branch instead.
                fallback = repository.merged_branch
                move_branch(top, fallback, tip, tip_of(top, fallback))
                report["into"] = fallback
                report["error"] = f"could not move {into} ({exc.message}); the merge is on {fallback}"
                log.warning("%s", report["error"])
        if stop is not None:
            line = describe_stop(stop, report["into"] or into)
            report["stop"] = {
                "kind": stop.kind, "files": stop.files, "message": line,
                "agents": [m.agent_id for m in stop.members() if m.agent_id],
                "subtasks": [m.subtask_id for m in stop.members()],
            }  # fmt: skip
            log.warning("%s", line)
        report["agents"] = [entry for w, _ in works for entry in w.to_dicts()]
        report["summary"] = where_the_work_is(top, report)
        for work, tree in works:
            tree.disposable = not work.kept
        if not self.config.keep_agents:
            # A worktree whose agent never came to be (its setup failed) has no agent to go with.
            for tree in [t for t in repository.trees.values() if not t.claimed]:
                repository.remove(tree)
                del repository.trees[tree.subtask.id]
        return report

    def _commit(self, repository: TaskRepository, tree: Tree, subtask: Subtask, task: Task) -> None:
        """Commit what is uncommitted in ``tree`` as ``subtask``'s work; remember the files it changed."""
        before = out(tree.path, "rev-parse", "HEAD")
        message = f"orc: {subtask.id} ({subtask.role}) of {task.id}\n\n{subtask.instruction}"
        commit_work(tree.path, tree.private, message, repository.identity)
        changed = lines(tree.path, "diff", "--name-only", "--no-renames", before, "HEAD")
        tree.files[subtask.id] = sorted({*tree.files.get(subtask.id, []), *changed})

    def _target(self, repository: TaskRepository) -> str:
        wanted = self.config.get(MERGE_INTO)
        if wanted in (None, ""):
            return repository.merged_branch
        if wanted == "HEAD":
            if repository.branch is None:
                raise UsageError("--merge-into HEAD needs a branch checked out, and HEAD was detached")
            return repository.branch
        return wanted
