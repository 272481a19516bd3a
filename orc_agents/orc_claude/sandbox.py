"""Bash in Claude Code's OS sandbox (bubblewrap on Linux, Seatbelt on macOS), on by default (#16).

Inside it a command may write only in the agent's working directory and the ``--add-dir`` ones (and the CLI's own
temp folder), reads the rest of the file system, and has no network. ``failIfUnavailable`` makes the CLI refuse to
start when the sandbox cannot run (no ``bwrap``): without it the CLI only warns on stderr and runs Bash unconfined.
``allowUnsandboxedCommands: false`` ignores a model's ``dangerouslyDisableSandbox``. Turn it off with
``ORC_BASH_SANDBOX=false`` or ``--no-bash-sandbox``.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from orchestrator_core import Config, Role

if TYPE_CHECKING:
    from claude_agent_sdk.types import SandboxSettings

    class OrcSandboxSettings(SandboxSettings, total=False):
        """The SDK's ``SandboxSettings`` plus ``failIfUnavailable``, a Claude Code sandbox setting the SDK does not
        list yet; the SDK passes the dict to the CLI's ``--settings`` as it is."""

        failIfUnavailable: bool


log = logging.getLogger("orc.sandbox")
#: What the sandbox needs on Linux (Debian packages bubblewrap and socat).
LINUX_NEEDS = ("bwrap", "socat")
_warned: set[str] = set()


def missing(env: Mapping[str, str]) -> list[str]:
    """The programs the sandbox needs that the CLI would not find on its ``PATH`` (none outside Linux)."""
    if not sys.platform.startswith("linux"):
        return []
    return [name for name in LINUX_NEEDS if shutil.which(name, path=env.get("PATH")) is None]


def bash_sandbox(config: Config, role: Role, env: Mapping[str, str]) -> OrcSandboxSettings | None:
    """The ``sandbox`` option for a session of ``role``: None if the role has no Bash or the user turned it off.

    A real run without the sandbox's programs is refused by the CLI (``failIfUnavailable``). A ``--scripted`` run
    goes on without it, with a warning: its tools are driven by orc's own script, not by a model, and the quick
    start must work on a machine where nobody installed bubblewrap yet.
    """
    if not config.bash_sandbox or "Bash" not in role.tools:
        return None
    absent = missing(env)
    if absent and config.get("ORC_SCRIPTED"):
        if "scripted" not in _warned:
            _warned.add("scripted")
            log.warning(
                "Bash runs without the OS sandbox in this --scripted run (%s not found); a run with a real model "
                "refuses to start until you install them (Debian: apt-get install bubblewrap socat) or pass "
                "--no-bash-sandbox",
                " and ".join(absent),
            )
        return None
    return {
        "enabled": True,
        "failIfUnavailable": True,
        "autoAllowBashIfSandboxed": True,
        "allowUnsandboxedCommands": False,
    }
