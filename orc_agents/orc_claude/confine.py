"""Keep an agent's file tools inside its working directory (and the directories the user adds).

The role's tools are pre-approved (``allowed_tools``), which would let a Write go anywhere; a PreToolUse hook
overrides that approval (FACTS §4), so every path-bearing input of every file tool is checked here, symlinks
resolved: a path, and the fixed (non-wildcard) start of a glob pattern, which may be absolute or climb with ``..``
(#16). Bash is confined by the OS sandbox instead (``sandbox.py``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from claude_agent_sdk.types import (
        HookContext,
        HookEvent,
        HookInput,
        HookJSONOutput,
        HookMatcher,
        PreToolUseHookInput,
    )

#: Tool name -> the input keys that name a path.
PATH_KEYS = {
    "Read": ("file_path",),
    "Write": ("file_path",),
    "Edit": ("file_path",),
    "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path",),
    "Glob": ("path",),
    "Grep": ("path",),
    "LS": ("path",),
}
#: Tool name -> the input keys that hold a glob pattern, matched under the tool's ``path`` (or cwd).
PATTERN_KEYS = {"Glob": ("pattern",), "Grep": ("glob",)}
WILDCARDS = frozenset("*?[{")


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _resolve(base: str, value: str) -> str:
    return os.path.realpath(os.path.join(base, os.path.expanduser(value)))


def _pattern_reach(base: str, pattern: str) -> str | None:
    """Where a glob pattern can reach: the real path of its fixed start; None if its wildcard part could leave it
    (``..``, a brace alternative that starts at ``/`` or ``~``)."""
    parts = os.path.expanduser(pattern).split("/")
    fixed = next((i for i, part in enumerate(parts) if WILDCARDS & set(part)), len(parts))
    rest = "/".join(parts[fixed:])
    if ".." in rest or any(mark in rest for mark in ("{/", ",/", "{~", ",~")):
        return None
    start = "/".join(parts[:fixed]) or ("/" if pattern.startswith("/") else ".")
    return _resolve(base, start)


def outside(tool_name: str, tool_input: dict[str, Any], cwd: str, roots: Sequence[str]) -> str | None:
    """The first path (or pattern) the call names that reaches outside every root, or None."""
    for key in PATH_KEYS.get(tool_name, ()):
        value = tool_input.get(key)
        if not value:
            continue
        path = _resolve(cwd, str(value))
        if not _inside(path, roots):
            return path
    base = _resolve(cwd, str(tool_input.get("path") or "."))
    for key in PATTERN_KEYS.get(tool_name, ()):
        value = tool_input.get(key)
        if not value:
            continue
        reach = _pattern_reach(base, str(value))
        if reach is None or not _inside(reach, roots):
            return reach or str(value)
    return None


def confinement_hook(cwd: str, add_dirs: Sequence[str]) -> dict[HookEvent, list[HookMatcher]]:
    """A ``hooks=`` entry for ClaudeAgentOptions that denies file tool calls outside ``cwd`` and ``add_dirs``."""
    from claude_agent_sdk import HookMatcher

    roots = [os.path.realpath(d) for d in (cwd, *add_dirs)]

    async def check(hook_input: HookInput, tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
        # Registered under PreToolUse only (below), so every input is a PreToolUse one (no check at run time: a
        # check that could fail would let the tool call through).
        tool_call = cast("PreToolUseHookInput", hook_input)
        path = outside(tool_call.get("tool_name", ""), tool_call.get("tool_input") or {}, cwd, roots)
        if path is None:
            return {}
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": (
                    f"{path} is outside this agent's directories ({', '.join(roots)}); orc confines file tools "
                    "to them (the user can add one with --add-dir)"
                ),
            }
        }

    return {"PreToolUse": [HookMatcher(matcher=None, hooks=[check])]}
