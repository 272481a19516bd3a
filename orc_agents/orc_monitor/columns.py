"""Which columns of the live table a terminal shows, and how wide: columns give way by priority, whole (#20).

rich squeezes every column of a table too wide for the terminal, which cut headers and cells mid-word at 80
columns. Here a column is either shown at its full width or not at all: the least important go first, and one
flexible column (the last tool's target) takes what is left, its text cut at a word boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
from rich.cells import cell_len
from rich.console import JustifyMethod

#: Spaces between two columns of the table (rich's padding of 1 plus the box's blank divider).
GAP = 2
#: What ends a cell or line cut at a word boundary.
MORE = "…"


@attrs.frozen
class Column:
    """A column of the live table.

    :param priority: which columns stay on a narrow terminal: lower stays longer.
    :param flexible: takes the width the others leave (at least its header's), its cells cut by :func:`clip`.
    """

    name: str
    justify: JustifyMethod
    priority: int
    flexible: bool = False


#: The table's columns, in the order shown; ``priority`` says which give way first.
COLUMNS: tuple[Column, ...] = (
    Column("#", "right", 6),
    Column("role", "left", 0),
    Column("agent", "left", 9),
    Column("status", "left", 1),
    Column("turns", "right", 7),
    Column("tools", "right", 8),
    Column("last tool", "left", 4, flexible=True),
    Column("tokens", "right", 5),
    Column("cost", "right", 2),
    Column("ctx", "right", 10),
    Column("time", "right", 3),
)


def fit(columns: Sequence[Column], natural: Mapping[str, int], width: int | None) -> dict[str, int]:
    """The columns to show on a terminal ``width`` cells wide, each with its width, in ``columns``' order.

    :param natural: each column's natural width: its widest cell or its header, whichever is wider.
    :param width: the terminal's width; None: every column at its natural width.
    :returns: column name -> width; a column left out is not shown. The highest-priority column always is.
    """

    def least(column: Column) -> int:
        return cell_len(column.name) if column.flexible else natural[column.name]

    def needed(shown: list[Column]) -> int:
        return sum(least(c) for c in shown) + GAP * (len(shown) - 1)

    shown = list(columns)
    if width is not None:
        while len(shown) > 1 and needed(shown) > width:
            shown.remove(max(shown, key=lambda c: c.priority))
    widths = {c.name: natural[c.name] for c in shown}
    spare = None if width is None else width - needed(shown)
    for column in (c for c in shown if c.flexible):
        widths[column.name] = (
            natural[column.name] if spare is None else min(natural[column.name], least(column) + spare)
        )
        spare = None if spare is None else spare - (widths[column.name] - least(column))
    return widths


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: whole words, then ``…`` where words were left out.

    A first word too long for the width is left out too: a word is shown whole or not at all.
    """
    if cell_len(text) <= width:
        return text
    words = text.split(" ")
    kept: list[str] = []
    for word in words:
        if cell_len(" ".join([*kept, word, MORE])) > width:
            break
        kept.append(word)
    return " ".join([*kept, MORE]) if width >= cell_len(MORE) else ""


def flow(sizes: Sequence[int], width: int | None, gap: int = 2) -> list[list[int]]:
    """Lay out pieces ``sizes`` cells wide on lines of at most ``width`` cells, ``gap`` apart, never splitting one.

    :returns: the indexes of the pieces on each line. A piece wider than a whole line gets a line of its own.
    """
    lines: list[list[int]] = [[]]
    used = 0
    for i, size in enumerate(sizes):
        if lines[-1] and width is not None and used + gap + size > width:
            lines.append([])
            used = 0
        used += size + (gap if lines[-1] else 0)
        lines[-1].append(i)
    return lines
