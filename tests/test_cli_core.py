"""The command line's own seams (#18, #20): bad values are usage errors, each invocation its own commands, no import
cycle in the core, and a scripted task or agent remembered as scripted. Driven through the real `orc` process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def orc(home, *args, extra_env=None, timeout=120):
    cwd, env = home
    return subprocess.run(
        [str(BIN / "orc"), *args],
        cwd=cwd,
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("option", ["--runtime", "--executor"])
def test_an_unknown_runtime_is_exit_2_listing_the_registered_ones(home, option):
    out = orc(home, "execute", "--scripted", option, "bogus", "Add CSV export", "--cwd", ".")
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines()[-1] == (
        "Error: unknown runtime 'bogus' (--runtime or ORC_RUNTIME); choose one of: local, ray "
        "(`orc plugins --all` lists the loaded plugins)"
    )
    assert "template" not in out.stderr and "Ray" not in out.stderr


def test_an_unknown_runtime_in_the_environment_is_exit_2_too(home):
    out = orc(home, "execute", "--scripted", "x", extra_env={"ORC_RUNTIME": "bogus"})
    assert out.returncode == 2 and "unknown runtime 'bogus'" in out.stderr


# -- each invocation its own plugins and commands (#18) -------------------------------------------------------------


def commands_of(result) -> set[str]:
    listed = result.stdout.split("Commands:\n", 1)[1]
    return {line.split()[0] for line in listed.splitlines() if line.startswith("  ") and line.split()}


def test_two_in_process_invocations_with_different_plugins_see_different_commands(orc_cli):
    from orchestrator_core.cli import cli

    everything = commands_of(orc_cli("--help"))
    assert {"agents", "nodes", "chat", "status"} <= everything
    fewer = commands_of(orc_cli("-p", "no:orc_fleet", "-p", "no:orc_ray", "--help"))
    assert everything - fewer == {"agents", "nodes"}
    assert commands_of(orc_cli("--help")) == everything  # the second call left nothing behind
    assert orc_cli("-p", "no:orc_fleet", "agents", "--help").exit_code == 2
    assert orc_cli("agents", "--help").exit_code == 0
    assert not {"agents", "nodes", "status", "chat"} & set(cli.commands)  # never added to the shared group


def test_p_after_help_and_before_a_command_s_help_both_count(orc_cli):
    assert "--ray-address" not in orc_cli("-p", "no:orc_ray", "execute", "--help").stdout
    assert "nodes" not in commands_of(orc_cli("--help", "-p", "no:orc_ray"))


def test_sys_argv_is_not_read(orc_cli, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["orc", "-p", "no:orc_ray"])
    assert "nodes" in commands_of(orc_cli("--help"))


# -- the scripted model is a plugin (#18) ---------------------------------------------------------------------------


def test_built_in_plugins_import_no_testing_code(home):
    probe = (
        "import sys; from orchestrator_core import make_plugin_manager; "
        "make_plugin_manager(environ={'ORC_DISABLE_PLUGIN_AUTOLOAD': '1'}); "
        "print(sorted(m for m in sys.modules if m.startswith('orchestrator_core.testing') or m.endswith('.scripted')))"
    )
    cwd, env = home
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.anyio
async def test_hook_orc_model_environment(orc_config, orc_pm):
    """What a plugin serves is in every agent's environment while the Orchestrator runs, and closed at its stop."""
    from orchestrator_core import Orchestrator, hookimpl

    closed = []

    class Endpoint:
        @hookimpl
        def orc_model_environment(self, config, pm, stack):
            stack.callback(closed.append, config.db_path)
            return {"ORC_TEST_ENDPOINT": "http://127.0.0.1:9"}

    orc_pm.register(Endpoint())
    orc = Orchestrator(orc_config, pm=orc_pm)
    async with orc:
        assert orc.config.runtime_env["ORC_TEST_ENDPOINT"] == "http://127.0.0.1:9"
        assert orc.agents.config.runtime_env["ORC_TEST_ENDPOINT"] == "http://127.0.0.1:9"
        assert closed == []
    assert closed == [orc_config.db_path] and "ORC_TEST_ENDPOINT" not in orc.config.runtime_env


# -- a task or agent made with --scripted is remembered so (#20) ----------------------------------------------------


def store_rows(home, sql):
    from fixtures import default_store, rows

    return rows(default_store(home[0].parent / "home"), sql)


