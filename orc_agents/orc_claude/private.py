"""The one folder where orc keeps its private files (the CLI wrapper, session locks), checked before every use.

A shared temp folder lets another local user create ``$TMPDIR/orc-<uid>`` first and plant a script orc would run
as you (#16). So the folder is ``$XDG_RUNTIME_DIR/orc`` when that runtime directory is yours, else
``$TMPDIR/orc-<uid>`` made with mode 0700; each use checks, with ``lstat``, that it is a real directory owned by
you that no one else can enter, and a file in it is yours and writable by you alone. Anything else is refused.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from orchestrator_core import RuntimeUnavailable


class UnsafePrivatePath(RuntimeUnavailable):
    """A folder or file orc keeps private is not safe to use (another owner, open permissions, a symlink)."""


def _refuse(path: Path, problem: str) -> UnsafePrivatePath:
    return UnsafePrivatePath(
        f"{path} {problem}, so orc will not use it (another user may have planted it); remove it "
        f"(`rm -rf {path}`, as its owner or root) or set TMPDIR to a folder of your own, and run again"
    )


def check_dir(path: Path) -> Path:
    """``path`` if it is a directory (not a symlink) owned by this user with no access for group or others.

    :raises UnsafePrivatePath: otherwise.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise _refuse(path, "has vanished") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "is not a plain directory (a symlink or a file)")
    if st.st_uid != os.getuid():
        raise _refuse(path, f"belongs to uid {st.st_uid}, not to you (uid {os.getuid()})")
    if st.st_mode & 0o077:
        raise _refuse(path, f"has mode {stat.S_IMODE(st.st_mode):o}, open to other users (it must be 700)")
    return path


def check_file(path: Path) -> Path:
    """``path`` if it is a regular file (not a symlink) owned by this user and writable by no one else.

    :raises UnsafePrivatePath: otherwise.
    """
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "is not a regular file (a symlink or something else)")
    if st.st_uid != os.getuid():
        raise _refuse(path, f"belongs to uid {st.st_uid}, not to you (uid {os.getuid()})")
    if st.st_mode & 0o022:
        raise _refuse(path, f"has mode {stat.S_IMODE(st.st_mode):o}, writable by other users")
    return path


def _runtime_dir() -> Path | None:
    """``$XDG_RUNTIME_DIR`` if it is set and safe (yours, mode 700), else None."""
    value = os.environ.get("XDG_RUNTIME_DIR")
    if not value or not os.path.isabs(value):
        return None
    try:
        return check_dir(Path(value))
    except UnsafePrivatePath:
        return None


def private_dir() -> Path:
    """orc's private folder, created (mode 0700) if missing and checked on every call.

    :raises UnsafePrivatePath: the folder exists and is not safe.
    """
    runtime = _runtime_dir()
    path = runtime / "orc" if runtime else Path(tempfile.gettempdir()) / f"orc-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    return check_dir(path)


def private_subdir(name: str) -> Path:
    """A checked folder ``name`` inside :func:`private_dir`."""
    path = private_dir() / name
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    return check_dir(path)
