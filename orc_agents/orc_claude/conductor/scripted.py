"""What the orchestrator agent does in an ``--scripted`` run: a builder and a reviewer, commanded in turn.

It creates both, commands the builder, waits, commands the reviewer, waits, reads the review, deletes both and
reports. Agent ids come from its own earlier tool results, as a real model would read them.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator_core.testing import ScriptedRequest, Usage, text, tool

from .role import SERVER


def call(name: str, args: dict[str, Any], usage: Usage | None = None) -> Any:
    """A reply calling one fleet tool, as the model names it."""
    return tool(f"mcp__{SERVER}__{name}", args, usage=usage or Usage(input_tokens=1200, output_tokens=60))


def tool_results(request: ScriptedRequest) -> list[Any]:
    """Every fleet tool result in the conversation so far, parsed (JSON), oldest first; errors as strings."""
    found: list[Any] = []
    for message in request.messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            body = block.get("content")
            if isinstance(body, list):
                body = "".join(b.get("text", "") for b in body if isinstance(b, dict))
            try:
                found.append(json.loads(body or ""))
            except ValueError:
                found.append(body)
    return found


def agent_of(request: ScriptedRequest, role: str) -> str:
    """The id of the (first) agent of ``role`` this conversation created."""
    for result in tool_results(request):
        if isinstance(result, dict) and result.get("role") == role and "agent_id" in result:
            return result["agent_id"]
    return f"(no {role} created)"


def demo() -> list:
    def report(request: ScriptedRequest) -> Any:
        review = next((r for r in reversed(tool_results(request)) if isinstance(r, dict) and "text" in r), {})
        return text(
            "Done. The builder wrote the change and the reviewer checked it; both agents are deleted.\n"
            f"Review: {review.get('text', '(none)')}",
            usage=Usage(input_tokens=2600, output_tokens=120),
        )

    return [
        call("list_roles", {}),
        call(
            "create_agent",
            {"role": "builder", "name": "builder", "instructions": "Implement the task in a new module."},
        ),
        call(
            "create_agent",
            {
                "role": "reviewer",
                "name": "reviewer",
                "instructions": "Review the module the builder wrote. Change nothing.",
            },
        ),
        lambda r: call("command_agent", {"agent_id": agent_of(r, "builder"), "message": "Build it now."}),
        lambda r: call("wait_for_agents", {"agent_ids": [agent_of(r, "builder")], "timeout_seconds": 120}),
        lambda r: call(
            "command_agent", {"agent_id": agent_of(r, "reviewer"), "message": "The build is done."}
        ),
        lambda r: call("wait_for_agents", {"agent_ids": [agent_of(r, "reviewer")], "timeout_seconds": 120}),
        lambda r: call("read_result", {"agent_id": agent_of(r, "reviewer")}),
        lambda r: call("delete_agent", {"agent_id": agent_of(r, "builder")}),
        lambda r: call("delete_agent", {"agent_id": agent_of(r, "reviewer")}),
        report,
    ]
