"""Agents on a Ray cluster (``--executor ray``, the ``orc[ray]`` extra). Disable with ``-p no:orc_ray``.

The modes, limits, budgets, store and live view stay orc's: this plugin only changes where agents run. Ray is
imported only when a run asks for it (``orc --help`` does not pay for it).
"""

from orchestrator_core import hookimpl


@hookimpl
def orc_make_runtime(config):
    """Runs agents on Ray when ``config.executor == "ray"``; declines otherwise (orc_claude's local runtime runs)."""
    if config.executor != "ray":
        return None
    from .runtime import RayRuntime

    return RayRuntime(config)


@hookimpl
def orc_register_commands(cli):
    from .commands import register

    register(cli)
