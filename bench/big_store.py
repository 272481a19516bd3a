"""The read commands on a big store (#20): 10,000 tasks, 100,000 agents, 800,000 events. Goal: each read command
answers in <= 0.3 s, run as a real ``orc`` process.

The store is built by direct SQL inserts into a file made by orc's own migrations (not through agents), shaped like
a real run's rows: each agent has a prompt, a session event (which fills its model), a tool call and its result, a
file access, an answer, a usage and a context row. Each command is then run as a subprocess, best of ``--repeat``,
with its peak memory; the baseline, measured in the same run, is the same command on an empty store (orc's start-up
and the opening of a store), so ``ratio`` is what the rows cost on top of that.

    python bench/big_store.py [--tasks 10000] [--agents-per-task 10] [--repeat 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROLES = ("analyst", "planner", "builder", "tester", "reviewer")
#: Events per agent: user message, session, tool call, tool result, file access, answer, usage, context.
EVENTS_PER_AGENT = 8
GOAL_S = 0.3


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def build(path: Path, tasks: int, agents_per_task: int, now: dt.datetime | None = None) -> dict:
    """Make a store at ``path`` with ``tasks`` tasks of ``agents_per_task`` agents each, the newest created just
    before ``now``, one task every 4 minutes going back. Returns what a caller needs to name rows in it."""
    from orc_agents.orc_store import open_database

    now = now or dt.datetime.now(dt.UTC)
    open_database(path).close()  # orc's schema, through its own migrations
    db = sqlite3.connect(path)
    db.execute("pragma synchronous = off")
    step = dt.timedelta(minutes=4)
    task_rows, subtask_rows, agent_rows = [], [], []
    events, messages, tool_calls, accesses, usage, context = [], [], [], [], [], []
    for t in range(tasks):
        created = now - step * (tasks - t)
        task_id = f"task-{t:08d}"
        status = "failed" if t % 10 == 3 else "running" if t == tasks - 1 else "succeeded"
        plan = {
            "task_type": "feature_implementation",
            "subtasks": [
                {
                    "id": str(i + 1),
                    "role": ROLES[i % len(ROLES)],
                    "instruction": "do it",
                    "depends_on": [str(i)] if i else [],
                }
                for i in range(agents_per_task)
            ],
        }
        task_rows.append(
            (
                task_id,
                f"Prompt number {t}: add feature {t}",
                "feature_implementation",
                "sequential",
                "/w",
                status,
                json.dumps(plan),
                int(status == "succeeded"),
                f"Output of task {t}" if status == "succeeded" else None,
                f"subtask {agents_per_task} ({ROLES[(agents_per_task - 1) % len(ROLES)]}) failed: tests fail"
                if status == "failed"
                else None,
                0.01 * agents_per_task,
                _iso(created),
                _iso(created + dt.timedelta(minutes=3)),
            )
        )
        for a in range(agents_per_task):
            role = ROLES[a % len(ROLES)]
            agent_id = f"{role}-{t:08d}{a:02d}"
            at = created + dt.timedelta(seconds=10 * a)
            ts = _iso(at)
            agent_status = (
                "idle"
                if t % 50 == 7
                else "failed"
                if status == "failed" and a == agents_per_task - 1
                else "deleted"
            )
            subtask_rows.append(
                (
                    f"{task_id}:{a + 1}",
                    task_id,
                    str(a + 1),
                    role,
                    "do it",
                    "[]",
                    "failed" if agent_status == "failed" else "succeeded",
                    agent_id,
                    ts,
                    ts,
                )
            )
            agent_rows.append(
                (
                    agent_id,
                    task_id,
                    f"{role} ({a + 1})",
                    role,
                    agent_status,
                    f"s-{t}-{a}",
                    "/w",
                    0.01,
                    2000,
                    100,
                    0,
                    0,
                    2,
                    1,
                    1 if a % 2 else 0,
                    0 if a % 2 else 1,
                    0.5,
                    2100,
                    1_000_000,
                    1,
                    ts,
                    ts,
                )
            )
            tool = f"toolu_{t:08d}{a:02d}"
            file_path = f"/w/src/module_{t % 500}_{a}.py"
            operation = "read" if a % 2 else "write"
            prompt = f"Task: add feature {t}\n\nYour part ({role}): do it. " + "Context line. " * 20
            answer = f"Done with part {a + 1} of task {t}: wrote {file_path}."
            result = "File created successfully" if operation == "write" else "line\n" * 40
            payloads = [
                ("message", {"role": "user", "text": prompt}),
                (
                    "session",
                    {
                        "session_id": f"s-{t}-{a}",
                        "model": "claude-sonnet-4-5",
                        "cwd": "/w",
                        "tools": ["Read", "Write"],
                    },
                ),
                (
                    "tool_call",
                    {
                        "tool_use_id": tool,
                        "name": "Write" if operation == "write" else "Read",
                        "input": {"file_path": file_path},
                    },
                ),
                (
                    "tool_result",
                    {
                        "tool_use_id": tool,
                        "name": "Write",
                        "is_error": False,
                        "content": result,
                        "duration_ms": 40,
                    },
                ),
                (
                    "file_access",
                    {"path": file_path, "operation": operation, "tool": "Write", "tool_use_id": tool},
                ),
                ("message", {"role": "assistant", "text": answer}),
                ("usage", {"input_tokens": 2000, "output_tokens": 100, "cost_usd": 0.01}),
                ("context", {"used_tokens": 2100, "window_tokens": 1_000_000, "usage_percentage": 0.21}),
            ]
            for seq, (kind, payload) in enumerate(payloads, 1):
                events.append((task_id, agent_id, seq, ts, kind, json.dumps(payload)))
            messages += [
                (task_id, agent_id, 1, "user", prompt, ts),
                (task_id, agent_id, 6, "assistant", answer, ts),
            ]
            tool_calls.append(
                (
                    tool,
                    task_id,
                    agent_id,
                    3,
                    payloads[2][1]["name"],
                    json.dumps(payloads[2][1]["input"]),
                    result,
                    0,
                    40,
                    ts,
                    ts,
                )
            )
            accesses.append((task_id, agent_id, tool, file_path, operation, "Write", ts))
            usage.append((task_id, agent_id, 7, 2000, 100, 0, 0, 0.01, 0.01, ts))
            context.append((task_id, agent_id, 8, 2100, 1_000_000, 0.21, ts))
    with db:
        db.executemany(
            "insert into tasks (id, prompt, task_type, mode, cwd, status, plan, success, output, error, "
            "cost_usd, created_at, finished_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            task_rows,
        )
        db.executemany(
            "insert into subtasks (id, task_id, subtask_id, role, instruction, depends_on, status, "
            "agent_id, started_at, finished_at) values (?,?,?,?,?,?,?,?,?,?)",
            subtask_rows,
        )
        db.executemany(
            "insert into agents (id, task_id, name, role, status, session_id, cwd, cost_usd, input_tokens, "
            "output_tokens, cache_read_tokens, cache_creation_tokens, messages, tool_calls, files_read, "
            "files_written, duration_s, context_used, context_window, started, created_at, updated_at) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            agent_rows,
        )
        db.executemany(
            "insert into events (task_id, agent_id, seq, ts, kind, payload) values (?,?,?,?,?,?)", events
        )
        db.executemany(
            "insert into messages (task_id, agent_id, seq, role, text, ts) values (?,?,?,?,?,?)", messages
        )
        db.executemany(
            "insert into tool_calls (id, task_id, agent_id, seq, name, input, result, is_error, "
            "duration_ms, called_at, finished_at) values (?,?,?,?,?,?,?,?,?,?,?)",
            tool_calls,
        )
        db.executemany(
            "insert into file_accesses (task_id, agent_id, tool_call_id, path, operation, tool, at) "
            "values (?,?,?,?,?,?,?)",
            accesses,
        )
        db.executemany(
            "insert into usage (task_id, agent_id, seq, input_tokens, output_tokens, cache_read_tokens, "
            "cache_creation_tokens, cost_usd, session_cost_usd, at) values (?,?,?,?,?,?,?,?,?,?)",
            usage,
        )
        db.executemany(
            "insert into context_samples (task_id, agent_id, seq, used_tokens, window_tokens, "
            "usage_percentage, at) values (?,?,?,?,?,?,?)",
            context,
        )
    db.close()
    last = task_rows[-1][0]
    return {
        "tasks": tasks,
        "agents": len(agent_rows),
        "events": len(events),
        "newest_task": last,
        "an_agent": agent_rows[-1][0],
        "a_failed_task": next(r[0] for r in task_rows if r[5] == "failed"),
    }


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run ``orc`` with ``argv``: (seconds, peak memory in MB, exit code)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "orc"), *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def measure(argv: list[str], env: dict[str, str], repeat: int) -> dict:
    times, memory = [], []
    for _ in range(repeat):
        seconds, mb, code = run(argv, env)
        if code != 0:
            raise SystemExit(f"orc {' '.join(argv)} exited {code}")
        times.append(seconds)
        memory.append(mb)
    return {
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "peak_mb": round(max(memory), 1),
    }


def in_process(argv: list[str], repeat: int) -> float:
    """Best seconds of the command's own work, in this process once orc has started: what the rows cost, without
    the interpreter's start-up and the loading of plugins, which every command pays alike."""
    import contextlib

    from orchestrator_core.cli import cli

    with cli.make_context("orc", list(argv)) as root:
        name, command, rest = cli.resolve_command(root, list(argv))  # loads the plugins, once
        best = float("inf")
        with open(os.devnull, "w") as sink:
            for _ in range(repeat + 1):  # the first run warms the caches
                start = time.perf_counter()
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    with command.make_context(name, list(rest), parent=root) as ctx:
                        command.invoke(ctx)
                best = min(best, time.perf_counter() - start)
    return best


