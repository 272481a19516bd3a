"""``--since``: a date or a duration back from now, as the UTC ISO text the store's ``created_at`` columns hold."""

from __future__ import annotations

import datetime as dt
import re

from orchestrator_core import UsageError

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since(text: str, now: dt.datetime | None = None) -> str:
    """The moment ``text`` names: an ISO date or time (UTC unless it names an offset), or ``30m``, ``2h``, ``3d``,
    ``1w`` back from ``now``.

    :raises UsageError: ``text`` is neither (one line).
    """
    now = now or dt.datetime.now(dt.UTC)
    value = text.strip().lower()
    match = _DURATION.fullmatch(value)
    if match:
        moment = now - dt.timedelta(**{_UNITS[match[2]]: int(match[1])})
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise UsageError(
                f"--since {text!r} is neither a date (2026-11-01, 2026-11-01T09:30) nor a duration "
                "(30m, 2h, 3d, 1w)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()
