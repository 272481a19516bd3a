"""Working directories that travel: the head packs the agent's directory, a node unpacks it, and changes come back.

A directory inside a git repository travels as a bundle: the head snapshots its working tree (tracked and untracked
files, .gitignore respected) as a commit under ``refs/orc/ray/base/<agent>`` without touching its index or files;
the node fetches it into a node-local mirror and makes a worktree; after each turn the node commits what the agent
changed and sends ``last..new`` back as a bundle, which the head fetches to ``refs/orc/ray/<agent>`` and applies to
its working tree. Any other directory travels as a tar archive; changed and new files come back as an archive plus a
list of deleted ones. Both paths run even when head and node share a filesystem (one machine, the tests), so what
is tested is what runs on a real cluster.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from orchestrator_core import UsageError

#: A working directory sent as an archive may be at most this big (a git repository travels as a bundle instead).
MAX_ARCHIVE_MB = float(os.environ.get("ORC_RAY_MAX_ARCHIVE_MB", "200"))

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "orc agent",
    "GIT_AUTHOR_EMAIL": "orc@localhost",
    "GIT_COMMITTER_NAME": "orc agent",
    "GIT_COMMITTER_EMAIL": "orc@localhost",
}


def _git(*args: str, cwd: str | Path, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
    )
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args[:2])} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode(errors="replace").strip()


def _git_top(cwd: str) -> str | None:
    done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


# -- the head's side --------------------------------------------------------------------------------------------------


def pack(cwd: str, agent_id: str) -> dict[str, Any]:
    """What a node needs to make ``cwd`` for the agent: a git bundle, or a tar archive.

    :raises UsageError: a directory that is not in a git repository is too big to send as an archive.
    """
    top = _git_top(cwd)
    if top is not None:
        return _pack_git(top, cwd, agent_id)
    return _pack_archive(cwd)


def _pack_git(top: str, cwd: str, agent_id: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orc-ray-") as tmp:
        # A private index: the snapshot takes untracked files too, and the user's index stays as it is.
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        try:
            head = _git("rev-parse", "--verify", "HEAD^{commit}", cwd=top)
        except RuntimeError:
            head = None
        _git("read-tree", *([head] if head else ["--empty"]), cwd=top, env=env)
        _git("add", "-A", cwd=top, env=env)
        tree = _git("write-tree", cwd=top, env=env)
        parents = ["-p", head] if head else []
        base = _git("commit-tree", tree, *parents, "-m", f"orc: working tree for agent {agent_id}", cwd=top)
        ref = f"refs/orc/ray/base/{agent_id}"
        _git("update-ref", ref, base, cwd=top)
        bundle = Path(tmp) / "base.bundle"
        _git("bundle", "create", "-q", str(bundle), ref, cwd=top)
        return {
            "kind": "git",
            "bundle": bundle.read_bytes(),
            "ref": ref,
            "base": base,
            "rel": os.path.relpath(cwd, top),
            # Which repository this is, so a node keeps one mirror per head repository.
            "repo_key": hashlib.sha1(f"{socket.gethostname()}:{top}".encode()).hexdigest()[:16],
            "root": top,
        }


def _pack_archive(cwd: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(cwd, arcname=".")
    size_mb = buffer.tell() / 1e6
    if size_mb > MAX_ARCHIVE_MB:
        raise UsageError(
            f"{cwd} is {size_mb:.0f} MB compressed, too big to send to a Ray node (ORC_RAY_MAX_ARCHIVE_MB="
            f"{MAX_ARCHIVE_MB:g}); make it a git repository (it then travels as a bundle) or raise the limit"
        )
    return {"kind": "archive", "data": buffer.getvalue(), "rel": ".", "root": cwd}


def apply(packed: dict[str, Any], agent_id: str, changes: dict[str, Any] | None) -> str | None:
    """Bring a node's ``changes`` into the head's directory; returns None, or what went wrong."""
    if not changes:
        return None
    root = packed["root"]
    if changes["kind"] == "git":
        ref = f"refs/orc/ray/{agent_id}"
        with tempfile.TemporaryDirectory(prefix="orc-ray-") as tmp:
            bundle = Path(tmp) / "changes.bundle"
            bundle.write_bytes(changes["bundle"])
            _git("fetch", "-q", str(bundle), f"+{changes['ref']}:{ref}", cwd=root)
        diff = subprocess.run(
            ["git", "diff", "--binary", changes["from"], changes["to"]],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        done = subprocess.run(["git", "apply", "--binary", "-"], cwd=root, input=diff, capture_output=True)
        if done.returncode:
            return (
                f"the agent's changes do not apply to {root} ({done.stderr.decode(errors='replace').strip()}); "
                f"they are in {ref}: `git diff {changes['from']} {ref}`"
            )
        return None
    base = Path(root).resolve()
    with tarfile.open(fileobj=io.BytesIO(changes["data"]), mode="r:gz") as tar:
        tar.extractall(base, filter="data")
    for name in changes["deleted"]:
        path = (base / name).resolve()
        if path.is_relative_to(base) and path.is_file():
            path.unlink()
    return None


def forget(packed_root: str | None, agent_id: str) -> None:
    """Drop the head's refs for an agent (its base snapshot and its returned changes)."""
    if packed_root is None:
        return
    for ref in (f"refs/orc/ray/base/{agent_id}", f"refs/orc/ray/{agent_id}"):
        subprocess.run(["git", "update-ref", "-d", ref], cwd=packed_root, capture_output=True)


