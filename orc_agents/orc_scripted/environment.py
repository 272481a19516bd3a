"""A scripted model that the loaded plugins teach, and where scripted sessions live between commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def scripted_config_dir() -> Path:
    """Where scripted sessions live between commands (so ``orc agents send`` can resume one made earlier).

    ``$ORC_SCRIPTED_HOME``, else ``$XDG_CACHE_HOME/orc/scripted-claude``, else ``~/.cache/orc/scripted-claude``.
    It is the Claude CLI's config directory for scripted agents only; real agents use the CLI's own.
    """
    explicit = os.environ.get("ORC_SCRIPTED_HOME")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "orc" / "scripted-claude"


@contextmanager
def scripted_environment(pm: Any) -> Iterator[dict[str, str]]:
    """Start a scripted model with every plugin's scripts; yield the environment agents need to use it."""
    from orchestrator_core.plugins import collect
    from orchestrator_core.testing import ScriptedModel

    model = ScriptedModel()
    # So a plugin's demo script can answer its role by name (``model.script(..., role="security")``).
    model.add_roles(role for role, _ in collect(pm, "orc_register_roles", lambda r: r.name).values())
    pm.hook.orc_scripted_model(model=model)
    config_dir = scripted_config_dir()
    config_dir.mkdir(parents=True, exist_ok=True)
    with model:
        yield model.env(config_dir)
