"""The seven built-in roles (analyst, planner, builder, tester, reviewer, documenter, scout) and their scripted demo.

Disable with ``-p no:orc_roles``.
"""

from orchestrator_core import hookimpl

from .definitions import ROLES


@hookimpl
def orc_register_roles(register):
    for role in ROLES:
        register(role)


@hookimpl
def orc_scripted_model(model):
    from .scripted import scripts_for  # the demo's scripts: only when a scripted model starts

    for role in ROLES:
        model.script(scripts_for(role.name), match=role.system_prompt, name=role.name)
