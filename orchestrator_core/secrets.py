"""Redactor: keeps API keys and other secret environment values out of what orc writes and prints.

A tool's output can echo the environment (``env``, ``echo $ANTHROPIC_API_KEY``), and a prompt can quote a token.
Secrets are replaced on values, before anything is encoded or cut (#16): the core's event emitter redacts every
string of an event's payload before any observer sees it, the runtime redacts a tool's output before it bounds it,
and an agent's answer is redacted before it becomes a result. The store and the CLI redact again what they write and
print, as a second line of defence. Each secret becomes ``[redacted NAME]``.

Besides the plain value, the Redactor replaces its JSON-escaped forms (a tool that prints JSON, an API error the CLI
passes on) and, at the edges of a text, a piece of a secret cut by someone's truncation: a prefix at the end of the
text or just before orc's truncation marks, a suffix at its start.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

#: Environment variable names whose values are treated as secrets.
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION_ID|PRIVATE", re.IGNORECASE)
#: Shorter values are too likely to occur by chance ("1", "true") to be worth replacing.
MIN_SECRET_CHARS = 8
#: The shortest piece of a secret replaced at a text's edge. A shorter piece left in place shows at most 5 characters,
#: about 30 bits of a random key that keeps 200 or more unseen; replacing shorter pieces would hit ordinary text at
#: the end of strings ("sk-", "ghp_", "-key") far more often. Replacing a public prefix ("sk-ant-") costs nothing.
MIN_PIECE_CHARS = 6
#: How orc says it cut a text: ``bound()``'s ``\n[... N more characters not shown]`` and the ``…`` of a cut line.
_BOUND_MARK = re.compile(r"\n\[\.\.\. \d+ more characters not shown\]\Z")
_ELLIPSIS = "…"


#: Values of settings declared secret (``Setting.secret``) read in this process, by value -> setting name: they
#: may come from orc.toml or .env, where no environment scan would find them.
DECLARED: dict[str, str] = {}


def remember(name: str, value: str) -> None:
    """Treat ``value`` (of the secret setting ``name``) as a secret in everything this process writes or prints."""
    if value and len(value) >= MIN_SECRET_CHARS:
        DECLARED.setdefault(value, name)


def secrets_in(*environs: Mapping[str, str]) -> dict[str, str]:
    """The secret values in ``environs`` (and of secret settings read), mapped to the name that holds them."""
    found: dict[str, str] = dict(DECLARED)
    for environ in environs:
        for name, value in environ.items():
            if value and len(value) >= MIN_SECRET_CHARS and SECRET_NAME.search(name):
                found.setdefault(value, name)
    return found


def redactor_for(*environs: Mapping[str, str]) -> Redactor:
    """A Redactor for this process's secret environment values and those of ``environs`` (a run's
    ``Config.runtime_env``): what every agent's tools could see, so nothing orc writes or prints may hold."""
    return Redactor(secrets_in(os.environ, *environs))


