"""The fleet governor: agents share the model endpoint's rate limits instead of failing on them (#23). Disable with
``-p no:orc_governor`` or ``--governor off``.

Every agent's Claude Code CLI talks to the model through a loopback relay (:mod:`.relay`) that admits as many
requests at once as the endpoint takes (:mod:`.admission`: down on 429/529, up again on success, never above
``--max-parallel``), and waits out a 429 or 529 itself (``retry-after``) before sending the same request again: the
agent's session goes on, nothing is resent as new work. The cooldown, the learned limit and the places are shared
by every orc process on the machine that talks to the same endpoint. With agents on a Ray cluster
(:mod:`.cluster`), each node runs a relay and they share one admission per endpoint, kept on the head's node, for
the whole run. A usage limit that will not lift within ``ORC_GOVERNOR_MAX_WAIT`` seconds stops the run, saying
when it lifts; ``orc resume`` carries on then, or ``--wait`` waits for it.

Each throttled request is a ``retry`` event of its agent (payload ``by: governor``, the status, the wait, the
concurrency allowed after it); a stop for a spent quota is an ``orc_agent_flagged`` notice of kind ``quota``.

Settings: ``ORC_GOVERNOR`` (on, off), ``ORC_GOVERNOR_MAX_WAIT`` (seconds), ``ORC_GOVERNOR_WAIT`` (true: wait
out a spent quota). The stateful part is registered as ``"orc-governor"`` (a :class:`Governor`).
"""

from __future__ import annotations

import click

from orchestrator_core import hookimpl
from orchestrator_core.config import choice

from .admission import Admission, SharedState
from .governor import ENABLED, MAX_WAIT, PLUGIN_NAME, WAIT, Governor
from .relay import Relay

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be more than 0 seconds")
    return value


@hookimpl
def orc_addoption(parser):
    parser.add_setting(
        ENABLED,
        parse=choice("on", "off"),
        default="on",
        help="on: agents reach the model through orc's governor, which adapts how many talk to it at once and "
        "waits out rate limits; off: each agent's CLI talks to it directly.",
    )
    parser.add_option(
        "--governor", setting=ENABLED, type=click.Choice(["on", "off"]), commands=("execute", "resume")
    )
    parser.add_setting(
        MAX_WAIT,
        parse=_seconds,
        default=300.0,
        help="A rate limit that asks to wait longer than this many seconds is a spent quota: the run stops, "
        "saying when it lifts (unless ORC_GOVERNOR_WAIT).",
    )
    parser.add_setting(
        WAIT,
        parse=choice(*_TRUE, *_FALSE),
        default="false",
        help="true: when the model's usage quota is spent, wait until it lifts instead of stopping the run.",
    )
    parser.add_option("--wait", setting=WAIT, is_flag=True, flag_value="true", commands=("execute", "resume"))


@hookimpl
def orc_orchestrator_started(orc):
    """Put the relay in front of the model for this Orchestrator's agents."""
    if orc.config.get(ENABLED, "on") != "on":
        return
    runtime = orc.agents.runtime
    if not hasattr(runtime, "session_extras") and not hasattr(runtime, "node_extras"):
        return  # another runtime: it reaches the model its own way
    governor = orc.pm.get_plugin(PLUGIN_NAME)
    if governor is None:
        governor = Governor(orc)
        orc.pm.register(governor, PLUGIN_NAME)
    governor.install(orc)


@hookimpl
def orc_unconfigure(config, pm):
    governor = pm.get_plugin(PLUGIN_NAME)
    if governor is not None:
        governor.close()
        pm.unregister(governor, PLUGIN_NAME)


__all__ = ["PLUGIN_NAME", "Admission", "Governor", "Relay", "SharedState"]
