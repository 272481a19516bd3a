"""A Claude Code CLI that starts but never answers the SDK's start-up request (stopped, or starved on an overloaded
machine): the SDK gives up after its start-up timeout with a bare Exception, which was a traceback. Now the subtask
fails with one line that says what to do, and the CLI does not outlive the session."""

import os
import signal
import threading
from pathlib import Path

import attrs
import pytest
from fixtures import alive

from orchestrator_core import Orchestrator

pytestmark = pytest.mark.anyio


def cli_children(parent: int) -> list[int]:
    """Pids of the Claude Code CLIs ``parent`` started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and b"claude" in cmdline:
            found.append(int(stat.parent.name))
    return found


async def test_a_cli_that_never_answers_its_start_is_one_line_and_is_gone(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    stopped: list[int] = []
    done = threading.Event()

    def stop_the_cli() -> None:
        while not done.is_set() and not stopped:
            for pid in cli_children(os.getpid()):
                os.kill(pid, signal.SIGSTOP)  # a real fault: the process is there but never answers
                stopped.append(pid)
            done.wait(0.01)

    watcher = threading.Thread(target=stop_the_cli, daemon=True)
    watcher.start()
    try:
        async with Orchestrator(attrs.evolve(orc_config, retries=0), pm=orc_pm) as orc:
            result = await orc.execute("build it", roles=["builder"], cwd=orc_workdir)
        left = [pid for pid in stopped if alive(pid)]
    finally:
        done.set()
        watcher.join()
        for pid in stopped:  # never leave a stopped process behind, whatever happened
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert stopped, "no CLI was started"
    assert not result.success
    (subtask,) = result.subtasks
    error = subtask.error or ""
    assert "did not answer within 60 s" in error and "--max-parallel" in error, error
    assert "Traceback" not in error and "\n" not in error
    assert not scripted_model.requests, "a request reached the model"
    assert not left, "the stopped CLI outlived its session"
