"""``--approve plan`` is the orc_approval plugin's ``orc_plan_gate`` (#18): a real `orc` process asks on its terminal,
the answers come on its stdin; a third party's gate is asked before it and sees what the user edited."""

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures import clean_env

BIN = Path(sys.executable).parent
ASKED = b"Run this plan?"

PLAN = {
    "prompt": "Build it",
    "subtasks": [
        {"id": "1", "role": "scout", "instruction": "Look.", "depends_on": []},
        {"id": "2", "role": "builder", "instruction": "Build.", "depends_on": ["1"]},
    ],
}

#: A third party's gate: writes down the size of each plan it is shown; refuses plans of more than GATE_MAX agents
#: and plans with the word GATE_REFUSE in an instruction.
GATE_PLUGIN = """
import os
from pathlib import Path
from orchestrator_core import hookimpl

@hookimpl
def orc_plan_gate(plan, prompt):
    with Path(os.environ["GATE_LOG"]).open("a") as log:
        log.write(f"{len(plan.subtasks)}\\n")
    if len(plan.subtasks) > int(os.environ.get("GATE_MAX", "99")):
        return f"policy: at most {os.environ['GATE_MAX']} agents for {prompt!r}"
    word = os.environ.get("GATE_REFUSE")
    if word and any(word in s.instruction for s in plan.subtasks):
        return f"policy: no {word} plans"
    return None
"""

#: An $EDITOR that keeps only the plan's first subtask and changes its instruction.
EDITOR = """
import json, sys
path = sys.argv[1]
plan = json.loads(open(path).read())
plan["subtasks"] = plan["subtasks"][:1]
plan["subtasks"][0]["instruction"] = "Look, EDITED."
open(path, "w").write(json.dumps(plan))
"""


@pytest.fixture
def gate_env(tmp_path, scripted_model):
    """`orc`'s environment with a third-party plan gate installed as a real distribution, and an $EDITOR."""
    site = tmp_path / "site"
    info = site / "orc_gate-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: orc-gate\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[orc]\ngate = orc_gate\n")
    (site / "orc_gate.py").write_text(GATE_PLUGIN)
    (tmp_path / "editor.py").write_text(EDITOR)
    return clean_env(
        tmp_path,
        **scripted_model.env(tmp_path / "claude-config"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="",
        ORC_LOAD_PLUGINS="orc-gate",
        ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
        PYTHONPATH=str(site),
        GATE_LOG=str(tmp_path / "gate.log"),
        EDITOR=f"{sys.executable} {tmp_path / 'editor.py'}",
        VISUAL="",
    )


def on_terminal(env, cwd, args, answers, timeout=90):
    """Run `orc` on a pseudo-terminal, typing the next of ``answers`` each time it asks. Returns (exit code, all
    it wrote, how many times it asked)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "orc"), *args], cwd=cwd, env=env, stdin=child, stdout=child, stderr=child, close_fds=True
    )
    os.close(child)
    seen, asked = b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            while seen.count(ASKED) > asked and asked < len(answers):
                os.write(main, answers[asked].encode() + b"\n")
                asked += 1
        return proc.wait(timeout=max(1, deadline - time.monotonic())), seen.decode(errors="replace"), asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)


def team_says(scripted_model, *roles):
    from orchestrator_core.testing import text

    return {r: scripted_model.script([text(f"{r} done")], match=f"{r} of the team", name=r) for r in roles}


def test_an_edited_plan_is_shown_again_and_every_gate_sees_it(
    gate_env, scripted_model, orc_workdir, tmp_path
):
    team = team_says(scripted_model, "scout", "builder")
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    code, screen, asked = on_terminal(
        gate_env,
        orc_workdir,
        ["execute", "-q", "--approve", "plan", "--plan", str(tmp_path / "plan.json")],
        "ey",
    )
    assert code == 0, screen
    assert asked == 2 and "Success: 1/1 subtasks" in screen
    assert screen.index("[2] builder") < screen.index(ASKED.decode()) < screen.index("Look, EDITED.")
    # The third party's gate was asked first, then again about the edit.
    assert (tmp_path / "gate.log").read_text().split() == ["2", "1"]
    assert "Look, EDITED." in scripted_model.requests_for(team["scout"])[0].search_text
    assert scripted_model.requests_for(team["builder"]) == []


@pytest.mark.parametrize("approve", [True, False])
def test_a_third_party_gate_refuses_before_anyone_is_asked(
    gate_env, scripted_model, orc_workdir, tmp_path, approve
):
    team_says(scripted_model, "scout", "builder")
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    args = [
        "execute",
        "-q",
        *(["--approve", "plan"] if approve else []),
        "--plan",
        str(tmp_path / "plan.json"),
    ]
    code, screen, asked = on_terminal({**gate_env, "GATE_MAX": "1"}, orc_workdir, args, "y")
    assert code == 2, screen
    assert asked == 0 and ASKED.decode() not in screen
    assert "policy: at most 1 agents for 'Build it'" in screen and "Traceback" not in screen
    assert scripted_model.requests == []


def test_the_users_edit_goes_to_the_other_gates(gate_env, scripted_model, orc_workdir, tmp_path):
    """An edited plan is put to every gate again: here the policy refuses what the user made of the plan."""
    team_says(scripted_model, "scout", "builder")
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    args = ["execute", "-q", "--approve", "plan", "--plan", str(tmp_path / "plan.json")]
    code, screen, asked = on_terminal({**gate_env, "GATE_REFUSE": "EDITED"}, orc_workdir, args, "ey")
    assert code == 2, screen
    assert asked == 1 and "policy: no EDITED plans" in screen and "Traceback" not in screen
    assert (tmp_path / "gate.log").read_text().split() == ["2", "1"]
    assert scripted_model.requests == []


def test_no_approval_without_the_plugin(orc_cli):
    assert "--approve" in orc_cli("execute", "--help").stdout
    assert "--approve" not in orc_cli("-p", "no:orc_approval", "execute", "--help").stdout
    out = orc_cli("-p", "no:orc_approval", "execute", "--approve", "plan", "x")
    assert out.exit_code == 2 and "No such option '--approve'" in out.output


def test_approve_from_the_environment_needs_a_terminal_too(cli_env, scripted_model, orc_workdir, tmp_path):
    """ORC_APPROVE=plan (a setting, like every plugin option) is refused in a pipe before a planner agent runs."""
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--planner", "llm", "Refactor the parser"],
        cwd=orc_workdir,
        env={**cli_env, "ORC_APPROVE": "plan"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "--approve plan needs a terminal" in line
    assert scripted_model.requests == []
    assert not (tmp_path / "orc.db").exists()
