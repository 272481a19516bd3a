"""What plugins add to orc's settings and command lines: the :class:`Parser` of ``orc_addoption`` (#18).

Like pytest's ``pytest_addoption(parser)``: a plugin declares its settings (read from ``orc.toml``, ``.env`` and
the environment, with the core's one-line errors, listed by ``orc init``) and the command-line options that set
them on orc's commands. An option exists only while its plugin is loaded (``-p no:orc_ray`` removes
``--ray-address``), and the value given on the command line wins over every other source. Plugins read their
settings with :meth:`Config.get <orchestrator_core.Config.get>`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import attrs
import click

from .config import SETTINGS, Setting
from .errors import PluginError
from .hookcalls import running_plugin


@attrs.frozen
class PluginOption:
    """A command-line option a plugin adds to one or more of orc's commands; it sets ``setting``."""

    commands: tuple[str, ...]
    setting: str
    decls: tuple[str, ...]
    attrs: dict[str, Any]
    plugin: str


class Parser:
    """Collects what plugins declare in ``orc_addoption``; the core reads it back."""

    def __init__(self) -> None:
        self.settings: dict[str, Setting] = {}
        self.options: list[PluginOption] = []
        self._owners: dict[str, str] = {}
        #: setting name -> the plugin that declared it (``orc plugins`` lists them).
        self.declared_by: dict[str, str] = {}

    @property
    def plugin(self) -> str:
        """The plugin whose ``orc_addoption`` is running: the one declaring."""
        return running_plugin() or "?"

    def add_setting(
        self,
        name: str,
        *,
        parse: Callable[[str], Any] = str,
        default: Any = None,
        help: str,
        secret: bool = False,
        from_files: bool = True,
        remember: bool = False,
    ) -> None:
        """Declare a setting: ``NAME`` in ``orc.toml``, ``.env`` and the environment.

        :param parse: turns the text into the value; a ``ValueError`` is the one-line error naming the setting
            and its source (say what is wrong in it: "must be one of ...").
        :param default: the value when no source sets it.
        :param help: one sentence for ``orc init`` and the option's help.
        :param secret: redact its value wherever orc writes or prints.
        :param from_files: False for a setting that lowers a trust boundary: a repository's ``orc.toml`` or
            ``.env`` may not set it, only the environment or the command line.
        :param remember: a task or agent keeps the value it was made with: ``orc resume``, ``orc agents send``
            and ``orc agents delete`` reuse it unless their command line gives another (how it reaches a model,
            for example).
        """
        if name in self._owners or any(s.name == name for s in SETTINGS):
            owner = self._owners.get(name, "orc's core")
            raise PluginError(
                f"plugin {self.plugin!r} declares the setting {name} that {owner} declares already; "
                "choose another name"
            )
        self._owners[name] = repr(self.plugin)
        self.declared_by[name] = self.plugin
        self.settings[name] = Setting(
            name, None, parse, default, help, from_files=from_files, secret=secret, remember=remember
        )

    def add_option(
        self, *decls: str, setting: str, commands: tuple[str, ...] = ("execute",), **attrs: Any
    ) -> None:
        """Add ``click.option(*decls, **attrs)`` to ``commands``; its value, when given, sets ``setting``.

        ``setting`` must be declared (by this plugin or another) with :meth:`add_setting`. The option's help
        defaults to the setting's. A flag (``is_flag=True``) sets the setting to its flag value only when given.
        """
        self.options.append(PluginOption(tuple(commands), setting, decls, dict(attrs), self.plugin))

    def check(self) -> None:
        """Every option sets a declared setting."""
        for option in self.options:
            if option.setting not in self.settings:
                raise PluginError(
                    f"plugin {option.plugin!r} adds the option {option.decls[0]} for the setting "
                    f"{option.setting}, which no plugin declares; declare it with parser.add_setting"
                )

    def click_options(self, command: str, store: Callable[[str, Any], None]) -> list[click.Option]:
        """The click options plugins add to ``command``; parsing one calls ``store(setting, value)``."""
        made = []
        for option in self.options:
            if command not in option.commands:
                continue
            setting = self.settings[option.setting]
            extra = dict(option.attrs)
            extra.setdefault("help", setting.help)
            flag = extra.get("is_flag", False)

            def callback(
                ctx: click.Context,
                param: click.Parameter,
                value: Any,
                _name: str = setting.name,
                _flag: bool = flag,
            ) -> Any:
                if value is not None and not (_flag and value is False):
                    store(_name, value)
                return value

            made.append(click.Option(list(option.decls), expose_value=False, callback=callback, **extra))
        return made


#: What each plugin manager's plugins declared (the declarations of one set of plugins do not change). Kept here,
#: not written onto the manager (#18).
_declared: weakref.WeakKeyDictionary[Any, Parser] = weakref.WeakKeyDictionary()


def collect_options(pm: Any) -> Parser:
    """Ask every plugin's ``orc_addoption`` (each declaration knows its plugin: :attr:`Parser.plugin`); asked once
    per plugin manager."""
    parser = _declared.get(pm)
    if parser is None:
        parser = Parser()
        pm.hook.orc_addoption(parser=parser)
        parser.check()
        _declared[pm] = parser
    return parser
