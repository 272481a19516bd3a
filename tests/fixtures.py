"""What several test modules need: a clean process environment, waiting for a condition, telling a live pid."""

import os
import sqlite3
import time
from pathlib import Path

#: Environment variables a test process must not inherit: credentials, the CLI's config, orc's own settings, and
#: XDG_DATA_HOME (where orc's default store lives).
SCRUBBED = ("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_", "XDG_DATA_HOME")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without credentials or orc settings, HOME in ``tmp_path``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env["HOME"] = str(tmp_path / "home")
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
