"""The plugin manager factory: built-ins from a tuple, third parties from the ``orc`` entry-point group.

Every Orchestrator (and every CLI invocation) gets a fresh manager from :func:`make_plugin_manager`; there is no
module-global one. ``-p no:NAME`` blocks a plugin of either kind before it loads.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import logging
import os
import re
import time
import traceback
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError, UsageError

#: Built-in plugins, by module name, registered in this order under the same name.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "orc_roles",
    "orc_planners",
    "orc_executors",
    "orc_claude",
    "orc_conductor",
    "orc_governor",
    "orc_store",
    "orc_web",
    "orc_monitor",
    "orc_worktree",
    "orc_ray",
)
#: The package that holds the built-ins: named for orc's distribution, so no third party's ``orc-<thing>`` can
#: replace one by shipping a top-level package of the same name (#21).
BUILTIN_PACKAGE = "orc_agents"
#: Built-ins whose module is not ``BUILTIN_PACKAGE.<name>``.
BUILTIN_MODULES = {"orc_conductor": "orc_agents.orc_claude.conductor.plugin"}
ENTRYPOINT_GROUP = "orc"
#: orc's distribution on PyPI (`orc` there is another project): what plugins depend on.
DISTRIBUTION = "orc-agents"
log = logging.getLogger("orc.plugins")
#: An observer call longer than this is reported (once per plugin and hook): it holds up the whole run.
SLOW_OBSERVER_S = 0.1


class OrcPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers which distribution each third-party plugin came from."""

    def __init__(self) -> None:
        super().__init__("orc")
        self.add_hookspecs(hookspecs)
        #: plugin name -> (distribution name, version), for third-party plugins.
        self.distributions: dict[str, tuple[str, str]] = {}
        #: (plugin, hook) pairs whose failure was already logged: a raising ``orc_event`` must not flood stderr.
        self.reported: set[tuple[str, str]] = set()
        #: True with ORC_TRACE_PLUGINS: calls of single implementations go through pluggy so they are traced.
        self.tracing = False

    def describe(self, name: str) -> str:
        """``"name"`` or ``"name" (dist 1.2)``, for messages."""
        if name in self.distributions:
            dist, version = self.distributions[name]
            return f'"{name}" ({dist} {version})'
        return f'"{name}"'


def _disabled_names(options: Iterable[str]) -> list[str]:
    names = []
    for option in options:
        if not option.startswith("no:") or not option[3:]:
            # Bad usage, not a plugin's fault: exit 2 (#20).
            raise UsageError(
                f"-p takes no:NAME to disable a plugin, got {option!r}; `orc plugins --all` lists names"
            )
        names.append(option[3:])
    return names


