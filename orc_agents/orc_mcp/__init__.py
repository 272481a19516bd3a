"""orc as an MCP server (#26): ``orc mcp`` serves the fleet's operations to any MCP host.

Over stdio (``claude mcp add orc -- orc mcp``) the server trusts its parent, as stdio servers do. Over streamable
HTTP (``orc mcp --http PORT``) it binds 127.0.0.1 only and refuses a request without the bearer token, or with a
Host or Origin that is not loopback.

The host can list roles and task types, plan a prompt (nothing spent), execute a prompt or a plan in the background
(the call returns the task id at once), poll or wait for it, read results and a bounded slice of an agent's
transcript, message an agent, cancel, approve or reject a plan, and resume. Every run limit applies, settable per
call within the bounds the server's user fixed on its command line.

The MCP Python SDK (a dependency of claude-agent-sdk) is imported only when ``orc mcp`` runs.
"""

from __future__ import annotations

from typing import Any

from orchestrator_core import hookimpl


@hookimpl
def orc_register_commands(cli: Any) -> None:
    from .command import mcp

    cli.add_command(mcp)
