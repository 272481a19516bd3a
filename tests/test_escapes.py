"""Terminal escapes from a model or a tool are shown, never sent (#16): clear screen, OSC 52 clipboard writes,
window titles and 8-bit CSI in an agent's words, tool targets and errors reach real `orc` processes' stdout and
stderr with every control character but newline and tab made visible."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator_core.terminal import printable
from orchestrator_core.testing import error, text, tool

BIN = Path(sys.executable).parent
CLEAR, CLIPBOARD, TITLE, CSI = "\x1b[2J", "\x1b]52;c;SGVsbG8=\x07", "\x1b]0;pwned\x07", "\x9b31m"
HOSTILE = f"before{CLEAR}clip{CLIPBOARD}title{TITLE}csi{CSI}after"
#: What the terminal is shown instead.
SHOWN = "before␛[2Jclip␛]52;c;SGVsbG8=␇title␛]0;pwned␇csi\\x9b31mafter"


def raw_controls(data: bytes) -> list[str]:
    """The control characters in ``data`` a terminal would act on (newline and tab are fine)."""
    return sorted(
        {
            f"U+{ord(c):04X}"
            for c in data.decode()
            if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0
        }
    )


def test_printable_shows_control_characters_and_keeps_the_text():
    assert printable(HOSTILE) == SHOWN
    assert printable("a\r\nb\tc\rd\x00\x7f\u202e") == "a\nb\tc␍d␀␡\\u202e"
    assert raw_controls(printable("".join(map(chr, range(0xA0)))).encode()) == []


@pytest.fixture
def hostile_model(scripted_model):
    scripted_model.script(
        [
            tool("Bash", {"command": f"echo building # {TITLE}{CLEAR}"}),
            text(f"{HOSTILE}\nsecond line {CLIPBOARD}"),
        ],
        match="builder of the team",
    )
    scripted_model.script([error(400, f"refused {TITLE}{CLIPBOARD}")] * 10, match="reviewer of the team")
    return scripted_model


def test_no_raw_escape_reaches_the_terminal(cli_env, hostile_model, orc_workdir):
    outputs = {}
    for flag in ("-q", "--json", "-v", "--max-parallel=1"):  # the last: default progress lines, no -v
        out = subprocess.run(
            [str(BIN / "orc"), "execute", "--roles", "builder,reviewer", flag, "build it"],
            cwd=orc_workdir,
            env=cli_env,
            capture_output=True,
            timeout=180,
        )
        outputs[flag] = out
        # A clear result: the run failed on the reviewer's refusal, said so, and printed no traceback.
        assert out.returncode == 1 and b"Traceback" not in out.stderr, out.stderr
        assert raw_controls(out.stdout) == [] and raw_controls(out.stderr) == [], flag
    quiet = outputs["-q"]
    assert quiet.stdout.decode().startswith("Failed: 1/2 subtasks") and SHOWN in quiet.stdout.decode()
    # The CLI passes on only the start of an API error ("API Error: 400 refused"); whatever it passes is shown.
    assert "failed: API Error: 400 refused" in quiet.stderr.decode()
    # --json keeps the text exactly (JSON escapes control characters itself).
    result = json.loads(outputs["--json"].stdout)
    assert result["subtasks"][0]["output"] == f"{HOSTILE}\nsecond line {CLIPBOARD}"
    verbose = outputs["-v"].stderr.decode()
    assert f"> {SHOWN}" in verbose and "second line ␛]52;c;SGVsbG8=␇" in verbose
    assert "Bash echo building # ␛]0;pwned␇␛[2J" in verbose  # the tool target
    assert "Bash echo building # ␛]0;pwned␇␛[2J" in outputs["--max-parallel=1"].stderr.decode()

    task_id, agent_id = result["task_id"], result["subtasks"][0]["agent_id"]
    for args in (["watch", task_id], ["task-details", task_id], ["agent-details", agent_id], ["list-tasks"]):
        shown = subprocess.run(
            [str(BIN / "orc"), *args], cwd=orc_workdir, env=cli_env, capture_output=True, timeout=60
        )
        assert shown.returncode == 0, shown.stderr
        assert raw_controls(shown.stdout) == [] and raw_controls(shown.stderr) == [], args
    watched = subprocess.run(
        [str(BIN / "orc"), "watch", task_id],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "before␛[2Jclip" in watched and f"task {task_id} failed" in watched


def test_orc_agents_send_shows_escapes(cli_env, scripted_model, orc_workdir):
    scripted_model.script([text(HOSTILE)] + [error(400, f"no {TITLE}")] * 10, match="scout of the team")
    agent_id = subprocess.run(
        [str(BIN / "orc"), "agents", "create", "--role", "scout"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    sent = subprocess.run(
        [str(BIN / "orc"), "agents", "send", agent_id, "hello"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.decode().strip() == SHOWN
    failed = subprocess.run(
        [str(BIN / "orc"), "agents", "send", agent_id, "again"],
        cwd=orc_workdir,
        env=cli_env,
        capture_output=True,
        timeout=120,
    )
    assert failed.returncode == 1 and "could not answer: API Error: 400 no" in failed.stderr.decode()
    for out in (sent, failed):
        assert raw_controls(out.stdout) == [] and raw_controls(out.stderr) == []


def test_the_live_view_shows_escapes_from_names_targets_words_and_flags():
    """The live table is drawn by rich, which sends ESC and C1 as they are: orc's board makes them visible first."""
    import io

    from rich.console import Console

    from orc_agents.orc_monitor.board import Board
    from orc_agents.orc_monitor.live import render
    from orchestrator_core import Agent, AgentStatus, Event, EventKind, Plan, Subtask, Task

    plan = Plan([Subtask("1", "builder", "build")])
    task = Task(id="task-1", prompt="p", task_type="custom", mode="sequential", cwd="/tmp", plan=plan)
    agent = Agent(
        id="builder-1",
        name=f"named{TITLE}",
        role="builder",
        cwd="/tmp",
        status=AgentStatus.RUNNING,
        task_id="task-1",
    )
    board = Board()
    board.task_started(task)
    board.subtask_started(plan.subtasks[0], agent)
    for seq, (kind, payload) in enumerate(
        [
            (EventKind.TOOL_CALL, {"name": "Bash", "input": {"command": f"echo {CLEAR}{CSI}"}}),
            (EventKind.MESSAGE, {"role": "assistant", "text": HOSTILE}),
        ],
        start=1,
    ):
        board.event(Event(task_id="task-1", agent_id=agent.id, seq=seq, kind=kind, payload=payload))
    board.flagged(agent, "loop", f"made the same call 3 times: {CLIPBOARD}")
    console = Console(
        file=io.StringIO(), width=200, color_system=None
    )  # no styles: every ESC would be the model's
    console.print(render(board.view(), verbose=True))
    screen = console.file.getvalue()
    assert raw_controls(screen.encode()) == []
    assert "echo ␛[2J\\x9b31m" in screen and "named␛]0;pwned␇" in screen and "␛]52;c;SGVsbG8=␇" in screen
    assert SHOWN[:40] in screen
