"""Settings: defaults, then the file ``orc init`` writes (``orc.toml``), then ``.env``, then the environment.

Each later source wins. Every setting has one name, the same in all three sources (``ORCHESTRATOR_DB_PATH`` in the
environment, in ``.env`` and as a key in ``orc.toml``). A bad value is a :class:`ConfigError` naming the setting and
the source it came from.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .errors import ConfigError
from .secrets import remember

CONFIG_FILE = "orc.toml"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be more than 0")
    return value


def _percentage(text: str) -> float:
    value = float(text)
    if not 0 < value <= 100:
        raise ValueError("must be a percentage above 0 and at most 100")
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _log_level(text: str) -> str:
    upper = text.strip().upper()
    if upper not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return upper


def choice(*allowed: str) -> Callable[[str], str]:
    """A ``parse`` for a setting that takes one of ``allowed`` words (any case), for the core's and plugins'."""

    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


STALL_ACTIONS = ("warn", "interrupt", "retry")
_stall_action = choice(*STALL_ACTIONS)


def _optional_str(text: str) -> str | None:
    return text.strip() or None


def _optional_path(text: str) -> Path | None:
    return Path(text) if text.strip() else None


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where runs are recorded unless ORCHESTRATOR_DB_PATH says otherwise: ``$XDG_DATA_HOME/orc/orchestrator.db``
    (``~/.local/share/orc/orchestrator.db``), out of every agent's working directory, so an agent that cleans up
    its directory (``rm -f *.db*``) cannot erase the record of the run (#17)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "orc" / "orchestrator.db"


@attrs.frozen
class Setting:
    """One setting: its name in every source, how its text is parsed, its default and what it does.

    The core's settings are attributes of :class:`Config` (``attribute``); a plugin's, declared through
    ``orc_addoption`` with ``attribute=None``, are read with :meth:`Config.get`.
    """

    name: str
    attribute: str | None
    parse: Callable[[str], Any]
    default: Any
    help: str
    #: False for a setting that lowers a trust boundary: a repository's own orc.toml or .env must not set it
    #: (#16), so it is read from the environment (or a command-line option) only.
    from_files: bool = True
    #: Its value is a secret: redacted wherever orc prints or stores it.
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DEFAULT_MODEL",
        "default_model",
        _optional_str,
        None,
        "Model for agents whose role names none; empty means the Claude CLI's default.",
    ),
    Setting(
        "ORCHESTRATOR_DB_PATH",
        "db_path",
        _optional_path,
        None,
        "The SQLite file every run is recorded in; empty: $XDG_DATA_HOME/orc/orchestrator.db "
        "(~/.local/share/orc/orchestrator.db), out of the agents' reach.",
    ),
    Setting(
        "ORC_STORE_LOCK_TIMEOUT",
        "store_lock_timeout",
        _positive_float,
        300.0,
        "Seconds a store write waits while another program holds the store's lock, before the run stops.",
    ),
    Setting(
        "ORC_RUNTIME",
        "runtime",
        lambda text: text.strip() or "local",
        "local",
        "Where agents run: local (this machine), or the name a runtime plugin answers to (ray).",
    ),
    Setting(
        "ORC_SCRIPTED",
        "scripted",
        _boolean,
        False,
        "Agents talk to orc's built-in scripted model (a local server on 127.0.0.1): no credentials, no cost. "
        "The Python API's Orchestrator(scripted=True); the commands' --scripted.",
    ),
    Setting(
        "ORCHESTRATOR_LOG_LEVEL",
        "log_level",
        _log_level,
        "WARNING",
        "Log level for orc's own log lines on stderr.",
    ),
    Setting(
        "ORCHESTRATOR_MAX_PARALLEL_AGENTS",
        "max_parallel_agents",
        _positive_int,
        5,
        "At most this many agents work at once.",
    ),
    Setting(
        "ORCHESTRATOR_MAX_RESULT_CHARS",
        "max_result_chars",
        _positive_int,
        4000,
        "At most this many characters of upstream results reach a downstream agent.",
    ),
    Setting(
        "MONITOR_INTERVAL_SECONDS",
        "monitor_interval_seconds",
        _positive_float,
        15.0,
        "Seconds between status checks while a task runs.",
    ),
    Setting(
        "ORC_STALL_SECONDS",
        "stall_seconds",
        _positive_float,
        120.0,
        "An agent with no event for this long is flagged as stalled.",
    ),
    Setting(
        "ORC_STALL_ACTION",
        "stall_action",
        _stall_action,
        "retry",
        "What to do with an agent stalled for ORC_STALL_INTERVALS stall periods: warn (flag only), interrupt "
        "(stop its turn; the subtask fails) or retry (stop its turn and run the subtask again once).",
    ),
    Setting(
        "ORC_STALL_INTERVALS",
        "stall_intervals",
        _positive_int,
        2,
        "How many ORC_STALL_SECONDS of silence before ORC_STALL_ACTION acts (the first one only warns).",
    ),
    Setting(
        "ORC_LOOP_REPEATS",
        "loop_repeats",
        _positive_int,
        3,
        "An agent making the same tool call with the same input this many times is flagged as looping.",
    ),
    Setting(
        "ORC_CONTEXT_THRESHOLD",
        "context_threshold",
        _percentage,
        80.0,
        "Context use (percent of the window) past which an agent is flagged and handed over to a fresh one.",
    ),
    Setting("ENABLE_COST_TRACKING", "enable_cost_tracking", _boolean, True, "Record cost and token usage."),
    Setting(
        "ENABLE_OBSERVABILITY",
        "enable_observability",
        _boolean,
        True,
        "Record every agent event (messages, tool calls, file accesses).",
    ),
    Setting(
        "ORC_TRUST_PROJECT_SETTINGS",
        "trust_project_settings",
        _boolean,
        False,
        "Let agents obey the working directory's .claude/settings.json, .mcp.json and CLAUDE.md (hooks and MCP "
        "servers there run as you). Only for repositories you trust like your own code. Environment only: a "
        "repository's orc.toml or .env may not set it.",
        from_files=False,
    ),
    Setting(
        "ORC_BASH_SANDBOX",
        "bash_sandbox",
        _boolean,
        True,
        "Run agents' Bash commands in Claude Code's OS sandbox (bubblewrap on Linux): writes only inside the "
        "agent's directories, no network. Environment only: a repository's orc.toml or .env may not set it.",
        from_files=False,
    ),
)


@attrs.frozen
class Config:
    """Everything a run is configured with. Build one with :func:`load_config`, change one with ``attrs.evolve``."""

    default_model: str | None = None
    db_path: Path = attrs.field(factory=default_db_path, converter=Path)
    log_level: str = "WARNING"
    max_parallel_agents: int = 5
    max_result_chars: int = 4000
    monitor_interval_seconds: float = 15.0
    stall_seconds: float = 120.0
    #: What the default stall policy does once an agent is silent for ``stall_intervals`` x ``stall_seconds``.
    stall_action: str = "retry"
    stall_intervals: int = 2
    loop_repeats: int = 3
    context_threshold: float = 80.0
    enable_cost_tracking: bool = True
    enable_observability: bool = True
    store_lock_timeout: float = 300.0
    #: Run-wide limits (None: no limit): total cost, agents created, wall-clock seconds.
    max_cost_usd: float | None = None
    max_agents: int | None = None
    timeout_seconds: float | None = None
    #: Stop the whole run at the first failed subtask.
    fail_fast: bool = False
    #: How many times the default retry policy runs a subtask again after a transient failure.
    retries: int = 0
    #: Where agents run: ``local`` (this machine) or the name a runtime plugin answers to (``--runtime``).
    runtime: str = "local"
    #: Directories outside their working directory that agents' file tools may use (``--add-dir``).
    add_dirs: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    #: Extra environment for every agent's Claude CLI (the scripted model sets ANTHROPIC_BASE_URL and friends).
    runtime_env: Mapping[str, str] = attrs.field(factory=dict)
    #: True when agents talk to orc's scripted model instead of Anthropic.
    scripted: bool = False
    #: Keep agents (sessions and transcripts) when a task ends.
    keep_agents: bool = False
    #: Who starts the tasks, recorded with each (None: the command line or the Python API); an embedder such as
    #: ``orc mcp`` names its client, e.g. ``"mcp: claude-code 2.1.0"``.
    client: str | None = None
    #: The command only shows a plan (``orc plan``): a planner plugin spends nothing unless a planner that spends
    #: was asked for by name.
    plan_only: bool = False
    #: How progress is shown: "off" (library default), "plain" (a line per agent start, tool call and end) or
    #: "live" (a live table on a terminal).
    progress: str = "off"
    #: Show the agents' text as it streams, too.
    verbose: bool = False
    #: Obey the working directory's Claude settings, MCP servers and CLAUDE.md (#16: off, the repo is data).
    trust_project_settings: bool = False
    #: Run Bash in Claude Code's OS sandbox (#16).
    bash_sandbox: bool = True
    #: The settings plugins declare (``orc_addoption``), by name; read them with :meth:`get`.
    plugin_settings: Mapping[str, Any] = attrs.field(factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        """A plugin-declared setting's value: from the command line, the environment, ``.env`` or ``orc.toml``,
        else its declared default (``default`` when nothing declared it)."""
        return self.plugin_settings.get(name, default)


def _read_toml(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc}); fix it or delete it and run `orc init`"
        ) from None
    return {
        str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in data.items()
    }


def _read_dotenv(path: Path) -> dict[str, str]:
    from dotenv.parser import parse_stream

    values = {}
    try:
        with path.open(encoding="utf-8") as fh:
            bindings = list(parse_stream(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as text ({exc}); fix or remove it") from None
    for binding in bindings:
        if binding.error:
            line = binding.original.string.strip()[:40]
            raise ConfigError(
                f"{path} line {binding.original.line} is not NAME=value ({line!r}); fix or remove that line"
            )
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


def load_config(
    directory: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    declared: Iterable[Setting] | None = None,
    given: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Config:
    """Read the settings that apply in ``directory`` (default: the current directory).

    :param environ: the environment to read (default ``os.environ``).
    :param declared: the settings plugins declare (``orc_addoption``), read from the same sources. Given (even
        empty), an ``orc.toml`` key that names no setting is warned about; None (the plugins are not known here)
        checks nothing.
    :param given: plugin settings' values from their command-line options, by setting name; they win.
    :param overrides: Config attributes that win over every source (the CLI's options).
    :raises ConfigError: a setting has a bad value, or ``orc.toml`` is not valid TOML.
    """
    check_keys = declared is not None
    declared = tuple(declared or ())
    base = Path(directory or ".")
    environ = os.environ if environ is None else environ
    sources: list[tuple[str, Mapping[str, str]]] = []
    unknown: list[str] = []
    if (base / CONFIG_FILE).is_file():
        sources.append((str(base / CONFIG_FILE), _read_toml(base / CONFIG_FILE)))
        unknown = unknown_settings(sources[-1][1], [d.name for d in declared]) if check_keys else []
    if (base / ".env").is_file():
        sources.append((str(base / ".env"), _read_dotenv(base / ".env")))
    sources.append(("the environment", environ))

    values: dict[str, Any] = {}
    plugin_settings = {d.name: d.default for d in declared}
    for setting in (*SETTINGS, *declared):
        for origin, source in sources:
            if setting.name not in source:
                continue
            raw = source[setting.name]
            if not setting.from_files and origin != "the environment":
                raise ConfigError(
                    f"{setting.name} in {origin} is refused: a repository could set it; remove it there and set it "
                    "in the environment or with its command-line option"
                )
            if setting.attribute is None:
                plugin_settings[setting.name] = _parse(setting, raw, origin)
            else:
                values[setting.attribute] = _parse(setting, raw, origin)
    values.update({k: v for k, v in overrides.items() if v is not None})
    plugin_settings.update({k: v for k, v in (given or {}).items() if v is not None})
    values["plugin_settings"] = plugin_settings
    if values.get("db_path") is None:
        values["db_path"] = default_db_path(environ)
    config = Config(**values)
    logging.getLogger("orc").setLevel(config.log_level)
    for name in unknown:
        _warn_once(f"{base / CONFIG_FILE}: unknown setting {name!r} (ignored); `orc init` lists the settings")
    return config


def _parse(setting: Setting, raw: str, origin: str) -> Any:
    """``raw`` (from ``origin``) as ``setting``'s value; a secret one is remembered for redaction.

    :raises ConfigError: the one line naming the setting, its value and where it came from.
    """
    if setting.secret:
        remember(setting.name, raw)
    try:
        return setting.parse(raw)
    except ValueError as exc:
        reason = str(exc) if "must" in str(exc) else "is not valid"
        raise ConfigError(f"{setting.name}={raw!r} (from {origin}) {reason}; fix or unset it") from None


def unknown_settings(keys: Iterable[str], known: Iterable[str] = ()) -> list[str]:
    """The keys of a settings file that name no setting: orc's own, or ``known`` (names plugins declare).

    The one place that decides what a settings file may name (#20); ``.env`` files are not checked, since they
    usually hold other programs' variables too.
    """
    names = {s.name for s in SETTINGS} | set(known)
    return [key for key in keys if key not in names]


_warned: set[str] = set()


def _warn_once(line: str) -> None:
    """Log ``line`` as a warning once a process (settings are read more than once in a command)."""
    if line not in _warned:
        _warned.add(line)
        logging.getLogger("orc").warning("%s", line)


def with_declared(
    config: Config, declared: Iterable[Setting], environ: Mapping[str, str] | None = None
) -> Config:
    """``config`` (built by hand) with the plugin settings it does not have yet: from the environment, else
    their defaults.

    :raises ConfigError: a value in the environment is bad.
    """
    environ = os.environ if environ is None else environ
    missing = [d for d in declared if d.name not in config.plugin_settings]
    if not missing:
        return config
    values = {
        s.name: _parse(s, environ[s.name], "the environment") if s.name in environ else s.default
        for s in missing
    }
    return attrs.evolve(config, plugin_settings={**values, **config.plugin_settings})


def render_config_file(declared: Iterable[Setting] = ()) -> str:
    """The text ``orc init`` writes: every setting (the core's, then the plugins') with its default and help."""
    lines = [
        "# orc settings. Values in .env and in the environment win over this file.",
        "# Every key is also an environment variable of the same name.",
        "",
    ]
    for setting in (*SETTINGS, *declared):
        default = setting.default
        if default is None:
            rendered = '""'
        elif isinstance(default, bool):
            rendered = str(default).lower()
        elif isinstance(default, int | float):
            rendered = str(default)
        else:
            rendered = f'"{default}"'
        entry = f"{setting.name} = {rendered}" if setting.from_files else f"# {setting.name} = {rendered}"
        lines += [f"# {setting.help}", entry, ""]
    return "\n".join(lines)
