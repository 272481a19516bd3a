"""What did the agents say and do (#20): `orc task-details ID --messages` and `orc agents show ID --transcript` show
each agent's messages and tool calls (input, bounded result) in order, as text or JSON, paged on a terminal; the
task's output; the model the session reported. Real `orc` processes on the store a real scripted run wrote."""

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from fixtures import rows

from orchestrator_core.testing import text, tool

BIN = Path(sys.executable).parent
SCOUT, BUILDER = "scout of the team", "builder of the team"
#: An escape sequence a model might send (OSC 52 writes the clipboard): printed, it must show, not act.
ESCAPE = "\x1b]52;c;ZXZpbA==\x07"


def orc(env, cwd, *args, **kwargs):
    return subprocess.run(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


def run_team(cli_env, scripted_model, workdir):
    """scout reads a long file and answers; builder writes a file and answers. Returns the task result."""
    (workdir / "big.txt").write_text("".join(f"line {i:04d} of a long file to read\n" for i in range(300)))
    scripted_model.script(
        [tool("Read", {"file_path": "big.txt"}), text("SCOUT-SAW big.txt" + ESCAPE)], match=SCOUT
    )
    scripted_model.script(
        [tool("Write", {"file_path": "out.txt", "content": "hello\n"}), text("BUILT out.txt")], match=BUILDER
    )
    out = orc(
        cli_env,
        workdir,
        "execute",
        "--roles",
        "scout,builder",
        "Find big.txt, then build",
        "--cwd",
        str(workdir),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def as_json(env, cwd, *args):
    out = orc(env, cwd, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_tasks_messages_and_tool_calls_in_order(cli_env, scripted_model, orc_workdir, tmp_path):
    result = run_team(cli_env, scripted_model, orc_workdir)
    task_id = result["task_id"]
    scout_id, builder_id = (s["agent_id"] for s in result["subtasks"])

    entries = as_json(cli_env, orc_workdir, "task-details", task_id, "--messages")
    # Each agent's conversation, agents in the order they ran, each in its own order.
    assert [e["agent_id"] for e in entries] == sorted(
        (e["agent_id"] for e in entries), key=[scout_id, builder_id].index
    )
    for agent_id in (scout_id, builder_id):
        seqs = [e["seq"] for e in entries if e["agent_id"] == agent_id]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    shape = [(e["agent_id"], e["kind"], e.get("role") or e.get("name")) for e in entries]
    assert shape == [
        (scout_id, "message", "user"),
        (scout_id, "tool_call", "Read"),
        (scout_id, "message", "assistant"),
        (builder_id, "message", "user"),
        (builder_id, "tool_call", "Write"),
        (builder_id, "message", "assistant"),
    ]
    prompt, read, answer, _, write, built = entries
    assert "Find big.txt, then build" in prompt["text"]
    assert read["input"] == {"file_path": "big.txt"} and read["is_error"] is False
    # The Read's output was long: the transcript shows its first 1,000 characters and counts the rest.
    assert "line 0000" in read["result"][:40]
    assert len(read["result"]) == 1000 and read["result_cut_chars"] > 0
    stored = rows(cli_env["ORCHESTRATOR_DB_PATH"], "select result from tool_calls where name = 'Read'")[0][
        "result"
    ]
    assert len(stored) == 1000 + read["result_cut_chars"]
    assert answer["text"] == "SCOUT-SAW big.txt" + ESCAPE  # JSON escapes it; the words are as recorded
    assert write["input"] == {"file_path": "out.txt", "content": "hello\n"} and write["result_cut_chars"] == 0
    assert built["text"] == "BUILT out.txt"

    plain = orc(cli_env, orc_workdir, "task-details", task_id, "--messages")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0] == f"== {scout_id} (scout) =="
    assert f"== {builder_id} (builder) ==" in lines
    assert any(line.endswith('tool call Read: {"file_path": "big.txt"}') for line in lines)
    assert f"    [... {read['result_cut_chars']} more characters not shown]" in lines
    assert "    SCOUT-SAW big.txt␛]52;c;ZXZpbA==␇" in lines and "\x1b" not in plain.stdout

    # One agent's transcript is its part of the task's, from either name of the command.
    mine = [e for e in entries if e["agent_id"] == builder_id]
    assert as_json(cli_env, orc_workdir, "agents", "show", builder_id, "--transcript") == mine
    assert as_json(cli_env, orc_workdir, "agent-details", builder_id, "--transcript") == mine
    shown = orc(cli_env, orc_workdir, "agents", "show", builder_id, "--transcript").stdout
    assert shown == orc(cli_env, orc_workdir, "agent-details", builder_id, "--transcript").stdout
    assert shown.startswith(f"== {builder_id} (builder) ==") and "tool call Write" in shown

    # task-details itself now shows the output, and no empty error line for a task that succeeded.
    details = orc(cli_env, orc_workdir, "task-details", task_id).stdout
    assert "Output:\nBUILT out.txt" in details and "error:" not in details
    assert (
        as_json(cli_env, orc_workdir, "task-details", task_id)["output"]
        == result["output"]
        == "BUILT out.txt"
    )

    # The model column holds what each session reported (the roles name no model).
    sessions = rows(
        cli_env["ORCHESTRATOR_DB_PATH"],
        "select agent_id, json_extract(payload, '$.model') as model from events where kind = 'session'",
    )
    reported = {r["agent_id"]: r["model"] for r in sessions}
    assert set(reported) == {scout_id, builder_id} and all(reported.values())
    assert {a["id"]: a["model"] for a in as_json(cli_env, orc_workdir, "agents", "list")} == reported
    assert as_json(cli_env, orc_workdir, "agents", "show", scout_id)["agent"]["model"] == reported[scout_id]

    for args, words in (
        (["agents", "show", "scout-nope", "--transcript"], "no agent 'scout-nope'"),
        (["task-details", "task-nope", "--messages"], "no task 'task-nope'"),
    ):
        unknown = orc(cli_env, orc_workdir, *args)
        assert unknown.returncode == 2 and words in unknown.stderr
        assert len(unknown.stderr.strip().splitlines()) == 1

    # On a terminal the transcript goes through the pager ($PAGER), which here copies it to a file.
    paged = tmp_path / "paged.txt"
    terminal = on_a_terminal(
        cli_env | {"PAGER": f"tee {paged}"}, orc_workdir, "agents", "show", builder_id, "--transcript"
    )
    assert paged.read_text() == shown
    assert "BUILT out.txt" in terminal


def on_a_terminal(env, cwd, *args) -> str:
    """Run `orc` with stdin and stdout on a pseudo-terminal; what the terminal received."""
    leader, follower = pty.openpty()
    received = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the follower closed: the process and its pager are done
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        done = subprocess.run(
            [str(BIN / "orc"), *args],
            cwd=cwd,
            env=env,
            stdin=follower,
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    assert done.returncode == 0, done.stderr
    return received.decode(errors="replace")
