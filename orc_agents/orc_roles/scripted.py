"""What each built-in role does in an ``orc execute --scripted`` run: real tool calls, scripted words.

The scripted model answers each role's requests in order; the tools (Write, Read, Bash, Glob) really run in the
agent's working directory. Replies that depend on the task read its prompt from the agent's first message.
"""

from __future__ import annotations

import re

from orchestrator_core.testing import ScriptedRequest, Usage, text, tool

_TASK = re.compile(r"^Task: (.+)$", re.MULTILINE)


def _all_text(request: ScriptedRequest) -> str:
    chunks = []
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, str):
            chunks.append(content)
        elif isinstance(content, list):
            chunks += [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    return "\n".join(chunks)


def task_of(request: ScriptedRequest) -> str:
    """The task prompt from the ``Task: ...`` line orc puts first in every agent's first message."""
    found = _TASK.search(_all_text(request))
    return found.group(1).strip() if found else "the task"


def slug_of(request: ScriptedRequest) -> str:
    """A module name made from the task: "Add CSV export" -> ``add_csv_export``."""
    words = re.findall(r"[a-z0-9]+", task_of(request).lower())[:4] or ["feature"]
    slug = "_".join(words)
    return slug if slug[0].isalpha() else f"m_{slug}"


def _module_source(task: str) -> str:
    return (
        f'"""{task} -- written by orc\'s scripted builder."""\n\n'
        "import csv\nimport io\n\n\n"
        "def export(rows: list[dict]) -> str:\n"
        '    """Return ``rows`` as CSV text with a header line."""\n'
        "    if not rows:\n"
        '        return ""\n'
        "    out = io.StringIO()\n"
        "    writer = csv.DictWriter(out, fieldnames=list(rows[0]))\n"
        "    writer.writeheader()\n"
        "    writer.writerows(rows)\n"
        "    return out.getvalue()\n\n\n"
        'if __name__ == "__main__":\n'
        '    print(export([{"id": 1, "name": "orc"}, {"id": 2, "name": "claude"}]), end="")\n'
    )


def _usage(inp: int, out: int) -> Usage:
    return Usage(input_tokens=inp, output_tokens=out)


def scripts_for(role: str) -> list:
    """The replies the scripted model gives an agent of ``role``, in order."""
    if role == "analyst":
        return [
            tool("Glob", {"pattern": "**/*"}, usage=_usage(1800, 60)),
            lambda r: text(
                f"Analysis of '{task_of(r)}': the working directory holds "
                f"{len([x for x in r.last_tool_output.splitlines() if x.strip() and 'No files' not in x])} file(s). "
                f"A new module {slug_of(r)}.py is the smallest complete change; risk is low.",
                usage=_usage(2100, 140),
            ),
        ]
    if role == "planner":
        return [
            lambda r: text(
                f"Plan for '{task_of(r)}':\n1. Create {slug_of(r)}.py with an export(rows) function.\n"
                f"2. Run it to check the output.\n3. Review it.",
                usage=_usage(2300, 180),
            ),
        ]
    if role == "builder":
        return [
            lambda r: tool(
                "Write",
                {"file_path": f"{slug_of(r)}.py", "content": _module_source(task_of(r))},
                usage=_usage(2600, 420),
            ),
            lambda r: text(f"Built {slug_of(r)}.py: export(rows) returns CSV text.", usage=_usage(3100, 90)),
        ]
    if role == "tester":
        return [
            lambda r: tool(
                "Bash",
                {"command": f"python3 {slug_of(r)}.py", "description": f"Run {slug_of(r)}.py"},
                usage=_usage(2400, 80),
            ),
            lambda r: text(
                f"Ran python3 {slug_of(r)}.py; it printed:\n{r.last_tool_output}", usage=_usage(2700, 120)
            ),
        ]
    if role == "reviewer":
        return [
            lambda r: tool("Read", {"file_path": f"{slug_of(r)}.py"}, usage=_usage(2500, 50)),
            lambda r: text(
                f"Review of {slug_of(r)}.py ({len(r.last_tool_output.splitlines())} lines read): clear and complete. "
                "Approved.",
                usage=_usage(3000, 110),
            ),
        ]
    if role == "documenter":
        return [
            lambda r: tool(
                "Write",
                {"file_path": f"{slug_of(r)}.md", "content": f"# {task_of(r)}\n\nSee `{slug_of(r)}.py`.\n"},
                usage=_usage(2200, 150),
            ),
            lambda r: text(f"Documented the change in {slug_of(r)}.md.", usage=_usage(2500, 60)),
        ]
    if role == "scout":
        return [
            tool("Glob", {"pattern": "**/*.py"}, usage=_usage(1500, 40)),
            lambda r: text(
                f"Found these Python files:\n{r.last_tool_output or '(none)'}", usage=_usage(1700, 90)
            ),
        ]
    return [text(f"The {role} did its part.")]
