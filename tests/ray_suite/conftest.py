"""A 2-node Ray cluster on one machine for the orc_ray tests; run only inside a loopback-only network namespace.

``tests/test_ray.py`` runs this directory in ``unshare -n`` with ``ORC_RAY_SUITE=1`` (FACTS §10: Ray binds every
interface otherwise). Without that variable nothing here is collected, so the normal suite never starts Ray.
"""

import os

import pytest

if not os.environ.get("ORC_RAY_SUITE"):
    collect_ignore_glob = ["test_*.py"]

#: The nodes' own credentials (a dummy: the scripted model takes any key). The head sends secrets' names only, so
#: the key reaches the CLI on a node from the node's environment, never through Ray's arguments.
NODE_KEY = "sk-ant-node-own-dummy"


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """``(cluster, {"node_a": node_id, "node_b": node_id})``, with this process connected as the driver."""
    import ray
    from ray.cluster_utils import Cluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["ANTHROPIC_API_KEY"] = NODE_KEY  # inherited by the nodes started below
    os.environ["ORC_RAY_NODE_DIR"] = str(tmp_path_factory.mktemp("nodes"))  # agents' directories on the nodes
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "resources": {"node_a": 1}, "include_dashboard": False},
    )
    cluster.add_node(num_cpus=1, resources={"node_b": 1})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    names = {}
    for node in ray.nodes():
        for label in ("node_a", "node_b"):
            if node["Alive"] and label in node["Resources"]:
                names[label] = node["NodeID"]
    try:
        yield cluster, names
    finally:
        ray.shutdown()
        cluster.shutdown()
