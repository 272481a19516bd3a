"""Many agents under a model that takes K requests at once (#23): fixed concurrency (governor off) vs the governor.

The scripted model admits at most ``--k`` requests at once and answers any other with 429 and ``retry-after``.
Each of ``--agents`` builders (parallel mode, ``--max-parallel``) makes two model calls (a Write, then its answer),
each taking ``--latency`` seconds. Per run: failed subtasks, tokens paid twice (an answered request whose unit and
turn were already answered: a restarted agent doing its work again), wall time, and that against the ideal schedule
at concurrency K (every call's latency, K at a time, and with ``--tokens-per-minute`` the model's token budget:
:func:`ideal_schedule`). Goal: with the governor no failure, nothing paid twice and
wall time <= 1.15x the ideal.

    python bench/governor.py [--agents 64] [--max-parallel 16] [--k 6] [--latency 3] [--tokens-per-minute N]
        [--cli-retries N] [--runs off:0,off:2,on:0]

A run is ``governor:retries`` (orc's ``--retries``: a failed subtask starts again with a new agent). The CLI's own
retries are its default (10, with backoff) unless ``--cli-retries`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, write  # noqa: E402

from orchestrator_core import Config, Orchestrator, Plan, Subtask, make_plugin_manager  # noqa: E402
from orchestrator_core.testing import ScriptedModel, Usage, text, tool  # noqa: E402

UNIT = re.compile(r"unit-(\d+)-of-the-bench")
USAGE = Usage(input_tokens=1000, output_tokens=200)


def paid_twice(model: ScriptedModel) -> tuple[int, int]:
    """Answered requests that repeat an already answered (unit, turn), and their tokens."""
    seen: set[tuple[str, int]] = set()
    repeats = tokens = 0
    for request in model.requests:
        found = UNIT.search(request.search_text)
        if not found:
            continue
        key = (found.group(1), sum(1 for m in request.messages if m.get("role") == "assistant"))
        if key in seen:
            repeats += 1
            tokens += USAGE.input_tokens + USAGE.output_tokens
        seen.add(key)
    return repeats, tokens


def ideal_schedule(requests: int, k: int, latency: float, tokens: int, budget: int | None) -> float:
    """When the last of ``requests`` calls ends, each taking ``latency`` seconds, at most ``k`` at once, and with
    ``budget`` no call starting while the calls started in the last 60 s (``tokens`` each) reach it: the scripted
    model's own rules, with every call ready as soon as the model would take it."""
    free = [0.0] * k
    starts: list[float] = []
    for _ in range(requests):
        at = heapq.heappop(free)
        while budget is not None:
            window = [s for s in starts if s > at - 60]
            if len(window) * tokens < budget:
                break
            at = min(window) + 60
        starts.append(at)
        heapq.heappush(free, at + latency)
    return max(free)


