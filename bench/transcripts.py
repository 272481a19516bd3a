"""What keeping agents' transcripts in the store costs (#25): turns of one agent, each its own session (as
``orc agents send`` does: open, resume, one message, close), with the transcript kept in the store and resumed from it,
against the baseline measured in the same run: the same turns with the CLI's own files only. Also the store's rows and
bytes per turn.

    python bench/transcripts.py [--turns 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, write  # noqa: E402


async def turns(root: Path, model, count: int, kept: bool) -> dict:
    """``count`` turns of one scout, each a session of its own; seconds per turn and the store's transcript rows."""
    import attrs

    from orchestrator_core import Config, Orchestrator, make_plugin_manager

    work = root / "work"
    work.mkdir(parents=True)
    config = Config(db_path=root / "orc.db", runtime_env=model.env(root / "claude-config"), scripted=True)
    pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    seconds = []
    async with Orchestrator(attrs.evolve(config, keep_agents=True), pm=pm) as orc:
        if not kept:
            orc.agents.runtime.transcripts = None  # the CLI's own files only, as before #25
        agent = await orc.create_agent("scout", cwd=work)
        for n in range(count):
            with Timer() as timer:
                await orc.send_to_agent(agent.id, f"turn {n}: look around")
            seconds.append(timer.seconds)
    db = sqlite3.connect(root / "orc.db")
    rows, size = db.execute("select count(*), coalesce(sum(length(entry)), 0) from transcripts").fetchone()
    return {"seconds": seconds, "rows": rows, "bytes": size}


async def main(count: int, rounds: int) -> dict:
    from orchestrator_core.testing import ScriptedModel, text

    results: dict[str, list] = {"kept": [], "baseline": []}
    with ScriptedModel() as model, tempfile.TemporaryDirectory() as tmp:
        model.script([text("looked")] * (count * rounds * 2 + 2), match="scout of the team")
        for r in range(rounds):  # alternating, so a busy moment hurts both
            for kind in ("baseline", "kept"):
                results[kind].append(await turns(Path(tmp) / f"{kind}{r}", model, count, kind == "kept"))

    def per_turn(kind: str) -> float:
        # The first turn opens a new session (no resume); the rest resume it.
        return statistics.median(s for run in results[kind] for s in run["seconds"][1:])

    kept, baseline = per_turn("kept"), per_turn("baseline")
    last = results["kept"][-1]
    return {
        "turns": count,
        "rounds": rounds,
        "resumed_turn_s": {"kept": round(kept, 3), "baseline": round(baseline, 3)},
        "ratio": round(kept / baseline, 2),
        "store_rows_per_turn": round(last["rows"] / count, 1),
        "store_bytes_per_turn": round(last["bytes"] / count),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    data = asyncio.run(main(args.turns, args.rounds))
    print(data)
    print("written to", write("transcripts", data))
