"""printable: text from a model or a tool made safe to print on a terminal (#16).

Model and tool output is hostile (DESIGN.md, "Trust boundaries"): an escape sequence in it could clear the screen,
retitle the window, write the clipboard (OSC 52) or hide text. Everything orc prints that came from a model or a
tool goes through :func:`printable`, which keeps newlines and tabs and shows every other control character
instead of sending it: C0 and DEL as their Unicode control pictures (ESC as ``␛``), C1 and the bidirectional
overrides as ``\\x9b``-style escapes.
"""

from __future__ import annotations

#: Characters that would steer the terminal or reorder what is shown, mapped to what is printed instead.
_SHOWN: dict[int, str] = {
    **{c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\n\t"},
    0x7F: "\u2421",
    **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)},
    # Bidirectional embeddings, overrides and isolates: they make text read differently from what it is.
    **{c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab shown instead of sent.

    A Windows line end (CR LF) stays a line end; any other carriage return is shown (it would overwrite the line).
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_SHOWN)
