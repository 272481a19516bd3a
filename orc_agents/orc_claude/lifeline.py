"""A Claude CLI that dies with its parent: no agent process outlives an ``orc`` that was killed.

The SDK starts the CLI itself, with no hook to set a parent-death signal. So orc points ``cli_path`` at a
two-line wrapper that execs the bundled CLI under :mod:`.reaper`, a small supervisor that kills the CLI and every
process it started (its Bash commands, those left in the background too) when orc dies or the CLI exits (#17).
Off Linux, the bundled CLI is used as it is (and a SIGKILLed orc may leave a waiting CLI behind). The wrapper
lives in orc's private folder and is checked before every use (#16): a planted one is refused, never run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path

from .private import check_file, private_subdir


def cli_path() -> str | None:
    """The wrapper's path, or None to let the SDK use its bundled CLI.

    :raises UnsafePrivatePath: the wrapper or its folder is not this user's alone.
    """
    text = _wrapper_text()
    if text is None:
        return None
    directory = private_subdir("cli")
    # One file per distinct wrapper, shared by every orc process; written whole, then renamed into place.
    wrapper = directory / f"claude-{hashlib.sha1(text.encode()).hexdigest()[:12]}"
    if not os.path.lexists(wrapper):
        partial = directory / f".{wrapper.name}.{os.getpid()}"
        partial.write_text(text)
        partial.chmod(0o700)
        partial.replace(wrapper)
    check_file(wrapper)
    return str(wrapper)


@functools.cache
def _wrapper_text() -> str | None:
    """The wrapper script, or None where it cannot be made (not Linux, no bundled CLI)."""
    import claude_agent_sdk

    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if not sys.platform.startswith("linux") or not bundled.is_file():
        return None
    # -I -S: no environment, no site: the supervisor starts in ~20 ms and runs only the standard library, so any
    # Python will do; the resolved one, so that every orc process (`orc`, `python -m`, a test) writes one wrapper.
    reaper = Path(__file__).with_name("reaper.py")
    return f'#!/bin/sh\nexec "{os.path.realpath(sys.executable)}" -I -S "{reaper}" "{bundled}" "$@"\n'
