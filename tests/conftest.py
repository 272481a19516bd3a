import pytest
from fixtures import clean_env
from wheels import orc_wheel  # noqa: F401  (a session fixture: orc's wheel, built once)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def cli_env(tmp_path, scripted_model):
    """The environment of an `orc` process whose agents talk to this test's scripted model; store in tmp_path."""
    return clean_env(
        tmp_path,
        **scripted_model.env(tmp_path / "claude-config"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
    )


@pytest.fixture
def home(tmp_path):
    """For `orc` processes: a fresh working directory and an environment with no credentials or autoloaded plugins."""
    cwd = tmp_path / "here"
    cwd.mkdir()
    return cwd, clean_env(tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1")
