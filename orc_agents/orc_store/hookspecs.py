"""The hooks ``orc_store`` adds to orc: what ``orc browse`` serves besides stock Datasette.

Added through ``orc_addhooks`` when the plugin loads. A plugin that implements them should mark its
implementations ``@hookimpl(optionalhook=True)``, so that it still loads under ``-p no:orc_store``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator_core import hookspec


@hookspec
def orc_browse_plugins(register: Callable[[str, Any], None]) -> None:
    """Add Datasette plugins to the Datasette ``orc browse`` builds.

    Called once per ``orc browse`` (and by :func:`orc_agents.orc_store.browse.make_datasette` callers that pass the result on),
    before Datasette is built. Call ``register(name, module)``: the module is registered with Datasette's plugin
    manager (its ``templates/`` and ``static/`` folders are Datasette's plugin folders, so make it a package), and
    the Datasette gets plugin configuration ``{"database": <the store's database name>}`` under ``name``; answer
    only Datasettes that carry it (Datasette's plugin manager is process-wide). Import Datasette inside the
    module you register, never at your plugin's top level: ``orc --help`` must stay fast.

    :param register: ``register(name, module)``.

    **Sync or async**: sync only.
    """


@hookspec(firstresult=True)
def orc_browse_path(database: str, task_id: str | None) -> str | None:
    """The page ``orc browse`` opens first: a path on its server such as ``/-/orc/``.

    Called once per ``orc browse``. The call stops at the first non-None result; None declines, and ``orc browse``
    opens Datasette's page of the store (or of the task's row).

    :param database: Datasette's name for the store.
    :param task_id: the task given on the command line (it exists), or None.
    :returns: a path starting with ``/``, or None.

    **Sync or async**: sync only.
    """
