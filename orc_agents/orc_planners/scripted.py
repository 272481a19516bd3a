"""What the planner agent answers in an ``orc execute --scripted`` run: a small graph for the demo team.

The team's own scripts (orc_roles) answer the agents that carry the plan out; this one answers only requests for
a plan, which it recognises by the words every such request contains (:data:`orc_agents.orc_planners.llm.ASK`).
"""

from __future__ import annotations

import json
import re

from orchestrator_core.testing import ScriptedRequest, Usage, text

_TASK = re.compile(r"^Task: (.+)$", re.MULTILINE)


def demo_plan(request: ScriptedRequest) -> dict:
    """Analyse, build, then test and review side by side: the demo roles' scripts, as a graph."""
    found = _TASK.search(request.search_text)
    task = found.group(1).strip() if found else "the task"
    return {
        "subtasks": [
            {"id": "1", "role": "analyst", "instruction": f"Find what {task!r} touches.", "depends_on": []},
            {
                "id": "2",
                "role": "builder",
                "instruction": "Make the change the analysis calls for.",
                "depends_on": ["1"],
            },
            {"id": "3", "role": "tester", "instruction": "Run what the builder made.", "depends_on": ["2"]},
            {
                "id": "4",
                "role": "reviewer",
                "instruction": "Review what the builder made.",
                "depends_on": ["2"],
            },
        ]
    }


def scripts() -> list:
    """The scripted planner's replies: the plan, as a fenced JSON block."""
    return [
        lambda r: text(
            f"```json\n{json.dumps(demo_plan(r), indent=2)}\n```",
            usage=Usage(input_tokens=2000, output_tokens=220),
        ),
    ]
