"""What several test modules need: a clean process environment, waiting for a condition, telling a live pid."""

import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: Environment variables a test process must not inherit: credentials, the CLI's config, orc's own settings, and
#: XDG_DATA_HOME (where orc's default store lives).
SCRUBBED = ("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_", "XDG_DATA_HOME")


#: Bash's OS sandbox can run here: Claude Code needs bubblewrap and socat on Linux (`.ci/run` installs both).
SANDBOX = bool(shutil.which("bwrap") and shutil.which("socat"))
#: For a test (or parameter) that proves what the sandbox does: skipped, saying why, where it cannot run.
needs_sandbox = pytest.mark.skipif(
    not SANDBOX,
    reason="Bash's sandbox needs bubblewrap and socat: apt-get install bubblewrap socat (.ci/run does)",
)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without credentials or orc settings, HOME in ``tmp_path``, plus ``extra``.

    Where the sandbox cannot run, ``ORC_BASH_SANDBOX=false``: a real (non-scripted) run would otherwise refuse every
    role with Bash, and the suite must run on a machine without bubblewrap (the sandbox's own tests are skipped).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env["HOME"] = str(tmp_path / "home")
    if not SANDBOX:
        env["ORC_BASH_SANDBOX"] = "false"
    env.update(extra)
    return env


def default_store(home: Path) -> Path:
    """Where `orc` records runs for a user whose HOME is ``home`` (no ORCHESTRATOR_DB_PATH, no XDG_DATA_HOME)."""
    return home / ".local" / "share" / "orc" / "orchestrator.db"


def wait_for(predicate, timeout: float = 30.0):
    """Poll ``predicate`` until it returns something true (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def alive(pid: int) -> bool:
    """True if ``pid`` is a running process (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def rows(db_path: Path, sql: str, params=()) -> list[dict]:
    """The rows of a query on a store file, as dicts."""
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql, params)]
    finally:
        db.close()


def together(barrier, reply, timeout: float = 30):
    """A scripted reply given only once ``barrier.parties`` agents ask at the same time (else the server answers
    HTTP 500 and the test fails): concurrency proven without sleeps."""

    def answer(request):
        barrier.wait(timeout=timeout)
        return reply

    return answer


def run_in_terminal(env, cwd, args, answer, timeout=90):
    """Run `orc` on a pseudo-terminal; answer ``answer`` once it asks. Returns (exit code, all it wrote)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "orc"), *args],
        cwd=cwd,
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    seen, answered = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not answered and b"Run this plan?" in seen:
                os.write(main, answer.encode() + b"\n")
                answered = True
        return proc.wait(timeout=max(1, deadline - time.monotonic())), seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)


#: For a test that needs a real terminal: skipped, saying why, without tmux (`.ci/run` installs it).
needs_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux for a real terminal: apt-get install tmux (.ci/run does)"
)


def run_in_tmux(env, cwd, args, width, height=40, timeout=120, until="EXIT="):
    """Run `orc ARGS` in a detached tmux terminal ``width`` columns wide, on a tmux server of its own (only that
    one is killed), and return the screen with its scrollback once ``until`` shows on it.

    The command's exit code is printed after it as ``EXIT=<code>``; the pane stays open until the server goes.
    """
    import shlex
    import uuid

    name = f"orc-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    server = ["tmux", "-L", name, "-f", "/dev/null"]
    command = shlex.join([str(Path(sys.executable).parent / "orc"), *map(str, args)])
    script = f"cd {shlex.quote(str(cwd))} && {command}; echo EXIT=$?; exec cat"
    subprocess.run(
        [*server, "new-session", "-d", "-x", str(width), "-y", str(height), script],
        env={**env, "TERM": "xterm-256color"},
        check=True,
    )
    try:

        def screen():
            shown = subprocess.run(
                [*server, "capture-pane", "-p", "-S", "-"], capture_output=True, text=True, check=True
            ).stdout
            return shown if until in shown else None

        return wait_for(screen, timeout=timeout)
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True)
        # kill-server leaves its socket file behind.
        Path(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}", name).unlink(missing_ok=True)


def without_governor(config):
    """``config`` with orc's governor off: the model's 529s reach the CLI and orc's retry policy, as a test of those
    means (with the governor on, it would wait them out and send the request again itself)."""
    import attrs

    return attrs.evolve(config, plugin_settings={**config.plugin_settings, "ORC_GOVERNOR": "off"})