def make_plugin_manager(
    plugin_options: Iterable[str] = (),
    *,
    plugins: Iterable[object] = (),
    environ: Mapping[str, str] | None = None,
) -> OrcPluginManager:
    """Build a plugin manager with the built-ins, the installed third-party plugins and ``plugins``.

    :param plugin_options: the values of ``-p``: ``no:NAME`` blocks the plugin NAME (built-in or third party).
    :param plugins: extra plugin objects or modules to register (tests, embedding applications).
    :param environ: where to read ``ORC_DISABLE_PLUGIN_AUTOLOAD``, ``ORC_LOAD_PLUGINS`` and ``ORC_TRACE_PLUGINS``.
    :raises PluginError: a plugin failed to import or implements a hook that does not exist.
    """
    environ = os.environ if environ is None else environ
    pm = OrcPluginManager()
    for name in _disabled_names(plugin_options):
        pm.set_blocked(name)
    for name in DEFAULT_PLUGINS:
        if pm.is_blocked(name):
            continue
        try:
            module = importlib.import_module(BUILTIN_MODULES.get(name, f"{BUILTIN_PACKAGE}.{name}"))
        except Exception as exc:
            raise PluginError(
                f'built-in plugin "{name}" failed to import: {type(exc).__name__}: {exc}; '
                f"reinstall orc, or disable it with -p no:{name}"
            ) from exc
        pm.register(module, name)
    entry_points = installed_entry_points()
    _check_disabled(pm, _disabled_names(plugin_options), entry_points)
    if not environ.get("ORC_DISABLE_PLUGIN_AUTOLOAD"):
        allow = [n.strip() for n in environ.get("ORC_LOAD_PLUGINS", "").split(",") if n.strip()] or None
        _load_entrypoints(pm, entry_points, allow)
    for plugin in plugins:
        pm.register(plugin)
    # Historic: plugins registered from now on (tests, embedders) are called at registration too.
    pm.hook.orc_addhooks.call_historic(kwargs={"pm": pm})
    _check_hook_names(pm)
    if environ.get("ORC_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda line: os.write(2, line.encode()))
        pm.enable_tracing()
        pm.tracing = True
    return pm


def _check_hook_names(pm: OrcPluginManager) -> None:
    """An implementation of a hook that does not exist is an error naming the plugin and the hook it meant; an
    ``orc_*`` function without ``@hookimpl`` in a plugin module is a warning (pluggy would ignore it silently)."""
    specs = [name for name, caller in vars(pm.hook).items() if getattr(caller, "spec", None) is not None]
    for name, caller in vars(pm.hook).items():
        if getattr(caller, "spec", True) is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:  # pluggy's meaning: a hook of a plugin that may be absent (-p no:...)
                continue
            close = difflib.get_close_matches(name, specs, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise PluginError(
                f"plugin {pm.describe(impl.plugin_name)} implements an unknown hook `{name}`; {hint}"
                f"fix its name, or disable the plugin with -p no:{impl.plugin_name}"
            )
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin_name not in pm.distributions:
            continue
        for attribute in dir(plugin):
            value = getattr(plugin, attribute, None)
            if attribute.startswith("orc_") and callable(value) and not hasattr(value, "orc_impl"):
                log.warning(
                    "plugin %s defines %s without @hookimpl, so orc never calls it; mark it "
                    "`@orchestrator_core.hookimpl`",
                    pm.describe(plugin_name),
                    attribute,
                )


def blame(pm: Any, exc: BaseException) -> PluginError | None:
    """If ``exc`` was raised in a third-party plugin's code, a :class:`PluginError` naming that plugin (the
    innermost plugin frame decides), else None (then it is orc's bug)."""
    if not isinstance(pm, OrcPluginManager) or exc.__traceback__ is None:
        return None
    roots: dict[str, str] = {}
    for name in pm.distributions:
        plugin = pm.get_plugin(name)
        origin = getattr(plugin, "__file__", None) or getattr(
            inspect.getmodule(type(plugin)), "__file__", None
        )
        if origin:
            path = Path(origin).resolve()
            roots[name] = str(path.parent if path.name == "__init__.py" else path)
    culprit = None
    for frame in traceback.extract_tb(exc.__traceback__):
        filename = str(Path(frame.filename).resolve())
        for name, root in roots.items():
            if filename == root or filename.startswith(root.rstrip(os.sep) + os.sep):
                culprit = name
    if culprit is None:
        return None
    error = PluginError(
        f"plugin {pm.describe(culprit)} failed: {type(exc).__name__}: {exc}; run again with ORC_DEBUG=1 for the "
        f"traceback, report it to the plugin's author, or disable it with -p no:{culprit}"
    )
    error.__cause__ = exc
    return error


def call_one(pm: pluggy.PluginManager, hook_name: str, impl: Any, kwargs: dict[str, Any]) -> Any:
    """Call one implementation of a hook (for provenance, or to keep one failure from stopping the others).

    When ``ORC_TRACE_PLUGINS`` is on, the call goes through pluggy (a subset caller) so the trace shows it.
    """
    if getattr(pm, "tracing", False):
        others = [
            pm.get_plugin(i.plugin_name) for i in getattr(pm.hook, hook_name).get_hookimpls() if i is not impl
        ]
        answers = pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
        return answers[0] if isinstance(answers, list) and answers else answers
    return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})


