"""The fleet governor (#23), against the scripted model limited for real: the real CLI, real orc processes, the
model answering 429 with retry-after beyond K requests at once or with a spent quota."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fixtures import rows, wait_for

from orchestrator_core import Config, Orchestrator, make_plugin_manager
from orchestrator_core.testing import ScriptedModel, text, tool

pytestmark = pytest.mark.anyio
BIN = Path(sys.executable).parent


def orchestrator(model: ScriptedModel, tmp_path: Path, governor: str, **env: str) -> Orchestrator:
    (tmp_path / "store").mkdir(exist_ok=True)
    config = Config(
        db_path=tmp_path / "store" / "orc.db",
        runtime_env={**model.env(tmp_path / "claude-config"), **env},
        max_parallel_agents=6,
        plugin_settings={"ORC_GOVERNOR": governor},
    )
    return Orchestrator(config, pm=make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))


def builder_script(model: ScriptedModel, latency: float = 0.5) -> str:
    """A Write, then text; the answers to the first requests wait until the model has refused one, so the limit
    is met whatever the machine's speed."""

    def write_once_refused(request):
        wait_for(lambda: model.rejected, timeout=60)
        return tool("Write", {"file_path": "out.txt", "content": "x"}, latency=latency)

    return model.script([write_once_refused, text("BUILT", latency=latency)], match="builder of the team")


def test_admission_comes_down_to_what_the_endpoint_serves_and_grows_back(tmp_path):
    """429: to the requests still out (never more than one less); 529: half; growth after the hold, one per
    ``limit`` successes, never above the ceiling."""
    from orc_agents.orc_governor import Admission, SharedState

    admission = Admission(8, SharedState(tmp_path, "http://model"), hold=0.0)
    for _ in range(5):
        admission.acquire()
    admission.release()  # one refused: four out
    admission.throttled(429, 0.0)
    assert admission.allowed == 4
    admission.throttled(529, 0.0)
    assert admission.allowed == 2
    for _ in range(4):
        admission.succeeded()
    assert admission.allowed == 3
    for _ in range(100):
        admission.succeeded()
    assert admission.allowed == 8


def test_a_spent_budget_is_waited_out_without_coming_down(tmp_path):
    """A 429 that says a per-minute budget is spent (the API's ``anthropic-ratelimit-*-remaining: 0``) is a wait for
    everyone, not a sign that fewer requests fit at once."""
    import email.message

    from orc_agents.orc_governor import Admission, SharedState
    from orc_agents.orc_governor.relay import budget_spent

    spent, busy = email.message.Message(), email.message.Message()
    spent["anthropic-ratelimit-tokens-remaining"] = "0"
    busy["anthropic-ratelimit-tokens-remaining"] = "5000"
    assert budget_spent(spent) and not budget_spent(busy) and not budget_spent(email.message.Message())
    admission = Admission(8, SharedState(tmp_path, "http://model"))
    for _ in range(5):
        admission.acquire()
    admission.release()
    cooldown = admission.throttled(429, 10.0, budget=True)
    assert admission.allowed == 8
    assert cooldown.until > time.time() + 9  # everyone waits for the budget to fill again
    admission.throttled(429, 0.0)
    assert admission.allowed == 4


def test_the_cooldown_is_shared_through_the_file(tmp_path):
    from orc_agents.orc_governor import SharedState

    one, other = SharedState(tmp_path, "http://model"), SharedState(tmp_path, "http://model")
    until = time.time() + 30
    one.extend(until)
    assert other.read().until == until
    one.extend(until - 10)  # never brought forward
    assert other.read().until == until
    assert SharedState(tmp_path, "http://elsewhere").read().until == 0.0


