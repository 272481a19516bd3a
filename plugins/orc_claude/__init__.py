"""The agent runtime: one claude-agent-sdk session per agent, its messages turned into orc events.

This is the only module tree that imports ``claude_agent_sdk`` (lazily: ``orc --help`` must not pay for it).
It is ``trylast``, so a plugin can supply another runtime. Disabling it (``-p no:orc_claude``) leaves orc able to
plan but not to run agents. It also provides the orchestrator agent (``conductor/``): ``--orchestrator agent`` and
``orc chat``.
"""

from orchestrator_core import hookimpl

from .conductor.plugin import (  # noqa: F401 (hook implementations)
    orc_make_plan,
    orc_register_commands,
    orc_scripted_model,
)
from .runtime import ClaudeRuntime


@hookimpl(trylast=True)
def orc_make_runtime(config):
    """trylast: the default runtime; another plugin's runtime wins."""
    return ClaudeRuntime(config)
