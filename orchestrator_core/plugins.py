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
import traceback
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pluggy

from . import hookcalls, hookspecs
from .errors import PluginError, UsageError
from .provenance import owner, owner_of, root_of
from .reserved import home, warn_if_intruding, warn_if_replaced

#: Built-in plugins, by module name, registered in this order under the same name.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "orc_roles",
    "orc_planners",
    "orc_approval",
    "orc_executors",
    "orc_scripted",
    "orc_claude",
    "orc_conductor",
    "orc_governor",
    "orc_store",
    "orc_fleet",
    "orc_web",
    "orc_monitor",
    "orc_worktree",
    "orc_ray",
    "orc_mcp",
    "orc_otel",
    "orc_template",
)
#: Core modules that are plugins too (pytest's "main", "runner"): always registered, never disableable.
CORE_PLUGINS: tuple[str, ...] = ("orchestrator_core.planners",)
#: The package that holds the built-ins: named for orc's distribution, so no third party's ``orc-<thing>`` can
#: replace one by shipping a top-level package of the same name (#21).
BUILTIN_PACKAGE = "orc_agents"
#: Built-ins whose module is not ``BUILTIN_PACKAGE.<name>``.
BUILTIN_MODULES = {"orc_conductor": "orc_agents.orc_claude.conductor.plugin"}
ENTRYPOINT_GROUP = "orc"
#: orc's distribution on PyPI (`orc` there is another project): what plugins depend on.
DISTRIBUTION = "orc-agents"
log = logging.getLogger("orc.plugins")


class OrcPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers which distribution each third-party plugin came from, and calls each
    implementation of orc's hooks under orc's rules (:mod:`~orchestrator_core.hookcalls`: provenance, isolated
    observers)."""

    def __init__(self) -> None:
        super().__init__("orc")
        self.add_hookspecs(hookspecs)
        #: plugin name -> (distribution name, version), for third-party plugins.
        self.distributions: dict[str, tuple[str, str]] = {}
        #: (plugin, hook) pairs whose failure was already logged: a raising ``orc_event`` must not flood stderr.
        self.reported: set[tuple[str, str]] = set()
        #: helper name -> the plugin that registered it (:mod:`orchestrator_core.provenance`).
        self.helpers: dict[str, str] = {}
        #: plugin name -> where its code is, for the built-in and installed plugins.
        self._roots: dict[str, str] = {}

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` (pluggy's ``register``): its implementations of orc's own hooks are guarded, and a
        helper object a plugin registers is recorded as that plugin's (#21)."""
        registered = super().register(plugin, name)
        if registered is not None:
            for caller in self.get_hookcallers(plugin) or ():
                if caller.spec is None or caller.spec.namespace is not hookspecs or caller.is_historic():
                    continue
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        hookcalls.guard(self, caller.name, impl)
            loaded = (
                registered in DEFAULT_PLUGINS
                or registered in CORE_PLUGINS
                or registered in self.distributions
            )
            helper_of = None if loaded else owner_of(self._roots, self._hook_code(), plugin)
            if helper_of is not None and helper_of != registered:
                self.helpers[registered] = helper_of
            elif loaded and (root := root_of(plugin)) is not None:
                self._roots[registered] = root
        return registered

    def is_builtin(self, plugin: object) -> bool:
        """True for orc's own plugins and their helpers (see :func:`is_builtin`)."""
        return is_builtin(plugin)

    def _hook_code(self) -> dict[Any, str]:
        """The code object of every registered hook implementation -> its plugin's name."""
        return {
            getattr(impl.function, "__wrapped__", impl.function).__code__: impl.plugin_name
            for caller in vars(self.hook).values()
            if isinstance(caller, pluggy.HookCaller)
            for impl in caller.get_hookimpls()
            if hasattr(getattr(impl.function, "__wrapped__", impl.function), "__code__")
        }

    def describe(self, name: str) -> str:
        """``"name"`` or ``"name" (dist 1.2)``, for messages; a helper as its plugin, saying which helper."""
        if name in self.helpers:
            plugin = owner(self, name)
            found = self.distributions.get(plugin)
            source = f"{found[0]} {found[1]}, " if found else ""
            return f'"{plugin}" ({source}its helper "{name}")'
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
    for name in CORE_PLUGINS:
        pm.register(importlib.import_module(name), name)
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
        warn_if_replaced(name, module, home(BUILTIN_PACKAGE), DISTRIBUTION)
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
                f"fix its name, or disable the plugin with -p no:{owner(pm, impl.plugin_name)}"
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
    """Every installed ``orc`` entry point, once each; a distribution with one that installs files inside orc's
    own package is a warning (:mod:`orchestrator_core.reserved`).

    :raises PluginError: an entry point takes a built-in plugin's name (reserved), or two distributions use one
        name (only one could load): each names both parties.
    """
    found: dict[str, InstalledPlugin] = {}
    checked: set[str] = set()
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
            if dist_name not in checked:
                checked.add(dist_name)
                warn_if_intruding(dist, dist_name, BUILTIN_PACKAGE, DISTRIBUTION)
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
    """Call a ``register`` hook (through pluggy) and note which plugin registered each item.

    The register callback gets the items; ``key`` names an item; ``check`` says what is wrong with one (or None).
    The result maps names to ``(item, plugin)``. A name registered twice, or an item ``check`` refuses, is a
    :class:`PluginError` naming the plugin (both, for a duplicate).
    """
    found: dict[str, Any] = {}

    def register(*item: Any) -> None:
        plugin = hookcalls.running_plugin() or "?"
        value = item[0] if len(item) == 1 else item
        try:
            problem = check(value)
        except Exception as exc:  # not the record the hook takes at all
            problem = f"{hook_name} takes its documented record, got {value!r} ({type(exc).__name__})"
        if problem:
            raise PluginError(
                f"plugin {pm.describe(plugin)} registered something unusable: {problem}; "
                f"fix it or disable the plugin with -p no:{owner(pm, plugin)}"
            )
        name = key(value)
        if name in found:
            first, second = sorted((found[name][1], plugin), key=registered)
            raise PluginError(
                f"{hook_name.removeprefix('orc_register_')[:-1]} {name!r} is registered by both "
                f"{pm.describe(first)} and {pm.describe(second)}; disable one with -p no:NAME"
            )
        found[name] = (value, plugin)

    # pluggy calls the plugins registered last first; items and messages follow the registration order.
    order = {name: index for index, (name, _) in enumerate(pm.list_name_plugin())}

    def registered(plugin: str) -> int:
        return order.get(plugin, len(order))

    getattr(pm.hook, hook_name)(**kwargs, register=register)
    return dict(sorted(found.items(), key=lambda item: registered(item[1][1])))


def is_builtin(plugin: object) -> bool:
    """True for orc's own plugins and the helper objects they (or the core) register: their code is in one of
    orc's packages. A built-in's slowness is orc's to fix, not a plugin author's to be told about."""
    module = plugin.__name__ if isinstance(plugin, types.ModuleType) else type(plugin).__module__
    return module.split(".")[0] in ("orchestrator_core", BUILTIN_PACKAGE)


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[str]:
    """Call an observer hook (``pm.hook.NAME(**kwargs)``); returns one line per implementation that failed.

    Observers must not break a run (DESIGN.md, "Hook families"): on an :class:`OrcPluginManager` each observer
    implementation is isolated (:mod:`~orchestrator_core.hookcalls`), its first failure in each hook logged as a
    warning naming the plugin, its distribution and how to disable it, repeats at debug level.
    """
    failures, token = hookcalls.collecting_failures()
    try:
        getattr(pm.hook, hook_name)(**kwargs)
    finally:
        hookcalls.stop_collecting(token)
    return failures
