"""``orc plugins``: which plugins are loaded, where each comes from, what it provides, and which are disabled.

Built-ins are hidden unless ``--all``, as ``llm plugins`` does: a user asking "what did I install?" wants the third
parties. The listing reads the same plugin manager the other commands use, so ``-p no:NAME``,
``ORC_DISABLE_PLUGIN_AUTOLOAD`` and ``ORC_LOAD_PLUGINS`` show their effect here too: a plugin they keep out is
listed as disabled, saying which switch did it (#21). What a plugin provides (roles, task types, modes, planners,
commands, options, settings) is asked of it the way every command asks, so a helper object a plugin registers is
listed under its plugin's distribution.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from collections.abc import Mapping
from typing import Any

import click

from .plugins import DISTRIBUTION

#: What ``orc plugins`` says a built-in plugin's distribution is.
BUILTIN = f"{DISTRIBUTION} (built-in)"
#: The kinds of things a plugin provides, in the order ``orc plugins`` shows them.
KINDS = ("roles", "task_types", "modes", "planners", "commands", "options", "settings")


def _orc_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def provided(pm: Any, commands: Mapping[str, str] | None = None) -> dict[str, dict[str, list[str]]]:
    """``{plugin name: {kind: [names]}}``: what each plugin registers (kinds in :data:`KINDS`).

    :param commands: command name -> the plugin that added it (the CLI knows; None: no commands listed).
    :raises PluginError: a plugin's registration is refused (the same error any command gives).
    """
    from .options import collect_options
    from .planners import registered
    from .plugins import collect

    found: dict[str, dict[str, list[str]]] = {}

    def add(plugin: str, kind: str, name: str) -> None:
        found.setdefault(plugin, {}).setdefault(kind, []).append(name)

    for kind, hook, key in (
        ("roles", "orc_register_roles", lambda role: role.name),
        ("task_types", "orc_register_task_types", lambda task_type: task_type.name),
        ("modes", "orc_register_executors", lambda item: item[0]),
    ):
        for name, (_, plugin) in collect(pm, hook, key).items():
            add(plugin, kind, name)
    for name, (_, plugin) in registered(pm).items():
        add(plugin, "planners", name)
    for name, plugin in (commands or {}).items():
        add(plugin, "commands", name)
    parser = collect_options(pm)
    for option in parser.options:
        add(option.plugin, "options", option.decls[0])
    for setting, plugin in parser.declared_by.items():
        add(plugin, "settings", setting)
    return {plugin: {kind: sorted(names) for kind, names in kinds.items()} for plugin, kinds in found.items()}


def disabled_plugins(pm: Any, environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The plugins that exist but are not loaded, each with the switch that keeps it out."""
    from .plugins import DEFAULT_PLUGINS, installed_entry_points

    environ = os.environ if environ is None else environ
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            builtin = name in DEFAULT_PLUGINS
            rows.append(_disabled(name, builtin, f"-p no:{name}"))
    listed = {row["name"] for row in rows}
    for entry in installed_entry_points():
        if entry.name in listed or pm.get_plugin(entry.name) is not None:
            continue
        reason = (
            "ORC_DISABLE_PLUGIN_AUTOLOAD is set"
            if environ.get("ORC_DISABLE_PLUGIN_AUTOLOAD")
            else "not named in ORC_LOAD_PLUGINS"
        )
        rows.append(_disabled(entry.name, False, reason, entry.distribution, entry.version))
    return rows


def _disabled(
    name: str, builtin: bool, reason: str, distribution: str | None = None, version: str | None = None
) -> dict[str, Any]:
    if builtin:
        distribution, version = BUILTIN, _orc_version()
    elif distribution is None:
        distribution, version = _distribution(name)
    return {
        "name": name,
        "distribution": distribution,
        "version": version,
        "builtin": builtin,
        "helper_of": None,
        "hooks": [],
        "provides": {},
        "disabled": reason,
    }


def _distribution(name: str) -> tuple[str | None, str | None]:
    from .plugins import installed_entry_points

    for entry in installed_entry_points():
        if entry.name == name:
            return entry.distribution, entry.version
    return None, None


def describe_plugins(
    pm: Any, *, include_builtins: bool = False, commands: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """One dict per plugin, loaded ones first: ``name``, ``distribution``, ``version``, ``builtin``,
    ``helper_of`` (the plugin that registered this helper object, or None), ``hooks`` (sorted), ``provides``
    (kind -> names, see :data:`KINDS`) and ``disabled`` (None, or what keeps the plugin out).

    :param pm: an :class:`~orchestrator_core.plugins.OrcPluginManager`.
    :param include_builtins: also list orc's own plugins (``DEFAULT_PLUGINS``) and their helpers.
    :param commands: command name -> the plugin that added it.
    """
    from .plugins import CORE_PLUGINS, DEFAULT_PLUGINS
    from .provenance import owner

    offers = provided(pm, commands)
    helpers: dict[str, str] = getattr(pm, "helpers", {})
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None or name in CORE_PLUGINS:  # blocked (listed below), or orc's core itself
            continue
        root = owner(pm, name)
        builtin = root in DEFAULT_PLUGINS or root in CORE_PLUGINS
        if builtin and not include_builtins:
            continue
        if builtin:
            distribution, version = BUILTIN, _orc_version()
        else:
            distribution, version = pm.distributions.get(root, (None, None))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        rows.append(
            {
                "name": name,
                "distribution": distribution,
                "version": version,
                "builtin": builtin,
                "helper_of": helpers.get(name),
                "hooks": hooks,
                "provides": offers.get(name, {}),
                "disabled": None,
            }
        )
    rows += [row for row in disabled_plugins(pm) if include_builtins or not row["builtin"]]
    return rows


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Also list orc's built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
@click.pass_context
def plugins(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List the plugins: name, distribution and version, the hooks each implements, what each provides (roles,
    task types, modes, planners, commands, options, settings), and the ones disabled, saying why."""
    from .command_group import OrcGroup

    root = ctx.find_root().command
    assert isinstance(root, OrcGroup)
    invocation = root.invocation(ctx.find_root())
    rows = describe_plugins(invocation.pm, include_builtins=show_all, commands=invocation.commands.providers)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No third-party plugins are loaded; `orc plugins --all` also lists the built-ins.")
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        source = (
            row["distribution"] if row["builtin"] else f"{row['distribution'] or '-'} {row['version'] or ''}"
        ).strip()
        if row["helper_of"]:
            source += f" (helper of {row['helper_of']})"
        if row["disabled"]:
            click.echo(f"{row['name']:<{width}}  {source}  disabled: {row['disabled']}")
            continue
        click.echo(f"{row['name']:<{width}}  {source}")
        click.echo(f"{'':<{width}}  hooks: {', '.join(row['hooks']) or '(none)'}")
        for kind in KINDS:
            if row["provides"].get(kind):
                click.echo(f"{'':<{width}}  {kind.replace('_', ' ')}: {', '.join(row['provides'][kind])}")