# -- the node's side --------------------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _manifest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): _digest(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    }


class NodeWorkspace:
    """The agent's directory on a node, made from what :func:`pack` sent; :meth:`collect` returns its changes."""

    def __init__(self, root: Path, agent_id: str, packed: dict[str, Any]) -> None:
        self.agent_id = agent_id
        self.kind = packed["kind"]
        self.path = root / "work" / agent_id
        self.mirror: Path | None = None
        self.last: str | None = None
        self._manifest: dict[str, str] = {}
        if self.kind == "git":
            self._open_git(root, packed)
        else:
            self._open_archive(packed)
        self.cwd = str((self.path / packed["rel"]).resolve())

    def _open_git(self, root: Path, packed: dict[str, Any]) -> None:
        self.mirror = root / "mirrors" / f"{packed['repo_key']}.git"
        self.mirror.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.mirror}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.mirror.exists():
                _git("init", "-q", "--bare", str(self.mirror), cwd=root)
            with tempfile.TemporaryDirectory(prefix="orc-ray-") as tmp:
                bundle = Path(tmp) / "base.bundle"
                bundle.write_bytes(packed["bundle"])
                _git("fetch", "-q", str(bundle), f"+{packed['ref']}:{packed['ref']}", cwd=self.mirror)
            if (
                self.path.exists()
            ):  # the agent's earlier session on this node: start again from the head's state
                _git("worktree", "remove", "--force", str(self.path), cwd=self.mirror)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _git("worktree", "add", "-q", "--detach", str(self.path), packed["base"], cwd=self.mirror)
        self.last = packed["base"]

    def _open_archive(self, packed: dict[str, Any]) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(packed["data"]), mode="r:gz") as tar:
            tar.extractall(self.path, filter="data")
        self._manifest = _manifest(self.path)

    def collect(self) -> dict[str, Any] | None:
        """What changed since the last call (or the start), ready for :func:`apply`; None if nothing did."""
        if self.kind == "git":
            return self._collect_git()
        now = _manifest(self.path)
        changed = [name for name, digest in now.items() if self._manifest.get(name) != digest]
        deleted = [name for name in self._manifest if name not in now]
        self._manifest = now
        if not changed and not deleted:
            return None
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in changed:
                tar.add(self.path / name, arcname=name)
        return {"kind": "archive", "data": buffer.getvalue(), "deleted": deleted, "files": sorted(changed)}

    def _collect_git(self) -> dict[str, Any] | None:
        _git("add", "-A", cwd=self.path)
        if subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=self.path).returncode == 0:
            return None
        _git("commit", "-q", "--no-verify", "-m", f"orc: agent {self.agent_id}", cwd=self.path)
        new = _git("rev-parse", "HEAD", cwd=self.path)
        ref = f"refs/orc/out/{self.agent_id}"
        _git("update-ref", ref, new, cwd=self.path)
        with tempfile.TemporaryDirectory(prefix="orc-ray-") as tmp:
            bundle = Path(tmp) / "changes.bundle"
            _git("bundle", "create", "-q", str(bundle), ref, f"^{self.last}", cwd=self.path)
            changes = {"kind": "git", "bundle": bundle.read_bytes(), "ref": ref, "from": self.last, "to": new}
        self.last = new
        return changes

    def remove(self) -> None:
        """Remove the directory (and its worktree entry)."""
        if self.mirror is not None:
            with contextlib.suppress(RuntimeError):
                _git("worktree", "remove", "--force", str(self.path), cwd=self.mirror)
        shutil.rmtree(self.path, ignore_errors=True)
