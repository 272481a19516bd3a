"""``from orchestrator_core.storage import Database``: the run store's Python API (#19).

The core names no store: the loaded store plugin provides these names through ``orc_storage_api`` (the built-in
SQLite store by default).
"""

from __future__ import annotations

from typing import Any

#: The names the seed API imported from here.
__all__ = ["Database"]  # noqa: F822 (given by the store plugin, through __getattr__)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    from .errors import PluginError
    from .plugins import make_plugin_manager

    found = make_plugin_manager().hook.orc_storage_api(name=name)
    if found is not None:
        return found
    if name in __all__:
        raise PluginError(
            f"no loaded plugin provides the run store's {name}; do not disable the store plugin "
            "(`orc plugins --all` lists what is loaded)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
