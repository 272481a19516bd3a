"""What each built-in role is told, which tools it sees, and how it may use them.

Readers (analyst, planner, reviewer, scout) get no tool that writes: no Write, Edit or Bash.
"""

from orchestrator_core import Role

READ_TOOLS = ("Read", "Glob", "Grep")
WRITE_TOOLS = ("Read", "Write", "Edit", "Glob", "Grep", "Bash")

_COMMON = (
    "You are one agent in a team run by orc. You get the overall task, your part of it, and the results of the "
    "agents before you. Do your part only, inside the working directory. End with a short, plain summary of what "
    "you did and found: the next agent reads only that summary."
)


def _prompt(name: str, duty: str) -> str:
    return f"You are the {name} of the team. {duty}\n\n{_COMMON}"


ROLES = (
    Role(
        "analyst",
        "Reads the code and the request; reports what exists, what must change and the risks.",
        _prompt(
            "analyst",
            "Study the request and the existing code. Report the relevant files, constraints and risks.",
        ),
        READ_TOOLS,
    ),
    Role(
        "planner",
        "Turns the analysis into numbered implementation steps.",
        _prompt("planner", "Turn the analysis into a short numbered plan of concrete changes, file by file."),
        READ_TOOLS,
    ),
    Role(
        "builder",
        "Writes and edits the code.",
        _prompt(
            "builder", "Implement the plan: write and edit the files, keeping changes small and complete."
        ),
        WRITE_TOOLS,
        permission_mode="acceptEdits",
    ),
    Role(
        "tester",
        "Writes and runs tests; reports what passes and fails.",
        _prompt(
            "tester", "Check the change works: write or run tests and commands, and report exact results."
        ),
        WRITE_TOOLS,
        permission_mode="acceptEdits",
    ),
    Role(
        "reviewer",
        "Reviews the change for bugs, gaps and style; changes nothing.",
        _prompt("reviewer", "Review the change for bugs, missing cases and clarity. Do not change files."),
        READ_TOOLS,
    ),
    Role(
        "documenter",
        "Writes and updates documentation.",
        _prompt(
            "documenter", "Write or update the documentation the change needs: README sections, docstrings."
        ),
        ("Read", "Write", "Edit", "Glob", "Grep"),
        permission_mode="acceptEdits",
    ),
    Role(
        "scout",
        "Explores a codebase quickly and reports where things are.",
        _prompt(
            "scout",
            "Explore quickly: find the files, symbols and patterns that matter and say where they are.",
        ),
        READ_TOOLS,
    ),
)
