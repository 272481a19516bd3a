"""The tool names the bundled Claude Code CLI knows, for a role's ``tools`` (#21).

The CLI (2.1.332, claude-agent-sdk 0.2.189) silently drops a name it does not know from ``tools=``: a role with
``Writ`` got no Write tool at all, found only when its agent ran. Asked one name at a time (``tools=[name]``, the
init message's ``tools``), these are the names it accepted; ``Agent``/``Task`` and ``KillShell``/``KillBash``/
``TaskStop`` are spellings of one tool. ``TodoWrite``, ``MultiEdit``, ``LS``, ``BashOutput``, ``NotebookRead`` and
``ExitPlanMode`` are gone from this CLI. ``tests/test_claude_tools.py`` asks the installed CLI about every name
here, so an SDK upgrade that drops one fails the suite.
"""

#: Every tool name the CLI accepts in ``tools=``.
CLI_TOOLS = frozenset(
    {
        "Agent",
        "Task",
        "Bash",
        "TaskStop",
        "KillShell",
        "KillBash",
        "CronCreate",
        "CronDelete",
        "CronList",
        "Edit",
        "EnterWorktree",
        "ExitWorktree",
        "Glob",
        "Grep",
        "ListAgents",
        "Monitor",
        "NotebookEdit",
        "Read",
        "ReportFindings",
        "ScheduleWakeup",
        "SendMessage",
        "Skill",
        "TaskCreate",
        "TaskGet",
        "TaskList",
        "TaskUpdate",
        "ToolSearch",
        "WebFetch",
        "WebSearch",
        "Workflow",
        "Write",
    }
)
#: Tools the CLI adds itself when the session asks for them: ``AskUserQuestion`` with a permission callback
#: (FACTS §2), the plan-mode pair in ``plan`` mode.
ADDED_BY_THE_CLI = frozenset({"AskUserQuestion", "EnterPlanMode", "ExitPlanMode"})
