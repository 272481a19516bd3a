"""The error tree: every error a user can cause or fix is an :class:`OrcError`.

OrcError subclasses click.ClickException, so the CLI prints ``Error: <message>`` and exits with the class's exit
code without a traceback, and library code can raise them straight through to the command line.
"""

from __future__ import annotations

import enum

import click


class ExitCode(enum.IntEnum):
    """The exit codes of the ``orc`` command."""

    OK = 0
    #: A task ran and at least one of its subtasks failed.
    RUN_FAILED = 1
    #: Bad command line: unknown option, task type, mode or role, an empty prompt.
    USAGE_ERROR = 2
    #: A setting has a bad value.
    CONFIG_ERROR = 3
    #: A plugin failed to load or broke a rule (e.g. registered a duplicate role).
    PLUGIN_ERROR = 4
    #: The run store cannot be opened or written.
    STORE_ERROR = 5
    #: No agent runtime, or it cannot run (no Claude CLI, no credentials).
    RUNTIME_UNAVAILABLE = 6
    #: A run-wide limit (cost, agents, wall clock) stopped the task.
    LIMIT_REACHED = 7
    #: A bug in orc or a plugin; the message says where to look.
    INTERNAL_ERROR = 70
    #: Stopped by Ctrl-C or SIGTERM.
    INTERRUPTED = 130


class OrcError(click.ClickException):
    """Base of every error orc reports to a user: one line that says what happened and what to do."""

    exit_code = ExitCode.RUN_FAILED


class UsageError(OrcError):
    """Bad input: an unknown task type, mode, role or agent, or an empty prompt."""

    exit_code = ExitCode.USAGE_ERROR


class PlanError(UsageError):
    """A plan that cannot run: unknown role, a cycle, a dependency on an unknown subtask."""


class ConfigError(OrcError):
    """A setting has a bad value; the message names the setting and where it came from."""

    exit_code = ExitCode.CONFIG_ERROR


class PluginError(OrcError):
    """A plugin failed to load or broke a registration rule."""

    exit_code = ExitCode.PLUGIN_ERROR


class StoreError(OrcError):
    """The run store cannot be opened or written."""

    exit_code = ExitCode.STORE_ERROR


class RuntimeUnavailable(OrcError):
    """Agents cannot run: no runtime plugin, no Claude CLI, or no credentials."""

    exit_code = ExitCode.RUNTIME_UNAVAILABLE


class RunFailed(OrcError):
    """A task ran and failed; the message summarises each failed subtask."""

    exit_code = ExitCode.RUN_FAILED


class LimitReached(OrcError):
    """A run-wide limit stopped the task."""

    exit_code = ExitCode.LIMIT_REACHED


class InternalError(OrcError):
    """A bug in orc or a plugin, not the user's doing (the traceback with ORC_DEBUG=1)."""

    exit_code = ExitCode.INTERNAL_ERROR


class Interrupted(OrcError):
    """The run was stopped by Ctrl-C or SIGTERM."""

    exit_code = ExitCode.INTERRUPTED


def leaves(group: BaseExceptionGroup) -> list[BaseException]:
    """The exceptions inside ``group`` and any groups nested in it: what anyio task groups wrap."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