@attrs.frozen
class InstalledPlugin:
    """An ``orc`` entry point of an installed distribution."""

    name: str
    distribution: str
    version: str
    entry_point: importlib.metadata.EntryPoint

    @property
    def module(self) -> str:
        return self.entry_point.value.split(":")[0]

    def spellings(self) -> set[str]:
        """The names ``ORC_LOAD_PLUGINS`` accepts for it: entry point, distribution or module, however spelt."""
        return {
            _canonical(self.name),
            _canonical(self.distribution),
            _canonical(self.module),
            _canonical(self.module.split(".")[0]),
        }


def _canonical(name: str) -> str:
    """``orc_audit``, ``orc-audit`` and ``Orc.Audit`` are one name (PEP 503 normalisation)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_entry_points() -> list[InstalledPlugin]:
    """Every installed ``orc`` entry point, once each.

    :raises PluginError: an entry point takes a built-in plugin's name (reserved), or two distributions use one
        name (only one could load): each names both parties.
    """
    found: dict[str, InstalledPlugin] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRYPOINT_GROUP:
                continue
            # Only now: reading a distribution's METADATA costs more than its entry points (start-up time).
            dist_name = dist.metadata["name"]
            plugin = InstalledPlugin(ep.name, dist_name, dist.version, ep)
            if ep.name in DEFAULT_PLUGINS:
                raise PluginError(
                    f'{dist_name} {dist.version} installs a plugin named "{ep.name}", the name of a built-in '
                    f"plugin (reserved: {', '.join(DEFAULT_PLUGINS)}); uninstall {dist_name} or ask its author to "
                    "rename the entry point"
                )
            other = found.get(ep.name)
            if other is not None and _canonical(other.distribution) != _canonical(dist_name):
                raise PluginError(
                    f'two distributions install a plugin named "{ep.name}": {other.distribution} {other.version} '
                    f"and {dist_name} {dist.version}; only one can load: uninstall one of them"
                )
            found.setdefault(ep.name, plugin)
    return list(found.values())


def _check_disabled(pm: OrcPluginManager, names: list[str], installed: list[InstalledPlugin]) -> None:
    """``-p no:NAME`` must name a plugin that exists: a typo would leave the plugin on, silently."""
    known = [*DEFAULT_PLUGINS, *(p.name for p in installed)]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean -p no:{close[0]}? " if close else ""
            raise PluginError(
                f"-p no:{name}: no plugin is named {name!r}; {hint}`orc plugins --all` lists them"
            )


def _load_entrypoints(
    pm: OrcPluginManager, installed: list[InstalledPlugin], allow: list[str] | None
) -> None:
    wanted = {_canonical(a): a for a in allow or ()}
    matched: set[str] = set()
    for plugin in installed:
        if pm.get_plugin(plugin.name) or pm.is_blocked(plugin.name):
            continue
        if allow is not None:
            hits = plugin.spellings() & wanted.keys()
            if not hits:
                continue
            matched |= hits
        pm.distributions[plugin.name] = (plugin.distribution, plugin.version)
        try:
            module = plugin.entry_point.load()
            pm.register(module, name=plugin.name)
        except Exception as exc:
            raise PluginError(
                f"plugin {pm.describe(plugin.name)} failed to load: {type(exc).__name__}: {exc}; "
                f"disable it with -p no:{plugin.name} or uninstall {plugin.distribution}"
            ) from exc
    missing = [
        wanted[w] for w in wanted if w not in matched and not any(w in p.spellings() for p in installed)
    ]
    if missing:
        names = ", ".join(f"{p.name} ({p.distribution})" for p in installed) or "none"
        raise PluginError(
            f"ORC_LOAD_PLUGINS names {', '.join(missing)}, which no installed plugin is called; installed: {names}"
        )


def collect(
    pm: OrcPluginManager,
    hook_name: str,
    key: Callable[[Any], str],
    check: Callable[[Any], str | None] = lambda item: None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Call a ``register`` hook one implementation at a time, so each item knows which plugin registered it.

    The register callback gets the items; ``key`` names an item; ``check`` says what is wrong with one (or None).
    The result maps names to ``(item, plugin)``. A name registered twice, or an item ``check`` refuses, is a
    :class:`PluginError` naming the plugin (both, for a duplicate).
    """
    found: dict[str, Any] = {}
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin_name = impl.plugin_name

        def register(*item: Any, _plugin: str = plugin_name) -> None:
            value = item[0] if len(item) == 1 else item
            try:
                problem = check(value)
            except Exception as exc:  # not the record the hook takes at all
                problem = f"{hook_name} takes its documented record, got {value!r} ({type(exc).__name__})"
            if problem:
                raise PluginError(
                    f"plugin {pm.describe(_plugin)} registered something unusable: {problem}; "
                    f"fix it or disable the plugin with -p no:{_plugin}"
                )
            name = key(value)
            if name in found:
                raise PluginError(
                    f"{hook_name.removeprefix('orc_register_')[:-1]} {name!r} is registered by both "
                    f"{pm.describe(found[name][1])} and {pm.describe(_plugin)}; disable one with -p no:NAME"
                )
            found[name] = (value, _plugin)

        call_one(pm, hook_name, impl, {**kwargs, "register": register})
    return found