def in_a_child(*args: str) -> str:
    """Run this script with ``args`` in a fresh interpreter (so this one stays small); its stdout."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"big_store.py {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--agents-per-task", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Build the store in this directory and keep it.")
    parser.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--in-process", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        print(json.dumps(build(args.build_only, args.tasks, args.agents_per_task)))
        return
    if args.in_process:
        print(in_process(json.loads(args.in_process), args.repeat))
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from common import write

    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        big, empty = where / "big.db", where / "empty.db"
        for path in (big, empty):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        start = time.perf_counter()
        # Built in a child: the rows it holds in memory would count in the peak memory of every orc started here.
        built = json.loads(
            in_a_child(
                "--build-only",
                str(big),
                "--tasks",
                str(args.tasks),
                "--agents-per-task",
                str(args.agents_per_task),
            )
        )
        build_s = time.perf_counter() - start
        from orc_agents.orc_store import open_database

        open_database(empty).close()
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("ORC_", "ORCHESTRATOR_", "ANTHROPIC_"))
        }
        env.update(ORC_DISABLE_PLUGIN_AUTOLOAD="1", HOME=str(where))
        # An installed orc runs from compiled bytecode; a shell that forbids writing it would time the compiler.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        run(["list-tasks", "--db", str(empty)], env)
        task, agent, failed = built["newest_task"], built["an_agent"], built["a_failed_task"]
        commands = {
            "status": ["status"],
            "list-tasks": ["list-tasks"],
            "list-tasks --status failed": ["list-tasks", "--status", "failed"],
            "list-tasks --since 3d --json": ["list-tasks", "--since", "3d", "--json"],
            "list-agents": ["list-agents"],
            "list-agents --role builder --status idle": [
                "list-agents",
                "--role",
                "builder",
                "--status",
                "idle",
            ],
            "list-agents --task ID": ["list-agents", "--task", failed],
            "agents list --since 2h --json": ["agents", "list", "--since", "2h", "--json"],
            "task-details ID": ["task-details", task],
            "task-details ID --json": ["task-details", failed, "--json"],
            "task-details ID --messages": ["task-details", task, "--messages"],
            "agent-details ID": ["agent-details", agent],
            "agents show ID --transcript --json": ["agents", "show", agent, "--transcript", "--json"],
        }
        # What --all costs: every row, no goal (the default page is the answer to "what is going on").
        unbounded = {
            "list-tasks --all": ["list-tasks", "--all"],
            "list-agents --all": ["list-agents", "--all"],
        }
        version = measure(["--version"], env, args.repeat)
        startup = measure(["list-tasks", "--db", str(empty)], env, args.repeat)
        results = {}
        for name, argv in {**commands, **unbounded}.items():
            on_empty = [a if a not in (task, agent, failed) else "x" for a in argv]
            baseline = (
                measure([*on_empty, "--db", str(empty)], env, args.repeat) if "ID" not in name else None
            )
            measured = measure([*argv, "--db", str(big)], env, args.repeat)
            own = float(
                in_a_child(
                    "--in-process", json.dumps([*argv, "--db", str(big)]), "--repeat", str(args.repeat)
                )
            )
            results[name] = {
                **measured,
                "in_process_best_s": round(own, 4),
                "baseline_empty_store_s": baseline["best_s"] if baseline else None,
                "ratio_to_baseline": round(measured["best_s"] / baseline["best_s"], 2) if baseline else None,
                "ratio_to_startup": round(measured["best_s"] / startup["best_s"], 2),
            }
        size_mb = round(
            sum(Path(f"{big}{s}").stat().st_size for s in ("", "-wal") if Path(f"{big}{s}").exists()) / 1e6, 1
        )
    worst = max(results[name]["best_s"] for name in commands)
    data = {
        "command": f"python bench/big_store.py --tasks {args.tasks} --agents-per-task {args.agents_per_task} "
        f"--repeat {args.repeat}",
        "sqlite": sqlite3.sqlite_version,
        "store": {**built, "build_s": round(build_s, 1), "size_mb": size_mb},
        "best_of": args.repeat,
        "baseline": {"orc --version": version, "list-tasks on an empty store (start-up)": startup},
        "commands": results,
        "goal": f"every command but --all: best_s <= {GOAL_S}",
        "worst_best_s": worst,
        "goal_met": worst <= GOAL_S,
    }
    path = write("big_store", data)
    print(f"wrote {path}")
    print(f"store: {data['store']}")
    print(f"baseline: {data['baseline']}")
    for name, row in results.items():
        print(
            f"{name:42} best {row['best_s']:.3f}s  median {row['median_s']:.3f}s  own {row['in_process_best_s']:.4f}s"
            f"  peak {row['peak_mb']:.0f} MB  x start-up {row['ratio_to_startup']}"
        )
    print(f"worst {worst:.3f}s; goal met: {data['goal_met']}")


if __name__ == "__main__":
    main()
