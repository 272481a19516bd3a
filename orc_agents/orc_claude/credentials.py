"""Whether the Claude CLI has any way to authenticate, checked before an agent is spent on finding out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

#: Environment variables any one of which lets the CLI reach a model.
CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)


def config_dir(env: Mapping[str, str]) -> Path:
    """The CLI's config directory: ``CLAUDE_CONFIG_DIR`` or ``~/.claude``."""
    return Path(env.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")


def has_credentials(env: Mapping[str, str]) -> bool:
    """True if an API key or token is set, or the CLI is logged in (or has an ``apiKeyHelper``)."""
    if any(env.get(name) for name in CREDENTIAL_VARIABLES):
        return True
    directory = config_dir(env)
    if (directory / ".credentials.json").is_file():
        return True
    settings = directory / "settings.json"
    try:
        return "apiKeyHelper" in json.loads(settings.read_text())
    except (OSError, ValueError):
        return False
