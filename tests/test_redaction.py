"""Secrets never leave orc (#16): not JSON-escaped, not cut in half by orc's own truncation, not in any output.

The secret is hostile on purpose: a quote, a backslash, non-ASCII letters and an emoji (each one escaped by JSON),
53 characters long. Real `orc` processes run against the scripted model; the model's tool calls and the tools'
output carry the secret, one output is cut by orc right through it, and each test scans the store file's bytes,
stdout and stderr (and Datasette's pages) for the secret, its escaped forms and any 6-character piece of it.
"""

import html
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures import rows

from orchestrator_core.run import bound
from orchestrator_core.secrets import MIN_PIECE_CHARS, Redactor
from orchestrator_core.testing import error, text, tool

BIN = Path(sys.executable).parent
NAME = "DEPLOY_TOKEN"
SECRET = 'Zq"8\\xé-ß-🔑-W7mK2pQ9vR4tY6uB1nC3dF5gH8jL0aS_rT7v_endZ'
LABEL = f"[redacted {NAME}]"
#: Where the secret starts in the padded tool output: orc keeps its first 1960 characters (TOOL_OUTPUT_CHARS 2000
#: less its marker), so an unredacted cut would keep 24 of the secret's 53 characters (the issue's case).
PAD = 1936
#: Where it starts in a line of the agent's text: `-v` cuts lines at 160 characters, keeping 18 of it.
LINE_PAD = 141


def forms(piece: str) -> set[bytes]:
    """``piece`` as it could appear in bytes orc writes: raw, JSON-escaped either way, HTML-escaped."""
    return {
        f.encode()
        for f in (
            piece,
            json.dumps(piece)[1:-1],
            json.dumps(piece, ensure_ascii=False)[1:-1],
            html.escape(piece),
            html.escape(json.dumps(piece)[1:-1]),
        )
    }


#: Every 6-character piece of the secret, in every form: finding none of them means nothing of it leaked.
PIECES = {
    form: piece
    for i in range(len(SECRET) - MIN_PIECE_CHARS + 1)
    for piece in [SECRET[i : i + MIN_PIECE_CHARS]]
    for form in forms(piece)
}


def leaks(data: bytes | str) -> list[str]:
    data = data.encode() if isinstance(data, str) else data
    return sorted({piece for form, piece in PIECES.items() if form in data})


def test_the_secret_is_the_hostile_kind():
    assert len(SECRET) == 53 and all(c in SECRET for c in '"\\éß🔑')
    assert json.dumps(SECRET)[1:-1] != SECRET != json.dumps(SECRET, ensure_ascii=False)[1:-1]
    assert not leaks("x" * 2000 + LABEL + "[... 400 more characters not shown]")


def test_redactor_replaces_escaped_forms_and_pieces_at_the_edges():
    redact = Redactor({SECRET: NAME})
    assert redact(f"a {SECRET} b") == f"a {LABEL} b"
    assert redact(json.dumps(f"a {SECRET}")) == f'"a {LABEL}"'
    assert redact(json.dumps(f"a {SECRET}", ensure_ascii=False)) == f'"a {LABEL}"'
    # A piece cut at an edge: a prefix ending the text or before orc's marks, a suffix starting it.
    assert redact("head " + SECRET[:24]) == f"head {LABEL}"
    assert redact("w" * 10 + SECRET[:18] + "…") == "w" * 10 + LABEL + "…"
    assert redact(SECRET[-20:] + " tail") == f"{LABEL} tail"
    cut = bound("x" * PAD + SECRET + "y" * 500, 2000)
    assert SECRET[:24] in cut  # what orc's cut would have kept...
    assert redact(cut) == "x" * PAD + LABEL + cut[PAD + 24 :]  # ...and is replaced
    assert not leaks(bound("x" * PAD + SECRET + "y" * 500, 2000, redact))
    # Shorter pieces, and pieces away from an edge, are left: too likely to be ordinary text.
    assert redact("head " + SECRET[: MIN_PIECE_CHARS - 1]) == "head " + SECRET[: MIN_PIECE_CHARS - 1]
    assert redact(f"a {SECRET[:20]} b") == f"a {SECRET[:20]} b"
    # Values: keys and nested strings, the caller's containers untouched; a clean value is returned as it is.
    payload = {"input": {"command": SECRET, SECRET: [SECRET[:12] + "…", 3]}}
    assert redact.value(payload) == {"input": {"command": LABEL, LABEL: [LABEL + "…", 3]}}
    assert payload["input"]["command"] == SECRET
    clean = {"a": ["b", 1]}
    assert redact.value(clean) is clean
    # A path is replaced whole, never piecewise: "/home/me" ends many texts and is no secret.
    socket = Redactor({"/home/me/.ssh/agent.sock": "SSH_AUTH_SOCK"})
    assert (
        socket("cwd /home/me") == "cwd /home/me"
        and socket("/home/me/.ssh/agent.sock") == "[redacted SSH_AUTH_SOCK]"
    )


