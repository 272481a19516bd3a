"""Bash in Claude Code's OS sandbox (bubblewrap on Linux, Seatbelt on macOS), on by default (#16).

Inside it a command may write only in the agent's working directory and the ``--add-dir`` ones (and the CLI's own
temp folder), reads the rest of the file system, and has no network. ``failIfUnavailable`` makes the CLI refuse to
start when the sandbox cannot run (no ``bwrap``): without it the CLI only warns on stderr and runs Bash unconfined.
``allowUnsandboxedCommands: false`` ignores a model's ``dangerouslyDisableSandbox``. Turn it off with
``ORC_BASH_SANDBOX=false`` or ``--no-bash-sandbox``.
"""

from __future__ import annotations

from typing import Any

from orchestrator_core import Config, Role


def bash_sandbox(config: Config, role: Role) -> dict[str, Any] | None:
    """The ``sandbox`` option for a session of ``role``: None if the role has no Bash or the user turned it off."""
    if not config.bash_sandbox or "Bash" not in role.tools:
        return None
    return {
        "enabled": True,
        "failIfUnavailable": True,
        "autoAllowBashIfSandboxed": True,
        "allowUnsandboxedCommands": False,
    }