def test_orc_processes_on_one_machine_keep_together_to_the_limit_one_learned(tmp_path):
    """Two Admissions on one folder are two orc processes: the places are counted for both, and the limit one
    learned from a 429 holds for the other and for one that starts later."""
    from orc_agents.orc_governor import Admission, SharedState

    first = Admission(4, SharedState(tmp_path, "http://model"), hold=60.0)
    second = Admission(4, SharedState(tmp_path, "http://model"), hold=60.0)
    for _ in range(3):
        assert first.acquire(timeout=5) is not None
    assert second.acquire(timeout=5) is not None  # a fourth at once: the endpoint refuses it
    second.release()
    second.throttled(429, 0.0)
    assert second.allowed == 3  # what was still out, in both processes
    assert first.acquire(timeout=0.2) is None and first.allowed == 3  # first learns it too: no fourth
    assert second.acquire(timeout=0.2) is None  # first holds all three places
    first.release()
    assert second.acquire(timeout=5) is not None  # a place another process gave back
    assert Admission(16, SharedState(tmp_path, "http://model")).allowed == 3  # a process that starts later


def test_a_killed_processs_places_free_themselves(tmp_path):
    """A place is a lock the kernel drops with its process: an orc process killed mid-request leaks none."""
    from orc_agents.orc_governor import SharedState

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from orc_agents.orc_governor import SharedState; "
            f"assert SharedState(pathlib.Path({str(tmp_path)!r}), 'http://model').take_slot(1) is not None; "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        shared = SharedState(tmp_path, "http://model")
        assert shared.take_slot(1) is None and shared.slots_held() == 1
        holder.kill()
        holder.wait()
        slot = shared.take_slot(1)
        assert slot is not None
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.fixture(scope="module")
def k_limited(tmp_path_factory):
    """Six builders at once against a model that takes two requests at a time: one run with the governor, one
    without; the CLI's own retries off (CLAUDE_CODE_MAX_RETRIES=0), so the difference is the governor's."""
    import anyio

    outcomes = {}
    for governor in ("on", "off"):
        tmp_path = tmp_path_factory.mktemp(f"governor-{governor}")
        with ScriptedModel() as model:
            builder_script(model)
            model.limit(2, retry_after=0.5)

            async def run(tmp_path=tmp_path, model=model, governor=governor):
                orc = orchestrator(model, tmp_path, governor, CLAUDE_CODE_MAX_RETRIES="0")
                async with orc:
                    work = tmp_path / "work"
                    work.mkdir()
                    return await orc.execute(
                        "make it", execution_mode="parallel", roles=["builder"] * 6, cwd=work
                    )

            result = anyio.run(run)
            outcomes[governor] = (
                result,
                list(model.requests),
                list(model.rejected),
                model.peak_concurrent,
                tmp_path,
            )
    return outcomes


def test_agents_under_a_k_limited_model_all_succeed_with_the_governor(k_limited):
    result, answered, rejected, peak, _ = k_limited["on"]
    assert result.success, result.error
    assert rejected, "the model never refused a request: the limit was not reached, nothing was tested"
    assert peak <= 2
    assert len(answered) == 12  # two model calls per builder, each answered once


def test_without_the_governor_the_same_run_fails(k_limited):
    result, _, rejected, _, _ = k_limited["off"]
    assert rejected
    assert not result.success
    assert "429" in (result.error or "")


def test_a_throttled_agent_continues_its_own_session(k_limited):
    """Each refused request comes back byte for byte the same and is answered once; no session sends an earlier
    turn again as new work (nothing is paid twice)."""
    _, answered, rejected, _, tmp_path = k_limited["on"]
    bodies = [json.dumps(r.body, sort_keys=True) for r in answered]
    for request in rejected:
        assert json.dumps(request.body, sort_keys=True) in bodies
        assert request.session_id in {r.session_id for r in answered}
    turns = [(r.session_id, len(r.messages)) for r in answered]
    assert len(turns) == len(set(turns)), "a turn was answered twice"
    assert len({r.session_id for r in answered}) == 6
    # The store shows the waits, per agent: retry events the governor made.
    events = rows(tmp_path / "store" / "orc.db", "select agent_id, payload from events where kind = 'retry'")
    governed = [e for e in events if json.loads(e["payload"]).get("by") == "governor"]
    assert len(governed) == len(rejected)