@pytest.fixture
def env(cli_env):
    return {**cli_env, NAME: SECRET}


def script_builder(scripted_model):
    """The builder's model: a tool call holding the secret, a tool output cut by orc through it, and an answer
    quoting it (once where `-v` cuts its line, once where orc bounds the answer)."""
    padded = (
        f"head -c {PAD} /dev/zero | tr '\\0' x; printf '%s' \"${NAME}\"; head -c 500 /dev/zero | tr '\\0' y"
    )
    first_line = "w" * LINE_PAD + SECRET
    answer = first_line + "\n" + "v" * (PAD - len(first_line) - 1) + SECRET + "\n" + "u" * 300
    return scripted_model.script(
        [
            tool("Bash", {"command": f"printf '%s' {shlex.quote(SECRET)}", "description": SECRET}),
            tool("Bash", {"command": padded}),
            text(answer),
        ],
        match="builder of the team",
    )


def test_no_piece_of_a_hostile_secret_in_the_store_or_any_output(env, scripted_model, orc_workdir, tmp_path):
    builder = script_builder(scripted_model)
    scripted_model.script([error(400, f"bad request near {SECRET}")] * 10, match="reviewer of the team")
    outputs = {}
    for flag in ("-q", "--json", "-v"):
        out = subprocess.run(
            [str(BIN / "orc"), "execute", "--roles", "builder,reviewer", flag, "check the token"],
            cwd=orc_workdir,
            env=env,
            capture_output=True,
            timeout=180,
        )
        outputs[flag] = out
        stdout, stderr = out.stdout.decode(), out.stderr.decode()
        # A clear result: the builder succeeded, the reviewer's refusal failed the run.
        assert out.returncode == 1, stderr
        assert "Traceback" not in stderr and "task " in stderr and "failed" in stderr
        assert leaks(out.stdout) == [] and leaks(out.stderr) == [], flag
        assert LABEL in stdout + stderr
    assert len(scripted_model.requests_for(builder)) == 9  # every run really made both tool calls
    assert outputs["-q"].stdout.decode().startswith("Failed: 1/2 subtasks")
    result = json.loads(outputs["--json"].stdout)
    assert result["subtasks"][0]["status"] == "succeeded" and LABEL in result["subtasks"][0]["output"]
    # -v shows the answer's first line cut at 160 characters: where the secret's first 18 were, the label is.
    verbose = outputs["-v"].stderr.decode()
    assert "> " + "w" * LINE_PAD + LABEL[:18] in verbose

    db = tmp_path / "orc.db"
    calls = rows(db, "select input, result from tool_calls order by called_at")
    assert len(calls) == 6
    first, padded = calls[0], calls[1]
    assert json.loads(first["input"])["description"] == LABEL and first["result"].strip() == LABEL
    # orc cut the padded output where the secret was: the label stands where its first 24 characters would be.
    assert padded["result"].startswith("x" * PAD + LABEL) and padded["result"].endswith(
        "more characters not shown]"
    )
    assert all(LABEL in r["text"] for r in rows(db, "select text from messages where role = 'assistant'"))
    assert all(LABEL in r["error"] for r in rows(db, "select error from subtasks where role = 'reviewer'"))
    for path in tmp_path.glob("orc.db*"):
        assert leaks(path.read_bytes()) == [], path.name

    # The read commands and Datasette show what the store holds: nothing of it.
    task_id = result["task_id"]
    agent_id = result["subtasks"][0]["agent_id"]
    for args in (
        ["task-details", task_id],
        ["agent-details", agent_id],
        ["watch", task_id],
        ["watch", "--json", task_id],
        ["list-tasks", "--json"],
        ["task-details", "--json", task_id],
    ):
        shown = subprocess.run(
            [str(BIN / "orc"), *args], cwd=orc_workdir, env=env, capture_output=True, timeout=60
        )
        assert shown.returncode == 0, shown.stderr
        assert leaks(shown.stdout) == [] and leaks(shown.stderr) == [], args
    import anyio

    from orc_agents.orc_store.browse import make_datasette

    async def pages():
        ds = make_datasette(db)
        got = []
        for page in (
            "/orc/tool_calls",
            "/orc/messages",
            "/orc/events.json?_shape=array&_size=max",
            f"/orc/task_timeline.json?task_id={task_id}",
            "/orc/subtasks",
        ):
            response = await ds.client.get(page)
            assert response.status_code == 200, page
            got.append(response.content)
        return got

    for content in anyio.run(pages):
        assert leaks(content) == []


