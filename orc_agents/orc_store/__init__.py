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
        pm.register(RunStore(config, remembered_settings(config, pm)), PLUGIN_NAME)


def remembered_settings(config, pm):
    """The values of the settings a task or agent keeps (``remember=True``), as this Orchestrator has them."""
    from orchestrator_core.options import collect_options

    return {s.name: config.get(s.name) for s in collect_options(pm).settings.values() if s.remember}


@hookimpl
def orc_remembered_settings(config, task_id, agent_id):
    """From the ``settings`` of the task's or agent's row; None when the store or the row is not there."""
    from .queries import remembered

    return remembered(config.db_path, task_id, agent_id)


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
