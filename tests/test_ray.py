"""orc_ray: the plugin's choices without a cluster, and the cluster suite (tests/ray_suite) in a loopback namespace."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator_core import Config, RuntimeUnavailable

ROOT = Path(__file__).resolve().parent.parent


def test_orc_ray_declines_unless_asked():
    import orc_agents.orc_ray

    assert orc_agents.orc_ray.orc_make_runtime(Config()) is None
    assert type(orc_agents.orc_ray.orc_make_runtime(Config(runtime="ray"))).__name__ == "RayRuntime"


def test_missing_ray_is_one_clear_line(monkeypatch):
    import orc_agents.orc_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    runtime = orc_agents.orc_ray.orc_make_runtime(Config(runtime="ray"))
    with pytest.raises(RuntimeUnavailable) as caught:
        runtime.check()
    assert 'pip install -e ".[ray]"' in str(caught.value) and "\n" not in str(caught.value)


def test_an_unreachable_cluster_is_one_clear_line():
    import socket

    import orc_agents.orc_ray

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    runtime = orc_agents.orc_ray.orc_make_runtime(
        Config(runtime="ray", plugin_settings={"ORC_RAY_ADDRESS": f"127.0.0.1:{port}"})
    )
    with pytest.raises(RuntimeUnavailable) as caught:
        runtime.check()
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in str(caught.value)
    assert "--ray-address" in str(caught.value) and "\n" not in str(caught.value)


def test_secrets_travel_by_name_only():
    from orc_agents.orc_ray.environment import split_env

    values, names = split_env(
        {
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
            "ANTHROPIC_API_KEY": "sk-secret",
            "CLAUDE_CODE_OAUTH_TOKEN": "t",
            "CLAUDE_CONFIG_DIR": "/c",
        },
        environ={"ORC_RAY_FORWARD_ENV": "AWS_PROFILE"},
    )
    assert values == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1", "CLAUDE_CONFIG_DIR": "/c"}
    assert names == ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "AWS_PROFILE"]


def test_orc_help_does_not_import_ray():
    code = (
        "import sys; from orchestrator_core.cli import main; sys.argv=['orc','--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nassert 'ray' not in sys.modules, 'ray imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "nodes" in done.stdout


def _unshare_allowed(*flags: str) -> bool:
    """True if ``unshare -n`` (with ``flags``: more namespaces) may run here (root or user namespaces)."""
    try:
        done = subprocess.run(["unshare", "-n", *flags, "true"], capture_output=True, timeout=10)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_ray_cluster_suite_in_a_loopback_only_namespace():
    pytest.importorskip("ray", reason='the ray extra is not installed: pip install -e ".[ray]"')
    if not _unshare_allowed():
        pytest.skip(
            "`unshare -n` is not permitted here (needs root or user namespaces): the Ray cluster tests "
            "must not listen on a real interface"
        )
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "ORC_RAY_SUITE": "1"}
    command = f"ip link set lo up && exec {sys.executable} -m pytest tests/ray_suite -q -p no:cacheprovider"
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    print(done.stdout[-20000:])
    print(done.stderr[-5000:], file=sys.stderr)
    assert done.returncode == 0, "the Ray cluster suite failed (output above)"
    assert " passed" in done.stdout and "failed" not in done.stdout.splitlines()[-1]


def test_without_orc_ray_there_is_no_nodes_command():
    orc = Path(sys.executable).parent / "orc"
    listed = subprocess.run([str(orc), "--help"], capture_output=True, text=True)
    disabled = subprocess.run([str(orc), "-p", "no:orc_ray", "--help"], capture_output=True, text=True)
    assert " nodes " in listed.stdout
    assert disabled.returncode == 0 and " nodes " not in disabled.stdout, disabled.stderr


@pytest.mark.parametrize("stale", ["session", "none"])
def test_orc_nodes_on_a_stale_local_session_fails_fast_in_one_line(tmp_path, stale):
    """`orc nodes` with the default address hung for minutes on a local Ray session that was gone (#20).

    A real leftover: the Ray temp dir of a session killed without `ray stop` (its session folder, and the address
    file `ray start` writes) names a GCS port nothing listens on. Inside network and PID namespaces of its own, so
    no other Ray on this machine (found by Ray's process scan for "auto") and no real interface takes part.
    """
    pytest.importorskip("ray", reason='the ray extra is not installed: pip install -e ".[ray]"')
    if not _unshare_allowed("-p", "-f", "--mount-proc"):
        pytest.skip("`unshare -n -p` is not permitted here (needs root or user namespaces)")
    ray_tmp = tmp_path / "raytmp"
    session = ray_tmp / "ray" / "session_2026-01-01_00-00-00_000000_1"
    (session / "logs").mkdir(parents=True)
    (ray_tmp / "ray" / "session_latest").symlink_to(session)
    if stale == "session":
        (ray_tmp / "ray" / "ray_current_cluster").write_text("127.0.0.1:6390")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RAY_", "ORC_", "ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_"))
    }
    env.update(
        RAY_TMPDIR=str(ray_tmp),
        RAY_USAGE_STATS_ENABLED="0",
        HOME=str(tmp_path / "home"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    orc = Path(sys.executable).parent / "orc"
    done = subprocess.run(
        ["unshare", "-n", "-p", "-f", "--mount-proc", "bash", "-c", f"ip link set lo up && exec {orc} nodes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,  # the bound: a hang raises TimeoutExpired
    )
    assert done.returncode == 6, done.stderr  # ExitCode.RUNTIME_UNAVAILABLE
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    if stale == "session":
        assert done.stderr.startswith(
            "Error: the local Ray session at 127.0.0.1:6390 is gone (Connection refused)"
        )
    else:
        assert done.stderr.startswith("Error: no Ray cluster runs on this machine")
    assert "start one with `ray start --head`, or pass --ray-address HOST:PORT" in done.stderr


def test_the_readme_cluster_guide_runs_as_written(tmp_path):
    """README "Run on a cluster", every command, in a network, PID and mount namespace of its own: Ray binds loopback
    only, and the guide's `ray stop` sees (and stops) only this namespace's Ray, never another test's or user's."""
    pytest.importorskip("ray", reason='the ray extra is not installed: pip install -e ".[ray]"')
    if not _unshare_allowed("-p", "-f", "--mount-proc"):
        pytest.skip("`unshare -n` is not permitted here (needs root or user namespaces)")
    import shutil
    import tempfile

    # Ray's session folders, this test's own; short, for their sockets' paths (107 bytes at most).
    ray_tmp = tempfile.mkdtemp(prefix="orc-ray-")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "ORC_RAY_GUIDE": "1", "RAY_TMPDIR": ray_tmp}
    command = (
        f"ip link set lo up && exec {sys.executable} -m pytest tests/ray_suite/test_cluster_guide.py -q "
        f"-p no:cacheprovider --basetemp {tmp_path / 'guide'}"
    )
    try:
        done = subprocess.run(
            ["unshare", "-n", "-p", "-f", "--mount-proc", "bash", "-c", command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
        )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    print(done.stdout[-20000:])
    print(done.stderr[-5000:], file=sys.stderr)
    assert done.returncode == 0, "the README's cluster guide failed (output above)"
    assert "1 passed" in done.stdout
