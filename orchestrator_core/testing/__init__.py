"""Testing orc and its plugins with the real SDK and CLI: the scripted model, and a pytest plugin using it.

The model is the only stand-in (DESIGN.md, "Testing"): :class:`ScriptedModel` is a real HTTP server on 127.0.0.1
that speaks the Anthropic Messages API, and the real Claude Code CLI talks to it.
"""

from .scripted_server import (
    Reply,
    ScriptedModel,
    ScriptedRequest,
    Text,
    ToolUse,
    Usage,
    error,
    text,
    tool,
)

__all__ = ["Reply", "ScriptedModel", "ScriptedRequest", "Text", "ToolUse", "Usage", "error", "text", "tool"]
