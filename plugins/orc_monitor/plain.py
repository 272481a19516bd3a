"""PlainReporter: one line per agent start, tool call and end, on stderr (stdout keeps the result)."""

from __future__ import annotations

import os

import click

from orchestrator_core import Agent, Event, EventKind, Subtask, SubtaskResult, Task, hookimpl

_MARKS = {"succeeded": "done", "failed": "FAILED", "skipped": "skipped", "cancelled": "cancelled"}


def _target(payload: dict) -> str:
    tool_input = payload.get("input") or {}
    for key in ("file_path", "command", "pattern", "path", "url"):
        if tool_input.get(key):
            value = str(tool_input[key])
            return os.path.basename(value) if key == "file_path" else value[:60]
    return ""


class PlainReporter:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _echo(self, line: str) -> None:
        click.echo(line, err=True)

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
        if event.kind is EventKind.TOOL_CALL and event.agent_id in self.names:
            self._echo(f"{self.names[event.agent_id]:<16}   {event.payload.get('name')} {_target(event.payload)}")
        elif event.kind is EventKind.RETRY and event.agent_id in self.names:
            self._echo(f"{self.names[event.agent_id]:<16}   model call failed ({event.payload.get('error')}), retrying")

    @hookimpl
    def orc_subtask_finished(self, task: Task, subtask: Subtask, result: SubtaskResult) -> None:
        name = self.names.get(result.agent_id or "", f"[{subtask.id}] {subtask.role}")
        m = result.metrics
        line = f"{name:<16} {_MARKS.get(result.status.value, result.status.value):<8}"
        if result.agent_id:
            line += f" ${m.cost_usd:.4f}  {m.total_tokens:,} tokens  {m.tool_calls} tool call(s)  {m.duration_s:.1f}s"
        if result.error:
            line += f"  {result.error}"
        self._echo(line)
