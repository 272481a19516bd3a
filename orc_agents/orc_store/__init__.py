"""The SQLite run store: every task, subtask, agent, event, status check and flag, written as it happens
(sqlite-utils, WAL); the read commands (`orc status`, `orc list-tasks`, ...) and `orc browse` (Datasette).

Disable with ``-p no:orc_store``: runs then leave no record.
"""

from orchestrator_core import hookimpl

from . import hookspecs
from .database import Database
from .opening import open_database
from .store import RunStore

__all__ = ["PLUGIN_NAME", "Database", "RunStore", "open_database"]

PLUGIN_NAME = "orc-store"


@hookimpl
def orc_addhooks(pm):
    pm.add_hookspecs(hookspecs)


@hookimpl
def orc_configure(config, pm):
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(RunStore(config), PLUGIN_NAME)


@hookimpl(trylast=True)
def orc_unconfigure(config, pm):
    """trylast: closing raises StoreError when rows were lost (#17); every other plugin has closed by then."""
    store = pm.get_plugin(PLUGIN_NAME)
    if store is not None:
        pm.unregister(store, PLUGIN_NAME)
        store.close()


@hookimpl
def orc_storage_api(name):
    """``from orchestrator_core.storage import Database`` (#19)."""
    return {"Database": Database}.get(name)


@hookimpl
def orc_register_commands(cli):
    from .commands import register

    register(cli)
