"""``orc new-plugin NAME``: write a new plugin package to start from (#21): a role, a task type, an observer, their
tests with orc's pytest fixtures, and a pyproject with the ``orc`` entry point and a dependency on orc-agents.
Disable with ``-p no:orc_template``.
"""

from orchestrator_core import hookimpl


@hookimpl
def orc_register_commands(cli):
    from .command import new_plugin

    cli.add_command(new_plugin)
