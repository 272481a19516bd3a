"""The monitor plugin: the live view in a real terminal, the plain fallback, and stall and loop flags (#9)."""

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from orchestrator_core import (
    Agent,
    AgentStatus,
    Event,
    EventKind,
    Orchestrator,
    Plan,
    Subtask,
    Task,
    hookimpl,
)
from orchestrator_core.testing import text, tool

BIN = Path(sys.executable).parent


def orc(home, *args):
    cwd, env = home
    return subprocess.run(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


class Recorder:
    """Every event and flag, in the order the hooks saw them."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def orc_event(self, event):
        self.seen.append(("event", event.agent_id, event.kind.value))

    @hookimpl
    def orc_agent_flagged(self, agent, kind, message):
        self.seen.append(("flag", agent, kind, message))

    def flags(self, kind):
        """(agent, message) of each flag of ``kind``."""
        return [(e[1], e[3]) for e in self.seen if e[0] == "flag" and e[2] == kind]


# -- the live view, in a terminal ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux for a real terminal")
def test_live_view_in_a_terminal(home, tmp_path):
    cwd, env = home
    (cwd / "work").mkdir()
    socket = str(tmp_path / "tmux.sock")
    command = shlex.join([str(BIN / "orc"), "execute", "--scripted", "Add CSV export", "--cwd", "work"])
    # `exec cat` keeps the pane (and its screen) after orc exits; kill-server below ends it.
    script = f"cd {shlex.quote(str(cwd))} && {command}; echo EXIT=$?; exec cat"
    subprocess.run(
        ["tmux", "-S", socket, "-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", "45", script],
        env={**env, "TERM": "xterm-256color"},
        check=True,
    )
    try:
        screen = ""
        deadline = time.monotonic() + 90
        while "EXIT=" not in screen and time.monotonic() < deadline:
            time.sleep(0.1)
            screen = subprocess.run(
                ["tmux", "-S", socket, "capture-pane", "-p", "-S", "-"], capture_output=True, text=True
            ).stdout
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True)
    assert "EXIT=0" in screen, screen
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    # The table was redrawn in place: one header in the whole scrollback, and the final one says it all.
    headers = [i for i, line in enumerate(lines) if line.startswith("plan ")]
    assert len(headers) == 1, screen
    assert "5/5 done · 0 running · 0 waiting · 0 failed" in lines[headers[0]]
    assert (
        "succeeded" in lines[headers[0] - 1]
        and "feature_implementation · sequential" in lines[headers[0] - 1]
    )
    rows = {line.split()[1]: line for line in lines if line.split()[0] in "12345" and len(line.split()) > 5}
    assert list(rows) == ["analyst", "planner", "builder", "tester", "reviewer"]
    assert all(" done " in row for row in rows.values())
    assert "Write add_csv_export.py" in rows["builder"] and "Bash python3 add_csv_export.py" in rows["tester"]
    assert "4,100" in rows["analyst"] and "$0.0196" in rows["analyst"]
    # No plain progress lines, and the result comes after the final table, on lines of its own.
    assert not any("started  (" in line for line in lines)
    result = lines.index(next(line for line in lines if line.startswith("Success: ")))
    assert result > max(i for i, line in enumerate(lines) if line.split()[0] == "5")
    assert lines[result].startswith("Success: 5/5 subtasks") and lines[result + 1].startswith("Cost: $")


# -- the plain fallback, --json and -p no:orc_monitor -----------------------------------------------------------


def test_plain_lines_when_not_a_terminal_and_verbose_shows_the_agents_text(home):
    out = orc(home, "execute", "--scripted", "--roles", "scout", "-v", "look")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Success: 1/1 subtasks")
    lines = out.stderr.splitlines()
    assert "\x1b" not in out.stderr
    assert lines[0].startswith("task task-") and "custom, 1 subtask(s)" in lines[0]
    assert lines[1].startswith("[1] scout") and "started" in lines[1]
    assert any(line.endswith("Glob **/*.py") for line in lines)
    assert any(line.startswith("[1] scout") and "> Found these Python files:" in line for line in lines)
    assert lines[-1].startswith("[1] scout") and " done " in lines[-1]


def test_json_prints_no_progress(home):
    out = orc(home, "execute", "--scripted", "--roles", "scout", "--json", "-v", "look")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["success"] is True
    assert out.stderr == ""


def test_a_run_works_without_the_monitor(home):
    out = orc(home, "-p", "no:orc_monitor", "execute", "--scripted", "--roles", "scout", "look")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Success: 1/1 subtasks")
    assert "scout" not in out.stderr


# -- stall and loop detection, through the real SDK -------------------------------------------------------------


@pytest.mark.anyio
async def test_a_silent_agent_is_flagged_once_per_silence(orc_config, orc_pm, scripted_model, orc_workdir):
    from rich.console import Console

    from orc_agents.orc_monitor import VIEW_NAME
    from orc_agents.orc_monitor.live import LiveView

    # The model takes 1.5 s to answer; checks every 0.1 s find the agent silent for more than 0.4 s.
    scripted_model.script([text("finally", latency=1.5)], match="scout of the team")
    recorder = Recorder()
    orc_pm.register(recorder)
    # Progress is "off", as for any library user: the flags come all the same. A live view on a pretend terminal
    # shows them.
    config = attrs.evolve(orc_config, stall_seconds=0.4, monitor_interval_seconds=0.1, stall_action="warn")
    assert config.progress == "off"
    terminal = Console(file=io.StringIO(), force_terminal=True, width=150, color_system=None)
    orc_pm.register(LiveView(config, console=terminal), VIEW_NAME)
    async with Orchestrator(config, pm=orc_pm) as orc:
        result = await orc.execute("look", roles=["scout"], cwd=orc_workdir)
    assert result.success and result.output == "finally"
    drawn = terminal.file.getvalue()
    assert "running ⚠ stall" in drawn and "⚠ scout (1): stall: no event for" in drawn
    assert "plan 1/1 done · 0 running · 0 waiting · 0 failed" in drawn
    stalls = recorder.flags("stall")
    assert stalls, recorder.seen
    for agent, message in stalls:
        assert (agent.role, agent.status) == ("scout", AgentStatus.RUNNING)
        assert re.fullmatch(
            r"no event for \d\.\ds, its last event was (message|session) \(ORC_STALL_SECONDS is 0\.4s\)",
            message,
        ), message
    # Once per silence: between two stall flags the agent did something.
    kinds = [entry[0] for entry in recorder.seen]
    assert all(not (a == b == "flag") for a, b in zip(kinds, kinds[1:], strict=False)), kinds
    assert recorder.flags("loop") == []


@pytest.mark.anyio
async def test_a_repeated_tool_call_is_flagged_once_and_the_plain_view_warns(
    orc_config, orc_pm, scripted_model, orc_workdir, capsys
):
    glob = tool("Glob", {"pattern": "*.py"})
    scripted_model.script([glob, glob, glob, glob, text("still looking")], match="scout of the team")
    recorder = Recorder()
    orc_pm.register(recorder)
    async with Orchestrator(attrs.evolve(orc_config, progress="plain"), pm=orc_pm) as orc:
        result = await orc.execute("look", roles=["scout"], cwd=orc_workdir)
    assert result.success
    loops = recorder.flags("loop")
    assert len(loops) == 1, recorder.seen
    agent, message = loops[0]
    assert agent.role == "scout"
    assert message == 'made the same call 3 times: Glob {"pattern": "*.py"}'
    # Flagged at the third call, after the views saw it.
    calls_before = [
        e
        for e in recorder.seen[: recorder.seen.index(("flag", agent, "loop", message))]
        if e[0] == "event" and e[2] == "tool_call"
    ]
    assert len(calls_before) == 3
    assert recorder.flags("stall") == []
    err = capsys.readouterr().err.splitlines()
    warning = next(i for i, line in enumerate(err) if "warning: loop: made the same call 3 times" in line)
    assert err[warning].startswith("[1] scout") and err[warning - 1].endswith("Glob *.py")


# -- the view's parts, without agents ---------------------------------------------------------------------------


def _board_with_a_flagged_builder():
    from orc_agents.orc_monitor.board import Board

    plan = Plan([Subtask("1", "scout", "look"), Subtask("2", "builder", "build", ["1"])])
    task = Task(id="task-1", prompt="p", task_type="custom", mode="sequential", cwd="/tmp", plan=plan)
    agent = Agent(
        id="builder-1",
        name="builder (2)",
        role="builder",
        cwd="/tmp",
        status=AgentStatus.RUNNING,
        task_id="task-1",
    )
    board = Board()
    board.task_started(task)
    board.agent_created(agent)
    board.subtask_started(plan.subtasks[1], agent)
    for seq, (kind, payload) in enumerate(
        [
            (EventKind.MESSAGE, {"role": "user", "text": "go"}),
            (EventKind.TOOL_CALL, {"name": "Read", "input": {"file_path": "/tmp/src/app.py"}}),
            (EventKind.TOOL_RESULT, {"name": "Read"}),
            (EventKind.MESSAGE, {"role": "assistant", "text": "Now I will\nwrite it."}),
            (
                EventKind.TOOL_CALL,
                {"name": "Write", "input": {"file_path": "/tmp/src/out.py", "content": "x"}},
            ),
            (EventKind.USAGE, {"input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.5}),
        ],
        start=1,
    ):
        board.event(Event(task_id="task-1", agent_id=agent.id, seq=seq, kind=kind, payload=payload))
    board.flagged(agent, "loop", "made the same call 3 times")
    return board


def test_the_live_table_shows_progress_cost_against_the_limit_and_flags():
    from rich.console import Console

    from orc_agents.orc_monitor.live import render

    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(render(_board_with_a_flagged_builder().view(), max_cost=2.0, verbose=True))
    screen = console.file.getvalue()
    assert "0/2 done · 1 running · 1 waiting · 0 failed" in screen
    assert "cost $0.5000 of $2.00" in screen
    builder = next(line for line in screen.splitlines() if line.lstrip().startswith("2 "))
    assert builder.split()[:7] == ["2", "builder", "builder", "(2)", "running", "⚠", "loop"]
    assert builder.split()[7:9] == ["2", "2"]  # turns (two model replies), tool calls
    assert "Write out.py" in builder and "1,200" in builder and "$0.5000" in builder
    assert "⚠ builder (2): loop: made the same call 3 times" in screen
    assert "builder (2): Now I will write it." in screen


def test_the_live_table_shows_throttling_per_agent_and_the_model_concurrency():
    """The governor's waits (#23): per agent how often and how long, in the header how many requests go at once."""
    from rich.console import Console

    from orc_agents.orc_monitor.live import render

    board = _board_with_a_flagged_builder()
    for seq, delay in ((10, 1500), (11, 2500)):
        board.event(
            Event(
                task_id="task-1",
                agent_id="builder-1",
                seq=seq,
                kind=EventKind.RETRY,
                payload={"by": "governor", "error_status": 429, "retry_delay_ms": delay, "concurrency": 3},
            )
        )
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(render(board.view()))
    screen = console.file.getvalue()
    assert "throttled 2× · model 3 at once" in screen
    builder = next(line for line in screen.splitlines() if line.lstrip().startswith("2 "))
    assert "waited 2× 4.0s" in builder


def test_loop_detector_counts_recent_calls_only():
    from orc_agents.orc_monitor.detectors import LoopDetector

    loops = LoopDetector(repeats=3)
    assert [loops.tool_call("a", "Read", {"file_path": "x"}) for _ in range(2)] == [None, None]
    for i in range(loops.window):  # real work in between: the earlier reads fall out of the window
        assert loops.tool_call("a", "Edit", {"file_path": "x", "n": i}) is None
    assert loops.tool_call("a", "Read", {"file_path": "x"}) is None
    assert loops.tool_call("b", "Read", {"file_path": "x"}) is None  # per agent
    assert [loops.tool_call("a", "Read", {"file_path": "x"}) for _ in range(3)] == [None, 3, None]


def test_a_narrow_terminal_keeps_every_row_on_one_line():
    from rich.console import Console

    from orc_agents.orc_monitor.live import render

    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(render(_board_with_a_flagged_builder().view(), max_cost=2.0, width=80))
    lines = console.file.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[2].split() == [
        "#",
        "role",
        "status",
        "turns",
        "tools",
        "last",
        "tool",
        "tokens",
        "cost",
        "time",
    ]
    builder = next(line for line in lines if line.lstrip().startswith("2 "))
    assert builder.split()[:4] == ["2", "builder", "running", "⚠"] and builder.rstrip().endswith("s")


def test_a_retried_subtask_keeps_one_row_and_counts_every_attempt():
    board = _board_with_a_flagged_builder()
    subtask = board.task.plan.subtasks[1]
    again = Agent(
        id="builder-2",
        name="builder (2)",
        role="builder",
        cwd="/tmp",
        status=AgentStatus.RUNNING,
        task_id="task-1",
    )
    board.agent_created(again)  # ahead of its start, as a sequential run does: no row of its own
    assert len(board.view().rows) == 2
    board.subtask_started(subtask, again)
    board.event(
        Event(
            task_id="task-1",
            agent_id="builder-2",
            seq=1,
            kind=EventKind.USAGE,
            payload={"input_tokens": 300, "cost_usd": 0.25},
        )
    )
    # The first agent's last word (deleted) changes nothing on the row the second one now has.
    board.agent_updated(
        Agent(id="builder-1", name="builder (2)", role="builder", cwd="/tmp", status=AgentStatus.DELETED)
    )
    (row,) = [r for r in board.view().rows if r.subtask_id == "2"]
    assert (row.agent_id, row.attempt, row.flags) == ("builder-2", 2, [])
    assert (row.total_tokens, row.total_cost_usd) == (1500, 0.75)
    assert len(board.view().rows) == 2


def test_stall_flags_say_what_the_agent_waits_on_once_per_silence(monkeypatch):
    from types import SimpleNamespace

    from orc_agents.orc_monitor.monitor import Monitor
    from orchestrator_core import Config, make_plugin_manager
    from orchestrator_core.records import StatusSnapshot

    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr("orc_agents.orc_monitor.monitor.time", SimpleNamespace(monotonic=lambda: clock.now))
    pm = make_plugin_manager(["no:orc_monitor"], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    recorder = Recorder()
    pm.register(recorder)
    monitor = Monitor(Config(stall_seconds=60), pm)
    agent = Agent(id="builder-1", name="builder (1)", role="builder", cwd="/tmp", status=AgentStatus.RUNNING)
    monitor.orc_agent_updated(agent)
    monitor.orc_event(
        Event(
            task_id=None,
            agent_id=agent.id,
            seq=1,
            kind=EventKind.TOOL_CALL,
            payload={"name": "Bash", "input": {"command": "pytest -q"}},
        )
    )
    snapshot = StatusSnapshot(task_id="t", agents=[agent])
    for now in (159.0, 161.0, 300.0):  # not yet, flagged, still the same silence
        clock.now = now
        monitor.orc_status(snapshot)
    clock.now = 301.0
    monitor.orc_event(Event(task_id=None, agent_id=agent.id, seq=2, kind=EventKind.TOOL_RESULT, payload={}))
    clock.now = 400.0
    monitor.orc_status(snapshot)
    assert [message for _, message in recorder.flags("stall")] == [
        "no event for 61s, waiting on its Bash call (pytest -q) (ORC_STALL_SECONDS is 60s)",
        "no event for 99s, its last event was tool_result (ORC_STALL_SECONDS is 60s)",
    ]
    idle = attrs.evolve(agent, status=AgentStatus.IDLE)
    clock.now = 1000.0
    monitor.orc_status(StatusSnapshot(task_id="t", agents=[idle]))  # an idle agent waits for us, not stalled
    assert len(recorder.flags("stall")) == 2