async def run_once(args: argparse.Namespace, governor: str, retries: int) -> dict:
    with ScriptedModel() as model, tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "work").mkdir()
        model.script(
            [
                tool("Write", {"file_path": "out.txt", "content": "x"}, usage=USAGE, latency=args.latency),
                text("BUILT", usage=USAGE, latency=args.latency),
            ]
        )
        model.limit(args.k, retry_after=args.retry_after, tokens_per_minute=args.tokens_per_minute)
        env = model.env(base / "claude-config")
        if args.cli_retries is None:
            env.pop("CLAUDE_CODE_MAX_RETRIES")
        else:
            env["CLAUDE_CODE_MAX_RETRIES"] = str(args.cli_retries)
        config = Config(
            db_path=base / "orc.db",
            runtime_env=env,
            max_parallel_agents=args.max_parallel,
            retries=retries,
            plugin_settings={"ORC_GOVERNOR": governor},
        )
        plan = Plan(
            [
                Subtask(str(i), "builder", f"Write out.txt for unit-{i}-of-the-bench.")
                for i in range(args.agents)
            ],
            prompt="the bench",
        )
        orc = Orchestrator(config, pm=make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))
        profile: dict = {}
        async with orc:
            began = time.time()
            with Timer() as timer:
                result = await orc.execute(
                    "the bench", execution_mode="parallel", plan=plan, cwd=base / "work"
                )
            ended = time.time()
            governor_plugin = orc.pm.get_plugin("orc-governor")
            if governor_plugin is not None and governor_plugin.admission is not None:
                admission = governor_plugin.admission
                total = sum(admission.profile.values()) or 1.0
                profile = {
                    "governor_time_s": {k: round(v, 1) for k, v in admission.profile.items()},
                    "governor_mean_concurrency": round(admission.request_seconds / total, 2),
                    "governor_final_limit": admission.allowed,
                }
        failed = sum(1 for s in result.subtasks if s.status.value != "succeeded")
        repeats, tokens = paid_twice(model)
        answered = [r for r in model.requests if UNIT.search(r.search_text)]
        first = min(r.at for r in answered)
        last = max(r.at for r in answered) + args.latency
        # Mean requests being answered at once at the model, over the model phase: K means the schedule was ideal.
        busy = len(answered) * args.latency / (last - first)
        per_call = USAGE.input_tokens + USAGE.output_tokens
        ideal = round(
            ideal_schedule(args.agents * 2, args.k, args.latency, per_call, args.tokens_per_minute), 2
        )
        return {
            "governor": governor,
            "retries": retries,
            "failed_subtasks": failed,
            "requests_answered": len(answered),
            "requests_refused_429": len(model.rejected),
            "paid_twice_requests": repeats,
            "paid_twice_tokens": tokens,
            "peak_concurrent_at_model": model.peak_concurrent,
            "wall_s": round(timer.seconds, 2),
            "model_phase_s": round(last - first, 2),
            # Wall time outside the model phase: the first CLIs starting, and the last ones closing.
            "before_first_request_s": round(first - began, 2),
            "after_last_answer_s": round(ended - last, 2),
            "ideal_s": ideal,
            "wall_vs_ideal": round(timer.seconds / ideal, 3),
            "model_phase_vs_ideal": round((last - first) / ideal, 3),
            "mean_concurrent_at_model": round(busy, 2),
            **profile,
        }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=64)
    parser.add_argument("--max-parallel", type=int, default=16)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--cli-retries", type=int, default=None)
    parser.add_argument(
        "--tokens-per-minute", type=int, default=None, help="the model's token budget a minute"
    )
    parser.add_argument("--runs", default="off:0,off:2,on:0")
    parser.add_argument("--name", default="governor", help="results/<name>.json")
    args = parser.parse_args()
    # The SDK gives a CLI 60 s to answer its first control request; a loaded 2-core machine starting many at once
    # needs longer, and a timeout there is not what this measures.
    os.environ.setdefault("CLAUDE_CODE_STREAM_CLOSE_TIMEOUT", "600000")
    rows = []
    for spec in args.runs.split(","):
        governor, retries = spec.split(":")
        row = await run_once(args, governor, int(retries))
        rows.append(row)
        print(
            f"governor {governor:<3} retries {retries}: failed {row['failed_subtasks']}, paid twice "
            f"{row['paid_twice_requests']} requests ({row['paid_twice_tokens']} tokens), 429s "
            f"{row['requests_refused_429']}, wall {row['wall_s']}s ({row['wall_vs_ideal']}x ideal "
            f"{row['ideal_s']}s), model phase {row['model_phase_s']}s ({row['model_phase_vs_ideal']}x), mean "
            f"{row['mean_concurrent_at_model']} at once; governor {row.get('governor_time_s', '-')}",
            flush=True,
        )
    path = write(
        args.name,
        {
            "agents": args.agents,
            "max_parallel": args.max_parallel,
            "k": args.k,
            "latency_s": args.latency,
            "retry_after_s": args.retry_after,
            "tokens_per_minute": args.tokens_per_minute,
            "cli_retries": args.cli_retries if args.cli_retries is not None else "default (10)",
            "goal": "governor on: 0 failed, 0 paid twice, wall <= 1.15x ideal",
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
