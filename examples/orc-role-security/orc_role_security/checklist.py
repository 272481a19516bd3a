"""``orc security-checklist``: print what the security role checks, so people can review it before trusting it."""

from __future__ import annotations

import json

import click

from .role import CHECKLIST


@click.command("security-checklist")
@click.option("--json", "as_json", is_flag=True, help="Print the checklist as a JSON list.")
def security_checklist(as_json: bool) -> None:
    """Print the checklist the security role audits against (from orc-role-security)."""
    if as_json:
        click.echo(json.dumps(list(CHECKLIST), indent=2))
        return
    for number, item in enumerate(CHECKLIST, start=1):
        click.echo(f"{number}. {item}")
