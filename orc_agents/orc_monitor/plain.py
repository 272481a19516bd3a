"""PlainReporter: one line per agent start, tool call, flag and end, on stderr (stdout keeps the result).

Used when stderr is not a terminal (``progress`` is ``plain``). With ``verbose`` the agents' text is shown too,
a bounded number of bounded lines per message.
"""

from __future__ import annotations

import click

from orchestrator_core import Agent, Event, EventKind, Subtask, SubtaskResult, Task, hookimpl
from orchestrator_core.secrets import redactor_for
from orchestrator_core.terminal import printable

from .board import tool_target

_MARKS = {"succeeded": "done", "failed": "FAILED", "skipped": "skipped", "cancelled": "cancelled"}
#: How much of an agent's message ``--verbose`` shows: lines per message, characters per line.
TEXT_LINES = 8
TEXT_WIDTH = 160


def text_lines(text: str, lines: int = TEXT_LINES, width: int = TEXT_WIDTH) -> list[str]:
    """The non-empty lines of ``text``, at most ``lines`` of at most ``width`` characters, saying what was cut."""
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    shown = [line if len(line) <= width else line[: width - 1] + "…" for line in kept[:lines]]
    if len(kept) > lines:
        shown.append(f"[... {len(kept) - lines} more line(s)]")
    return shown


class PlainReporter:
    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self.names: dict[str, str] = {}
        # An agent's words or a tool's target can quote a secret from the environment: never print one. The
        # emitter redacted the events already; this is the second line (#16).
        self.scrub = redactor_for()

    def _echo(self, line: str) -> None:
        # Model and tool output may hold escape codes: show them, never send them to the terminal (#16).
        click.echo(printable(self.scrub(line)), err=True)

    def _name(self, agent_id: str, fallback: str) -> str:
        return self.names.get(agent_id, fallback)

    @hookimpl
    def orc_task_started(self, task: Task) -> None:
        steps = len(task.plan.subtasks) if task.plan else 0
        self._echo(f"task {task.id}: {task.task_type}, {steps} subtask(s), {task.mode} in {task.cwd}")

    @hookimpl
    def orc_subtask_started(self, task: Task, subtask: Subtask, agent: Agent) -> None:
        self.names[agent.id] = f"[{subtask.id}] {subtask.role}"
        self._echo(f"{self.names[agent.id]:<16} started  ({agent.id})")

    @hookimpl
    def orc_event(self, event: Event) -> None:
        if event.agent_id not in self.names:
            return
        name = self.names[event.agent_id]
        if event.kind is EventKind.TOOL_CALL:
            self._echo(f"{name:<16}   {event.payload.get('name')} {tool_target(event.payload.get('input'))}")
        elif event.kind is EventKind.RETRY:
            self._echo(f"{name:<16}   model call failed ({event.payload.get('error')}), retrying")
        elif self.verbose and event.kind is EventKind.MESSAGE and event.payload.get("role") == "assistant":
            for line in text_lines(str(event.payload.get("text") or "")):
                self._echo(f"{name:<16}   > {line}")

    @hookimpl
    def orc_agent_flagged(self, agent: Agent, kind: str, message: str) -> None:
        self._echo(f"{self._name(agent.id, agent.name):<16}   warning: {kind}: {message}")

    @hookimpl
    def orc_subtask_finished(self, task: Task, subtask: Subtask, result: SubtaskResult) -> None:
        name = self._name(result.agent_id or "", f"[{subtask.id}] {subtask.role}")
        m = result.metrics
        line = f"{name:<16} {_MARKS.get(result.status.value, result.status.value):<8}"
        if result.agent_id:
            line += f" ${m.cost_usd:.4f}  {m.total_tokens:,} tokens  {m.tool_calls} tool call(s)  {m.duration_s:.1f}s"
        if result.error:
            line += f"  {result.error}"
        self._echo(line)
