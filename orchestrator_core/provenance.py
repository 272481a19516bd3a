"""Whose is a helper object (#21): a plugin that registers ``pm.register(Cache(), "audit-cache")`` from one of its
hooks is still the plugin the user installed, with its distribution, and the one ``-p no:`` disables.

The plugin manager asks :func:`owner_of` at each registration of something that is neither a built-in nor an
entry point: the installed (or built-in) plugin whose files define the helper (its class, or the module registered);
for a helper defined elsewhere, the plugin whose hook implementation is registering it. Objects a test or an
embedding program registers are plugins of their own.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from pathlib import Path
from typing import Any


def root_of(plugin: object) -> str | None:
    """The file, or the package directory, that holds ``plugin``'s code (None for objects defined nowhere)."""
    module = plugin if isinstance(plugin, types.ModuleType) else inspect.getmodule(type(plugin))
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    return str(path.parent if path.name == "__init__.py" else path)


def _inside(filename: str, root: str) -> bool:
    return filename == root or filename.startswith(root.rstrip(os.sep) + os.sep)


def owner_of(
    roots: dict[str, str], hook_code: dict[types.CodeType, str], helper: object, *, skip: int = 2
) -> str | None:
    """The plugin ``helper`` belongs to: the installed or built-in plugin whose files define it (``roots``: plugin
    name -> :func:`root_of`), else the plugin whose hook implementation is registering it (``hook_code``: the code
    of each registered hook implementation -> its plugin), else None (not a helper).

    :param skip: frames to skip: this function's and the plugin manager's ``register``.
    """
    helper_root = root_of(helper)
    if helper_root is not None:
        for name, root in roots.items():
            if _inside(helper_root, root):
                return name
    frame: types.FrameType | None = sys._getframe(skip)
    while frame is not None:
        plugin = hook_code.get(frame.f_code)
        if plugin is not None:
            return plugin
        frame = frame.f_back
    return None


def owner(pm: Any, name: str) -> str:
    """The plugin that owns ``name``: itself, or the plugin that registered the helper ``name``."""
    helpers: dict[str, str] = getattr(pm, "helpers", {})
    seen = set()
    while name in helpers and name not in seen:  # a helper's helper
        seen.add(name)
        name = helpers[name]
    return name
