"""N agents in parallel on a 2-node local Ray cluster (``--runtime ray``) vs the local runtime, same run.

The cluster (head with ``node_a``, a second node with ``node_b``, 1 CPU each, 4 agent slots each) runs on this
machine inside a loopback-only network namespace: the script re-runs itself under ``unshare -n`` (root, FACTS §10).
Each agent's one model call takes ``--latency`` seconds at the scripted model. Reported: wall time of each, their
ratio (ray / local), the first ray run apart (it starts one AgentHost worker per node), and the per-event latency
from the event on its node to its hand-over to the observers on the head (the store's writer takes it from there).

    python bench/ray.py [--agents 8] [--latency 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# This file is named ray.py: its directory must not be on sys.path, or `import ray` would find it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
_spec = importlib.util.spec_from_file_location("bench_common", HERE / "common.py")
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)
Timer, write = common.Timer, common.write

from orchestrator_core import Config, Orchestrator, make_plugin_manager  # noqa: E402
from orchestrator_core.testing import Reply, ScriptedModel, Text  # noqa: E402

INSIDE = "ORC_RAY_BENCH_INSIDE"


async def run(executor: str, n: int, model: ScriptedModel, base: Path) -> tuple[float, list[float]]:
    config = Config(
        db_path=base / f"{executor}.db",
        runtime_env=model.env(base / f"{executor}-config"),
        plugin_settings={"ORC_SCRIPTED": True},
        max_parallel_agents=n,
        runtime=executor,
    )
    orchestrator = Orchestrator(config, pm=make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    async with orchestrator:
        with Timer() as timer:
            result = await orchestrator.execute(
                "job", execution_mode="parallel", roles=["scout"] * n, cwd=base
            )
        latencies = list(getattr(orchestrator.agents.runtime, "latencies", []))
    assert result.success, result.error
    return timer.seconds, latencies


async def bench(args: argparse.Namespace) -> dict:
    locals_, rays, latencies = [], [], []
    cold = None
    with ScriptedModel() as model, tempfile.TemporaryDirectory() as tmp:
        model.script([Reply(blocks=(Text("done"),), latency=args.latency)])
        # Cold: the first ray run starts the AgentHost workers.
        cold, _ = await run("ray", args.agents, model, Path(tmp))
        for i in range(args.repeat):
            # Alternate which goes first so neither always gets the warmer machine.
            order = ("local", "ray") if i % 2 == 0 else ("ray", "local")
            for executor in order:
                seconds, lat = await run(executor, args.agents, model, Path(tmp))
                (rays if executor == "ray" else locals_).append(seconds)
                latencies += lat if executor == "ray" else []
    local_s, ray_s = statistics.median(locals_), statistics.median(rays)
    ms = sorted(x * 1000 for x in latencies)
    return {
        "agents": args.agents,
        "latency_s": args.latency,
        "repeat": args.repeat,
        "nodes": 2,
        "slots_per_node": 4,
        "local_s": round(local_s, 3),
        "ray_s": round(ray_s, 3),
        "ratio": round(ray_s / local_s, 3),
        "ray_cold_s": round(cold, 3),
        "local_runs": [round(x, 3) for x in locals_],
        "ray_runs": [round(x, 3) for x in rays],
        "event_latency_ms": {
            "events": len(ms),
            "median": round(statistics.median(ms), 2),
            "p95": round(ms[int(0.95 * (len(ms) - 1))], 2),
            "max": round(ms[-1], 2),
        },
    }


def inside(args: argparse.Namespace) -> None:
    import ray
    from ray.cluster_utils import Cluster

    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-node-dummy"  # the nodes' own key (the head sends names only)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "resources": {"node_a": 1}, "include_dashboard": False},
    )
    cluster.add_node(num_cpus=1, resources={"node_b": 1})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        row = asyncio.run(bench(args))
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(
        f"N={row['agents']} local {row['local_s']:.2f}s  ray {row['ray_s']:.2f}s  ratio {row['ratio']:.3f}  "
        f"(first ray run {row['ray_cold_s']:.2f}s)  event latency median {row['event_latency_ms']['median']} ms, "
        f"p95 {row['event_latency_ms']['p95']} ms",
        flush=True,
    )
    path = write("ray", row)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get(INSIDE):
        inside(args)
        return
    # Ray binds every interface: run the cluster in a network namespace with only loopback (FACTS §10).
    env = {**os.environ, INSIDE: "1", "RAY_USAGE_STATS_ENABLED": "0"}
    command = (
        f"ip link set lo up && exec {sys.executable} {Path(__file__).resolve()} {' '.join(sys.argv[1:])}"
    )
    sys.exit(subprocess.run(["unshare", "-n", "bash", "-c", command], env=env).returncode)


if __name__ == "__main__":
    main()
