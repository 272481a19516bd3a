"""A five-role sequential pipeline through ``orc`` vs five raw ``query()`` calls in a row, same run.

Each model call takes ``--latency`` seconds at the scripted model. Goal (#4): orc faster than raw (< 1.0x): it opens
the next agent's session while the current one works.

    python bench/pipeline.py [--latency 1] [--repeat 3]
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

ROLES = ["analyst", "planner", "builder", "tester", "reviewer"]


async def raw(model: ScriptedModel, base: Path, roles: dict) -> float:
    env = model.env(base / "raw-config")
    with Timer() as timer:
        previous = ""
        for name in ROLES:
            role = roles[name]
            previous = await raw_query(
                f"Task: x\n{previous}", role.system_prompt, list(role.tools), base, env
            )
    return timer.seconds


async def orc(model: ScriptedModel, base: Path, orchestrator: Orchestrator) -> float:
    async with orchestrator:
        with Timer() as timer:
            result = await orchestrator.execute("x", roles=ROLES, cwd=base)
    assert result.success, result.error
    return timer.seconds


def make_orchestrator(model: ScriptedModel, base: Path) -> Orchestrator:
    config = Config(
        db_path=base / "orc.db",
        runtime_env=model.env(base / "orc-config"),
        plugin_settings={"ORC_SCRIPTED": True},
    )
    return Orchestrator(config, pm=make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raws, orcs = [], []
    for i in range(args.repeat):
        with ScriptedModel() as model, tempfile.TemporaryDirectory() as tmp:
            model.script([Reply(blocks=(Text("step done"),), latency=args.latency)])
            orchestrator = make_orchestrator(model, Path(tmp))
            if i % 2 == 0:
                raws.append(await raw(model, Path(tmp), orchestrator.roles))
                orcs.append(await orc(model, Path(tmp), orchestrator))
            else:
                orcs.append(await orc(model, Path(tmp), orchestrator))
                raws.append(await raw(model, Path(tmp), orchestrator.roles))
    row = {
        "raw_s": round(statistics.median(raws), 3),
        "orc_s": round(statistics.median(orcs), 3),
        "raw_runs": [round(x, 3) for x in raws],
        "orc_runs": [round(x, 3) for x in orcs],
    }
    row["ratio"] = round(row["orc_s"] / row["raw_s"], 3)
    print(f"5-role pipeline: raw {row['raw_s']:.2f}s  orc {row['orc_s']:.2f}s  ratio {row['ratio']:.3f}")
    path = write(
        "pipeline",
        {"latency_s": args.latency, "repeat": args.repeat, "roles": ROLES, "goal": "ratio < 1.0", **row},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
