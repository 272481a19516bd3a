"""Run one Claude CLI so that nothing it starts outlives it, or orc (#17).

Run as a script (``python -I -S reaper.py CLI [ARGS...]``) by the wrapper :mod:`.lifeline` writes, never imported by
orc. The CLI starts Bash commands in sessions of their own, and a command left in the background (``server &``) is
orphaned at once: a process group or a parent-death signal on the CLI cannot reach it. So this small supervisor
becomes the *child subreaper* of everything the CLI starts (orphans are reparented to it, not to init) and:

- when orc dies, however (SIGKILL included: the kernel sends this process its parent-death signal), it kills the CLI
  and every process under it, orphans included;
- when the CLI exits, it kills what the CLI left behind, then exits with the CLI's status;
- orc's SIGTERM (the SDK's, on close) is passed on to the CLI; the terminal's signals (Ctrl-C, hangup, quit) reach
  the CLI directly, as before (same process group), and this process ignores them so orc stays in charge.

Linux only (``prctl``); :func:`.lifeline.cli_path` uses it only there. Only the standard library, and no ``site``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: Ignored here: the terminal sends them to the whole process group, the CLI included.
IGNORED = (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def _children() -> list[int]:
    """This process's child processes (orphans reparented to it included)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me:
            found.append(int(name))
    return found


def kill_all() -> None:
    """SIGKILL every process under this one, round after round: each killed process's children come to us."""
    while True:
        children = _children()
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in children:
            try:
                os.wait()
            except ChildProcessError:
                break


def main(argv: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    parent, me, cli = os.getppid(), os.getpid(), 0

    def on_term(signum: int, frame: object) -> None:
        if os.getppid() != parent:  # orc is gone: this is its parent-death signal
            kill_all()
            os._exit(137)
        if cli:
            try:
                os.kill(cli, signum)
            except ProcessLookupError:
                pass

    # The handler first: the parent-death signal may come at any moment once armed.
    signal.signal(signal.SIGTERM, on_term)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # orc died before the signal was armed
        return 137
    cli = os.fork()
    if cli == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)  # the CLI dies with this process
        if os.getppid() != me:
            os._exit(137)
        os.execv(argv[0], argv)
    for signum in IGNORED:
        signal.signal(signum, signal.SIG_IGN)
    # The CLI holds the SDK's pipes; this process lets go of its copies so that EOF means the CLI is done.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    status = 0
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == cli:
            break
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    kill_all()
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
