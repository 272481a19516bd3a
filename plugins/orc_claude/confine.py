"""Keep an agent's file tools inside its working directory (and the directories the user adds).

The role's tools are pre-approved (``allowed_tools``), which would let a Write go anywhere; a PreToolUse hook
overrides that approval (FACTS §4), so every file path is checked here. Bash is not confined: a role that must not
write has no Bash.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

#: Tool name -> the input keys that name a path.
PATH_KEYS = {
    "Read": ("file_path",),
    "Write": ("file_path",),
    "Edit": ("file_path",),
    "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path",),
    "Glob": ("path",),
    "Grep": ("path",),
}


def outside(tool_name: str, tool_input: dict[str, Any], cwd: str, roots: Sequence[str]) -> str | None:
    """The first path the call names that is outside every root, or None."""
    for key in PATH_KEYS.get(tool_name, ()):
        value = tool_input.get(key)
        if not value:
            continue
        path = os.path.realpath(os.path.join(cwd, os.path.expanduser(str(value))))
        if not any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
            return path
    return None


def confinement_hook(cwd: str, add_dirs: Sequence[str]) -> Any:
    """A ``hooks=`` entry for ClaudeAgentOptions that denies file tool calls outside ``cwd`` and ``add_dirs``."""
    from claude_agent_sdk import HookMatcher

    roots = [os.path.realpath(d) for d in (cwd, *add_dirs)]

    async def check(hook_input: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        path = outside(hook_input.get("tool_name", ""), hook_input.get("tool_input") or {}, cwd, roots)
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
