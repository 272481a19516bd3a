"""orc_otel against Arize Phoenix, a real OpenTelemetry backend: tests/otel_suite in a loopback-only namespace.

Phoenix is installed into a virtualenv of its own by .ci/run (``.venv-phoenix``; see tests/otel_suite/conftest.py);
without it, or without ``unshare -n``, this test is skipped saying why.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def phoenix_executable():
    """As tests/otel_suite/conftest.py finds it: ``ORC_TEST_PHOENIX``, else ``.venv-phoenix/bin/phoenix``."""
    given = os.environ.get("ORC_TEST_PHOENIX")
    path = Path(given) if given else ROOT / ".venv-phoenix" / "bin" / "phoenix"
    return path if path.is_file() else None


def _unshare_allowed():
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_otel_phoenix_suite_in_a_loopback_only_namespace():
    pytest.importorskip(
        "opentelemetry.sdk", reason='the otel extra is not installed: pip install -e ".[otel]"'
    )
    if phoenix_executable() is None:
        pytest.skip(
            "Arize Phoenix is not installed: python3 -m venv .venv-phoenix && .venv-phoenix/bin/pip install "
            "'arize-phoenix>=20.26,<21' (.ci/run does), or set ORC_TEST_PHOENIX to its phoenix executable"
        )
    if not _unshare_allowed():
        pytest.skip(
            "`unshare -n` is not permitted here: Phoenix's OTLP gRPC receiver would listen on every interface"
        )
    env = {**os.environ, "ORC_OTEL_SUITE": "1"}
    command = f"ip link set lo up && exec {sys.executable} -m pytest tests/otel_suite -q -p no:cacheprovider"
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(done.stdout[-20000:])
    print(done.stderr[-5000:], file=sys.stderr)
    assert done.returncode == 0, "the Phoenix suite failed (output above)"
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1]
