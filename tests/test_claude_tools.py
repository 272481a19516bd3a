"""The tool names orc_claude tells the core about (``orc_tool_names``) are the ones the installed Claude Code CLI
accepts: asked of the real CLI against the scripted model, so an SDK upgrade that drops or renames one fails here."""

import pytest

from orc_agents.orc_claude.tools import CLI_TOOLS

pytestmark = pytest.mark.anyio
#: Spellings the CLI accepts for another tool: it reports the other name.
ALIASES = {"Agent": "Task", "KillShell": "TaskStop", "KillBash": "TaskStop"}


async def init_tools(scripted_model, tmp_path, tools):
    """The tools the CLI's init message lists for a session given ``tools``."""
    from claude_agent_sdk import ClaudeAgentOptions, SystemMessage, query

    options = ClaudeAgentOptions(
        cwd=str(tmp_path),
        tools=tools,
        env=scripted_model.env(tmp_path / "claude-config"),
        setting_sources=[],
    )
    found = None
    async for message in query(prompt="hi", options=options):
        if isinstance(message, SystemMessage) and message.subtype == "init":
            found = message.data["tools"]
    return found


async def test_the_cli_accepts_every_tool_name_orc_knows(scripted_model, tmp_path):
    from orchestrator_core.testing import text

    scripted_model.script([text("ok")])
    listed = set(await init_tools(scripted_model, tmp_path, sorted(CLI_TOOLS)))
    assert {ALIASES.get(name, name) for name in CLI_TOOLS} == listed


async def test_the_cli_drops_a_name_it_does_not_know(scripted_model, tmp_path):
    """Why orc checks at registration: the CLI says nothing, the agent just has no such tool."""
    from orchestrator_core.testing import text

    scripted_model.script([text("ok")])
    assert await init_tools(scripted_model, tmp_path, ["Writ"]) == []
