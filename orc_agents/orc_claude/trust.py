"""What the repository an agent works in may configure: nothing, unless the user opts in (#16).

The working directory is data. By default a session loads no settings file (``setting_sources=[]``: not the
project's ``.claude/settings.json`` with its hooks, env, permissions and ``apiKeyHelper``, not ``CLAUDE.md``) and
only orc's own MCP servers (``--strict-mcp-config``: not ``.mcp.json``). With ``ORC_TRUST_PROJECT_SETTINGS`` /
``--trust-project-settings`` the project's settings, MCP servers and CLAUDE.md are obeyed, as they were before,
except the model endpoint: orc pins ``ANTHROPIC_BASE_URL`` to the user's own in ``--settings``, which outranks the
project's ``env``. Hooks and MCP servers the user lets in run as the user and can still do anything the user can.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

from orchestrator_core import Config

if TYPE_CHECKING:
    from claude_agent_sdk.types import SettingSource


class TrustOptions(TypedDict, total=False):
    """The ``ClaudeAgentOptions`` fields :func:`trust_options` sets (so ``**trust_options(...)`` is type-checked)."""

    setting_sources: list[SettingSource]
    strict_mcp_config: bool
    settings: str


#: Where the Claude CLI sends model requests when ANTHROPIC_BASE_URL is not set.
DEFAULT_ENDPOINT = "https://api.anthropic.com"


def trust_options(config: Config, env: Mapping[str, str]) -> TrustOptions:
    """``ClaudeAgentOptions`` fields deciding what the working directory may configure."""
    if not config.trust_project_settings:
        return {"setting_sources": [], "strict_mcp_config": True}
    # Only the endpoint, never a key: --settings is on the CLI's command line, which other local users can read.
    pinned = {"ANTHROPIC_BASE_URL": env.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT}
    return {"setting_sources": ["project"], "settings": json.dumps({"env": pinned})}
