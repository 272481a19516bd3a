"""The fleet's operations as in-process MCP tools (``create_sdk_mcp_server``): what the orchestrator model calls.

Each result is JSON text, bounded by ``max_result_chars``; a refused or mistaken call is an error result
(``is_error``) whose text says why, never an exception out of the session.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from orchestrator_core import OrcError, bound

from .fleet import Fleet, FleetError
from .role import SERVER

log = logging.getLogger("orc.conductor")

_ID = {"type": "string", "description": "the agent's id, as create_agent returned it"}

#: name -> (description, JSON schema of the input)
TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "list_roles": (
        "List the roles of agent you can create, with what each does and its tools.",
        {"type": "object", "properties": {}},
    ),
    "create_agent": (
        "Create an agent of a role with a name and its standing instructions (its part of the task). It does "
        "nothing until you command it.",
        {
            "type": "object",
            "properties": {
                "role": {"type": "string", "description": "a role from list_roles"},
                "name": {"type": "string", "description": "a short name for people, e.g. 'csv builder'"},
                "instructions": {"type": "string", "description": "its part of the task, self-contained"},
            },
            "required": ["role", "instructions"],
        },
    ),
    "command_agent": (
        "Send an agent a message. Returns at once; the agent works in the background (see wait_for_agents).",
        {
            "type": "object",
            "properties": {"agent_id": _ID, "message": {"type": "string"}},
            "required": ["agent_id", "message"],
        },
    ),
    "agent_status": (
        "Status of one agent (agent_id) or of all: status, turns, cost, files touched, a short summary of its "
        "latest result.",
        {"type": "object", "properties": {"agent_id": _ID}},
    ),
    "read_result": (
        "Read an agent's latest result, a bounded piece at a time; pass next_offset as offset for more.",
        {
            "type": "object",
            "properties": {"agent_id": _ID, "offset": {"type": "integer", "minimum": 0}},
            "required": ["agent_id"],
        },
    ),
    "wait_for_agents": (
        "Wait until the given agents (default: all working ones) finish their commands, or the timeout passes.",
        {
            "type": "object",
            "properties": {
                "agent_ids": {"type": "array", "items": {"type": "string"}},
                "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
            },
        },
    ),
    "delete_agent": (
        "Delete an agent you no longer need (stops it if it is working).",
        {"type": "object", "properties": {"agent_id": _ID}, "required": ["agent_id"]},
    ),
}


def tool_names() -> list[str]:
    """The tools as the model sees them (``mcp__orc__<tool>``): what the orchestrator's session pre-approves."""
    return [f"mcp__{SERVER}__{name}" for name in TOOLS]


def _calls(fleet: Fleet) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
    async def list_roles(args: dict[str, Any]) -> Any:
        return {"roles": fleet.list_roles()}

    async def create_agent(args: dict[str, Any]) -> Any:
        return fleet.create(args["role"], args.get("name"), args["instructions"])

    async def command_agent(args: dict[str, Any]) -> Any:
        return fleet.command(args["agent_id"], args["message"])

    async def agent_status(args: dict[str, Any]) -> Any:
        return fleet.status(args.get("agent_id"))

    async def read_result(args: dict[str, Any]) -> Any:
        return fleet.read(args["agent_id"], int(args.get("offset") or 0))

    async def wait_for_agents(args: dict[str, Any]) -> Any:
        return await fleet.wait(args.get("agent_ids"), args.get("timeout_seconds"))

    async def delete_agent(args: dict[str, Any]) -> Any:
        return await fleet.delete(args["agent_id"])

    return {
        f.__name__: f
        for f in (
            list_roles,
            create_agent,
            command_agent,
            agent_status,
            read_result,
            wait_for_agents,
            delete_agent,
        )
    }


def fleet_server(fleet: Fleet) -> Any:
    """An in-process MCP server (``McpSdkServerConfig``) whose tools act on ``fleet``."""
    from claude_agent_sdk import create_sdk_mcp_server, tool

    # Results never exceed the run's bound (plus room for the JSON around a read_result piece).
    limit = fleet.config.max_result_chars + 1000

    def make(name: str, call: Callable[[dict[str, Any]], Awaitable[Any]]) -> Any:
        description, schema = TOOLS[name]

        async def handler(args: dict[str, Any]) -> dict[str, Any]:
            try:
                answer = await call(args)
            except (FleetError, OrcError) as exc:
                return _error(str(getattr(exc, "message", exc)))
            except (KeyError, TypeError, ValueError) as exc:
                return _error(f"bad input for {name}: {type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug of ours must not end the orchestrator's session
                log.exception("fleet tool %s failed", name)
                return _error(f"{name} failed inside orc: {type(exc).__name__}: {exc}")
            return {"content": [{"type": "text", "text": bound(json.dumps(answer), limit)}]}

        return tool(name, description, schema)(handler)

    tools = [make(name, call) for name, call in _calls(fleet).items()]
    return create_sdk_mcp_server(SERVER, tools=tools)


def _error(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": f"Error: {message}"}], "is_error": True}
