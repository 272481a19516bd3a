"""The options that decide how far agents trust what they work on (#16), shared by every command that opens
agent sessions: ``orc execute``, ``orc resume``, ``orc agents send``."""

from __future__ import annotations

from typing import Any

import click


def session_safety(command: Any) -> Any:
    """``--trust-project-settings`` and ``--no-bash-sandbox``, for each command that opens agent sessions (#16)."""
    command = click.option(
        "--no-bash-sandbox",
        is_flag=True,
        help="Run the agents' Bash commands outside the OS sandbox (overrides ORC_BASH_SANDBOX).",
    )(command)
    return click.option(
        "--trust-project-settings",
        is_flag=True,
        help="Obey the working directory's .claude/settings.json, .mcp.json and CLAUDE.md: its hooks and MCP "
        "servers run as you. Only for repositories you trust (overrides ORC_TRUST_PROJECT_SETTINGS).",
    )(command)


def safety_overrides(trust_project_settings: bool, no_bash_sandbox: bool) -> dict[str, Any]:
    """Config overrides for :func:`session_safety`'s flags; an absent flag leaves the setting as it is."""
    return {
        "trust_project_settings": True if trust_project_settings else None,
        "bash_sandbox": False if no_bash_sandbox else None,
    }
