"""The ``orc new-plugin`` command: names checked, files written, nothing overwritten."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import click

from orchestrator_core import DEFAULT_PLUGINS, UsageError

from .files import FILES, render

#: What NAME may be: the plugin's (and its role's and task type's) name.
NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
#: orc's own: the built-ins' package and names (CONTRIBUTING, "Publish it").
RESERVED = {"orc_agents", "orchestrator_core", *DEFAULT_PLUGINS}


def names(name: str) -> dict[str, str]:
    """The names the files use, from NAME (``audit`` or ``orc-audit``): plugin, module, distribution, title."""
    plain = name.removeprefix("orc-").removeprefix("orc_")
    if not NAME.fullmatch(plain):
        raise UsageError(
            f"{name!r} cannot name a plugin: use lowercase letters and digits, words joined by - or _ "
            "(e.g. audit, license-check)"
        )
    module = "orc_" + plain.replace("-", "_")
    if module in RESERVED or plain in RESERVED:
        raise UsageError(
            f"{name!r} is reserved for orc's built-ins ({', '.join(sorted(RESERVED))}); choose another"
        )
    return {
        "name": plain.replace("-", "_"),
        "module": module,
        "dist": "orc-" + plain.replace("_", "-"),
        "title": plain.replace("-", " ").replace("_", " ").capitalize(),
        "orc_requirement": _orc_requirement(),
    }


def _orc_requirement() -> str:
    """``orc-agents>=MAJOR.MINOR`` of the orc running: the API the new plugin is written against."""
    try:
        version = importlib.metadata.version("orc-agents")
    except importlib.metadata.PackageNotFoundError:
        return "orc-agents"
    release = re.match(r"(\d+)\.(\d+)", version)
    return f"orc-agents>={release.group(1)}.{release.group(2)}" if release else "orc-agents"


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Write the package's folder (orc-NAME) in this directory.",
)
def new_plugin(name: str, parent: Path) -> None:
    """Write a new plugin package, orc-NAME: a role, a task type and an observer, their tests (with orc's pytest
    fixtures and its scripted model), and a pyproject with the `orc` entry point. Then: pip install -e
    orc-NAME and run pytest in it."""
    values = names(name)
    target = parent / values["dist"]
    if target.exists():
        raise UsageError(f"{target} exists already; choose another NAME or --dir")
    for relative, template in FILES.items():
        path = target / render(relative, values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template, values))
    click.echo(
        f"Wrote {target}: plugin {values['name']!r} (module {values['module']}, distribution {values['dist']})"
    )
    click.echo(f'Next: pip install -e "{target}" && (cd "{target}" && python -m pytest)')
