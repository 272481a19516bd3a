"""The agent runtime: one claude-agent-sdk session per agent, its messages turned into orc events.

This is the only module tree that imports ``claude_agent_sdk`` (lazily: ``orc --help`` must not pay for it).
It is ``trylast``, so a plugin can supply another runtime. Disabling it (``-p no:orc_claude``) leaves orc able to
plan but not to run agents. The orchestrator agent (``conductor/``: ``--orchestrator agent``, ``orc chat``) is a
built-in plugin of its own, ``orc_conductor`` (it serves orc's fleet tools to a Claude session, so it lives here,
beside the SDK).
"""

from orchestrator_core import hookimpl

from .runtime import ClaudeRuntime
from .tools import ADDED_BY_THE_CLI, CLI_TOOLS


@hookimpl
def orc_register_runtimes(register):
    register("local")


@hookimpl(trylast=True)
def orc_make_runtime(config):
    """trylast: the default runtime; another plugin's runtime wins. It runs agents here, so it declines any
    other ``--runtime``."""
    return ClaudeRuntime(config) if config.runtime == "local" else None


@hookimpl
def orc_tool_names():
    """The tools a role may list: those the Claude Code CLI knows (MCP tools, ``mcp__*``, are always allowed)."""
    return CLI_TOOLS | ADDED_BY_THE_CLI


@hookimpl
def orc_orchestrator_started(orc):
    """Agents' transcripts go to whichever plugin keeps them (orc's store), so any machine can continue them."""
    from .transcripts import HookTranscripts

    runtime = orc.agents.runtime
    if isinstance(runtime, ClaudeRuntime):
        runtime.transcripts = HookTranscripts(orc.pm.hook)
