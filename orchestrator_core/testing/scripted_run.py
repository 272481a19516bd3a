"""``orc execute --scripted``: a scripted model that the loaded plugins teach, for the length of one run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pluggy

from .scripted_server import ScriptedModel


@contextmanager
def scripted_environment(pm: pluggy.PluginManager) -> Iterator[dict[str, str]]:
    """Start a scripted model with every plugin's scripts; yield the environment agents need to use it.

    The Claude CLI's config directory (sessions, transcripts) is a temporary directory removed afterwards.
    """
    model = ScriptedModel()
    pm.hook.orc_scripted_model(model=model)
    with model, tempfile.TemporaryDirectory(prefix="orc-scripted-") as config_dir:
        yield model.env(config_dir)
