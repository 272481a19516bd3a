"""Mission control (#22): a real `orc browse` process on 127.0.0.1 over stores that real runs wrote (the real
claude-agent-sdk and CLI against the scripted model), read by a real browser: Debian's chromium driven by Playwright.

Screenshots of each page go to $ORC_TEST_ARTIFACTS (else a temporary directory): home.png, task.png, agent.png,
live-before.png, live-after.png.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures import clean_env, rows, wait_for
from test_browse import with_host

from orchestrator_core.testing import text, tool

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
#: Offline and quiet: no sandbox (root in CI), no GPU, nothing fetched from the network by the browser itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# -- servers and runs ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def browse(
    path: Path, *args: str, env: dict[str, str], options: tuple[str, ...] = (), lines: int = 2
) -> Iterator[tuple[str, list[str]]]:
    """`orc [options] browse [args] --port 0 --db path`: yields (base URL, the first ``lines`` lines it printed: the
    Serving line, then mission control's); stopped afterwards."""
    out, err = path.parent / f"browse-{time.monotonic_ns()}.out", path.parent / "browse.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [str(BIN / "orc"), *options, "browse", *args, "--port", "0", "--db", str(path)],
            stdout=stdout,
            stderr=stderr,
            env=env,
            text=True,
        )

    def started() -> list[str] | None:
        printed = out.read_text().splitlines()
        if len(printed) >= lines:
            return printed
        if proc.poll() is not None:
            raise AssertionError(f"orc browse exited with {proc.returncode}: {err.read_text()}")
        return None

    try:
        printed = wait_for(started)
        assert printed[0].startswith(f"Serving {path} at http://127.0.0.1:"), printed
        yield printed[0].split(" at ")[1].split()[0].rsplit("/", 1)[0], printed
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory) -> dict:
    """`orc execute --scripted "Add CSV export"`: the five agents of the feature team, recorded in a fresh store."""
    tmp = tmp_path_factory.mktemp("run")
    work, db = tmp / "work", tmp / "orc.db"
    work.mkdir()
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--scripted", "Add CSV export", "--cwd", str(work), "--db", str(db)],
        env=clean_env(tmp, ORC_DISABLE_PLUGIN_AUTOLOAD="1"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (task,) = rows(db, "select * from tasks")
    return {"db": db, "task": task, "agents": rows(db, "select * from agents order by created_at")}


@pytest.fixture(scope="module")
def server(scripted_run) -> Iterator[str]:
    with browse(
        scripted_run["db"], env=clean_env(scripted_run["db"].parent, ORC_DISABLE_PLUGIN_AUTOLOAD="1")
    ) as (url, _):
        yield url


# -- the browser --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            "no /usr/bin/chromium: `apt-get install chromium` (Debian's package) to run the browser tests"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[web-test]'"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    where = Path(os.environ.get("ORC_TEST_ARTIFACTS") or tmp_path_factory.mktemp("screenshots"))
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def page(browser):
    """A fresh page; a script error on it fails the test."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    yield page
    page.close()
    assert not errors, errors
    # Nothing from a CDN or any other origin: every asset ships with orc.
    assert all(u.startswith("http://127.0.0.1:") or u.startswith("data:") for u in requests), requests


def expect():
    from playwright.sync_api import expect

    return expect


# -- the pages of a finished run ----------------------------------------------------------------------------------


def test_home_lists_the_scripted_run(page, server, scripted_run, artifacts):
    task = scripted_run["task"]
    page.goto(f"{server}/")  # `orc browse`'s root is mission control; Datasette's pages stay under /<db>
    assert page.url == f"{server}/-/orc/"
    row = page.locator(f"tr.task[data-task='{task['id']}']")
    expect()(row).to_contain_text("Add CSV export")
    cells = row.locator("td")
    assert cells.nth(0).inner_text() == "succeeded"
    assert cells.nth(3).inner_text() == str(len(scripted_run["agents"]))
    assert re.fullmatch(r"\$\d+\.\d\d", cells.nth(4).inner_text())  # dollars and cents, no float noise
    assert cells.nth(7).inner_text() == "1"  # add_csv_export.py
    page.screenshot(path=artifacts / "home.png", full_page=True)
    page.get_by_role(
        "link", name="SQL & tables"
    ).click()  # the stock tables and canned queries are one click away
    expect()(page.locator("body")).to_contain_text("A task's timeline")  # a canned query


def test_task_page_has_one_lane_per_agent(page, server, scripted_run, artifacts):
    task = scripted_run["task"]
    page.goto(f"{server}/-/orc/")
    page.get_by_role("link", name="Add CSV export").click()
    assert page.url.endswith(f"/-/orc/task/{task['id']}")
    lanes = page.locator("svg.timeline g.lane")
    expect()(lanes).to_have_count(len(scripted_run["agents"]))
    assert {lanes.nth(i).get_attribute("data-agent") for i in range(lanes.count())} == {
        a["id"] for a in scripted_run["agents"]
    }
    assert {lanes.nth(i).get_attribute("data-status") for i in range(lanes.count())} == {"succeeded"}
    # Tool calls as ticks: the analyst's Glob, the builder's Write, the tester's Bash, the reviewer's Read.
    expect()(page.locator("svg.timeline line.tick")).to_have_count(
        len(rows(scripted_run["db"], "select id from tool_calls"))
    )
    expect()(page.locator("svg.plan rect.box")).to_have_count(5)
    expect()(page.locator("svg.plan line.edge")).to_have_count(4)
    expect()(page.locator("pre.output")).to_contain_text("Approved")
    assert page.locator(".pulse").count() == 0  # a finished task does not poll
    page.screenshot(path=artifacts / "task.png", full_page=True)


def test_agent_page_shows_the_tool_calls(page, server, scripted_run, artifacts):
    builder = next(a for a in scripted_run["agents"] if a["role"] == "builder")
    page.goto(f"{server}/-/orc/task/{scripted_run['task']['id']}")
    page.locator(f"g.lane[data-agent='{builder['id']}'] text.lane-label").click()  # the lane's name
    assert page.url.endswith(f"/-/orc/agent/{builder['id']}")
    call = page.locator(".conversation .call")
    expect()(call).to_have_count(1)
    expect()(call.locator(".tool-name")).to_have_text("Write")
    # The file's content is long: folded under the input's first line, unfolded by a click.
    expect()(call.locator("details summary")).to_contain_text("file_path: add_csv_export.py")
    expect()(call.locator("details pre")).not_to_be_visible()
    call.locator("details summary").click()
    expect()(call.locator("details pre")).to_contain_text("def export(rows")
    expect()(call.locator("details pre")).to_be_visible()
    expect()(call.locator("pre.result")).to_contain_text("File created successfully")
    expect()(page.locator(".conversation .msg.user")).to_contain_text("Your part (builder)")
    expect()(page.locator(".conversation .msg.assistant")).to_contain_text("add_csv_export.py")
    expect()(page.locator("table.files")).to_contain_text("add_csv_export.py")
    page.screenshot(path=artifacts / "agent.png", full_page=True)


def test_datasette_pages_read_better_too(server, scripted_run):
    """The stock tables stay for SQL, newest first, with a plan on one line and costs in dollars and cents; the
    JSON keeps the stored values."""
    task = scripted_run["task"]
    with urllib.request.urlopen(f"{server}/orc/tasks", timeout=30) as response:
        html = response.read().decode()
    assert "5 subtasks: 1 analyst → 2 planner → 3 builder → 4 tester → 5 reviewer" in html
    assert '"task_type": "feature_implementation"' not in html
    assert re.search(r'class="col-cost_usd[^"]*"[^>]*>\$0\.\d\d<', html)
    assert "sorted by created_at descending" in html and 'href="/-/orc/"' in html
    with urllib.request.urlopen(f"{server}/orc/tasks.json?_shape=array", timeout=30) as response:
        (row,) = __import__("json").loads(response.read())
    assert row["cost_usd"] == task["cost_usd"] and row["plan"] == task["plan"]


# -- a running task -----------------------------------------------------------------------------------------------


def test_a_running_task_updates_without_a_reload(
    page, browser, cli_env, scripted_model, tmp_path, orc_workdir, artifacts
):
    """The scout's fourth reply waits until the test lets it go: the page, opened meanwhile, shows the three calls
    so far and the loop flag they raised, then the run go on (the held call, the reviewer, the end) without
    reloading, within 2 s of the store having each change."""
    from orc_agents.orc_store import open_database

    db = tmp_path / "orc.db"
    open_database(db).close()
    (orc_workdir / "seed.txt").write_text("seed\n")
    waiting, release = threading.Event(), threading.Event()

    def held(request):
        waiting.set()
        assert release.wait(timeout=120), "the test never released the scout"
        return tool("Read", {"file_path": "seed.txt"})

    # The same Glob three times is a loop (ORC_LOOP_REPEATS, 3): the monitor flags it, the timeline marks it.
    glob = tool("Glob", {"pattern": "*"})
    scripted_model.script([glob, glob, glob, held, text("SCOUTED")], match="scout of the team")
    scripted_model.script([text("REVIEWED")], match="reviewer of the team")
    proc = subprocess.Popen(
        [str(BIN / "orc"), "execute", "--roles", "scout,reviewer", "--max-cost", "1.5", "-q", "look around"],
        cwd=orc_workdir,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert waiting.wait(timeout=120), "the scout never asked for its second reply"
        (task,) = rows(db, "select id, status from tasks")
        assert task["status"] == "running"
        wait_for(
            lambda: len(rows(db, "select 1 from tool_calls where name = 'Glob' and result is not null")) == 3
        )
        wait_for(lambda: rows(db, "select 1 from agent_flags where kind = 'loop'"))
        with browse(db, env=cli_env) as (url, _):
            page.goto(f"{url}/-/orc/task/{task['id']}")
            expect()(page.locator(".stats .badge")).to_have_text("running")
            expect()(page.locator(".pulse")).to_be_visible()
            # A lane per agent made so far: the scout (the reviewer's agent is made when its turn comes).
            expect()(page.locator("svg.timeline g.lane")).to_have_count(
                len(rows(db, "select id from agents"))
            )
            expect()(page.locator("svg.timeline line.tick")).to_have_count(3)
            expect()(page.locator("svg.timeline path.flag")).to_have_count(1)
            # The run's --max-cost, recorded with the task, is the line its cost climbs towards.
            expect()(page.locator("svg.chart line.limit")).to_have_count(1)
            expect()(page.locator("main")).to_contain_text("against --max-cost $1.50")
            page.evaluate("window.notReloaded = true")
            page.screenshot(path=artifacts / "live-before.png", full_page=True)
            home = browser.new_page()
            home.goto(f"{url}/-/orc/")
            expect()(home.locator(f"tbody.running tr[data-task='{task['id']}']")).to_have_count(1)
            home.evaluate("window.notReloaded = true")

            release.set()
            # The Read the scout was waiting to make: on the page within 2 s of its row being in the store.
            wait_for(lambda: rows(db, "select 1 from tool_calls where name = 'Read'"))
            expect()(page.locator("svg.timeline line.tick")).to_have_count(4, timeout=2000)
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, out.decode() + err.decode()
            expect()(page.locator(".stats .badge")).to_have_text("succeeded", timeout=2000)
            lanes = page.locator("svg.timeline g.lane")
            expect()(lanes).to_have_count(2)
            assert {lanes.nth(i).get_attribute("data-status") for i in range(2)} == {"succeeded"}
            expect()(page.locator(".feed")).to_contain_text("REVIEWED")
            assert page.evaluate("window.notReloaded") is True  # updated in place, never reloaded
            # The home list too: the task leaves the running ones, succeeded (it refreshes every 2 s).
            expect()(home.locator(f"tr[data-task='{task['id']}'] .badge")).to_have_text(
                "succeeded", timeout=4000
            )
            expect()(home.locator("tbody.running")).to_have_count(0)
            assert home.evaluate("window.notReloaded") is True
            home.close()
            expect()(page.locator(".pulse")).to_have_count(0)
            page.screenshot(path=artifacts / "live-after.png", full_page=True)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def test_the_orchestrator_agents_tree(page, tmp_path, artifacts):
    """`--orchestrator agent`: the agents it creates are its children, drawn under its lane and linked both ways."""
    work, db = tmp_path / "work", tmp_path / "orc.db"
    work.mkdir()
    env = clean_env(tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1", ORC_SCRIPTED_HOME=str(tmp_path / "scripted"))
    done = subprocess.run(
        [
            str(BIN / "orc"),
            "execute",
            "--scripted",
            "--orchestrator",
            "agent",
            "Add CSV export",
            "--cwd",
            str(work),
            "--db",
            str(db),
            "-q",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (task,) = rows(db, "select id from tasks")
    agents = {a["role"]: a for a in rows(db, "select id, role, parent_id from agents")}
    assert set(agents) == {"orchestrator", "builder", "reviewer"}
    with browse(db, env=env) as (url, _):
        page.goto(f"{url}/-/orc/task/{task['id']}")
        labels = page.locator("svg.timeline g.lane text.lane-label")
        expect()(labels).to_have_count(3)
        names = [labels.nth(i).text_content() for i in range(3)]  # SVG text
        assert [n.split()[-1] for n in names] == ["orchestrator", "builder", "reviewer"]
        assert [n.startswith("└") for n in names] == [False, True, True]
        page.screenshot(path=artifacts / "tree.png", full_page=True)
        page.locator(f"g.lane[data-agent='{agents['orchestrator']['id']}'] text.lane-label").click()
        children = page.locator("ul.children li a")
        expect()(children).to_have_count(2)
        children.filter(has_text="builder").click()
        expect()(page.locator(".crumbs")).to_contain_text("orchestrator")
        expect()(page.locator(".conversation .call .tool-name")).to_have_text("Write")


def test_what_the_model_says_is_shown_never_run(
    page, cli_env, scripted_model, tmp_path, orc_workdir, artifacts
):
    """Model output is hostile: markup in a message, a tool input or a prompt is shown as text on every page."""
    from orc_agents.orc_store import open_database

    db = tmp_path / "orc.db"
    open_database(db).close()
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script></pre><b>bold</b>'
    scripted_model.script([tool("Glob", {"pattern": hostile}), text(hostile)], match="scout of the team")
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--roles", "scout", "-q", f"look {hostile}"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (agent,) = rows(db, "select id, task_id from agents")
    with browse(db, env=cli_env) as (url, _):
        for path in ("/-/orc/", f"/-/orc/task/{agent['task_id']}", f"/-/orc/agent/{agent['id']}"):
            page.goto(url + path)
            expect()(page.locator("main")).to_contain_text("<script>window.pwned=2</script>")
            assert page.evaluate("window.pwned") is None, path
            assert page.locator("main b", has_text="bold").count() == 0, path
        expect()(page.locator(".conversation .msg.assistant")).to_contain_text(hostile)
        page.screenshot(path=artifacts / "hostile.png", full_page=True)


# -- the command and the server's guards --------------------------------------------------------------------------


def test_a_foreign_host_is_refused_and_writes_are_refused_on_mission_control(scripted_run):
    env = clean_env(scripted_run["db"].parent, ORC_DISABLE_PLUGIN_AUTOLOAD="1")
    task = scripted_run["task"]["id"]
    with browse(scripted_run["db"], env=env) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        for path in ("/", "/-/orc/", f"/-/orc/task/{task}", f"/-/orc/task/{task}/events.json"):
            status, body = with_host(port, path, f"evil.example:{port}")
            assert status == 400 and b"Add CSV" not in body, path
            assert with_host(port, path, f"127.0.0.1:{port}")[0] in (200, 302), path
            request = urllib.request.Request(f"{url}{path}", data=b"x=1", method="POST")
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=30)
            assert caught.value.code == 405, path  # read-only


def test_browse_task_id_starts_at_the_task(scripted_run):
    env = clean_env(scripted_run["db"].parent, ORC_DISABLE_PLUGIN_AUTOLOAD="1")
    task = scripted_run["task"]["id"]
    with browse(scripted_run["db"], task, env=env) as (url, lines):
        assert lines[1] == f"Task {task}: {url}/-/orc/task/{task}"
        with urllib.request.urlopen(f"{url}/-/orc/task/{task}", timeout=30) as response:
            assert "Add CSV export" in response.read().decode()
    done = subprocess.run(
        [str(BIN / "orc"), "browse", "task-nope", "--db", str(scripted_run["db"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: no task 'task-nope' in the run store {str(scripted_run['db'])!r}; "
        "`orc list-tasks` shows the tasks"
    ]


def test_without_orc_web_browse_is_stock_datasette(scripted_run):
    env = clean_env(scripted_run["db"].parent, ORC_DISABLE_PLUGIN_AUTOLOAD="1")
    with browse(scripted_run["db"], env=env, options=("-p", "no:orc_web"), lines=1) as (url, lines):
        assert len(lines) == 1
        with urllib.request.urlopen(f"{url}/", timeout=30) as response:
            assert response.url == f"{url}/" and "Datasette" in response.read().decode()
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{url}/-/orc/", timeout=30)
        assert caught.value.code == 404


def test_home_pages_through_any_number_of_tasks(tmp_path):
    """Running tasks first, then newest first, 25 a page, each task once; a status filter; a task that did not
    finish names `orc resume`. The store is the benchmark's (bench/web.py), built through the real migrations."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from web import build

    db = tmp_path / "orc.db"
    build(db, tasks=60, per_task=2)
    newest_first = [r["id"] for r in rows(db, "select id from tasks order by created_at desc")]
    running = [
        t
        for t in newest_first
        if rows(db, "select status from tasks where id = ?", [t])[0]["status"] == "running"
    ]
    assert len(running) == 3
    with browse(db, env=clean_env(tmp_path, ORC_DISABLE_PLUGIN_AUTOLOAD="1")) as (url, _):
        seen, page_url, pages = [], f"{url}/-/orc/", 0
        while page_url:
            with urllib.request.urlopen(page_url, timeout=30) as response:
                html = response.read().decode()
            seen += re.findall(r'<tr class="task" data-task="([^"]+)"', html)
            older = re.search(r'<a class="older" href="([^"]+)"', html)
            page_url = url + older.group(1).replace("&amp;", "&") if older else None
            pages += 1
        assert seen == running + [t for t in newest_first if t not in running]
        assert pages == 3  # 3 running + 25, then 25, then 7
        with urllib.request.urlopen(f"{url}/-/orc/?status=failed", timeout=30) as response:
            failed = re.findall(r'<tr class="task" data-task="([^"]+)"', response.read().decode())
        assert (
            failed
            == [
                r["id"]
                for r in rows(db, "select id from tasks where status = 'failed' order by created_at desc")
            ]
            and failed
        )
        with urllib.request.urlopen(f"{url}/-/orc/task/{failed[0]}", timeout=30) as response:
            assert f"orc resume {failed[0]}" in response.read().decode()


# -- the hooks orc browse asks -------------------------------------------------------------------------------------


def hello_datasette_plugin():
    """A Datasette plugin of a third party's, as a module: one route, answered only where it is configured."""
    import types

    from datasette import hookimpl
    from datasette.utils.asgi import Response

    module = types.ModuleType("orc_test_hello")

    @hookimpl
    def register_routes(datasette):
        config = datasette.plugin_config("hello")
        return [(r"^/-/hello$", lambda: Response.text(f"hello from {config['database']}"))] if config else []

    module.register_routes = register_routes
    return module


def test_hook_orc_browse_plugins(tmp_path):
    import asyncio

    from orc_agents.orc_store import open_database
    from orc_agents.orc_store.browse import browse_plugins, make_datasette
    from orchestrator_core import hookimpl, make_plugin_manager

    hello = hello_datasette_plugin()

    class Hello:
        @hookimpl
        def orc_browse_plugins(self, register):
            register("hello", hello)

    db = tmp_path / "store.db"
    open_database(db).close()
    plugins = browse_plugins(
        make_plugin_manager(plugins=[Hello()], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    )
    assert [name for name, _ in plugins] == ["hello", "orc-web"]

    async def fetch(ds, path):
        await ds.invoke_startup()
        return await ds.client.get(path)

    def get(ds, path):
        # A loop of its own in a thread: Playwright's sync API may hold this thread's loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, fetch(ds, path)).result()

    # Each registered plugin is configured with the store's database name, and answers that Datasette only.
    configured = make_datasette(db, plugins=plugins)
    assert get(configured, "/-/hello").text == "hello from store"
    assert get(configured, "/-/orc/").status_code == 200
    plain = make_datasette(db)
    assert get(plain, "/-/hello").status_code == 404
    assert get(plain, "/").status_code == 200  # Datasette's own home, not mission control's


def test_hook_orc_browse_path():
    from orchestrator_core import hookimpl, make_plugin_manager

    pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert pm.hook.orc_browse_path(database="orc", task_id=None) == "/-/orc/"
    assert pm.hook.orc_browse_path(database="orc", task_id="task-1/2") == "/-/orc/task/task-1%2F2"

    class Elsewhere:
        @hookimpl(tryfirst=True)
        def orc_browse_path(self, database, task_id):
            return f"/{database}/tasks"

    pm.register(Elsewhere())
    assert pm.hook.orc_browse_path(database="orc", task_id=None) == "/orc/tasks"
    blocked = make_plugin_manager(["no:orc_web"], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert blocked.hook.orc_browse_path(database="orc", task_id=None) is None


def test_money_is_dollars_and_cents():
    from orc_agents.orc_web.mission.formats import money

    assert [money(v) for v in (0.1 + 0.2, 0.115, 12345.678, 0.0042, 0.00004, 0, None)] == [
        "$0.30",
        "$0.12",
        "$12,345.68",
        "$0.0042",
        "$0.0000",
        "$0.00",
        "-",
    ]