def test_a_scripted_task_resumes_scripted_without_the_flag_or_credentials(home):
    (home[0] / "w").mkdir()
    first = orc(
        home,
        "execute",
        "--scripted",
        "--max-agents",
        "1",
        "--roles",
        "scout,builder",
        "-q",
        "x",
        "--cwd",
        "w",
    )
    assert first.returncode == 7, first.stderr
    (task,) = store_rows(home, "select id, settings from tasks")
    assert json.loads(task["settings"]) == {"ORC_SCRIPTED": True}
    again = orc(home, "resume", task["id"], "-q", "--max-agents", "3")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Success: 2/2"), again.stdout


def test_a_scripted_agent_is_talked_to_and_deleted_without_the_flag(home):
    made = orc(home, "agents", "create", "--scripted", "--role", "scout")
    assert made.returncode == 0, made.stderr
    agent = made.stdout.strip()
    assert json.loads(store_rows(home, "select settings from agents")[0]["settings"]) == {
        "ORC_SCRIPTED": True
    }
    sent = orc(home, "agents", "send", agent, "What is here?")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip(), "the scripted scout answered"
    deleted = orc(home, "agents", "delete", agent)
    assert deleted.returncode == 0, deleted.stderr
    assert store_rows(home, "select status from agents") == [{"status": "deleted"}]


def test_deleting_an_agent_needs_no_credentials(tmp_path, cli_env):
    """An agent made against a model endpoint (not --scripted) is deleted by a process with no credentials."""
    from fixtures import clean_env

    made = subprocess.run(
        [str(BIN / "orc"), "agents", "create", "--role", "scout"],
        cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    bare = clean_env(
        tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1", ORCHESTRATOR_DB_PATH=cli_env["ORCHESTRATOR_DB_PATH"]
    )
    assert not [k for k in bare if k.startswith("ANTHROPIC_")]
    deleted = orc((tmp_path, bare), "agents", "delete", made.stdout.strip())
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith("deleted ")
    sent = orc((tmp_path, bare), "agents", "send", made.stdout.strip(), "hello")
    assert (
        sent.returncode == 6 and "no Claude credentials" in sent.stderr
    )  # talking to a model still needs them


def test_hook_orc_remembered_settings(orc_store_db, orc_config, orc_pm):
    """The store answers from a task's or agent's row; older rows and unknown ids are None; a plugin may answer
    first."""
    from orchestrator_core import hookimpl

    orc_store_db["tasks"].insert(
        {"id": "task-1", "prompt": "x", "settings": json.dumps({"ORC_SCRIPTED": True})}
    )
    orc_store_db["tasks"].insert({"id": "task-old", "prompt": "x"})
    orc_store_db["agents"].insert(
        {"id": "scout-1", "role": "scout", "settings": json.dumps({"ORC_SCRIPTED": False})}
    )
    ask = orc_pm.hook.orc_remembered_settings
    assert ask(config=orc_config, task_id="task-1", agent_id=None) == {"ORC_SCRIPTED": True}
    assert ask(config=orc_config, task_id=None, agent_id="scout-1") == {"ORC_SCRIPTED": False}
    assert ask(config=orc_config, task_id="task-old", agent_id=None) is None
    assert ask(config=orc_config, task_id="task-nope", agent_id=None) is None

    class Elsewhere:
        @hookimpl(tryfirst=True)
        def orc_remembered_settings(self, config, task_id, agent_id):
            return {"ORC_SCRIPTED": True} if agent_id == "remote-1" else None

    orc_pm.register(Elsewhere())
    assert ask(config=orc_config, task_id=None, agent_id="remote-1") == {"ORC_SCRIPTED": True}
    assert ask(config=orc_config, task_id=None, agent_id="scout-1") == {"ORC_SCRIPTED": False}


def test_without_orc_scripted_there_is_no_scripted_option_and_runs_need_credentials(orc_cli):
    out = orc_cli("-p", "no:orc_scripted", "execute", "--scripted", "--roles", "scout", "x")
    assert out.exit_code == 2 and "No such option '--scripted'" in out.stderr
    assert "--scripted" not in orc_cli("-p", "no:orc_scripted", "agents", "create", "--help").stdout
    assert "--scripted" in orc_cli("agents", "create", "--help").stdout
    real = orc_cli("-p", "no:orc_scripted", "execute", "--roles", "scout", "x", env={"ORC_SCRIPTED": "1"})
    assert real.exit_code == 6 and "no Claude credentials" in real.stderr  # nothing serves ORC_SCRIPTED now
