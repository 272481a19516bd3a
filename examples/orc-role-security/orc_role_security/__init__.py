"""orc-role-security: a ``security`` role for orc teams, its scripted demo, and ``orc security-checklist``.

Loaded by orc through the ``orc`` entry point ``security = "orc_role_security"``; disable it for one command with
``orc -p no:security ...``. Keep this module light: orc imports it on every command, ``orc --help`` included.
"""

from orchestrator_core import hookimpl

from .role import SECURITY

__all__ = ["SECURITY"]


@hookimpl
def orc_register_roles(register):
    register(SECURITY)


@hookimpl
def orc_scripted_model(model):
    # Imported here: the scripted replies are only needed under `orc execute --scripted`.
    from .scripted import replies

    model.script(replies(), match=SECURITY.system_prompt, name="security")


@hookimpl
def orc_register_commands(cli):
    from .checklist import security_checklist

    cli.add_command(security_checklist)
