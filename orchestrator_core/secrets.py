"""Redactor: keeps API keys and other secret environment values out of what orc writes and prints.

A tool's output can echo the environment (``env``, ``echo $ANTHROPIC_API_KEY``), and a prompt can quote a token.
The store scrubs every text value just before it is written, and the CLI what it prints: each secret value becomes
``[redacted NAME]``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping

#: Environment variable names whose values are treated as secrets.
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION_ID|PRIVATE", re.IGNORECASE)
#: Shorter values are too likely to occur by chance ("1", "true") to be worth replacing.
MIN_SECRET_CHARS = 8


def secrets_in(*environs: Mapping[str, str]) -> dict[str, str]:
    """The secret values in ``environs``, mapped to the name of a variable that holds them."""
    found: dict[str, str] = {}
    for environ in environs:
        for name, value in environ.items():
            if value and len(value) >= MIN_SECRET_CHARS and SECRET_NAME.search(name):
                found.setdefault(value, name)
    return found


class Redactor:
    """Replaces known secret values in text. Callable; safe to extend from another thread."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self.add(secrets or {})

    def add(self, secrets: Mapping[str, str]) -> None:
        with self._lock:
            merged = {**self._secrets, **secrets}
            # Longest first, so a secret that contains another is replaced whole.
            self._secrets = dict(sorted(merged.items(), key=lambda item: -len(item[0])))

    @property
    def active(self) -> bool:
        """True when there is anything to replace."""
        return bool(self._secrets)

    @property
    def names(self) -> Iterable[str]:
        return self._secrets.values()

    def found(self, text: str) -> bool:
        """True if ``text`` holds any secret value."""
        return any(value in text for value in self._secrets)

    def __call__(self, text: str) -> str:
        for value, name in self._secrets.items():
            if value in text:
                text = text.replace(value, f"[redacted {name}]")
        return text
