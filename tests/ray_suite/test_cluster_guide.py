"""The README's "Run on a cluster" runs as written: every command of its block, a head and a node on one machine.

Run only by ``tests/test_ray.py`` inside a network, PID and mount namespace of its own (``unshare -n -p -f
--mount-proc``): Ray binds loopback only, and the guide's ``ray stop`` (which stops Ray processes by name) sees no
process but this namespace's, which all end with it.
"""

import re
import shlex
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from fixtures import clean_env, default_store, rows, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: Commands (their leading words) that talk to a model: they take --scripted (orc's scripted model, offline).
MODEL_COMMANDS = (("execute",), ("resume",), ("agents", "send"))


def guide() -> list[tuple[str, str]]:
    """``(step, command)`` for each command of the guide's block; the step is the number of its comment."""
    section = (ROOT / "README.md").read_text().split("## Run on a cluster", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    step, commands = "", []
    for line in block.splitlines():
        if line.startswith("# "):
            step = line.split(".")[0].removeprefix("# ")
        elif line.strip():
            commands.append((step, line.strip()))
    return commands


def scripted(argv: list[str]) -> list[str]:
    for command in MODEL_COMMANDS:
        if tuple(argv[1 : 1 + len(command)]) == command:
            at = 1 + len(command)
            return [*argv[:at], "--scripted", *argv[at:]]
    return argv


def interrupted_task(project: Path, env: dict, store: Path) -> str:
    """A Ray task stopped by Ctrl-C after its first subtask: what `orc resume TASK_ID` carries on."""
    proc = subprocess.Popen(
        [str(BIN / "orc"), "execute", "--scripted", "-q", "Add CSV export"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _first_subtask_done(store), timeout=120)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return rows(store, "select id from tasks where status = 'cancelled'")[0]["id"]


def _first_subtask_done(store: Path) -> bool:
    try:
        return bool(
            rows(
                store,
                "select 1 from subtasks s join tasks t on t.id = s.task_id "
                "where t.status = 'running' and s.status = 'succeeded'",
            )
        )
    except sqlite3.Error:
        return False


def test_the_cluster_guide_runs_as_written(tmp_path):
    # Two machines' environments: the head (runs orc, keeps the store) and a node; one network, this namespace's.
    machines = {}
    for name in ("head", "node"):
        (tmp_path / name).mkdir()
        machines[name] = clean_env(
            tmp_path / name,
            ORC_DISABLE_PLUGIN_AUTOLOAD="1",
            ORC_SCRIPTED_HOME=str(tmp_path / "scripted"),
            ORC_RAY_NODE_DIR=str(tmp_path / name / "agents"),
            RAY_USAGE_STATS_ENABLED="0",
        )
    head, node = machines["head"], machines["node"]
    project = tmp_path / "head" / "project"
    project.mkdir()
    store = default_store(Path(head["HOME"]))
    steps = {"1": [head, node], "2": [head], "3": [node], "4": [head], "5": [head]}
    ran = []
    for step, line in guide():
        argv = shlex.split(line.replace("HEAD_IP", "127.0.0.1"))
        if argv[0] == "export":
            for env in steps[step]:
                env.update(a.split("=", 1) for a in argv[1:])
            continue
        if "TASK_ID" in argv:
            argv[argv.index("TASK_ID")] = interrupted_task(project, head, store)
        if "AGENT_ID" in argv:  # an agent the --keep-agents run kept
            argv[argv.index("AGENT_ID")] = rows(store, "select id from agents where status != 'deleted'")[0][
                "id"
            ]
        argv = scripted(argv)
        command = [str(BIN / argv[0]), *argv[1:]]
        env = steps[step][0]
        out = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=240)
        assert out.returncode == 0, f"{shlex.join(argv)}: {out.stdout[-2000:]} {out.stderr[-3000:]}"
        ran.append(argv)
        if argv[:2] == ["orc", "nodes"]:
            assert len([ln for ln in out.stdout.splitlines() if "127.0.0.1" in ln]) == 2, out.stdout
        if argv[:2] in (["orc", "execute"], ["orc", "resume"]):
            assert "Success" in out.stdout, out.stdout + out.stderr
        if argv[:3] == ["orc", "agents", "send"]:
            assert out.stdout.strip(), out.stderr
    assert [a[:2] for a in ran] == [
        ["ray", "start"],
        ["ray", "start"],
        ["orc", "nodes"],
        ["orc", "execute"],
        ["orc", "agents"],
        ["orc", "resume"],
        ["ray", "stop"],
    ]
    # The agents ran on both machines, and the head's store holds every session's conversation it kept.
    nodes = {
        r["payload"] for r in rows(store, "select json_extract(payload, '$.node_id') as payload from events")
    }
    assert len(nodes - {None}) == 2
