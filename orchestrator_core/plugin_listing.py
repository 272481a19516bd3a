"""``orc plugins``: which plugins are loaded, where each comes from, and the hooks it implements (#8).

Built-ins are hidden unless ``--all``, as ``llm plugins`` does: a user asking "what did I install?" wants the third
parties. The listing reads the same plugin manager the other commands use, so ``-p no:NAME`` and
``ORC_DISABLE_PLUGIN_AUTOLOAD`` show their effect here too.
"""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

import click

from .plugins import DISTRIBUTION

#: What ``orc plugins`` says a built-in plugin's distribution is.
BUILTIN = f"{DISTRIBUTION} (built-in)"


def _orc_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def describe_plugins(pm: Any, *, include_builtins: bool = False) -> list[dict[str, Any]]:
    """One dict per loaded plugin: ``name``, ``distribution``, ``version``, ``builtin`` and ``hooks`` (sorted).

    :param pm: an :class:`~orchestrator_core.plugins.OrcPluginManager`.
    :param include_builtins: also list orc's own plugins (``DEFAULT_PLUGINS``).
    """
    from .plugins import DEFAULT_PLUGINS

    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked with -p no:NAME
            continue
        builtin = name in DEFAULT_PLUGINS
        if builtin and not include_builtins:
            continue
        if builtin:
            distribution, version = BUILTIN, _orc_version()
        else:
            distribution, version = pm.distributions.get(name, (None, None))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        rows.append(
            {
                "name": name,
                "distribution": distribution,
                "version": version,
                "builtin": builtin,
                "hooks": hooks,
            }
        )
    return rows


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Also list orc's built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
@click.pass_context
def plugins(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List the loaded plugins: name, distribution and version, and the hooks each implements."""
    from .command_group import plugin_manager

    rows = describe_plugins(plugin_manager(ctx), include_builtins=show_all)
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
        )
        click.echo(f"{row['name']:<{width}}  {source.strip()}")
        click.echo(f"{'':<{width}}  hooks: {', '.join(row['hooks']) or '(none)'}")
