"""Which of the run's environment travels to a node by value, and which only by name.

Arguments of Ray actor calls are visible to anyone with the cluster's state API, so a secret never travels: the head
sends the *name* of every variable that looks like one (``ANTHROPIC_API_KEY``, any ``*TOKEN*``, ``*SECRET*``...) and
the node takes its value from its own environment (``ray start`` on that node, or the cluster's runtime_env). The
rest of the run's extra environment (``Config.runtime_env``: the model's base URL, the CLI's config directory, the
switches that keep it offline) is not secret and travels by value, so a run pointed at orc's scripted model on the
head reaches the same model from every node. ``ORC_RAY_FORWARD_ENV=NAME,NAME`` adds names a node should forward
from its own environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL|AUTH", re.IGNORECASE)


def split_env(runtime_env: Mapping[str, str], environ: Mapping[str, str] | None = None) -> tuple[dict, list]:
    """``(values, names)``: what a node gets by value, and the names whose values it takes from its own env."""
    environ = os.environ if environ is None else environ
    values = {k: v for k, v in runtime_env.items() if not SECRET.search(k)}
    names = [k for k in runtime_env if SECRET.search(k)]
    names += [
        n.strip() for n in environ.get("ORC_RAY_FORWARD_ENV", "").split(",") if n.strip() and n not in names
    ]
    return values, names