def test_every_observer_and_every_result_sees_values_already_redacted(
    orc_config, orc_pm, scripted_model, orc_workdir
):
    """An observer plugin (an exporter, say) gets each event from the core's emitter: its payload holds no piece of
    the secret, even one the runtime learnt from the run's environment (``runtime_env``) and cut itself."""
    import anyio
    import attrs

    from orchestrator_core import Orchestrator, hookimpl

    class Exporter:
        seen: list[str] = []

        @hookimpl
        def orc_event(self, event):
            self.seen.append(json.dumps(event.to_dict(), ensure_ascii=False) + repr(event.payload))

        @hookimpl
        def orc_subtask_finished(self, task, subtask, result):
            self.seen.append(repr(result))

    exporter = Exporter()
    orc_pm.register(exporter, "exporter")
    builder = script_builder(scripted_model)
    config = attrs.evolve(orc_config, runtime_env={**orc_config.runtime_env, NAME: SECRET})

    async def run():
        async with Orchestrator(config, pm=orc_pm) as orc:
            return await orc.execute("check the token", roles=["builder"], cwd=orc_workdir)

    result = anyio.run(run)
    assert result.success, result.error
    assert len(scripted_model.requests_for(builder)) == 3
    assert LABEL in result.output and leaks(repr(result)) == []
    assert len(exporter.seen) > 10 and leaks("\n".join(exporter.seen)) == []
    assert any("x" * PAD + LABEL in seen for seen in exporter.seen)  # the output cut through the secret


def test_orc_agents_send_prints_no_secret(env, scripted_model, orc_workdir):
    scripted_model.script(
        [text(f"the token is {SECRET}"), text(f"cut: {SECRET[:30]}")], match="scout of the team"
    )
    created = subprocess.run(
        [str(BIN / "orc"), "agents", "create", "--role", "scout"],
        cwd=orc_workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    agent_id = created.stdout.strip()
    for message, shown in (("what is the token?", f"the token is {LABEL}"), ("again", f"cut: {LABEL}")):
        sent = subprocess.run(
            [str(BIN / "orc"), "agents", "send", agent_id, message],
            cwd=orc_workdir,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.decode().strip() == shown
        assert leaks(sent.stdout) == [] and leaks(sent.stderr) == []


def test_log_lines_are_redacted_and_printable(monkeypatch):
    import logging

    from orchestrator_core.cli import CleanLogs

    monkeypatch.setenv(NAME, SECRET)
    record = logging.LogRecord(
        "orc", logging.WARNING, __file__, 1, "write failed: %s", (f"{SECRET}\x1b[2J",), None
    )
    assert CleanLogs().filter(record)
    assert logging.Formatter("%(message)s").format(record) == f"write failed: {LABEL}␛[2J"
