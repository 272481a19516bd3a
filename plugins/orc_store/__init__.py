"""The SQLite run store: every task, subtask, agent and event, written as it happens (sqlite-utils, WAL).

Disable with ``-p no:orc_store``: runs then leave no record.
"""

from orchestrator_core import hookimpl

from .store import RunStore

PLUGIN_NAME = "orc-store"


@hookimpl
def orc_configure(config, pm):
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(RunStore(config), PLUGIN_NAME)


@hookimpl
def orc_unconfigure(config, pm):
    store = pm.get_plugin(PLUGIN_NAME)
    if store is not None:
        pm.unregister(store, PLUGIN_NAME)
        store.close()