def is_builtin(plugin: object) -> bool:
    """True for orc's own plugins and the helper objects they (or the core) register: their code is in one of
    orc's packages. A built-in's slowness is orc's to fix, not a plugin author's to be told about."""
    module = plugin.__name__ if isinstance(plugin, types.ModuleType) else type(plugin).__module__
    top = module.split(".")[0]
    return top == "orchestrator_core" or top in {
        BUILTIN_MODULES.get(n, n).split(".")[0] for n in DEFAULT_PLUGINS
    }


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[str]:
    """Call an observer hook one implementation at a time; an exception is logged, never raised.

    Observers must not break a run (DESIGN.md, "Hook families"). The first failure of each plugin in each hook is
    logged as a warning naming the plugin, its distribution and how to disable it; repeats are logged at debug
    level. Returns one line per failed implementation.
    """
    failures = []
    reported: set[tuple[str, str]] = getattr(pm, "reported", set())
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        began = time.perf_counter()
        try:
            outcome = call_one(pm, hook_name, impl, kwargs)
            took = time.perf_counter() - began
            if (
                took > SLOW_OBSERVER_S
                and (impl.plugin_name, f"slow {hook_name}") not in reported
                and not is_builtin(impl.plugin)
            ):
                reported.add((impl.plugin_name, f"slow {hook_name}"))
                who = (
                    pm.describe(impl.plugin_name)
                    if isinstance(pm, OrcPluginManager)
                    else f'"{impl.plugin_name}"'
                )
                log.warning(
                    "plugin %s took %.2f s in %s; observers run on the run's event loop and must return at once "
                    "(hand slow work to a thread); said once",
                    who,
                    took,
                    hook_name,
                )
            if getattr(pm, "tracing", False):
                os.write(2, f"  {hook_name}: {impl.plugin_name} took {took * 1000:.1f} ms\n".encode())
            if hasattr(outcome, "close") and hasattr(outcome, "send"):
                outcome.close()
                raise TypeError(f"{hook_name} must be a plain function, not async def")
        except Exception as exc:
            name = impl.plugin_name
            who = pm.describe(name) if isinstance(pm, OrcPluginManager) else f'"{name}"'
            line = (
                f"plugin {who} failed in {hook_name}: {type(exc).__name__}: {exc}; the run goes on; "
                f"disable it with -p no:{name}"
            )
            log.log(logging.DEBUG if (name, hook_name) in reported else logging.WARNING, "%s", line)
            reported.add((name, hook_name))
            failures.append(line)
    return failures
