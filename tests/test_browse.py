"""`orc browse`: a real Datasette server process on 127.0.0.1 serving a store that real scripted runs wrote."""

import http.client
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import anyio
import pytest
import sqlite_utils
from fixtures import wait_for

from orchestrator_core.testing import error, text, tool

BIN = Path(sys.executable).parent


@pytest.fixture
def store(orchestrator, scripted_model, orc_workdir):
    """A store with a run that succeeded and one whose tester failed; returns (path, results)."""
    scripted_model.script(
        [tool("Write", {"file_path": "out.txt", "content": "x"}), text("built")], match="builder of the team"
    )
    refused = scripted_model.script([error(400, "scripted refusal")] * 10, match="tester of the team")

    async def runs():
        async with orchestrator as orc:
            ok = await orc.execute("Build it", roles=["builder"], cwd=orc_workdir)
            failed = await orc.execute("Test it", roles=["tester", "reviewer"], cwd=orc_workdir)
        return ok, failed

    ok, failed = anyio.run(runs)
    assert ok.success and not failed.success and scripted_model.requests_for(refused)
    return Path(orchestrator.config.db_path), ok, failed


@pytest.fixture
def server(store):
    """`orc browse --port 0` on the store: yields its base URL; stopped afterwards."""
    path = store[0]
    proc = subprocess.Popen(
        [str(BIN / "orc"), "browse", "--port", "0", "--db", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # printed once the port listens
        assert line.startswith(f"Serving {path} at http://127.0.0.1:"), line + proc.stderr.read()
        yield line.split(" at ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def get(url: str, **params: str):
    with urllib.request.urlopen(
        f"{url}?{urllib.parse.urlencode({**params, '_shape': 'array'})}", timeout=30
    ) as r:
        return json.loads(r.read())


def refused(request: urllib.request.Request) -> int:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    return caught.value.code


def test_canned_queries_return_the_rows_of_real_runs(server, store):
    path, ok, failed = store
    by_role = {r["role"]: r for r in get(f"{server}/cost_by_role.json")}
    assert {"builder", "tester"} <= set(by_role)
    assert by_role["builder"]["cost_usd"] == pytest.approx(ok.metrics.cost_usd)

    [produced] = get(f"{server}/files_produced_per_task.json")
    assert (produced["task_id"], Path(produced["path"]).name, produced["roles"]) == (
        ok.task_id,
        "out.txt",
        "builder",
    )

    why = {r["subtask_id"]: r for r in get(f"{server}/failed_subtasks.json")}
    assert set(why) == {"1", "2"}
    assert (why["1"]["role"], why["1"]["status"]) == ("tester", "failed") and "scripted refusal" in why["1"][
        "error"
    ]
    assert why["2"]["status"] == "skipped" and why["2"]["task_id"] == failed.task_id

    expensive = get(f"{server}/most_expensive_agents.json")
    assert expensive[0]["agent_id"] == ok.subtasks[0].agent_id

    timeline = get(f"{server}/task_timeline.json", task_id=ok.task_id)
    events = list(
        sqlite_utils.Database(path).query(
            "select kind from events where task_id = ? order by id", [ok.task_id]
        )
    )
    assert [e["kind"] for e in timeline] == [e["kind"] for e in events]
    assert timeline[0]["role"] == "builder" and timeline[0]["detail"].startswith("Task: Build it")


def test_writes_are_refused(server, store):
    path = store[0]
    before = path.stat().st_mtime_ns, sqlite_utils.Database(path)["tasks"].count
    body = json.dumps({"row": {"id": "task-evil", "prompt": "x"}}).encode()
    assert (
        refused(
            urllib.request.Request(
                f"{server}/tasks/-/insert",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
        )
        == 405
    )
    assert refused(urllib.request.Request(f"{server}/cost_by_role", data=b"x=1", method="POST")) == 405
    assert refused(urllib.request.Request(f"{server}/tasks", method="DELETE")) == 405
    # Datasette's own SQL box only runs SELECT, on a read-only connection.
    assert refused(urllib.request.Request(f"{server}.json?sql=delete+from+tasks")) == 400
    assert (path.stat().st_mtime_ns, sqlite_utils.Database(path)["tasks"].count) == before


def test_every_table_view_and_column_is_described(store):
    from orc_agents.orc_store.browse import metadata_for

    path = store[0]
    meta = metadata_for(path)["databases"][path.stem]
    db = sqlite_utils.Database(path)
    hidden = {n for n in db.table_names() if n.startswith("messages_fts")}
    names = set(db.table_names()) - hidden | set(db.view_names())
    assert set(meta["tables"]) == names
    for name in names:
        described = meta["tables"][name]
        assert described["description"], name
        columns = {c.name for c in db[name].columns}
        assert set(described["columns"]) == columns, name
        assert all(described["columns"].values()), name
    assert set(meta["queries"]) == {
        "cost_by_role",
        "most_expensive_agents",
        "files_produced_per_task",
        "failed_subtasks",
        "task_timeline",
    }
    assert not any(q.get("write") for q in meta["queries"].values())


@pytest.fixture
def bare_server(tmp_path):
    """`orc browse --port 0` on a freshly migrated store: yields (base URL, port, server pid); stopped afterwards."""
    from orc_agents.orc_store import open_database

    path = tmp_path / "orc.db"
    open_database(path).close()
    # Datasette prints a long traceback (rich, on stdout) for each failed query: to files, so that no full pipe
    # ever blocks the server.
    out, err = tmp_path / "browse.stdout", tmp_path / "browse.stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [str(BIN / "orc"), "browse", "--port", "0", "--db", str(path)],
            stdout=stdout,
            stderr=stderr,
            text=True,
        )

    def first_line() -> str | None:  # printed once the port listens
        text = out.read_text()
        if "\n" in text:
            return text.partition("\n")[0]
        return None if proc.poll() is None else f"exited with {proc.returncode}"

    try:
        line = wait_for(first_line)
        assert line.startswith("Serving"), f"{line} {err.read_text()}"
        url = line.split(" at ")[1].split()[0]
        yield url, int(url.split(":")[2].split("/")[0]), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def with_host(port: int, path: str, host: str | None) -> tuple[int, bytes]:
    """GET ``path`` from the server on ``port`` with exactly this Host header (none if None): (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_foreign_host_headers_are_refused(bare_server):
    """A page whose name was rebound to 127.0.0.1 sends its own Host: refused, so it cannot read the store through
    the user's browser. The names of this machine, on the served port, are answered."""
    url, port, _ = bare_server
    for host in (
        "evil.example",
        f"evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"127.0.0.1:{port + 1}",
        f"localhost.:{port}",
        None,
    ):
        status, body = with_host(port, "/orc/tasks.json", host)
        assert status == 400, host
        assert b"prompt" not in body, host  # nothing of the store: a table's columns would name it
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
        status, body = with_host(port, "/orc/tasks.json", host)
        assert status == 200 and b"prompt" in body, host


def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


def test_one_query_cannot_allocate_a_gigabyte_or_run_for_ever(bare_server):
    url, port, pid = bare_server
    status, body = with_host(
        port,
        "/orc.json?" + urllib.parse.urlencode({"sql": "select length(randomblob(1000000000)) as n"}),
        f"127.0.0.1:{port}",
    )
    assert status == 400 and b"string or blob too big" in body
    assert peak_rss_kib(pid) < 512 * 1024  # the gigabyte was never allocated
    forever = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    status, body = with_host(
        port, "/orc.json?" + urllib.parse.urlencode({"sql": forever}), f"127.0.0.1:{port}"
    )
    assert status == 400 and b"took too long" in body
    # The server goes on answering.
    assert get(f"{url}.json", sql="select 1 as one") == [{"one": 1}]
