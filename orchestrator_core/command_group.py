"""The ``orc`` command group: each invocation's plugins, their commands and options, and its error handling.

One invocation, one plugin manager: ``-p`` options before the command name are read while click parses the group's
own arguments, the plugins load the first time click asks for a command, and the commands plugins add belong to
that invocation only (a second in-process call with other ``-p`` sees its own). Plugin commands build their
Orchestrator with :func:`make_orchestrator` and read settings with :func:`current_config`.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import click

from .errors import InternalError, Interrupted, OrcError, PluginError, leaves
from .terminal import printable

log = logging.getLogger("orc")
#: Where an invocation's state lives in click's ``ctx.meta`` (shared by every context of one invocation).
INVOCATION = "orc.invocation"
#: The ``-p`` values given before the command name, read while the group parses its arguments.
PLUGIN_OPTIONS = "orc.plugin_options"


class PluginCommands(click.Group):
    """What ``orc_register_commands`` gets as ``cli``: it takes one invocation's plugin commands, each knowing the
    plugin that added it, and refuses a name the core or another plugin has."""

    def __init__(self, core: click.Group) -> None:
        super().__init__(core.name)
        self.core = core
        #: Which plugin added each command.
        self.providers: dict[str, str] = {}

    @property
    def registering(self) -> str:
        """The plugin whose ``orc_register_commands`` is running (pluggy calls it; hookcalls knows which)."""
        from .hookcalls import running_plugin

        return running_plugin() or "?"

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise PluginError(f'plugin "{self.registering}" adds a command without a name; give it one')
        owner = self.providers.get(name, "orc" if name in self.core.commands else None)
        if owner is not None:
            raise PluginError(
                f'plugin "{self.registering}" adds the command {name!r}, which {owner!r} already provides; '
                f"disable one with -p no:NAME"
            )
        self.providers[name] = self.registering
        super().add_command(cmd, name)


@attrs.define
class Invocation:
    """One ``orc`` invocation: its plugin manager, the commands its plugins add, the plugin settings its command
    line sets."""

    pm: Any
    commands: PluginCommands
    given: dict[str, Any] = attrs.field(factory=dict)


class OrcGroup(click.Group):
    """A click group whose commands include those this invocation's plugins register."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # `-p` decides which plugins (and so which commands and options) exist: read it before click acts on the
        # rest (`orc -p no:orc_ray --help` lists the commands without orc_ray's). Parsing has no side effects;
        # the callbacks (--help, --version) run in super().parse_args.
        if ctx.parent is None:
            try:
                values, _, _ = self.make_parser(ctx).parse_args(args=list(args))
            except click.UsageError:
                values = {}  # reported by super().parse_args
            ctx.meta[PLUGIN_OPTIONS] = tuple(values.get("plugin_options") or ())
        return super().parse_args(ctx, args)

    def invocation(self, ctx: click.Context) -> Invocation:
        """This invocation's plugins and their commands, made the first time they are needed."""
        found = ctx.meta.get(INVOCATION)
        if found is None:
            from .plugins import make_plugin_manager

            pm = make_plugin_manager(ctx.meta.get(PLUGIN_OPTIONS, ()))
            commands = PluginCommands(self)
            found = ctx.meta[INVOCATION] = Invocation(pm, commands)
            # Each command knows the plugin that adds it, so a name two plugins want is an error naming both.
            pm.hook.orc_register_commands(cli=commands)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.invocation(ctx).commands.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        invocation = self.invocation(ctx)
        command = super().get_command(ctx, cmd_name) or invocation.commands.commands.get(cmd_name)
        if command is None:
            return None
        return _with_plugin_options(invocation, command, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke(ctx)
        except click.ClickException as exc:
            if os.environ.get("ORC_DEBUG") and isinstance(exc, PluginError) and exc.__cause__ is not None:
                traceback.print_exception(exc.__cause__)
            # An error can quote a model's or a tool's words (a failed turn's reason): no secret, no escape codes.
            exc.message = printable(scrub()(exc.message))  # type: ignore[misc]  # click's stub says Final
            raise

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseExceptionGroup as group:
            # anyio task groups wrap what their tasks raised: a user's error inside stays a user's error (B8).
            inner = leaves(group)
            errors = [e for e in inner if isinstance(e, click.ClickException | click.exceptions.Exit)]
            if errors and len(errors) == len(inner):
                raise errors[0] from None
            if any(isinstance(e, KeyboardInterrupt) for e in inner):
                raise Interrupted("interrupted; what finished before is recorded in the run store") from None
            raise _internal(group, ctx) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # `orc watch ... | head`: the reader left; stop quietly, as Unix tools do.
            sys.stderr.close()
            raise SystemExit(0) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted; what finished before is recorded in the run store") from None
        except Exception as exc:
            raise _internal(exc, ctx) from None


def _with_plugin_options(invocation: Invocation, command: click.Command, path: str) -> click.Command:
    """``command`` with the options this invocation's plugins add to it (``path``: its name under ``orc``, e.g.
    ``"agents create"``), and ``--mode`` listing the registered modes; a copy, never the shared command."""
    from .options import collect_options
    from .planners import listed_in_help

    extra = collect_options(invocation.pm).click_options(path, invocation.given.__setitem__)
    extra = [listed_in_help(option, invocation.pm) for option in extra]  # --planner's help names the planners
    modes = any(p.name == "mode" for p in command.params) and _modes(invocation.pm)
    if isinstance(command, click.Group):
        group = copy.copy(command)
        inner = command.get_command

        def get_command(ctx: click.Context, cmd_name: str) -> click.Command | None:
            sub = inner(ctx, cmd_name)
            return None if sub is None else _with_plugin_options(invocation, sub, f"{path} {cmd_name}")

        group.get_command = get_command  # type: ignore[method-assign]
        command = group
    if not extra and not modes:
        return command
    command = copy.copy(command)
    command.params = [*(_with_modes(p, modes) for p in command.params), *extra]
    return command


def _modes(pm: Any) -> list[str]:
    """The execution modes the loaded plugins register (what ``--mode`` takes)."""
    from .plugins import collect

    try:
        return sorted(collect(pm, "orc_register_executors", lambda item: item[0]))
    except OrcError:
        return []  # a plugin's registration error is reported when the command runs


def _with_modes(param: click.Parameter, modes: list[str] | Literal[False]) -> click.Parameter:
    """``--mode`` with the registered modes in its help."""
    if not modes or param.name != "mode" or not isinstance(param, click.Option):
        return param
    param = copy.copy(param)
    listed = ", ".join(modes)
    help_text = param.help or ""
    param.help = (
        help_text.replace("sequential, ...", listed)
        if "sequential, ..." in help_text
        else f"{help_text} Modes: {listed}."
    )
    return param


def _internal(exc: BaseException, ctx: click.Context) -> OrcError:
    """A bug, not the user's doing: one line that says so (naming the plugin whose code raised it, if a third
    party's), the traceback with ORC_DEBUG=1."""
    from .plugins import blame

    if os.environ.get("ORC_DEBUG"):
        traceback.print_exception(exc)
    else:
        log.debug("%s", "".join(traceback.format_exception(exc)))
    inner = leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    first = inner[0] if inner else exc
    invocation = ctx.meta.get(INVOCATION)
    culprit = blame(invocation.pm if invocation else None, first)
    if culprit is not None:
        return culprit
    return InternalError(
        f"internal error: {type(first).__name__}: {first}. This is a bug in orc or a plugin; "
        "run again with ORC_DEBUG=1 for the traceback and report it"
    )


def scrub() -> Any:
    """A Redactor for this process's secret environment values: nothing orc prints may hold one."""
    from .secrets import redactor_for

    return redactor_for()


def invocation_of(ctx: click.Context) -> Invocation:
    """The invocation ``ctx`` belongs to."""
    group = ctx.find_root().command
    if not isinstance(group, OrcGroup):
        raise TypeError("not inside an `orc` command")
    return group.invocation(ctx)


def plugin_manager(ctx: click.Context) -> Any:
    """The plugin manager of the invocation ``ctx`` belongs to: for plugin commands that call hooks."""
    return invocation_of(ctx).pm


def make_orchestrator(
    ctx: click.Context,
    settings: Mapping[str, Any] | None = None,
    *,
    recorded: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Any:
    """The Orchestrator a command works with: this command line's plugins, and the settings from every source,
    the plugins' options included. For plugin commands too.

    :param settings: plugin settings this command fixes, by name (they win over the command line).
    :param recorded: plugin settings a task or agent was made with, by name: they win over every source but the
        command line (``orc resume`` runs a task the way it was started).
    :param overrides: Config attributes the command's own options set.
    """
    from .orchestrator import Orchestrator

    config = current_config(ctx, settings, recorded=recorded, **overrides)
    return Orchestrator(config, pm=plugin_manager(ctx))


def remembered(
    ctx: click.Context, *, task_id: str | None = None, agent_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """The remembered settings a recorded task or agent was made with (``orc_remembered_settings``), for
    :func:`make_orchestrator`'s ``recorded``; empty when no plugin knows it.

    :param overrides: Config attributes the command's own options set (``db_path``: where the store is).
    """
    config = current_config(ctx, **overrides)
    pm = plugin_manager(ctx)
    found = pm.hook.orc_remembered_settings(config=config, task_id=task_id, agent_id=agent_id)
    return dict(found or {})


def current_config(
    ctx: click.Context | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    recorded: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Any:
    """The settings a command runs with: every source, this command line's plugins' settings and options, then
    ``settings`` (plugin settings by name) and ``overrides`` (Config attributes). Outside a command: every
    source, without plugin settings. Plugin commands use it too.
    """
    from .config import load_config
    from .options import collect_options

    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None or not isinstance(ctx.find_root().command, OrcGroup):
        return load_config(**overrides)
    invocation = invocation_of(ctx)
    given = {**(recorded or {}), **invocation.given, **(settings or {})}
    return load_config(declared=collect_options(invocation.pm).settings.values(), given=given, **overrides)
