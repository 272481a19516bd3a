"""The live view in real terminals (tmux) of several widths, after a real scripted `orc execute` (#20).

The last frame stays on screen when the run ends: it must be whole at every width, with the columns that do not
fit left out by priority, no header or word cut, and no line of an earlier frame left behind.
"""

import re

import pytest
from fixtures import needs_tmux, run_in_tmux

pytestmark = needs_tmux

#: Every column the table may show, in its order.
COLUMNS = ["#", "role", "agent", "status", "turns", "tools", "last tool", "tokens", "cost", "ctx", "time"]
#: The columns that must survive down to 60 columns.
ESSENTIAL = {"role", "status", "cost", "time"}
ROLES = ["analyst", "planner", "builder", "tester", "reviewer"]
#: What each scripted role's last tool call is, whole.
LAST_TOOL = {
    "analyst": "Glob **/*",
    "planner": "",
    "builder": "Write add_csv_export.py",
    "tester": "Bash python3 add_csv_export.py",
    "reviewer": "Read add_csv_export.py",
}
#: A cell that is a whole value: a count, tokens, cost, context share or a duration.
NUMBER = re.compile(r"[\d,]+|\$\d+\.\d{4}|\d+(\.\d+)?%|\d+\.\ds|\d+m\d\ds|\d+h\d\dm")


def cells(line):
    """The non-empty cells of a table line: columns are two spaces apart or more."""
    return [c for c in re.split(r"\s{2,}", line.strip()) if c]


def whole_words_of(cell, full):
    """True if ``cell`` is ``full``, or its first words and then "…" (cut at a word boundary)."""
    if cell == full:
        return True
    words = cell.split(" ")
    return words[-1] == "…" and full.split(" ")[: len(words) - 1] == words[:-1]


def frame(screen):
    """The screen's lines up to the summary, and the summary's lines up to "Output:"."""
    lines = [line.rstrip() for line in screen.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("Success: "))
    end = lines.index("Output:", start)
    return [line for line in lines[:start] if line], lines[start:end]


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_the_last_frame_is_whole_at_every_width(home, width):
    cwd, env = home
    (cwd / "work").mkdir()
    screen = run_in_tmux(env, cwd, ["execute", "--scripted", "Add CSV export", "--cwd", "work"], width)
    assert "EXIT=0" in screen, screen
    shown, summary = frame(screen)
    # Nothing above the final frame: one title, one progress line, one table (no earlier frame's leftovers).
    assert shown[0].startswith("orc task-"), screen
    rule = next(i for i, line in enumerate(shown) if set(line) == {"─"})
    assert sum(1 for line in shown if set(line) == {"─"}) == 1, screen
    header, rows = shown[:rule], shown[rule + 1 :]
    assert all(len(line) <= width for line in shown)

    # The title and progress lines, wrapped only between their parts: joined, they read as on a wide terminal.
    task_id = shown[0].split()[1]
    title = " ".join(" ".join(header[:-1]).split())
    assert re.fullmatch(
        rf"orc {task_id} feature_implementation · sequential succeeded elapsed \d+\.\ds "
        r"plan 5/5 done · 0 running · 0 waiting · 0 failed cost \$0\.\d{4}",
        title,
    ), header

    # The column headers: whole names, in order; the essential ones kept; more columns on a wider terminal.
    names = cells(header[-1])
    assert all(n in COLUMNS for n in names), header[-1]
    assert names == sorted(names, key=COLUMNS.index) and ESSENTIAL <= set(names)
    if width >= 120:
        assert names == COLUMNS
    elif width == 80:
        assert len(names) >= 8

    # One row per subtask, each cell a whole value (the last tool cut only between words).
    assert len(rows) == 5, screen
    for role, row in zip(ROLES, rows, strict=True):
        # The planner calls no tool: its last tool cell is empty.
        expected = [n for n in names if LAST_TOOL[role] or n != "last tool"]
        assert len(cells(row)) == len(expected), row
        values = dict(zip(expected, cells(row), strict=True))
        assert values["role"] == role and values["status"] == "done", row
        for name, value in values.items():
            if name == "last tool":
                assert whole_words_of(value, LAST_TOOL[role]), row
            elif name in ("turns", "tools", "tokens", "cost", "ctx", "time"):
                assert NUMBER.fullmatch(value), (name, row)
    if width >= 120:
        assert "Bash python3 add_csv_export.py" in rows[3]

    # The summary after it: its lines wrap between words to fit the terminal, never inside one.
    assert all(len(line) <= width for line in summary)
    text = " ".join(" ".join(summary).split())
    assert re.fullmatch(
        rf"Success: 5/5 subtasks, task {task_id} Cost: \$0\.\d{{4}} Tokens: [\d,]+ \(input [\d,]+, output "
        r"[\d,]+, cache read 0, cache write 0\) Time: \d+\.\ds \(agents \d+\.\ds\)",
        text,
    ), summary
    # The header's cost is the run's cost.
    assert re.search(r"cost (\$0\.\d{4})", title)[1] == re.search(r"Cost: (\$0\.\d{4})", text)[1]