# -- a spent quota stops the run; `orc resume` carries on ------------------------------------------------------


def orc(env, cwd, *args, timeout=180):
    return subprocess.run(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def private_env(cli_env, tmp_path):
    """The orc processes of this test keep their private files (the governor's shared cooldown) in tmp_path."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    return {**cli_env, "XDG_RUNTIME_DIR": str(runtime)}


def test_a_spent_quota_stops_the_run_and_resume_carries_on(
    private_env, scripted_model, orc_workdir, tmp_path
):
    reset = time.time() + 3600

    def then_spent(request):
        scripted_model.exhaust(reset)  # the quota is spent by this answer: the next request is refused
        return tool("Write", {"file_path": "out.txt", "content": "x"})

    builder = scripted_model.script([then_spent, text("BUILT")], match="builder of the team")
    first = orc(private_env, orc_workdir, "execute", "--roles", "builder", "-q", "make it")
    assert first.returncode != 0
    assert "usage limit is reached until" in first.stderr, first.stderr
    (task,) = rows(tmp_path / "orc.db", "select id, status, error from tasks")
    assert task["status"] != "succeeded"
    assert f"orc resume {task['id']}" in task["error"]
    refused = [r for r in scripted_model.rejected if r.script is None]
    assert refused, "the quota was never hit"
    answered = scripted_model.requests_for(builder)
    assert len(answered) == 1  # the refused request was not answered, so not paid
    scripted_model.exhaust(None)  # the quota is back
    again = orc(private_env, orc_workdir, "resume", task["id"], "-q")
    assert again.returncode == 0, again.stderr
    answered = scripted_model.requests_for(builder)
    # The same session goes on: its next request carries the first answer (the Write) and is answered once.
    assert {r.session_id for r in answered} == {answered[0].session_id}
    assert len(answered) == 2
    assert len(answered[1].messages) > len(answered[0].messages)
    assert (orc_workdir / "out.txt").exists()


def test_with_wait_a_spent_quota_is_waited_out(private_env, scripted_model, orc_workdir, tmp_path):
    """--wait: the run does not stop; the refused request goes again once the quota is back, and is answered once."""
    lifts = []

    def then_spent(request):
        lifts.append(time.time() + 3)
        scripted_model.exhaust(lifts[0])
        return tool("Write", {"file_path": "out.txt", "content": "x"})

    builder = scripted_model.script([then_spent, text("BUILT")], match="builder of the team")
    done = orc(private_env, orc_workdir, "execute", "--wait", "--roles", "builder", "-q", "make it")
    assert done.returncode == 0, done.stderr
    answered = scripted_model.requests_for(builder)
    assert len(answered) == 2 and answered[1].at >= lifts[0]
    refused = [r for r in scripted_model.rejected if r.session_id == answered[0].session_id]
    assert refused and json.dumps(refused[0].body, sort_keys=True) == json.dumps(
        answered[1].body, sort_keys=True
    )


# -- two orc processes share one cooldown ----------------------------------------------------------------------


def test_two_orc_processes_share_one_cooldown(private_env, scripted_model, orc_workdir, tmp_path):
    """Process B holds the model's one place; process A is refused (retry-after 3 s); B's next request waits out
    A's cooldown, though the place is free, because the cooldown is shared."""
    scripted_model.limit(1, retry_after=3.0)
    gate = threading.Event()

    def held(request):
        gate.wait(timeout=90)
        return tool("Write", {"file_path": "b.txt", "content": "b"})

    b_script = scripted_model.script([held, text("B DONE")], match="job-bee")
    scripted_model.script([text("A DONE")], match="job-ant")
    b_dir, a_dir = orc_workdir / "b", orc_workdir / "a"
    b_dir.mkdir()
    a_dir.mkdir()
    env_b = {**private_env, "ORCHESTRATOR_DB_PATH": str(tmp_path / "b.db")}
    env_a = {**private_env, "ORCHESTRATOR_DB_PATH": str(tmp_path / "a.db")}
    args = ("execute", "--roles", "builder", "-q")
    proc_b = subprocess.Popen(
        [str(BIN / "orc"), *args, "job-bee"],
        cwd=b_dir,
        env=env_b,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc_a = None
    try:
        wait_for(lambda: scripted_model.requests_for(b_script), timeout=90)
        proc_a = subprocess.Popen(
            [str(BIN / "orc"), *args, "job-ant"],
            cwd=a_dir,
            env=env_a,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        refused = wait_for(lambda: scripted_model.rejected, timeout=90)[0]
        assert "job-ant" in refused.search_text
        # A's relay has written the cooldown it was asked for (the file every orc process reads) ...
        shared = tmp_path / "runtime" / "orc" / "governor"
        wait_for(
            lambda: any(json.loads(f.read_text())["until"] > time.time() for f in shared.glob("*.json")),
            timeout=30,
        )
        gate.set()  # ... before B, with the model's one place free again, wants to send its next request
        assert proc_b.wait(timeout=120) == 0, proc_b.stderr.read() if proc_b.stderr else ""
        assert proc_a.wait(timeout=120) == 0, proc_a.stderr.read() if proc_a.stderr else ""
    finally:
        gate.set()
        for proc in (proc_b, proc_a):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    first_b = scripted_model.requests_for(b_script)[0]
    # Everything B sent after its first request waited out A's cooldown (B's next request and A's retry then race
    # for the one place: either may be refused once more).
    later = [
        r
        for r in [*scripted_model.requests_for(b_script), *scripted_model.rejected]
        if r.session_id == first_b.session_id and r.at > first_b.at
    ]
    assert later
    assert min(r.at for r in later) >= refused.at + 3.0 - 0.05, min(r.at for r in later) - refused.at


def test_a_run_works_without_the_governor_plugin(private_env, scripted_model, orc_workdir):
    """-p no:orc_governor: agents talk to the model directly; its options are gone."""
    scripted_model.script([text("BUILT")], match="builder of the team")
    done = orc(
        private_env, orc_workdir, "-p", "no:orc_governor", "execute", "--roles", "builder", "-q", "make it"
    )
    assert done.returncode == 0, done.stderr
    refused = orc(
        private_env, orc_workdir, "-p", "no:orc_governor", "execute", "--wait", "--roles", "builder", "x"
    )
    assert refused.returncode == 2 and "--wait" in refused.stderr


def test_governor_off_on_the_command_line(private_env, scripted_model, orc_workdir):
    """--governor off: the CLI meets the model's 429 itself (its retries off here), and the subtask fails."""
    scripted_model.script([text("BUILT", latency=1.0)], match="builder of the team")
    scripted_model.limit(1, retry_after=0.5)
    env = {**private_env, "CLAUDE_CODE_MAX_RETRIES": "0"}
    args = ("execute", "--mode", "parallel", "--roles", "builder,builder", "-q", "make it")
    off = orc(env, orc_workdir, *args, "--governor", "off")
    assert off.returncode != 0
    assert "429" in off.stderr + off.stdout
    on = orc(env, orc_workdir, *args)
    assert on.returncode == 0, on.stderr


def test_the_store_and_mission_control_show_the_waits(k_limited):
    """The store sums each agent's waits; the task's timeline marks each one (#23)."""
    import asyncio

    from orc_agents.orc_store.browse import browse_plugins, make_datasette

    result, _, rejected, _, tmp_path = k_limited["on"]
    db = tmp_path / "store" / "orc.db"
    throttled = rows(db, "select * from throttling_by_agent where task_id = ?", [result.task_id])
    assert sum(r["governor_retries"] for r in throttled) == len(rejected)
    assert all(r["waited_s"] > 0 and r["concurrency"] >= 1 for r in throttled)
    plugins = browse_plugins(make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))

    async def page():
        ds = make_datasette(db, plugins=plugins)
        await ds.invoke_startup()
        return await ds.client.get(f"/-/orc/task/{result.task_id}")

    html = asyncio.run(page()).text
    assert html.count('<rect class="wait"') == len(rejected)
    assert "after 429 (governor)" in html
