"""``orc agents``: agents as resources you create, talk to, inspect and delete, from any process. Built on orc's
public API only (the Orchestrator, the store's commands). Disable with ``-p no:orc_fleet``."""

from orchestrator_core import hookimpl


@hookimpl
def orc_register_commands(cli):
    from .commands import agents

    cli.add_command(agents)
