"""Mission control's speed (#22): every page in <= 300 ms server time on a store of 10,000 tasks, 100,000 agents and
800,000 events. The store is built through orc's real migrations (indexes, foreign keys, FTS triggers) with direct
inserts of rows shaped like a real run's; each page is then asked of the same Datasette ``orc browse`` builds
(mission control registered through the orc_browse_plugins hook), through its in-process ASGI client, so the time is
the server's own: routing, SQL and rendering, no network. The baseline, in the same run, is stock Datasette's first
page of the tasks table (``/<db>/tasks?_size=20``); the stock per-agent views are timed too.

    python bench/web.py [--tasks 10000] [--agents-per-task 10] [--repeat 15] [--store PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import write  # noqa: E402

from orc_agents.orc_store import open_database  # noqa: E402
from orc_agents.orc_store.browse import browse_plugins, make_datasette  # noqa: E402
from orchestrator_core import make_plugin_manager  # noqa: E402

STATUSES = ("succeeded",) * 8 + ("failed", "cancelled")
ROLES = (
    "analyst",
    "planner",
    "builder",
    "tester",
    "reviewer",
    "documenter",
    "scout",
    "builder",
    "tester",
    "reviewer",
)
BUDGET_MS = 300.0


def build(path: Path, tasks: int, per_task: int) -> dict[str, int]:
    """A migrated store with ``tasks`` tasks of ``per_task`` agents, each agent with 8 events and their rows."""
    open_database(path).close()  # the real migrations, WAL on
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("pragma synchronous = off")
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    counts = dict.fromkeys(("tasks", "agents", "events"), 0)

    def iso(t: dt.datetime) -> str:
        return t.isoformat()

    with db:
        for i in range(tasks):
            start = base + dt.timedelta(minutes=i)
            status = "running" if i >= tasks - 3 else STATUSES[i % len(STATUSES)]
            task_id = f"task-{i:08x}"
            plan = {
                "task_type": "custom",
                "subtasks": [
                    {
                        "id": str(j + 1),
                        "role": ROLES[j % len(ROLES)],
                        "instruction": f"step {j + 1}",
                        "depends_on": [str(j)] if j else [],
                    }
                    for j in range(per_task)
                ],
            }
            done = status != "running"
            db.execute(
                "insert into tasks (id, prompt, task_type, mode, cwd, status, plan, success, output, error, cost_usd, "
                "input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, created_at, finished_at) "
                "values (?, ?, 'custom', 'sequential', '/w', ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
                [
                    task_id,
                    f"Task {i}: add the feature number {i} " * 4,
                    status,
                    json.dumps(plan),
                    int(status == "succeeded") if done else None,
                    "All done." if done else None,
                    None if status in ("succeeded", "running") else "a subtask failed",
                    0.0123 * per_task if done else None,
                    2000 * per_task if done else None,
                    100 * per_task if done else None,
                    iso(start),
                    iso(start + dt.timedelta(seconds=5 * per_task)) if done else None,
                ],
            )
            counts["tasks"] += 1
            events, messages, calls, files, usage, context, agents, subtasks = [], [], [], [], [], [], [], []
            for j in range(per_task):
                agent_id = f"{ROLES[j % len(ROLES)]}-{i:07x}{j:03x}"
                t0 = start + dt.timedelta(seconds=5 * j)
                at = [iso(t0 + dt.timedelta(milliseconds=400 * k)) for k in range(8)]
                tool_id = f"toolu_{i:08x}{j:04x}"
                agents.append(
                    [
                        agent_id,
                        task_id,
                        f"{ROLES[j % len(ROLES)]} ({j + 1})",
                        ROLES[j % len(ROLES)],
                        "running" if not done and j == per_task - 1 else "deleted",
                        f"s-{agent_id}",
                        "/w",
                        0.0123,
                        2000,
                        100,
                        0,
                        0,
                        2,
                        1,
                        0,
                        1,
                        2.8,
                        2100,
                        1000000,
                        at[0],
                        at[7],
                        1,
                    ]
                )
                subtasks.append(
                    [
                        f"{task_id}:{j + 1}",
                        task_id,
                        str(j + 1),
                        ROLES[j % len(ROLES)],
                        f"step {j + 1}",
                        json.dumps([str(j)] if j else []),
                        "succeeded" if done else "running",
                        agent_id,
                        at[0],
                        at[7] if done else None,
                    ]
                )
                payloads = [
                    ("message", {"role": "user", "text": f"Task {i}: step {j + 1}. " * 8}),
                    (
                        "tool_call",
                        {
                            "tool_use_id": tool_id,
                            "name": "Write",
                            "input": {"file_path": f"m{j}.py", "content": "print('x')\n" * 8},
                        },
                    ),
                    (
                        "tool_result",
                        {
                            "tool_use_id": tool_id,
                            "name": "Write",
                            "is_error": False,
                            "content": f"File created successfully at: m{j}.py",
                            "duration_ms": 40,
                        },
                    ),
                    (
                        "file_access",
                        {
                            "path": f"/w/m{j}.py",
                            "operation": "write",
                            "tool": "Write",
                            "tool_use_id": tool_id,
                        },
                    ),
                    ("message", {"role": "assistant", "text": f"Wrote m{j}.py as step {j + 1} asked."}),
                    (
                        "usage",
                        {
                            "input_tokens": 2000,
                            "output_tokens": 100,
                            "cache_read_tokens": 0,
                            "cache_creation_tokens": 0,
                            "cost_usd": 0.0123,
                            "session_cost_usd": 0.0123,
                        },
                    ),
                    ("context", {"used_tokens": 2100, "window_tokens": 1000000, "usage_percentage": 0.21}),
                    (
                        "result",
                        {
                            "is_error": False,
                            "subtype": "success",
                            "num_turns": 2,
                            "text": "done",
                            "error": None,
                        },
                    ),
                ]
                for seq, (kind, payload) in enumerate(payloads, 1):
                    events.append([task_id, agent_id, seq, at[seq - 1], kind, json.dumps(payload)])
                messages += [
                    [task_id, agent_id, 1, "user", payloads[0][1]["text"], at[0]],
                    [task_id, agent_id, 5, "assistant", payloads[4][1]["text"], at[4]],
                ]
                calls.append(
                    [
                        tool_id,
                        task_id,
                        agent_id,
                        2,
                        "Write",
                        json.dumps(payloads[1][1]["input"]),
                        payloads[2][1]["content"],
                        0,
                        40,
                        at[1],
                        at[2],
                    ]
                )
                files.append([task_id, agent_id, tool_id, f"/w/m{j}.py", "write", "Write", at[3]])
                usage.append([task_id, agent_id, 6, 2000, 100, 0, 0, 0.0123, 0.0123, at[5]])
                context.append([task_id, agent_id, 7, 2100, 1000000, 0.21, at[6]])
            db.executemany(
                "insert into agents (id, task_id, name, role, status, session_id, cwd, cost_usd, input_tokens, "
                "output_tokens, cache_read_tokens, cache_creation_tokens, messages, tool_calls, files_read, "
                "files_written, duration_s, context_used, context_window, created_at, updated_at, started) "
                "values (" + ", ".join("?" * 22) + ")",
                agents,
            )
            db.executemany(
                "insert into subtasks (id, task_id, subtask_id, role, instruction, depends_on, status, "
                "agent_id, started_at, finished_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                subtasks,
            )
            db.executemany(
                "insert into events (task_id, agent_id, seq, ts, kind, payload) values (?, ?, ?, ?, ?, ?)",
                events,
            )
            db.executemany(
                "insert into messages (task_id, agent_id, seq, role, text, ts) values (?, ?, ?, ?, ?, ?)",
                messages,
            )
            db.executemany(
                "insert into tool_calls (id, task_id, agent_id, seq, name, input, result, is_error, "
                "duration_ms, called_at, finished_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                calls,
            )
            db.executemany(
                "insert into file_accesses (task_id, agent_id, tool_call_id, path, operation, tool, at) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                files,
            )
            db.executemany(
                "insert into usage (task_id, agent_id, seq, input_tokens, output_tokens, cache_read_tokens, "
                "cache_creation_tokens, cost_usd, session_cost_usd, at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                usage,
            )
            db.executemany(
                "insert into context_samples (task_id, agent_id, seq, used_tokens, window_tokens, "
                "usage_percentage, at) values (?, ?, ?, ?, ?, ?, ?)",
                context,
            )
            counts["agents"] += len(agents)
            counts["events"] += len(events)
    db.execute("analyze")
    db.close()
    return counts


async def timed(ds, url: str, repeat: int) -> dict[str, float]:
    response = await ds.client.get(url)  # warm: the first request of a page also fills SQLite's cache
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = await ds.client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(times[-1], 1),
        "bytes": len(response.content),
    }


async def measure(path: Path, repeat: int) -> dict:
    ds = make_datasette(
        path, plugins=browse_plugins(make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    )
    await ds.invoke_startup()
    db = ds.get_database(path.stem)
    middle = (
        await db.execute(
            "select id, created_at from tasks order by created_at limit 1 offset "
            "(select count(*) / 2 from tasks)"
        )
    ).first()
    running = (await db.execute("select id from tasks where status = 'running' limit 1")).first()[0]
    agent = (
        await db.execute("select id from agents where task_id = ? limit 1 offset 3", [middle[0]])
    ).first()[0]
    last = (await db.execute("select max(id) from events where task_id = ?", [running])).first()[0]
    pages = {
        "home": "/-/orc/",
        "home, failed only": "/-/orc/?status=failed",
        "home, a page in the middle": f"/-/orc/?before={middle[1]}&before_id={middle[0]}",
        "task": f"/-/orc/task/{middle[0]}",
        "running task": f"/-/orc/task/{running}",
        "running task, live part": f"/-/orc/task/{running}/live",
        "running task, new events": f"/-/orc/task/{running}/events.json?after={last - 3}",
        "agent": f"/-/orc/agent/{agent}",
    }
    stock = {
        "stock /db/tasks?_size=20 (baseline)": f"/{path.stem}/tasks?_size=20",
        "stock agent_totals": f"/{path.stem}/agent_totals",
        "stock files_consumed_vs_produced": f"/{path.stem}/files_consumed_vs_produced",
        "stock task_timeline (a task)": f"/{path.stem}/task_timeline?task_id={middle[0]}",
    }
    results = {name: await timed(ds, url, repeat) for name, url in {**stock, **pages}.items()}
    baseline = results["stock /db/tasks?_size=20 (baseline)"]["median_ms"]
    for name in results:
        results[name]["vs_baseline"] = round(results[name]["median_ms"] / baseline, 2)
    return {"pages": results, "slowest_mission_control_ms": max(results[n]["max_ms"] for n in pages)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--agents-per-task", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--store", type=Path, help="build (or reuse) the store here instead of a temporary file"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "orc.db"
        if path.exists():
            open_database(path, create=False).close()
            counts = None
            build_s = 0.0
        else:
            start = time.perf_counter()
            counts = build(path, args.tasks, args.agents_per_task)
            build_s = time.perf_counter() - start
        import sqlite3

        conn = sqlite3.connect(path)
        counts = {
            t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("tasks", "agents", "events")
        }
        conn.close()
        print(f"store: {counts} (built in {build_s:.0f} s)", flush=True)
        result = asyncio.run(measure(path, args.repeat))
    for name, r in result["pages"].items():
        print(
            f"{name:40} median {r['median_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms  x{r['vs_baseline']:<5} "
            f"{r['bytes']:>7} bytes"
        )
    ok = result["slowest_mission_control_ms"] <= BUDGET_MS
    print(
        f"slowest mission-control page: {result['slowest_mission_control_ms']} ms (budget {BUDGET_MS:.0f} ms): "
        f"{'ok' if ok else 'OVER'}"
    )
    print(
        write(
            "web",
            {"store": counts, "repeat": args.repeat, "budget_ms": BUDGET_MS, "within_budget": ok, **result},
        )
    )


if __name__ == "__main__":
    main()
