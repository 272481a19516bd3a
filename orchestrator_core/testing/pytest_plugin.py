"""orc's pytest plugin (entry point ``pytest11``): fixtures to test orc and orc plugins against the scripted model.

orc is imported inside the fixtures, not at module level, so coverage tools that start after plugins load still
measure it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def scripted_model() -> Iterator[Any]:
    """A started :class:`~orchestrator_core.testing.ScriptedModel`; add scripts, read ``.requests``."""
    from orchestrator_core.testing import ScriptedModel

    with ScriptedModel() as model:
        yield model


@pytest.fixture
def orc_workdir(tmp_path: Path) -> Path:
    """An empty working directory for the agents."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def orc_config(tmp_path: Path, scripted_model: Any) -> Any:
    """A Config whose agents talk to ``scripted_model``, with the store and the CLI's config dir in ``tmp_path``."""
    from orchestrator_core import Config

    return Config(
        db_path=tmp_path / "orchestrator.db",
        runtime_env=scripted_model.env(tmp_path / "claude-config"),
        plugin_settings={"ORC_SCRIPTED": True},
    )


@pytest.fixture
def orc_pm(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh plugin manager with only orc's built-in plugins (installed third-party plugins are not loaded)."""
    from orchestrator_core import make_plugin_manager

    return make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})


#: ``@pytest.mark.orc_plugins(plugin, ...)``: the ``orchestrator`` fixture's Orchestrator loads these too.
MARKER = "orc_plugins"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*plugins): plugin modules or objects the `orchestrator` fixture's Orchestrator loads (orc)",
    )


def _build(orc_config: Any, pm: Any, scripted_model: Any, plugin_scripts: bool) -> Any:
    from orchestrator_core import Orchestrator

    orc = Orchestrator(orc_config, pm=pm)
    # So `scripted_model.script(replies, role="security")` knows the role's agents by their prompt.
    scripted_model.add_roles(orc.roles.values())
    if plugin_scripts:
        pm.hook.orc_scripted_model(model=scripted_model)
    return orc


@pytest.fixture
def orchestrator(request: pytest.FixtureRequest, orc_config: Any, orc_pm: Any, scripted_model: Any) -> Any:
    """An :class:`~orchestrator_core.Orchestrator` on ``orc_config`` and ``orc_pm``, not yet started.

    ``@pytest.mark.orc_plugins(my_plugin, ...)`` on the test (or its module or class) registers those plugins
    first, so their roles, task types, modes and planners are there; ``scripted_model`` knows every role, so
    ``scripted_model.script(replies, role="security")`` answers that role's agents.
    """
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        for plugin in marker.args:
            orc_pm.register(plugin)
    orc_pm.check_pending()
    return _build(orc_config, orc_pm, scripted_model, plugin_scripts=False)


