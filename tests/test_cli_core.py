"""The command line's own seams (#18, #20): bad values are usage errors, each invocation its own commands, no import
cycle in the core, and a scripted task or agent remembered as scripted. Driven through the real `orc` process."""

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
