"""Committing each agent's worktree on its branch, then merging the branches in plan order into one target branch.

Merges are computed in git's object store (``git merge-tree --write-tree``, git 2.38 or later), so no checkout is
touched while merging. Only when the target is checked out somewhere (``--merge-into`` the current branch) is that
checkout moved, by one fast-forward at the end. Merging stops at the first conflict, and at the first overlap (two
agents changed the same file, even where git could combine them: neither saw the other's change) unless
``ORC_WORKTREE_OVERLAP=merge``.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from .git import GitError, git, lines, out

OVERLAP_VARIABLE = "ORC_WORKTREE_OVERLAP"


@attrs.define
class Member:
    """One subtask whose agent worked on a branch, and the files its commit changed."""

    subtask_id: str
    role: str
    agent_id: str | None
    files: list[str]

    @property
    def label(self) -> str:
        return f"{self.subtask_id} ({self.role}{', ' + self.agent_id if self.agent_id else ''})"


@attrs.define
class BranchWork:
    """One worktree's branch, the agents that worked on it, and what became of it: ``status``, ``kept``."""

    branch: str
    worktree: str
    members: list[Member]
    #: Every subtask that worked on it succeeded (only then is it merged).
    succeeded: bool
    #: What the branch changed since the base commit.
    files: list[str] = attrs.field(factory=list)
    #: merged, conflict, overlap, not merged, no changes, failed
    status: str = "not merged"
    kept: bool = True

    @property
    def label(self) -> str:
        return " then ".join(m.label for m in self.members)

    def to_dicts(self) -> list[dict]:
        """One entry per agent, for the report."""
        return [
            {"subtask": m.subtask_id, "role": m.role, "agent": m.agent_id, "files": m.files, "branch": self.branch,
             "worktree": self.worktree, "status": self.status, "kept": self.kept}
            for m in self.members
        ]  # fmt: skip


@attrs.define
class Stop:
    """Why merging stopped: a ``conflict`` git could not resolve, or an ``overlap`` of changed files."""

    kind: str
    work: BranchWork
    files: list[str]
    others: list[BranchWork]

    def members(self) -> list[Member]:
        """The agents involved: the stopped branch's first, then those already merged."""
        return [m for w in (self.work, *self.others) for m in w.members]


def commit_work(worktree: Path, private: list[str], message: str, identity: tuple[str, ...]) -> None:
    """Commit everything in ``worktree`` on its branch except ``private`` (copied by the setup step), if anything."""
    git(worktree, "add", "--all")
    if private:
        git(worktree, "reset", "--quiet", "HEAD", "--", *private)
    if git(worktree, "diff", "--cached", "--quiet", check=False).returncode == 1:
        git(worktree, *identity, "commit", "--quiet", "--no-verify", "-m", message)


def changed_files(top: Path, base: str, branch: str) -> list[str]:
    """The files ``branch`` changed since ``base``."""
    return lines(top, "diff", "--name-only", "--no-renames", base, branch)


def merge_in_order(
    top: Path, tip: str, works: list[BranchWork], identity: tuple[str, ...], *, allow_overlap: bool, into: str
) -> tuple[str, Stop | None]:
    """Merge the succeeded branches onto ``tip`` in order; returns the new tip and why it stopped, if it did.

    Sets each work's ``status`` and ``kept`` (a merged or empty branch need not be kept).
    """
    touched: dict[str, list[BranchWork]] = {}
    stop: Stop | None = None
    for work in works:
        if not work.files:
            work.status, work.kept = ("no changes" if work.succeeded else "failed"), False
            continue
        if not work.succeeded:
            work.status = "failed"
            continue
        if stop is not None:
            continue
        merged = git(
            top, "merge-tree", "--write-tree", "--name-only", "--no-messages", tip, work.branch, check=False
        )
        if merged.returncode == 1:
            conflicted = sorted(set(merged.stdout.splitlines()[1:]) - {""})
            work.status = "conflict"
            stop = Stop("conflict", work, conflicted, _who(touched, conflicted))
            continue
        if merged.returncode != 0:
            raise GitError(f"`git merge-tree` failed on {work.branch}: {merged.stderr.strip()}")
        overlap = [f for f in work.files if f in touched]
        if overlap and not allow_overlap:
            work.status = "overlap"
            stop = Stop("overlap", work, overlap, _who(touched, overlap))
            continue
        tree = merged.stdout.splitlines()[0]
        message = f"orc: merge {work.branch} ({work.label}) into {into}"
        tip = out(top, *identity, "commit-tree", tree, "-p", tip, "-p", work.branch, "-m", message)
        work.status, work.kept = "merged", False
        for path in work.files:
            touched.setdefault(path, []).append(work)
    return tip, stop


def _who(touched: dict[str, list[BranchWork]], files: list[str]) -> list[BranchWork]:
    found: list[BranchWork] = []
    for path in files:
        found += [w for w in touched.get(path, []) if w not in found]
    return found


def describe_stop(stop: Stop, into: str) -> str:
    """One line for people: who collided with whom in which files, and how to finish by hand."""
    files = ", ".join(stop.files) or "(no file named)"
    others = " and ".join(w.label for w in stop.others) or f"the changes already on {into}"
    verb = "conflicts with" if stop.kind == "conflict" else "changed the same files as"
    return (
        f"merging stopped: {stop.work.label} {verb} {others} in {files}; its branch {stop.work.branch} and the "
        f"branches after it are kept. Finish by hand: git switch {into} && git merge {stop.work.branch}"
    )


def checked_out_at(top: Path, branch: str) -> Path | None:
    """The worktree (the main checkout included) that has ``branch`` checked out, if any."""
    path = None
    for line in lines(top, "worktree", "list", "--porcelain"):
        if line.startswith("worktree "):
            path = Path(line.removeprefix("worktree "))
        elif line == f"branch refs/heads/{branch}":
            return path
    return None


def tip_of(top: Path, branch: str) -> str | None:
    """The commit ``branch`` points at, or None if there is no such branch."""
    found = git(top, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
    return found.stdout.strip() if found.returncode == 0 else None


def move_branch(top: Path, branch: str, new: str, old: str | None) -> None:
    """Point ``branch`` at ``new``: a fast-forward where it is checked out, else a ref update guarded by ``old``."""
    checkout = checked_out_at(top, branch)
    if checkout is not None:
        git(checkout, "merge", "--ff-only", "--quiet", new)
    else:
        git(top, "update-ref", "-m", "orc: merge agents' branches", f"refs/heads/{branch}", new, old or "")