def test_columns_give_way_by_priority_and_cells_lose_whole_words():
    from orc_agents.orc_monitor.columns import COLUMNS as ALL
    from orc_agents.orc_monitor.columns import clip, fit

    natural = {c.name: max(len(c.name), 6) for c in ALL}
    natural["last tool"] = 30
    wide = fit(ALL, natural, None)
    assert list(wide) == COLUMNS and wide["last tool"] == 30
    everything = sum(natural.values()) + 2 * (len(ALL) - 1)
    assert fit(ALL, natural, everything) == wide
    # One cell short: the flexible column gives a cell, no column goes.
    assert fit(ALL, natural, everything - 1)["last tool"] == 29
    # Far too narrow: the least important go first, the rest keep their full width.
    narrow = fit(ALL, natural, 40)
    kept = sorted(ALL, key=lambda c: c.priority)[: len(narrow)]
    assert set(narrow) == {c.name for c in kept} and "role" in narrow and "ctx" not in narrow
    assert sum(narrow.values()) + 2 * (len(narrow) - 1) <= 40
    assert all(narrow[n] == natural[n] for n in narrow if n != "last tool")
    assert fit(ALL, natural, 3) == {"role": 6}  # the most important column stays, whatever the width

    assert clip("Bash python3 add_csv_export.py", 30) == "Bash python3 add_csv_export.py"
    assert clip("Bash python3 add_csv_export.py", 29) == "Bash python3 …"
    assert clip("Bash python3 add_csv_export.py", 6) == "Bash …"
    assert clip("orc.delete_agent", 9) == "…"


def test_the_orchestrator_agents_team_has_rows_and_the_header_costs_what_the_run_did(home):
    cwd, env = home
    (cwd / "work").mkdir()
    args = ["execute", "--scripted", "--orchestrator", "agent", "Add CSV export", "--cwd", "work"]
    screen = run_in_tmux(env, cwd, args, 100)
    assert "EXIT=0" in screen, screen
    shown, summary = frame(screen)
    rule = next(i for i, line in enumerate(shown) if set(line) == {"─"})
    names = cells(shown[rule - 1])
    rows = [dict(zip(names, cells(line), strict=False)) for line in shown[rule + 1 :]]
    # The orchestrator's subtask, then the two agents it created and commanded (rows have no subtask "#").
    assert [r["#"] for r in rows[:1]] == ["orchestrator"] and rows[0]["role"] == "orchestrator"
    team = [dict(zip(names[1:], cells(line), strict=False)) for line in shown[rule + 2 :]]
    assert [(r["role"], r["status"]) for r in team] == [("builder", "done"), ("reviewer", "done")], screen
    assert all(r["turns"] == "2" and r["cost"] != "$0.0000" for r in team), screen
    # Plan progress counts the plan's one subtask; the cost counts every agent, as the summary's does.
    title = " ".join(" ".join(shown[: rule - 1]).split())
    assert "plan 1/1 done · 0 running · 0 waiting · 0 failed" in title
    text = " ".join(" ".join(summary).split())
    assert text.startswith("Success: 1/1 subtasks")
    assert re.search(r"cost (\$\d+\.\d{4})", title)[1] == re.search(r"Cost: (\$\d+\.\d{4})", text)[1]
    row_costs = [float(r["cost"][1:]) for r in [rows[0], *team]]
    assert sum(row_costs) == pytest.approx(float(re.search(r"Cost: \$(\S+)", text)[1]), abs=2e-4)
