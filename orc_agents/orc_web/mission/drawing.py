"""Geometry for mission control's SVG pictures, computed here so the templates only place what they are given: the
timeline (one lane per agent), the plan graph, cost over time and context use over time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

WIDTH = 960
LABEL = 190  # the lane labels' column
LANE = 26
#: Statuses and their colours (the stylesheet has the same names as classes).
PALETTE = ("#2f81f7", "#a371f7", "#db6d28", "#3fb950", "#d29922", "#f85149", "#8b949e", "#1f6feb", "#bf4b8a")


def parse(ts: str | None) -> dt.datetime | None:
    if not ts:
        return None
    try:
        value = dt.datetime.fromisoformat(ts)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _span(
    task: dict[str, Any], agents: list[dict[str, Any]], now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    times = [t for t in [parse(task["created_at"]), *(parse(a["first_ts"]) for a in agents)] if t]
    start = min(times) if times else now
    ends = [t for t in [parse(task.get("finished_at")), *(parse(a["last_ts"]) for a in agents)] if t]
    end = now if task["status"] in ("pending", "running") else max(ends, default=start)
    return start, max(end, start + dt.timedelta(seconds=1))


def tree_order(agents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Agents in tree order (a child under its parent), each with its ``depth``: the orchestrator agent's tree."""
    ids = {a["id"] for a in agents}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for a in agents:
        children.setdefault(a["parent_id"] if a["parent_id"] in ids else None, []).append(a)
    ordered: list[dict[str, Any]] = []

    def walk(parent: str | None, depth: int) -> None:
        for a in children.get(parent, []):
            if depth > 20 or any(a is o for o in ordered):
                continue
            ordered.append({**a, "depth": depth})
            walk(a["id"], depth + 1)

    walk(None, 0)
    return ordered


