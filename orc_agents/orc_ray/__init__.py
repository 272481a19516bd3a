"""Agents on a Ray cluster (``--runtime ray``, the ``orc[ray]`` extra). Disable with ``-p no:orc_ray``.

The modes, limits, budgets, store and live view stay orc's: this plugin only changes where agents run. Ray is
imported only when a run asks for it (``orc --help`` does not pay for it). Its setting ``ORC_RAY_ADDRESS`` (option
``--ray-address``) names the cluster.
"""

from orchestrator_core import hookimpl

#: The setting naming the cluster; empty: ``RAY_ADDRESS``, else a local cluster.
ADDRESS = "ORC_RAY_ADDRESS"


@hookimpl
def orc_addoption(parser):
    parser.add_setting(
        ADDRESS,
        parse=lambda text: text.strip() or None,
        default=None,
        help="The Ray cluster to run agents on with --runtime ray (empty: RAY_ADDRESS, or auto).",
    )
    parser.add_option("--ray-address", setting=ADDRESS, commands=("execute", "resume"))


@hookimpl
def orc_register_runtimes(register):
    register("ray")


@hookimpl
def orc_make_runtime(config):
    """Runs agents on Ray when ``config.runtime == "ray"``; declines otherwise (orc_claude's local runtime runs)."""
    if config.runtime != "ray":
        return None
    from .runtime import RayRuntime

    return RayRuntime(config)


@hookimpl
def orc_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def orc_orchestrator_started(orc):
    """Agents' transcripts go to whichever plugin keeps them (orc's store), so any node can continue them."""
    import sys

    loaded = sys.modules.get(f"{__name__}.runtime")  # not loaded: this Orchestrator's runtime is not ours
    runtime = orc.agents.runtime
    if loaded is not None and isinstance(runtime, loaded.RayRuntime):
        from orc_agents.orc_claude.transcripts import HookTranscripts

        runtime.transcripts = HookTranscripts(orc.pm.hook)
