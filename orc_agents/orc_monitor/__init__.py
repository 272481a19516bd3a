"""Watching a team work: stall and loop detection for every run, and progress on the terminal.

Two objects are registered in ``orc_configure``, so other plugins can find them with ``pm.get_plugin(NAME)``:

- ``"orc-monitor"``, a :class:`Monitor`, always (also for library users, whose ``progress`` is ``off``): it flags
  stalled and looping agents through ``orc_agent_flagged``;
- ``"orc-monitor-view"``, how progress is shown: a :class:`LiveView` (a rich live table, ``progress`` ``live``) or a
  :class:`PlainReporter` (a line per event, ``progress`` ``plain``); none when ``progress`` is ``off``.

Disable all of it with ``-p no:orc_monitor``.
"""

from orchestrator_core import hookimpl

from .monitor import Monitor
from .plain import PlainReporter

PLUGIN_NAME = "orc-monitor"
VIEW_NAME = "orc-monitor-view"


@hookimpl
def orc_configure(config, pm):
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(Monitor(config, pm), PLUGIN_NAME)
    if pm.get_plugin(VIEW_NAME) is not None:
        return
    if config.progress == "live":
        from .live import LiveView  # rich.live only when it is used (#9)

        pm.register(LiveView(config), VIEW_NAME)
    elif config.progress == "plain":
        pm.register(PlainReporter(verbose=config.verbose), VIEW_NAME)


@hookimpl
def orc_unconfigure(config, pm):
    view = pm.get_plugin(VIEW_NAME)
    if view is not None:
        stop = getattr(view, "stop", None)
        if stop is not None:
            stop()
        pm.unregister(view, VIEW_NAME)
    monitor = pm.get_plugin(PLUGIN_NAME)
    if monitor is not None:
        pm.unregister(monitor, PLUGIN_NAME)


__all__ = ["PLUGIN_NAME", "VIEW_NAME", "Monitor", "PlainReporter"]
