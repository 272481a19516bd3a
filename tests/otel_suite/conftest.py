"""A real OpenTelemetry backend for orc_otel's tests: Arize Phoenix, run only inside a loopback-only namespace.

``tests/test_otel_phoenix.py`` runs this directory in ``unshare -n`` with ``ORC_OTEL_SUITE=1``: Phoenix's OTLP
gRPC receiver binds every interface (``[::]``), so it must not run where a real interface exists. Without that
variable nothing here is collected. Phoenix lives in a virtualenv of its own (``.venv-phoenix``, made by
``.ci/run``; its hundreds of megabytes of dependencies stay out of orc's), found by ``ORC_TEST_PHOENIX`` (its
``phoenix`` executable) or at ``<repo>/.venv-phoenix/bin/phoenix``.
"""

import json
import os
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from fixtures import wait_for

if not os.environ.get("ORC_OTEL_SUITE"):
    collect_ignore_glob = ["test_*.py"]

ROOT = Path(__file__).resolve().parents[2]


def phoenix_executable() -> Path | None:
    given = os.environ.get("ORC_TEST_PHOENIX")
    path = Path(given) if given else ROOT / ".venv-phoenix" / "bin" / "phoenix"
    return path if path.is_file() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Phoenix:
    """A running Phoenix: ``url`` takes OTLP over HTTP at ``/v1/traces`` and answers ``/v1/projects/...``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as answer:
            return json.load(answer)

    def spans(self, project: str = "default") -> list[dict]:
        found, cursor = [], None
        while True:
            query = f"/v1/projects/{project}/spans?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = self.get(query)
            found += page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory):
    executable = phoenix_executable()
    if executable is None:
        pytest.skip(
            "Phoenix is not installed: python3 -m venv .venv-phoenix && .venv-phoenix/bin/pip install arize-phoenix"
        )
    port, grpc_port = _free_port(), _free_port()
    work = tmp_path_factory.mktemp("phoenix")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PHOENIX_"))},
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(work),
        # Nothing leaves the machine (the namespace has no route anyway): no telemetry, no downloads.
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    }
    log = (work / "phoenix.log").open("w")
    process = subprocess.Popen([str(executable), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Phoenix(f"http://127.0.0.1:{port}")

    def healthy():
        if process.poll() is not None:
            raise AssertionError(f"phoenix exited: {(work / 'phoenix.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, timeout=240)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
