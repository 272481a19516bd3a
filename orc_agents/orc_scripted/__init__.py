"""orc's scripted model as a plugin: ``--scripted`` (``ORC_SCRIPTED``) points the agents at a local server that
answers as every loaded plugin scripted it (``orc_scripted_model``): no credentials, no cost. Disable with
``-p no:orc_scripted``.

The server itself is a testing utility (:class:`orchestrator_core.testing.ScriptedModel`); it is imported only
when a scripted run starts. A task or agent made with ``--scripted`` is recorded so (the setting is
``remember``-ed): ``orc resume``, ``orc agents send`` and ``orc agents delete`` reuse it without the flag.
"""

from orchestrator_core import hookimpl
from orchestrator_core.config import boolean

#: The setting; ``--scripted`` sets it.
SETTING = "ORC_SCRIPTED"
#: The commands that talk to a model and so take ``--scripted``.
COMMANDS = ("execute", "resume", "plan", "chat", "mcp", "agents create", "agents send", "agents delete")


@hookimpl
def orc_addoption(parser):
    parser.add_setting(
        SETTING,
        parse=boolean,
        default=False,
        help="Agents talk to orc's built-in scripted model (a local server on 127.0.0.1): no credentials, no "
        "cost. The Python API's Orchestrator(scripted=True); the commands' --scripted.",
        remember=True,
    )
    parser.add_option(
        "--scripted",
        setting=SETTING,
        commands=COMMANDS,
        is_flag=True,
        default=None,
        help="Use orc's built-in scripted model: no credentials, no cost (remembered by the task or agent).",
    )


@hookimpl
def orc_model_environment(config, pm, stack):
    """With ``ORC_SCRIPTED`` and no model endpoint given (a test's own scripted model): start the scripted model,
    taught by every loaded plugin, for as long as the Orchestrator runs."""
    if not config.get(SETTING) or "ANTHROPIC_BASE_URL" in config.runtime_env:
        return None
    from .environment import scripted_environment

    return stack.enter_context(scripted_environment(pm))
