"""A 2-node Ray cluster on one machine for the orc_ray tests; run only inside a loopback-only network namespace.

``tests/test_ray.py`` runs this directory in ``unshare -n`` with ``ORC_RAY_SUITE=1`` (FACTS §10: Ray binds every
interface otherwise). Without that variable nothing here is collected, so the normal suite never starts Ray.
"""

import os

import pytest

if os.environ.get(
    "ORC_RAY_GUIDE"
):  # the README's cluster guide, in a namespace of its own (tests/test_ray.py)
    collect_ignore_glob = ["test_ray_cluster.py"]
elif os.environ.get("ORC_RAY_SUITE"):
    collect_ignore_glob = ["test_cluster_guide.py"]
else:
    collect_ignore_glob = ["test_*.py"]

#: The nodes' own credentials (a dummy: the scripted model takes any key). The head sends secrets' names only, so
#: the key reaches the CLI on a node from the node's environment, never through Ray's arguments.
NODE_KEY = "sk-ant-node-own-dummy"


@pytest.fixture(scope="session")
def node_model(tmp_path_factory):
    """The model endpoint the nodes are started with (README, "Run on a cluster": each node's own environment), for
    runs that send no endpoint of their own, such as a later `orc` process's."""
    from orchestrator_core.testing import ScriptedModel

    with ScriptedModel() as model:
        yield model


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory, node_model):
    """``(cluster, {"node_a": node_id, "node_b": node_id})``, with this process connected as the driver."""
    import ray
    from ray.cluster_utils import Cluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Inherited by the nodes started below: their own credentials, model endpoint and Claude config folder.
    os.environ.update(node_model.env(tmp_path_factory.mktemp("node-claude-config")))
    os.environ["ANTHROPIC_API_KEY"] = NODE_KEY
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