@pytest.fixture
def make_orchestrator(orc_config: Any, scripted_model: Any) -> Any:
    """Build Orchestrators with plugins: ``make_orchestrator(plugins=[my_plugin], plugin_scripts=False,
    config=None)``.

    Each call gets a fresh plugin manager with orc's built-ins and ``plugins`` (installed third-party plugins are
    not loaded), on ``orc_config`` unless ``config`` is given; the Orchestrator is not started (``async with
    make_orchestrator(plugins=[...]) as orc:``). ``scripted_model`` learns every role, for
    ``scripted_model.script(replies, role=NAME)``; ``plugin_scripts=True`` also gives it the scripts the plugins
    answer ``orc execute --scripted`` with (``orc_scripted_model``), after the test's own.
    """
    from orchestrator_core import make_plugin_manager

    def make(plugins: Any = (), *, plugin_scripts: bool = False, config: Any = None) -> Any:
        pm = make_plugin_manager(plugins=plugins, environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
        return _build(config or orc_config, pm, scripted_model, plugin_scripts)

    return make


# -- for plugin authors (#8) ------------------------------------------------------------------------------------------


@pytest.fixture
def orc_register(orc_pm: Any) -> Iterator[Any]:
    """Register a plugin object or module on ``orc_pm`` for this test only: ``orc_register(plugin, name=None)``.

    Returns the name it was registered under; everything registered is unregistered at teardown. Register before
    you build an Orchestrator on ``orc_pm``: roles, task types and executors are collected when it is built.
    """
    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> str:
        plugin_name = orc_pm.register(plugin, name)
        if plugin_name is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked on this plugin manager")
        registered.append(plugin)
        orc_pm.check_pending()
        return plugin_name

    yield register
    for plugin in reversed(registered):
        if orc_pm.is_registered(plugin):
            orc_pm.unregister(plugin)


@pytest.fixture
def orc_store_db(tmp_path: Path) -> Iterator[Any]:
    """A sqlite-utils ``Database`` in ``tmp_path`` (WAL), migrated with the run store's migrations; closed at teardown.

    The loaded store plugin creates the file through the store's public API (``orchestrator_core.storage``).
    Apply your plugin's own ``sqlite_utils.Migrations`` set to it to test them beside orc's tables.
    """
    # Imported here, not at module level: a module-level import would run before coverage tools start measuring.
    import anyio
    import sqlite_utils

    from orchestrator_core.storage import Database

    path = tmp_path / "orchestrator.db"

    async def create() -> None:
        async with Database(path):
            pass

    anyio.run(create)
    db = sqlite_utils.Database(path)
    db.enable_wal()
    yield db
    db.close()


@pytest.fixture
def orc_cli(tmp_path: Path) -> Any:
    """Run ``orc`` in-process: ``orc_cli("roles", "--json", env={...}, input=None)`` returns click's ``Result``.

    Each call runs in ``tmp_path / "cwd"`` with HOME in ``tmp_path / "home"`` (so the default store lands in its
    ``.local/share/orc``), no ``ANTHROPIC_*``, ``CLAUDE_*``, ``ORC_*``, ``ORCHESTRATOR_*`` or ``XDG_DATA_HOME``
    variables from your shell, and
    ``ORC_DISABLE_PLUGIN_AUTOLOAD=1`` (pass ``env={"ORC_DISABLE_PLUGIN_AUTOLOAD": None}`` to load installed
    plugins). ``result.output`` has stdout and stderr, ``result.stdout`` / ``result.stderr`` each alone, and
    ``result.exit_code`` the status.
    """
    import contextlib
    import os

    from click.testing import CliRunner

    from orchestrator_core.cli import cli

    cwd = tmp_path / "cwd"
    home = tmp_path / "home"
    cwd.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    prefixes = ("ANTHROPIC_", "CLAUDE_", "ORC_", "ORCHESTRATOR_")

    def invoke(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Any:
        isolated: dict[str, str | None] = {k: None for k in os.environ if k.startswith(prefixes)}
        isolated["XDG_DATA_HOME"] = None
        isolated.update(HOME=str(home), ORC_DISABLE_PLUGIN_AUTOLOAD="1")
        isolated.update(env or {})
        with contextlib.chdir(cwd):
            return CliRunner().invoke(cli, list(args), env=isolated, input=input, catch_exceptions=False)

    invoke.cwd = cwd  # type: ignore[attr-defined]
    return invoke


class HookCall:
    """One recorded hook call: ``name`` and the keyword arguments it was called with (also as attributes)."""

    def __init__(self, name: str, kwargs: dict[str, Any]) -> None:
        self.name = name
        self.kwargs = kwargs
        self.__dict__.update(kwargs)

    def __repr__(self) -> str:
        return f"<HookCall {self.name}({', '.join(self.kwargs)})>"


class HookRecorder:
    """Records every hook call made on one plugin manager, in order (pytest's ``HookRecorder``, for orc).

    Every hook call goes through pluggy (#18), so ``pm.add_hookcall_monitoring`` sees them all.
    """

    def __init__(self, pm: Any) -> None:
        self.pm = pm
        self.calls: list[HookCall] = []
        self._undo = pm.add_hookcall_monitoring(self._before, self._after)

    def _before(self, hook_name: str, impls: Any, kwargs: Any) -> None:
        self.calls.append(HookCall(hook_name, dict(kwargs)))

    def _after(self, outcome: Any, hook_name: str, impls: Any, kwargs: Any) -> None:
        pass

    def close(self) -> None:
        """Stop recording."""
        self._undo()

    @property
    def names(self) -> list[str]:
        """The names of the hooks called, in order."""
        return [c.name for c in self.calls]

    def getcalls(self, names: str) -> list[HookCall]:
        """The calls of the hooks named in ``names`` (one name, or several separated by spaces or commas)."""
        wanted = set(names.replace(",", " ").split())
        return [c for c in self.calls if c.name in wanted]

    def assert_called(self, name: str, times: int | None = None) -> list[HookCall]:
        """Fail unless ``name`` was called (exactly ``times`` times, if given); returns its calls."""
        __tracebackhide__ = True
        calls = self.getcalls(name)
        if times is None and not calls:
            raise AssertionError(f"{name} was never called; called: {sorted(set(self.names))}")
        if times is not None and len(calls) != times:
            raise AssertionError(f"{name} was called {len(calls)} time(s), expected {times}")
        return calls

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def orc_hooks(orc_pm: Any) -> Iterator[HookRecorder]:
    """A :class:`HookRecorder` on ``orc_pm``: every hook call made through it during the test, in order."""
    recorder = HookRecorder(orc_pm)
    yield recorder
    recorder.close()
