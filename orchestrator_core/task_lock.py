"""One process at a time carries a task on (#17): a second ``orc resume`` of a task is told "busy" before it changes
anything, and a task still running in its first process cannot be resumed beside it.

The lock is an ``flock`` on a file named for the task in a folder only this user can use; the kernel drops it when
the process ends, however it ends (SIGKILL included), so a dead run never leaves its task locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UsageError


def lock_directory() -> Path:
    """This user's lock folder, made private if new; one another user made or can write is refused."""
    directory = Path(tempfile.gettempdir()) / f"orc-locks-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UsageError(f"{directory} is not a private folder of yours; remove it and try again")
    return directory


class TaskBusy(UsageError):
    """Another process is carrying the task on."""


@contextlib.contextmanager
def task_lock(task_id: str) -> Iterator[None]:
    """Hold the task's lock for the block; :class:`TaskBusy` at once if another process holds it.

    :raises TaskBusy: the task is running in another process (its pid is in the message).
    """
    path = lock_directory() / f"task-{task_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise TaskBusy(
            f"task {task_id} is busy: another orc process (pid {holder}) is running it; wait for it to end "
            f"(`orc watch {task_id}`), then resume it if it did not finish"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
