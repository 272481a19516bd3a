"""``orc nodes``: the Ray cluster's nodes, their agent slots and the agents running on them now."""

from __future__ import annotations

import json
from typing import Any

import click


def nodes_report(address: str | None) -> list[dict[str, Any]]:
    """Each live node with its slots and the agents every orc process's host runs there."""
    from .cluster import HOST_PREFIX, NAMESPACE, connect, live_nodes

    ray = connect(address)
    nodes = live_nodes()
    running: dict[str, list[dict[str, Any]]] = {n: [] for n in nodes}
    for named in ray.util.list_named_actors(all_namespaces=True):
        if named["namespace"] != NAMESPACE or not named["name"].startswith(HOST_PREFIX):
            continue
        try:
            host = ray.get_actor(named["name"], namespace=NAMESPACE)
            info = ray.get(host.info.remote(), timeout=10)
        except Exception:  # a host that died between the listing and the call: nothing runs there
            continue
        running.setdefault(info["node_id"], []).extend(info["sessions"])
    return [
        {
            "node_id": node_id,
            "address": node["address"],
            "cpus": node["resources"].get("CPU", 0),
            "slots": node["slots"],
            "running": len(running.get(node_id, [])),
            "agents": [s["agent_id"] for s in running.get(node_id, [])],
        }
        for node_id, node in nodes.items()
    ]


def register(cli: click.Group) -> None:
    @cli.command("nodes")
    @click.option("--ray-address", help="The Ray cluster (default: RAY_ADDRESS or a local `ray start`).")
    @click.option("--json", "as_json", is_flag=True, help="Print the nodes as JSON.")
    def nodes_command(ray_address: str | None, as_json: bool) -> None:
        """List the Ray cluster's nodes: agent slots and the agents running on each (--runtime ray)."""
        report = nodes_report(ray_address)
        if as_json:
            click.echo(json.dumps(report, indent=2))
            return
        click.echo(f"{'NODE':<14} {'ADDRESS':<16} {'CPUS':>4} {'SLOTS':>5} {'RUNNING':>7}  AGENTS")
        for row in report:
            click.echo(
                f"{row['node_id'][:12]:<14} {row['address'] or '?':<16} {row['cpus']:>4g} {row['slots']:>5} "
                f"{row['running']:>7}  {', '.join(row['agents']) or '-'}"
            )
