"""Plans as files and as text: ``orc plan --output plan.json``, ``orc execute --plan plan.json``, and the view
``orc plan`` and ``--approve plan`` print (a table, then the dependency graph in steps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import PlanError
from .records import Plan, Subtask


def plan_from_dict(data: Any, origin: str = "the plan") -> Plan:
    """A Plan from its JSON shape (``Plan.to_dict()``); a malformed one is a one-line PlanError."""
    if not isinstance(data, dict) or not isinstance(data.get("subtasks"), list):
        raise PlanError(f"{origin}: expected an object with a 'subtasks' list (see `orc plan --json`)")
    subtasks = []
    for i, item in enumerate(data["subtasks"], start=1):
        if not isinstance(item, dict):
            raise PlanError(f"{origin}: subtask {i} is not an object")
        missing = [
            k for k in ("id", "role", "instruction") if not isinstance(item.get(k), str) or not item.get(k)
        ]
        if missing:
            raise PlanError(f"{origin}: subtask {i} needs a non-empty string {', '.join(missing)}")
        depends_on = item.get("depends_on", [])
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise PlanError(f"{origin}: subtask {item['id']!r}: depends_on must be a list of subtask ids")
        subtasks.append(Subtask(item["id"], item["role"], item["instruction"], depends_on))
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise PlanError(f"{origin}: prompt must be a string (the task's goal)")
    return Plan(subtasks, task_type=str(data.get("task_type") or "custom"), prompt=prompt or None)


def load_plan(path: Path) -> Plan:
    """Read a plan file written by ``orc plan --output`` (and maybe edited)."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise PlanError(f"cannot read plan file {str(path)!r}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PlanError(
            f"plan file {str(path)!r} is not valid JSON ({exc}); fix it or make a new one with "
            "`orc plan --output`"
        ) from None
    return plan_from_dict(data, f"plan file {str(path)!r}")


def steps(plan: Plan) -> list[list[Subtask]]:
    """The plan in steps: each step's subtasks depend only on earlier steps (they can run side by side)."""
    done: set[str] = set()
    remaining = list(plan.subtasks)
    layers = []
    while remaining:
        layer = [s for s in remaining if set(s.depends_on) <= done]
        if not layer:  # a cycle; check_plan reports it properly
            layers.append(remaining)
            break
        layers.append(layer)
        done.update(s.id for s in layer)
        remaining = [s for s in remaining if s.id not in done]
    return layers


def render_plan(plan: Plan) -> str:
    """The plan for people: one line per subtask, then its graph as steps."""
    lines = [f"task type: {plan.task_type}, {len(plan.subtasks)} agent(s)"]
    for s in plan.subtasks:
        after = f" (after {', '.join(s.depends_on)})" if s.depends_on else ""
        lines.append(f"  [{s.id}] {s.role}{after}: {s.instruction}")
    lines.append("graph:")
    for number, layer in enumerate(steps(plan), start=1):
        names = ", ".join(f"[{s.id}] {s.role}" for s in layer)
        needs = sorted({d for s in layer for d in s.depends_on})
        arrow = f"  <- {', '.join(needs)}" if needs else ""
        together = "  (side by side with --mode dag)" if len(layer) > 1 else ""
        lines.append(f"  step {number}: {names}{arrow}{together}")
    return "\n".join(lines)
