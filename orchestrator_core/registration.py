"""Checks on what plugins register, beyond each record's own :meth:`problem` (#21): what a role's tools must be
is the runtime's to say, so the runtime plugins name them (``orc_tool_names``) and the core checks against that.

A role refused here is a one-line :class:`~orchestrator_core.PluginError` naming the plugin and its distribution
(exit 4), raised when the Orchestrator is built: before anything runs, not as a failed agent turn.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from .records import Role

#: Tool names no runtime needs to list: MCP servers add them at run time (``mcp__server__tool``).
MCP_PREFIX = "mcp__"


def known_tools(pm: Any) -> frozenset[str] | None:
    """Every tool name the loaded plugins say an agent can be given, or None when no plugin says."""
    answers = [a for a in pm.hook.orc_tool_names() if a is not None]
    if not answers:
        return None
    return frozenset(name for answer in answers for name in answer)


def unknown_tools(role: Role, known: frozenset[str]) -> str | None:
    """What is wrong with ``role``'s tools given the ``known`` names, or None."""
    unknown = [t for t in role.tools if not t.startswith(MCP_PREFIX) and t not in known]
    if not unknown:
        return None
    close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"role {role.name!r} lists tools the agent runtime does not know: {', '.join(map(repr, unknown))}{hint}; "
        f"known: {', '.join(sorted(known))}, and MCP tools (mcp__server__tool)"
    )


def role_check(pm: Any) -> Callable[[Role], str | None]:
    """The check :func:`~orchestrator_core.plugins.collect` applies to each registered role: its own
    :meth:`Role.problem`, then its tools against :func:`known_tools` (asked once, and only if a role lists tools)."""
    asked: list[frozenset[str] | None] = []

    def check(role: Role) -> str | None:
        problem = role.problem()
        if problem or not role.tools:
            return problem
        if not asked:
            asked.append(known_tools(pm))
        known = asked[0]
        return None if known is None else unknown_tools(role, known)

    return check
