"""What ``orc execute`` and ``orc resume`` print when a task ends, and the error its exit code goes with.

A task that succeeded: its subtask count, cost, the plugins' reports and its output. One that did not (#20): which
subtasks succeeded and which failed, were cancelled or skipped, the last succeeded subtask's result named as that
(not as the task's output), and the ``orc resume`` command that carries it on.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from .errors import Interrupted, LimitReached, OrcError, RunFailed
from .records import TaskResult
from .secrets import redactor_for
from .terminal import printable

#: How a task that did not succeed is named in the summary's first line, by ``TaskResult.stopped``.
STOPPED = {
    "interrupted": "Interrupted",
    "max_cost": "Stopped at the cost limit (--max-cost)",
    "max_agents": "Stopped at the agent limit (--max-agents)",
    "timeout": "Stopped at the time limit (--timeout)",
    "fail_fast": "Failed (--fail-fast)",
}
#: The order subtask outcomes are listed in.
OUTCOMES = ("succeeded", "failed", "cancelled", "skipped")


def resume_command(task_id: str, *, db_path: Path | str | None = None) -> str:
    """The command line that carries on ``task_id``: ``orc resume ID``, with the store it ran with when the command
    line gave it (a store from the environment or orc.toml is found again by itself; how the task runs, such as
    ``--scripted``, the store remembers).
    """
    words = ["orc", "resume", task_id]
    if db_path is not None:
        words += ["--db", str(db_path)]
    return shlex.join(words)


def print_result(result: TaskResult, as_json: bool, *, resume: str | None = None) -> None:
    """Print a TaskResult on stdout. Its texts were redacted at the source; this is the second line (#16).

    :param resume: the command that carries the task on (:func:`resume_command`), shown unless it succeeded.
    """
    scrub = redactor_for()
    if as_json:
        # json.dumps escapes control characters; redacting before encoding catches what escaping would disguise.
        click.echo(json.dumps(scrub.value(result.to_dict()), indent=2))
        return
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None

    def echo(line: str) -> None:
        click.echo(_wrapped(printable(scrub(line)), width))

    for line in summary_lines(result):
        echo(line)
    for name, report in result.reports.items():
        echo(f"{name}: {one_line(report)}")
    if result.success:
        if result.output:
            click.echo("Output:")
            click.echo(printable(scrub(result.output)))
        return
    last = next((s for s in reversed(result.subtasks) if s.succeeded and s.output), None)
    if last is not None:
        # Not the task's output: the words of the last subtask that finished, named as such (#20).
        echo(f"Result of subtask {last.subtask_id} ({last.role}), the last that succeeded:")
        click.echo(printable(scrub(last.output)))
    if resume:
        echo(f"Carry on with: {resume}")


def summary_lines(result: TaskResult) -> list[str]:
    """The outcome, each kind of subtask outcome (unless all succeeded), and the cost, tokens and time."""
    done = sum(1 for s in result.subtasks if s.succeeded)
    total = len(result.subtasks)
    if result.success:
        lines = [f"Success: {done}/{total} subtasks, task {result.task_id}"]
    else:
        title = STOPPED.get(result.stopped or "", "Failed")
        lines = [f"{title}: {done}/{total} subtasks succeeded, task {result.task_id}"]
        by_outcome: dict[str, list[str]] = {}
        for s in result.subtasks:
            by_outcome.setdefault(s.status.value, []).append(f"{s.subtask_id} {s.role}")
        order = [*OUTCOMES, *sorted(set(by_outcome) - set(OUTCOMES))]
        lines += [f"  {o}: {', '.join(by_outcome[o])}" for o in order if o in by_outcome]
    m = result.metrics
    lines.append(
        f"Cost: ${m.cost_usd:.4f}   Tokens: {m.total_tokens:,} (input {m.input_tokens:,}, output "
        f"{m.output_tokens:,}, cache read {m.cache_read_tokens:,}, cache write {m.cache_creation_tokens:,})   "
        f"Time: {result.elapsed_s:.1f}s (agents {m.duration_s:.1f}s)"
    )
    return lines


def exit_error(result: TaskResult, resume: str | None = None) -> OrcError | None:
    """The error ``orc`` exits with after printing ``result`` (None: it succeeded, exit 0)."""
    if result.success:
        return None
    carry_on = f"; carry on with `{resume}`" if resume else ""
    if result.stopped == "interrupted":
        return Interrupted(f"task {result.task_id} {result.error}; what finished is recorded{carry_on}")
    if result.stopped in ("max_cost", "max_agents", "timeout"):
        return LimitReached(f"task {result.task_id} {result.error}{carry_on}")
    return RunFailed(f"task {result.task_id} failed: {result.error}{carry_on}")


def one_line(report: Any) -> str:
    """A plugin's end-of-task report in one line (``--json`` has it whole)."""
    if isinstance(report, dict):
        summary = report.get("summary") or report.get("message")
        if summary:
            return str(summary)
        return ", ".join(f"{k}={v}" for k, v in report.items() if isinstance(v, str | int | float | bool))[
            :300
        ]
    return str(report)[:300]


def _wrapped(line: str, width: int | None) -> str:
    """``line`` wrapped at spaces to a terminal ``width`` (continuation lines indented), never inside a word."""
    if width is None or len(line) <= width:
        return line
    return textwrap.fill(
        line,
        width=width,
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
        drop_whitespace=True,
    )
