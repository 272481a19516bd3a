"""What a turn spent is recorded however it ends (#17 items 17-19): cut short by orc, stopped at the CLI's own
budget, or ended normally; tokens come from the same source as the cost, and messages count model responses."""

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fixtures import rows, wait_for

from orchestrator_core.testing import Reply, Text, ToolUse, Usage, text, tool

BIN = Path(sys.executable).parent
#: The CLI's list price for its default model (FACTS §3): $4 per M input tokens, $20 per M output tokens.
FIRST_CALL = Usage(input_tokens=1000, output_tokens=500)
FIRST_CALL_COST = 1000 * 4e-6 + 500 * 20e-6


@pytest.mark.parametrize("how", ["SIGINT", "timeout"])
def test_a_turn_cut_short_records_what_it_spent(cli_env, scripted_model, orc_workdir, tmp_path, how):
    """The reviewer's first model call (1000 in, 500 out) completes; its second hangs until orc stops the run. The
    CLI reports the first call in the result it sends after the interrupt: orc records it."""
    release = threading.Event()

    def hangs(request):
        release.wait(timeout=60)
        return text("never seen")

    reviewer = scripted_model.script(
        [tool("Glob", {"pattern": "*"}, usage=FIRST_CALL), hangs], match="reviewer of the team"
    )
    command = [str(BIN / "orc"), "execute", "--roles", "reviewer", "-q", "review it"]
    if how == "timeout":
        command[2:2] = ["--timeout", "8"]
    proc = subprocess.Popen(
        command, cwd=orc_workdir, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: len(scripted_model.requests_for(reviewer)) >= 2)
        if how == "SIGINT":
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        release.set()
    assert proc.returncode in (7, 130), err
    db = tmp_path / "orc.db"
    usage = rows(db, "select input_tokens, output_tokens, cost_usd from usage")
    assert usage == [{"input_tokens": 1000, "output_tokens": 500, "cost_usd": pytest.approx(FIRST_CALL_COST)}]
    agent = rows(db, "select input_tokens, output_tokens, cost_usd from agents")
    assert agent == [{"input_tokens": 1000, "output_tokens": 500, "cost_usd": pytest.approx(FIRST_CALL_COST)}]
    task = rows(db, "select cost_usd from tasks")
    assert task == [{"cost_usd": pytest.approx(FIRST_CALL_COST)}]


def test_tokens_come_from_the_same_source_as_the_cost_at_a_budget_stop(
    cli_env, scripted_model, orc_workdir, tmp_path
):
    """The CLI stops at its own budget after the first call; its result's ``usage`` leaves that call out while
    its cost includes it (FACTS §11). orc stores the call's tokens next to its cost."""
    scripted_model.script(
        [tool("Glob", {"pattern": "*"}, usage=FIRST_CALL), text("never asked")], match="reviewer of the team"
    )
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--roles", "reviewer", "--max-cost", "0.001", "-q", "review it"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0, done.stdout
    agent = rows(tmp_path / "orc.db", "select input_tokens, output_tokens, cost_usd from agents")
    assert agent == [{"input_tokens": 1000, "output_tokens": 500, "cost_usd": pytest.approx(FIRST_CALL_COST)}]


def test_messages_count_model_responses(cli_env, scripted_model, orc_workdir, tmp_path):
    """One model response with a text block and a tool call is one message (the CLI sends one stream message per
    block); with the final answer, two. The agent's count and the agent_totals view agree."""
    scripted_model.script(
        [Reply(blocks=(Text("Looking around."), ToolUse("Glob", {"pattern": "*"}))), text("REVIEWED")],
        match="reviewer of the team",
    )
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--roles", "reviewer", "-q", "review it"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    db = tmp_path / "orc.db"
    assert rows(db, "select messages from agents") == [{"messages": 2}]
    assert rows(db, "select messages from agent_totals") == [{"messages": 2}]


@pytest.mark.anyio
async def test_files_read_are_distinct_paths_everywhere(orc_config, orc_pm, scripted_model, orc_workdir):
    """A file read twice by one agent and again by another is one file read: for each agent, the task, the store's
    rows and views, and the Orchestrator's status (#18: the agent rows counted accesses, the views paths)."""
    from orchestrator_core import Orchestrator

    (orc_workdir / "app.py").write_text("x = 1\n")
    (orc_workdir / "lib.py").write_text("y = 2\n")
    read = tool("Read", {"file_path": "app.py"})
    scripted_model.script([read, read, text("found app.py")], match="scout of the team")
    scripted_model.script(
        [read, tool("Read", {"file_path": "lib.py"}), text("Approved.")], match="reviewer of the team"
    )
    write = tool("Write", {"file_path": "out.py", "content": "z = 3\n"})
    scripted_model.script([write, write, text("built")], match="builder of the team")
    async with Orchestrator(orc_config, pm=orc_pm) as orc:
        result = await orc.execute("look", roles=["scout", "reviewer", "builder"], cwd=orc_workdir)
        files = orc.get_status()["monitoring"]["files"]
    assert result.success, result.error
    by_role = {s.role: (s.metrics.files_read, s.metrics.files_written) for s in result.subtasks}
    assert by_role == {"scout": (1, 0), "reviewer": (2, 0), "builder": (0, 1)}
    assert (result.metrics.files_read, result.metrics.files_written) == (2, 1)
    assert files == {"files_consumed": 2, "files_produced": 1}
    db = orc_config.db_path

    def counts(sql):
        return sorted(tuple(r.values()) for r in rows(db, sql))

    agents = counts("select role, files_read, files_written from agents")
    assert agents == [("builder", 0, 1), ("reviewer", 2, 0), ("scout", 1, 0)]
    assert counts("select role, files_read, files_written from agent_totals") == agents
    assert counts("select files_read, files_written from task_totals") == [(2, 1)]
