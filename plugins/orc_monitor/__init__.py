"""Progress on the terminal: a line when each agent starts and ends, and one per tool call.

Active when the run's ``progress`` setting is ``plain`` (``orc execute`` sets it). Disable with ``-p no:orc_monitor``.
"""

from orchestrator_core import hookimpl

from .plain import PlainReporter

PLUGIN_NAME = "orc-monitor"


@hookimpl
def orc_configure(config, pm):
    if config.progress in ("plain", "live") and pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(PlainReporter(), PLUGIN_NAME)


@hookimpl
def orc_unconfigure(config, pm):
    reporter = pm.get_plugin(PLUGIN_NAME)
    if reporter is not None:
        pm.unregister(reporter, PLUGIN_NAME)
