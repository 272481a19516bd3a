"""The seed's task types as templates: which roles work on a prompt, in which order, each told what."""

from __future__ import annotations

import re

from orchestrator_core import Plan, Subtask, TaskType


def _chain(*steps: tuple[str, str]) -> tuple[Subtask, ...]:
    """Subtasks numbered from 1, each depending on the one before."""
    return tuple(
        Subtask(str(i), role, instruction, depends_on=(str(i - 1),) if i > 1 else ())
        for i, (role, instruction) in enumerate(steps, start=1)
    )


TASK_TYPES = (
    TaskType(
        "feature_implementation",
        "Analyst -> Planner -> Builder -> Tester -> Reviewer: add a feature.",
        _chain(
            ("analyst", "Find what exists that the feature touches, and what it needs."),
            ("planner", "Plan the implementation step by step."),
            ("builder", "Implement the plan."),
            ("tester", "Test the implementation and report the results."),
            ("reviewer", "Review the change and approve it or list what must change."),
        ),
    ),
    TaskType(
        "bug_fix",
        "Analyst -> Planner -> Builder -> Tester -> Reviewer: find the cause, fix it, prove it.",
        _chain(
            ("analyst", "Find the cause of the bug and where it lives."),
            ("planner", "Plan the fix: what to change, and how to show the bug is gone."),
            ("builder", "Fix the bug at its cause."),
            ("tester", "Show the bug is gone and nothing else broke."),
            ("reviewer", "Review the fix."),
        ),
    ),
    TaskType(
        "code_review",
        "Analyst -> Planner -> Reviewer -> Tester: understand the code, plan the review, review it, test it.",
        _chain(
            ("analyst", "Find the code the review is about and what it is meant to do."),
            ("planner", "Plan the review: what to check, in which order, and which tests would prove it."),
            ("reviewer", "Review that code: bugs, gaps, clarity."),
            ("tester", "Run the tests (or write quick checks) for what the review questions, and report."),
        ),
    ),
    TaskType(
        "documentation",
        "Analyst -> Planner -> Documenter -> Reviewer: write the docs the code needs.",
        _chain(
            ("analyst", "Find what needs documenting and what docs exist."),
            ("planner", "Plan the documentation: which pages or docstrings, and what each must say."),
            ("documenter", "Write or update the documentation."),
            ("reviewer", "Review the documentation against the code."),
        ),
    ),
)

_KEYWORDS = (
    ("bug_fix", r"\b(fix|bug|crash|error|broken|fails?|regression)\b"),
    ("code_review", r"\b(review|audit)\b"),
    ("documentation", r"\b(document|documentation|docs|readme|docstrings?)\b"),
    # Last: a feature request names something to make. A prompt that asks for anything else (refactor, migrate,
    # investigate) fits no template, and ``auto`` asks the planner agent instead (#7).
    (
        "feature_implementation",
        r"\b(add|adds|adding|implement|create|build|support|introduce|allow|enable|new|"
        r"feature|extend|expose|provide)\b",
    ),
)


def choose_task_type(prompt: str) -> str | None:
    """``auto``: the first task type whose keywords the prompt uses, or None when no template fits."""
    lowered = prompt.lower()
    for name, pattern in _KEYWORDS:
        if re.search(pattern, lowered):
            return name
    return None


def plan_from_template(template: TaskType, prompt: str) -> Plan:
    """The template's subtasks, each instruction told the prompt."""
    return Plan(
        [Subtask(s.id, s.role, s.instruction.format(prompt=prompt), s.depends_on) for s in template.subtasks],
        task_type=template.name,
    )
