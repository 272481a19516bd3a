"""Approval: with ``--approve plan`` (``ORC_APPROVE=plan``) orc shows the plan and asks before spending on it.

A plan gate (``orc_plan_gate``) like any other plugin's: ``y`` runs the plan, ``n`` stops before anything is spent
(exit code 130), ``e`` opens the plan in ``$EDITOR`` as JSON and asks again about the edit, which every other gate
sees too. A gate of another plugin is asked first, so a policy refuses before a person is asked. Asking needs a
terminal: without one the task is refused before planning (``orc_check_request``), so no planner agent spends on
a plan nobody can approve. Disable with ``-p no:orc_approval``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from orchestrator_core import (
    Interrupted,
    OrcError,
    Plan,
    UsageError,
    check_plan,
    hookimpl,
    plan_from_dict,
    render_plan,
)
from orchestrator_core.config import choice
from orchestrator_core.terminal import printable

#: ``plan``: ask before running each plan; ``none``: run it.
APPROVE = "ORC_APPROVE"


@hookimpl
def orc_addoption(parser):
    parser.add_setting(
        APPROVE,
        parse=choice("none", "plan"),
        default="none",
        help="plan: show each plan and ask before running it (needs a terminal).",
    )
    parser.add_option(
        "--approve",
        setting=APPROVE,
        type=click.Choice(["plan"]),
        help="Show the plan and ask before running it.",
    )


def _asks(config: Any) -> bool:
    return config.get(APPROVE) == "plan"


@hookimpl
def orc_check_request(request, config):
    if _asks(config) and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "--approve plan needs a terminal to ask on; review it with `orc plan ... --output plan.json`, "
            "then run `orc execute --plan plan.json`"
        )


@hookimpl
def orc_plan_gate(plan, config, roles) -> Plan | None:
    """Ask: y lets it run (None), n raises Interrupted, e returns the edited plan (the core asks again)."""
    if not _asks(config):
        return None
    while True:
        click.echo(printable(render_plan(plan)), err=True)
        answer = click.prompt(
            "Run this plan? [y]es, [n]o, [e]dit", type=click.Choice(["y", "n", "e"]), err=True
        )
        if answer == "y":
            return None
        if answer == "n":
            raise Interrupted("not run: the plan was not approved; nothing was spent")
        edited = _edit(plan, roles)
        if edited is not None:
            return edited


def _edit(plan: Plan, roles: Any) -> Plan | None:
    """The plan as the user edited it in $EDITOR, or None (unchanged, or it cannot run: said why)."""
    text = click.edit(json.dumps(plan.to_dict(), indent=2), extension=".json")
    if text is None:
        return None
    try:
        candidate = plan_from_dict(json.loads(text), "the edited plan")
        check_plan(candidate, roles)
    except (ValueError, OrcError) as exc:
        click.echo(f"Error: {getattr(exc, 'message', exc)}; showing the plan before the edit", err=True)
        return None
    return None if candidate == plan else candidate
