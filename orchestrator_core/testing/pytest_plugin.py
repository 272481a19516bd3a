"""orc's pytest plugin (entry point ``pytest11``): fixtures to test orc and orc plugins against the scripted model.

orc is imported inside the fixtures, not at module level, so coverage tools that start after plugins load still
measure it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def scripted_model() -> Iterator[Any]:
    """A started :class:`~orchestrator_core.testing.ScriptedModel`; add scripts, read ``.requests``."""
    from orchestrator_core.testing import ScriptedModel

    with ScriptedModel() as model:
        yield model


@pytest.fixture
def orc_workdir(tmp_path: Path) -> Path:
    """An empty working directory for the agents."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def orc_config(tmp_path: Path, scripted_model: Any) -> Any:
    """A Config whose agents talk to ``scripted_model``, with the store and the CLI's config dir in ``tmp_path``."""
    from orchestrator_core import Config

    return Config(
        db_path=tmp_path / "orchestrator.db",
        runtime_env=scripted_model.env(tmp_path / "claude-config"),
        scripted=True,
    )


@pytest.fixture
def orc_pm(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh plugin manager with only orc's built-in plugins (installed third-party plugins are not loaded)."""
    from orchestrator_core import make_plugin_manager

    return make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})


@pytest.fixture
def orchestrator(orc_config: Any, orc_pm: Any) -> Any:
    """An :class:`~orchestrator_core.Orchestrator` on ``orc_config`` and ``orc_pm``, not yet started."""
    from orchestrator_core import Orchestrator

    return Orchestrator(orc_config, pm=orc_pm)
