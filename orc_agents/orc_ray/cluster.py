"""The head's view of the Ray cluster: connecting, the live nodes and their agent slots, one AgentHost per node.

A node has ``orc_slots`` agent slots if it was started with that custom resource (``ray start --resources
'{"orc_slots": 8}'``), else ``ORC_RAY_SLOTS`` (default 4). Slots are counted on the head: a session holds one from
open to close. A node whose host died during this run is "lost": agents go elsewhere while any other node is up.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

import anyio

from orchestrator_core import RuntimeUnavailable

#: Slots per node when the node does not say (the ``orc_slots`` resource).
DEFAULT_SLOTS = int(os.environ.get("ORC_RAY_SLOTS", "4"))
NAMESPACE = "orc"
HOST_PREFIX = "orc-host-"

INSTALL_HINT = (
    'Ray is not installed: pip install -e ".[ray]" (or pip install "orc[ray]") to use --runtime ray'
)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RuntimeUnavailable(INSTALL_HINT) from None
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (else RAY_ADDRESS, else a local ``ray start``), once per process."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or "auto"
    if address == "auto":
        found = _local_address(ray)
        unreachable = _unreachable(found) if found else None
        if unreachable:
            # A session that ended without `ray stop` leaves its address behind: ray.init would wait on its GCS
            # for minutes (#20).
            raise RuntimeUnavailable(
                f"the local Ray session at {found} is gone ({unreachable}); start one with `ray start --head`, "
                "or pass --ray-address HOST:PORT"
            )
    unreachable = _unreachable(address)
    if unreachable:
        raise RuntimeUnavailable(
            f"cannot reach the Ray cluster at {address} ({unreachable}); start one with `ray start --head` "
            "or pass --ray-address HOST:PORT"
        )
    try:
        # address is never None here: ray.init() without one would start a private cluster instead of failing.
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RuntimeUnavailable(
            f"cannot reach the Ray cluster at {address} ({detail}); start one with `ray start --head` "
            "or pass --ray-address HOST:PORT"
        ) from None
    return ray


def _local_address(ray: Any) -> str | None:
    """The address ``auto`` stands for: RAY_ADDRESS, the last ``ray start`` on this machine, or a running local
    GCS; None when this Ray cannot tell (its private helper moved: ray.init then decides).

    :raises RuntimeUnavailable: no Ray runs on this machine.
    """
    try:
        from ray._private.services import get_ray_address_from_environment
    except ImportError:
        return None
    try:
        found = get_ray_address_from_environment("auto", None)
    except ConnectionError:
        raise RuntimeUnavailable(
            "no Ray cluster runs on this machine; start one with `ray start --head`, or pass --ray-address "
            "HOST:PORT"
        ) from None
    except Exception:
        return None
    return found if isinstance(found, str) else None


def _unreachable(address: str) -> str | None:
    """Why nothing answers at a ``HOST:PORT`` address, or None. ray.init would retry for minutes instead."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return None  # "auto", a ray:// client address: Ray itself fails fast on those
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def live_nodes() -> dict[str, dict[str, Any]]:
    """The cluster's live nodes by id: ``{"address", "resources", "slots"}``."""
    ray = import_ray()
    nodes = {}
    for node in ray.nodes():
        if node.get("Alive"):
            resources = node.get("Resources") or {}
            nodes[node["NodeID"]] = {
                "address": node.get("NodeManagerAddress"),
                "resources": resources,
                "slots": int(resources.get("orc_slots") or DEFAULT_SLOTS),
            }
    return nodes


class Placement:
    """Chooses a node for each session and keeps each node to its slots."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}
        self.placed: dict[str, int] = {}
        self.lost: set[str] = set()
        self._released: anyio.Event | None = None

    async def acquire(self, prefer: str | None = None) -> str:
        """A node with a free slot (``prefer`` if it has one), held until :meth:`release`; waits while all are full.

        Among the others: the node with the most free slots, then the one given fewest sessions so far.
        """
        while True:
            nodes = live_nodes()
            if not nodes:
                raise RuntimeUnavailable("the Ray cluster has no live node; start one with `ray start`")
            healthy = [n for n in nodes if n not in self.lost] or list(nodes)
            free = {n: nodes[n]["slots"] - self.used.get(n, 0) for n in healthy}
            choice: str | None
            if prefer in free and free[prefer] > 0:
                choice = prefer
            else:
                open_nodes = [n for n in healthy if free[n] > 0]
                choice = max(open_nodes, key=lambda n: (free[n], -self.placed.get(n, 0)), default=None)
            if choice is not None:
                self.used[choice] = self.used.get(choice, 0) + 1
                self.placed[choice] = self.placed.get(choice, 0) + 1
                return choice
            self._released = self._released or anyio.Event()
            # Wake on a release; look again now and then for nodes that joined.
            with anyio.move_on_after(5):
                await self._released.wait()

    def release(self, node_id: str) -> None:
        self.used[node_id] = max(self.used.get(node_id, 1) - 1, 0)
        if self._released is not None:
            self._released.set()
            self._released = None


class Hosts:
    """One AgentHost actor per node for this process (the driver), made on first use."""

    def __init__(self) -> None:
        self._handles: dict[tuple[str, str], Any] = {}
        self._actor_class: Any = None

    def get(self, node_id: str) -> Any:
        ray = import_ray()
        key = (ray.get_runtime_context().get_job_id(), node_id)
        handle = self._handles.get(key)
        if handle is None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            from .host import AgentHost

            if self._actor_class is None:
                self._actor_class = ray.remote(AgentHost)
            handle = self._actor_class.options(
                name=f"{HOST_PREFIX}{node_id[:12]}-{key[0]}-{uuid.uuid4().hex[:6]}",
                namespace=NAMESPACE,
                # Ray never replays an agent: orc's retry policy decides (FACTS §10).
                max_restarts=0,
                max_task_retries=0,
                num_cpus=0,
                max_concurrency=1000,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(node_id)
            self._handles[key] = handle
        return handle

    def forget(self, node_id: str) -> None:
        """Drop a dead host; the next session on that node makes a new one."""
        for key in [k for k in self._handles if k[1] == node_id]:
            del self._handles[key]


#: The hosts of this process: several Orchestrators in one process (the tests, a library user) share them.
HOSTS = Hosts()
