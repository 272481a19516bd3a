import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator_core import ConfigError, load_config
from orchestrator_core.config import SETTINGS, render_config_file, unknown_settings


def test_defaults(tmp_path):
    config = load_config(tmp_path, environ={"HOME": str(tmp_path)})
    assert config.db_path == tmp_path / ".local" / "share" / "orc" / "orchestrator.db"
    assert load_config(tmp_path, environ={"XDG_DATA_HOME": "/data"}).db_path == Path(
        "/data/orc/orchestrator.db"
    )
    assert config.max_parallel_agents == 5
    assert config.monitor_interval_seconds == 15.0
    assert config.enable_cost_tracking is True and config.enable_observability is True
    assert config.default_model is None


def test_environment_beats_dotenv_beats_init_file(tmp_path):
    (tmp_path / "orc.toml").write_text(
        'ORCHESTRATOR_MAX_PARALLEL_AGENTS = 2\nDEFAULT_MODEL = "from-toml"\nENABLE_COST_TRACKING = false\n'
        "MONITOR_INTERVAL_SECONDS = 3\n"
    )
    (tmp_path / ".env").write_text('ORCHESTRATOR_MAX_PARALLEL_AGENTS=3\nDEFAULT_MODEL="from-dotenv"\n')
    config = load_config(tmp_path, environ={"ORCHESTRATOR_MAX_PARALLEL_AGENTS": "4"})
    assert config.max_parallel_agents == 4
    assert config.default_model == "from-dotenv"
    assert config.enable_cost_tracking is False
    assert config.monitor_interval_seconds == 3.0


def test_overrides_win_and_none_is_ignored(tmp_path):
    config = load_config(tmp_path, environ={"DEFAULT_MODEL": "env"}, default_model=None, keep_agents=True)
    assert config.default_model == "env" and config.keep_agents is True


@pytest.mark.parametrize(
    "name, value, origin",
    [
        ("ORCHESTRATOR_MAX_PARALLEL_AGENTS", "lots", "the environment"),
        ("ORCHESTRATOR_MAX_PARALLEL_AGENTS", "0", "the environment"),
        ("MONITOR_INTERVAL_SECONDS", "-1", "the environment"),
        ("ENABLE_OBSERVABILITY", "maybe", "the environment"),
        ("ORCHESTRATOR_LOG_LEVEL", "LOUD", "the environment"),
    ],
)
def test_bad_values_name_the_setting(tmp_path, name, value, origin):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={name: value})
    assert name in info.value.message and origin in info.value.message and repr(value) in info.value.message


def test_bad_value_in_dotenv_names_the_file(tmp_path):
    (tmp_path / ".env").write_text("ENABLE_COST_TRACKING=perhaps\n")
    with pytest.raises(ConfigError, match=r"ENABLE_COST_TRACKING='perhaps' \(from .*\.env\)"):
        load_config(tmp_path, environ={})


def test_broken_toml_is_a_config_error(tmp_path):
    (tmp_path / "orc.toml").write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path, environ={})


def test_rendered_init_file_loads_back_to_the_defaults(tmp_path):
    (tmp_path / "orc.toml").write_text(render_config_file())
    from_file = load_config(tmp_path, environ={})
    assert from_file == load_config(tmp_path / "missing", environ={})
    for setting in SETTINGS:
        assert setting.name in render_config_file()


@pytest.mark.parametrize(
    "content, words",
    [
        ("GOOD=1\n\x00garbage here\n", "line 2 is not NAME=value"),
        (b"A=\xff\xfe\n", "cannot be read as text"),
    ],
)
def test_a_dotenv_with_garbage_names_the_line(tmp_path, content, words):
    target = tmp_path / ".env"
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError, match=words):
        load_config(tmp_path, environ={})


def test_dotenv_quoting_and_export_lines(tmp_path):
    (tmp_path / ".env").write_text(
        'export DEFAULT_MODEL="claude-x"  # a comment\nORCHESTRATOR_LOG_LEVEL=info\n'
    )
    config = load_config(tmp_path, environ={})
    assert config.default_model == "claude-x" and config.log_level == "INFO"


def test_an_unknown_key_in_orc_toml_is_warned_about_naming_the_key_and_file(home):
    """#20: a misspelt setting is not silently ignored; the known ones still apply, and `orc init`'s file is clean."""
    cwd, env = home
    (cwd / "orc.toml").write_text("ORCHESTRATOR_MAX_PARALEL_AGENTS = 2\nORC_LOOP_REPEATS = 4\n")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "orc"), "status"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "orc: WARNING: orc.toml: unknown setting 'ORCHESTRATOR_MAX_PARALEL_AGENTS' (ignored); `orc init` lists "
        "the settings"
    ]
    assert load_config(cwd, environ={}).loop_repeats == 4
    (cwd / "orc.toml").unlink()
    init = subprocess.run(
        [str(Path(sys.executable).parent / "orc"), "init"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert init.returncode == 0 and (cwd / "orc.toml").is_file()
    again = subprocess.run(
        [str(Path(sys.executable).parent / "orc"), "status"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and again.stderr == ""


def test_unknown_settings_takes_names_plugins_declare():
    assert unknown_settings(["DEFAULT_MODEL", "ORC_BASH_SANDBOX", "MY_PLUGIN_LEVEL", "FOO"]) == [
        "MY_PLUGIN_LEVEL",
        "FOO",
    ]
    assert unknown_settings(["MY_PLUGIN_LEVEL", "FOO"], known=["MY_PLUGIN_LEVEL"]) == ["FOO"]