def _forms(value: str) -> set[str]:
    """``value`` as it may appear in text: itself and JSON-escaped (ASCII-only, as Python writes it, or not)."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


class Redactor:
    """Replaces known secret values in text. Callable; safe to extend from another thread.

    :param secrets: secret value -> the name of the variable that holds it (the label says the name).
    """

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        #: Every form to replace (see :func:`_forms`) -> its replacement, longest first.
        self._labels: dict[str, str] = {}
        #: The forms whose pieces are replaced at a text's edges: (form, label, first and last MIN_PIECE_CHARS).
        self._pieces: tuple[tuple[str, str, str, str], ...] = ()
        #: Texts holding none of these hold nothing to replace: every form starts with its head, every piece at an
        #: edge with a head or ends with a tail. Two fast searches per form keep the usual case cheap.
        self._gate: tuple[str, ...] = ()
        self.add(secrets or {})

    def add(self, secrets: Mapping[str, str]) -> None:
        with self._lock:
            merged = {**self._secrets, **secrets}
            labels = {form: f"[redacted {name}]" for value, name in merged.items() for form in _forms(value)}
            # Longest first, so a secret that contains another is replaced whole.
            labels = dict(sorted(labels.items(), key=lambda item: -len(item[0])))
            # A path's first directories ("/home/me/") are no secret and start many texts' last words: a socket
            # path in SSH_AUTH_SOCK or XAUTHORITY is replaced whole, never piecewise.
            pieces = tuple(
                (form, label, form[:MIN_PIECE_CHARS], form[-MIN_PIECE_CHARS:])
                for form, label in labels.items()
                if len(form) > MIN_PIECE_CHARS and not form.startswith(("/", "~"))
            )
            gate = {form[:MIN_PIECE_CHARS] for form in labels} | {tail for _, _, _, tail in pieces}
            # Replaced, never changed in place: a reader on another thread uses a whole old or a whole new value.
            self._labels, self._pieces, self._gate, self._secrets = labels, pieces, tuple(gate), merged

    @property
    def active(self) -> bool:
        """True when there is anything to replace."""
        return bool(self._secrets)

    @property
    def names(self) -> Iterable[str]:
        return self._secrets.values()

    def found(self, text: str) -> bool:
        """True if ``text`` holds any secret value (whole, in any of its forms)."""
        return any(form in text for form in self._labels)

    def __call__(self, text: str) -> str:
        if not any(part in text for part in self._gate):
            return text
        for form, label in self._labels.items():
            if form in text:
                text = text.replace(form, label)
        if self._pieces:
            text = self._edges(text)
        return text

    def value(self, data: Any) -> Any:
        """``data`` with every string in it redacted: dict keys and values, list and tuple items, recursively.

        ``data`` itself when nothing in it needs replacing; else new containers (the caller's stay as they are).
        """
        gate = self._gate
        if not gate:
            return data
        texts: list[str] = []
        _texts(data, texts)
        # One search of all the texts joined: most payloads hold no secret and are returned untouched.
        joined = "\x00".join(texts)
        if not any(part in joined for part in gate):
            return data
        return self._walk(data)

    def _walk(self, data: Any) -> Any:
        kind = type(data)
        if kind is str:
            return self(data)
        if kind is dict:
            return {(self(k) if type(k) is str else k): self._walk(v) for k, v in data.items()}
        if kind is list or kind is tuple:
            return kind(self._walk(v) for v in data)
        return data

    # -- pieces of a secret at a text's edges ---------------------------------------------------------------------

    def _edges(self, text: str) -> str:
        body, mark = text, ""
        if text.endswith(_ELLIPSIS):
            body, mark = text[: -len(_ELLIPSIS)], _ELLIPSIS
        elif text.endswith("more characters not shown]"):
            found = _BOUND_MARK.search(text)
            if found is not None:
                body, mark = text[: found.start()], found.group()
        for form, label, head, tail in self._pieces:
            body = _cut_prefix(body, form, head, label)
            body = _cut_suffix(body, form, tail, label)
        return body + mark


def _texts(data: Any, out: list[str]) -> None:
    kind = type(data)
    if kind is str:
        out.append(data)
    elif kind is dict:
        for key, value in data.items():
            if type(key) is str:
                out.append(key)
            _texts(value, out)
    elif kind is list or kind is tuple:
        for value in data:
            _texts(value, out)


def _cut_prefix(text: str, form: str, head: str, label: str) -> str:
    """``text`` with a prefix of ``form`` (at least ``head``) that ends it replaced by ``label``."""
    i = text.find(head, max(len(text) - len(form) + 1, 0))
    while i != -1:
        if form.startswith(text[i:]):
            return text[:i] + label
        i = text.find(head, i + 1)
    return text


def _cut_suffix(text: str, form: str, tail: str, label: str) -> str:
    """``text`` with a suffix of ``form`` (at least ``tail``) that starts it replaced by ``label``."""
    end = min(len(text), len(form) - 1)
    longest = 0
    i = text.find(tail, 0, end)
    while i != -1:
        if form.endswith(text[: i + len(tail)]):
            longest = i + len(tail)
        i = text.find(tail, i + 1, end)
    return label + text[longest:] if longest else text