def timeline(data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Lanes (start, end, outcome), tool-call ticks and flags, in pixels; axis labels in seconds from the start."""
    task = data["task"]
    agents = tree_order(data["agents"])
    start, end = _span(task, agents, now)
    seconds = (end - start).total_seconds()
    scale = (WIDTH - LABEL - 12) / seconds

    def x(ts: str | dt.datetime | None) -> float:
        t = parse(ts) if isinstance(ts, str) or ts is None else ts
        return round(LABEL + ((t or start) - start).total_seconds() * scale, 1)

    lane_of = {a["id"]: i for i, a in enumerate(agents)}
    lanes = []
    for i, a in enumerate(agents):
        first = a["first_ts"] or a["created_at"]
        running = a["status"] == "running" or (
            a["outcome"] == "running" and task["status"] in ("pending", "running")
        )
        last = now if running else (a["last_ts"] or first)
        x0, x1 = x(first), x(last)
        lanes.append({**a, "y": i * LANE + 20, "x0": x0, "w": max(x1 - x0, 3), "running": running})
    ticks = [
        {
            "x": x(c["called_at"]),
            "y": lane_of[c["agent_id"]] * LANE + 20,
            "name": c["name"],
            "error": bool(c["is_error"]),
            "at": c["called_at"],
        }
        for c in data["tool_calls"]
        if c["agent_id"] in lane_of
    ]
    flags = [
        {"x": x(f["at"]), "y": lane_of[f["agent_id"]] * LANE + 20, "kind": f["kind"], "message": f["message"]}
        for f in data["flags"]
        if f["agent_id"] in lane_of
    ]
    # A model call refused for load and tried again (#23): a band on the lane as long as the wait.
    waits = [
        {
            "x": x(r["at"]),
            "y": lane_of[r["agent_id"]] * LANE + 20,
            "w": max(round((r["retry_delay_ms"] or 0) / 1000 * scale, 1), 2),
            "by": r["by"],
            "status": r["error_status"],
            "seconds": round((r["retry_delay_ms"] or 0) / 1000, 1),
            "concurrency": r["concurrency"],
        }
        for r in data.get("retries", ())
        if r["agent_id"] in lane_of
    ]
    axis = [{"x": round(LABEL + s * scale, 1), "label": _clock(s)} for s in _steps(seconds)]
    return {
        "lanes": lanes,
        "ticks": ticks,
        "flags": flags,
        "waits": waits,
        "axis": axis,
        "width": WIDTH,
        "label": LABEL,
        "height": len(lanes) * LANE + 30,
        "seconds": seconds,
        "truncated": len(data["tool_calls"]),
    }


def _steps(seconds: float) -> list[float]:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400):
        if seconds / step <= 8:
            return [i * step for i in range(int(seconds / step) + 1)]
    return [0.0, seconds]


def _clock(s: float) -> str:
    if s < 60:
        return f"{s:g}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}" if s % 60 else f"{int(s // 60)}m"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}"


def plan_graph(subtasks: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan as layered boxes (a subtask one layer right of the last it depends on) and arrows between them."""
    ids = {s["subtask_id"] for s in subtasks}
    layer: dict[str, int] = {}

    def depth(sid: str, seen: frozenset[str] = frozenset()) -> int:
        if sid not in layer:
            sub = next(s for s in subtasks if s["subtask_id"] == sid)
            parents = [d for d in sub["depends_on"] if d in ids and d not in seen]
            layer[sid] = 1 + max((depth(d, seen | {sid}) for d in parents), default=-1)
        return layer[sid]

    rows_in: dict[int, int] = {}
    boxes = {}
    for s in subtasks:
        col = depth(s["subtask_id"])
        row = rows_in.get(col, 0)
        rows_in[col] = row + 1
        boxes[s["subtask_id"]] = {**s, "x": 10 + col * 170, "y": 10 + row * 62}
    edges = []
    for box in boxes.values():
        for d in box["depends_on"]:
            if d in boxes:
                a = boxes[d]
                edges.append({"x1": a["x"] + 140, "y1": a["y"] + 24, "x2": box["x"], "y2": box["y"] + 24})
    width = 10 + (max(layer.values(), default=0) + 1) * 170
    height = 10 + max(rows_in.values(), default=1) * 62
    return {"boxes": list(boxes.values()), "edges": edges, "width": width, "height": height}


def cost_chart(data: dict[str, Any], now: dt.datetime, max_cost: float | None) -> dict[str, Any]:
    """The task's cumulative cost over time, and the --max-cost line when the store recorded the limit."""
    task = data["task"]
    start, end = _span(task, data["agents"], now)
    seconds = (end - start).total_seconds()
    total, points = 0.0, [(0.0, 0.0)]
    for u in data["usage"]:
        t = parse(u["at"])
        if t is None:
            continue
        total += u["cost_usd"] or 0.0
        points.append(((t - start).total_seconds(), total))
    top = max(total, max_cost or 0.0) * 1.15 or 1.0
    w, h = 440, 160

    def xy(s: float, c: float) -> str:
        return f"{round(36 + s / seconds * (w - 46), 1)},{round(h - 20 - c / top * (h - 30), 1)}"

    line = " ".join(xy(s, c) for s, c in points)
    limit_y = round(h - 20 - (max_cost or 0) / top * (h - 30), 1) if max_cost else None
    return {
        "points": line,
        "total": total,
        "max_cost": max_cost,
        "limit_y": limit_y,
        "width": w,
        "height": h,
        "top": top,
        "seconds": seconds,
    }


def context_chart(
    samples: list[dict[str, Any]], agents: list[dict[str, Any]], now: dt.datetime, task: dict[str, Any]
) -> dict[str, Any]:
    """Each agent's context use (% of its window) over time, one line per agent."""
    start, end = _span(task, agents, now)
    seconds = (end - start).total_seconds()
    top = max((s["usage_percentage"] or 0.0 for s in samples), default=0.0) * 1.25 or 1.0
    w, h = 440, 160
    colour = {a["id"]: PALETTE[i % len(PALETTE)] for i, a in enumerate(agents)}
    role = {a["id"]: a["role"] for a in agents}
    series: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        t = parse(s["at"])
        if t is None or s["agent_id"] not in colour:
            continue
        x = round(36 + (t - start).total_seconds() / seconds * (w - 46), 1)
        y = round(h - 20 - (s["usage_percentage"] or 0.0) / top * (h - 30), 1)
        series.setdefault(s["agent_id"], []).append((x, y))
    lines = [
        {
            "agent_id": k,
            "role": role[k],
            "colour": colour[k],
            "dots": v,
            "points": " ".join(f"{x},{y}" for x, y in v),
        }
        for k, v in series.items()
    ]
    return {"lines": lines, "top": top, "width": w, "height": h}
