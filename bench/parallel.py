"""N agents side by side: raw ``query()`` calls under ``asyncio.gather`` vs ``orc`` parallel mode, same run.

Each agent's one model call takes ``--latency`` seconds at the scripted model. Goal (#4): orc's wall time is at
most 1.03x the raw wall time at every N.

    python bench/parallel.py [--sizes 1,4,8,16] [--latency 2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, raw_query, write  # noqa: E402

from orchestrator_core import Config, Orchestrator, make_plugin_manager  # noqa: E402
from orchestrator_core.testing import Reply, ScriptedModel, Text  # noqa: E402


async def raw(n: int, model: ScriptedModel, base: Path) -> float:
    env = model.env(base / "raw-config")
    with Timer() as timer:
        await asyncio.gather(
            *(raw_query(f"job {i}", "You are a scout.", ["Read"], base, env) for i in range(n))
        )
    return timer.seconds


async def orc(n: int, model: ScriptedModel, base: Path) -> float:
    config = Config(
        db_path=base / "orc.db",
        runtime_env=model.env(base / "orc-config"),
        plugin_settings={"ORC_SCRIPTED": True},
        max_parallel_agents=n,
    )
    orchestrator = Orchestrator(config, pm=make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    async with orchestrator:
        with Timer() as timer:
            result = await orchestrator.execute(
                "job", execution_mode="parallel", roles=["scout"] * n, cwd=base
            )
    assert result.success, result.error
    return timer.seconds


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,4,8,16")
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        raws, orcs = [], []
        for _ in range(args.repeat):
            with ScriptedModel() as model, tempfile.TemporaryDirectory() as tmp:
                model.script([Reply(blocks=(Text("done"),), latency=args.latency)])
                # Alternate which goes first so neither always gets the warmer machine.
                if len(raws) % 2 == 0:
                    raws.append(await raw(n, model, Path(tmp)))
                    orcs.append(await orc(n, model, Path(tmp)))
                else:
                    orcs.append(await orc(n, model, Path(tmp)))
                    raws.append(await raw(n, model, Path(tmp)))
        row = {
            "agents": n,
            "raw_s": round(statistics.median(raws), 3),
            "orc_s": round(statistics.median(orcs), 3),
            "raw_runs": [round(x, 3) for x in raws],
            "orc_runs": [round(x, 3) for x in orcs],
        }
        row["ratio"] = round(row["orc_s"] / row["raw_s"], 3)
        rows.append(row)
        print(
            f"N={n:<3} raw {row['raw_s']:.2f}s  orc {row['orc_s']:.2f}s  ratio {row['ratio']:.3f}", flush=True
        )
    path = write(
        "parallel", {"latency_s": args.latency, "repeat": args.repeat, "goal": "ratio <= 1.03", "rows": rows}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
