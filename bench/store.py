"""The run store's speed: 100k events through orc's store vs raw sqlite-utils ``insert_all`` of the same rows, same
run; and the store's share of a scripted team run's wall time. Goals (#6): orc >= 50% of raw, share < 1%.

Two raw baselines, both on a freshly migrated file with orc's schema (indexes, foreign keys, FTS triggers):
``raw_events`` inserts only the ``events`` rows; ``raw_all_rows`` inserts every row orc's store writes for the
same events (events plus messages, tool calls, file accesses, usage and context rows), so the ratio against it is
the price of orc's machinery alone (queue, writer thread, batching, redaction).

    python bench/store.py [--events 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import anyio
import sqlite_utils

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, write  # noqa: E402

from orc_agents.orc_store import RunStore, open_database  # noqa: E402
from orc_agents.orc_store.rows import event_rows  # noqa: E402
from orchestrator_core import Config, Event, EventKind, Orchestrator, make_plugin_manager  # noqa: E402
from orchestrator_core.testing import ScriptedModel  # noqa: E402

AGENTS = 50


def turn(i: int) -> list[tuple[EventKind, dict]]:
    """The events of one agent turn, shaped like a real run's (see a scripted run's events table)."""
    tool_id = f"toolu_{i:012d}"
    return [
        (
            EventKind.MESSAGE,
            {"role": "user", "text": f"Task: step {i}\n\nYour part (builder): implement it. " * 3},
        ),
        (
            EventKind.SESSION,
            {"session_id": f"s-{i}", "model": "claude-x", "cwd": "/w", "tools": ["Read", "Write"]},
        ),
        (
            EventKind.TOOL_CALL,
            {
                "tool_use_id": tool_id,
                "name": "Write",
                "input": {"file_path": f"m{i}.py", "content": "print('x')\n" * 10},
            },
        ),
        (
            EventKind.TOOL_RESULT,
            {
                "tool_use_id": tool_id,
                "name": "Write",
                "is_error": False,
                "content": f"File created successfully at: m{i}.py",
                "duration_ms": 40,
            },
        ),
        (
            EventKind.FILE_ACCESS,
            {"path": f"/w/m{i}.py", "operation": "write", "tool": "Write", "tool_use_id": tool_id},
        ),
        (
            EventKind.MESSAGE,
            {"role": "assistant", "text": f"Wrote m{i}.py with the change the plan asked for."},
        ),
        (
            EventKind.USAGE,
            {
                "input_tokens": 2000,
                "output_tokens": 100,
                "cache_read_tokens": 0,
                "cache_creation_tokens": 0,
                "cost_usd": 0.01,
                "session_cost_usd": 0.01,
            },
        ),
        (EventKind.CONTEXT, {"used_tokens": 2100, "window_tokens": 1000000, "usage_percentage": 0.21}),
        (
            EventKind.RESULT,
            {"is_error": False, "subtype": "success", "num_turns": 2, "text": "done", "error": None},
        ),
    ]


def make_events(n: int) -> list[Event]:
    events: list[Event] = []
    seqs = [0] * AGENTS
    ts = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    i = 0
    while len(events) < n:
        agent = i % AGENTS
        for kind, payload in turn(i):
            seqs[agent] += 1
            events.append(Event("task-bench", f"agent-{agent}", seqs[agent], kind, payload, ts))
        i += 1
    return events[:n]


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = open_database(path)
    db["tasks"].insert({"id": "task-bench", "prompt": "bench", "status": "running"})
    db["agents"].insert_all(
        {"id": f"agent-{a}", "task_id": "task-bench", "name": "a", "role": "builder", "status": "running"}
        for a in range(AGENTS)
    )
    db.close()
    return path


def through_orc(events: list[Event], path: Path) -> float:
    # A real run always has a key to keep out of the store: redaction is part of the price.
    store = RunStore(
        Config(db_path=fresh(path), runtime_env={"ANTHROPIC_API_KEY": "sk-ant-bench-not-a-real-key"})
    )
    gc.collect()
    start = time.perf_counter()
    for event in events:
        store.orc_event(event)
    store.flush()
    seconds = time.perf_counter() - start
    store.close()
    return seconds


def raw(events: list[Event], path: Path, all_rows: bool) -> float:
    db = sqlite_utils.Database(sqlite3.connect(str(fresh(path))))
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")
    gc.collect()
    start = time.perf_counter()
    # The same rows the store writes, made from the same events (sqlite-utils JSON-encodes dict values itself).
    tables: dict[str, list[dict]] = {}
    updates: list[dict] = []
    if all_rows:
        for event in events:
            for mode, table, row, _pk in event_rows(event, cost=True, observe=True):
                (updates if mode == "update" else tables.setdefault(table, [])).append(row)
    else:
        tables["events"] = [
            {
                "task_id": e.task_id,
                "agent_id": e.agent_id,
                "seq": e.seq,
                "ts": e.ts.isoformat(),
                "kind": e.kind.value,
                "payload": e.payload,
            }
            for e in events
        ]
    with db.atomic():
        for table, rows in tables.items():
            db[table].insert_all(rows)
        if updates:
            db["tool_calls"].upsert_all(updates, pk="id")
    seconds = time.perf_counter() - start
    db.close()
    return seconds


def scripted_run_share() -> dict:
    """Run the five-role scripted team once, timing every store hook call and the writer thread's busy time."""
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as model:
        work = Path(tmp) / "work"
        work.mkdir()
        pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
        pm.hook.orc_scripted_model(model=model)
        config = Config(
            db_path=Path(tmp) / "orc.db",
            runtime_env=model.env(Path(tmp) / "claude"),
            plugin_settings={"ORC_SCRIPTED": True},
        )
        orc = Orchestrator(config, pm=pm)
        spent = {"hooks": 0.0, "calls": 0}

        def timed(function):
            def wrapper(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    spent["hooks"] += time.perf_counter() - start
                    spent["calls"] += 1

            return wrapper

        async def go():
            await orc.start()
            store = pm.get_plugin("orc-store")
            for caller in pm.hook.__dict__.values():
                for impl in getattr(caller, "get_hookimpls", list)():
                    if impl.plugin is store:
                        impl.function = timed(impl.function)
            start = time.perf_counter()
            result = await orc.execute("Add CSV export", task_type="feature_implementation", cwd=work)
            store.flush()
            wall = time.perf_counter() - start
            busy = store.writer.busy_s
            rows = store.writer.rows
            await orc.stop()
            return result, wall, busy, rows

        result, wall, busy, rows = anyio.run(go)
    assert result.success, result.error
    return {
        "wall_s": round(wall, 3),
        "store_hook_calls": spent["calls"],
        "rows_written": rows,
        "store_hook_s": round(spent["hooks"], 5),
        "writer_thread_busy_s": round(busy, 5),
        "share_on_event_loop": round(spent["hooks"] / wall, 5),
        "share_including_writer_thread": round((spent["hooks"] + busy) / wall, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events = make_events(args.events)
    best = {"orc": float("inf"), "raw_events": float("inf"), "raw_all_rows": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            best["raw_events"] = min(best["raw_events"], raw(events, Path(tmp) / "raw.db", all_rows=False))
            best["orc"] = min(best["orc"], through_orc(events, Path(tmp) / "orc.db"))
            best["raw_all_rows"] = min(
                best["raw_all_rows"], raw(events, Path(tmp) / "raw_all.db", all_rows=True)
            )
    with Timer() as run_timer:
        shares = sorted(
            (scripted_run_share() for _ in range(args.repeat)),
            key=lambda r: r["share_including_writer_thread"],
        )
    share = shares[len(shares) // 2]  # the median run: one run on a busy 2-core machine is noisy
    n = args.events
    data = {
        "command": f"python bench/store.py --events {n} --repeat {args.repeat}",
        "sqlite": sqlite3.sqlite_version,
        "sqlite_utils": importlib.metadata.version("sqlite-utils"),
        "events": n,
        "best_of": args.repeat,
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "events_per_second": {k: round(n / v) for k, v in best.items()},
        "orc_vs_raw_events": round(best["raw_events"] / best["orc"], 3),
        "orc_vs_raw_all_rows": round(best["raw_all_rows"] / best["orc"], 3),
        "goal": "orc_vs_raw_events >= 0.5 and share_including_writer_thread < 0.01",
        "scripted_run": {
            **share,
            "runs": args.repeat,
            "bench_s": round(run_timer.seconds, 2),
            "share_including_writer_thread_all_runs": [r["share_including_writer_thread"] for r in shares],
        },
    }
    path = write("store", data)
    print(f"wrote {path}")
    for key in ("seconds", "events_per_second", "orc_vs_raw_events", "orc_vs_raw_all_rows", "scripted_run"):
        print(f"{key}: {data[key]}")


if __name__ == "__main__":
    main()
