"""What is orc's own and may not be replaced: the built-ins' package and their plugin names (#21).

The built-in plugins live in one package named for orc's distribution (``orc_agents``), so no ``orc-<thing>`` can
replace one by shipping a top-level package of the same name. A distribution can still install files *into* that
package (a wheel listing ``orc_agents/orc_monitor/__init__.py``): pip then overwrites orc's file, and uninstalling
the intruder deletes it. The plugin manager checks, cheaply, at start: the files of the distributions that declare
an ``orc`` entry point (the only ones that mean to extend orc), and where each built-in module was imported from.
Either finding is a one-line warning naming the distribution (the plugin may be orc's after all: a warning, not a
refusal).
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import types
from pathlib import Path

log = logging.getLogger("orc.plugins")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def files_in_package(dist: importlib.metadata.Distribution, package: str) -> list[str]:
    """The files ``dist`` installs inside ``package``, from its RECORD read as text (``dist.files`` builds an
    object per file: ~10 ms for a 200-file distribution, at every start; this, well under 1 ms)."""
    record = dist.read_text("RECORD") or ""
    prefix = package + "/"
    return [line.split(",", 1)[0] for line in record.splitlines() if line.startswith(prefix)]


def warn_if_intruding(dist: importlib.metadata.Distribution, name: str, package: str, owner: str) -> bool:
    """Warn when ``dist`` (named ``name``: its metadata is read once, by the caller), not orc's distribution
    ``owner``, installs files inside orc's ``package``.

    :returns: whether it does.
    """
    if _canonical(name) == _canonical(owner):
        return False
    found = files_in_package(dist, package)
    if not found:
        return False
    log.warning(
        "%s %s installs files inside orc's own package %s/ (%s%s): it replaces orc's built-in code; "
        "uninstall %s and reinstall %s",
        name,
        dist.version,
        package,
        found[0],
        f" and {len(found) - 1} more" if len(found) > 1 else "",
        name,
        owner,
    )
    return True


def home(package: str) -> Path:
    """Where orc's ``package`` must be: beside ``orchestrator_core``, which the same distribution installs (a
    wheel puts both in one site-packages; an editable install leaves both in the source tree)."""
    return Path(__file__).resolve().parent.parent / package


def warn_if_replaced(name: str, module: types.ModuleType, root: Path, owner: str) -> bool:
    """Warn when the built-in plugin ``name`` was imported from outside ``root``, orc's package (another copy
    earlier on ``sys.path`` shadows it), naming the distribution that installed that copy when one did.

    :returns: whether it was.
    """
    file = getattr(module, "__file__", None)
    if file is None:
        return False
    path = Path(file).resolve()
    if path.is_relative_to(root):
        return False
    top = module.__name__.split(".")[0]
    dists = [
        d
        for d in importlib.metadata.packages_distributions().get(top, ())
        if _canonical(d) != _canonical(owner)
    ]
    by = f" (installed by {', '.join(sorted(set(dists)))})" if dists else ""
    log.warning(
        "built-in plugin %s is loaded from %s%s, not from orc's package in %s: another copy replaced it; "
        "remove that copy or reinstall %s",
        name,
        path,
        by,
        root,
        owner,
    )
    return True
