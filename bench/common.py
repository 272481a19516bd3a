"""What the benchmarks share: the machine's description, a raw claude-agent-sdk run, and writing results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    with open("/proc/meminfo") as fh:
        total_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    import claude_agent_sdk

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "claude_agent_sdk": claude_agent_sdk.__version__,
    }


async def raw_query(prompt: str, system_prompt: str, tools: list[str], cwd: Path, env: dict) -> str:
    """One agent the way a hand-written script would run it: one ``query()`` call, result text back."""
    from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query

    options = ClaudeAgentOptions(
        cwd=str(cwd),
        system_prompt=system_prompt,
        tools=tools,
        allowed_tools=tools,
        env=env,
        setting_sources=[],
    )
    text = ""
    async for message in query(prompt=prompt, options=options):
        if isinstance(message, ResultMessage):
            text = message.result or ""
    return text


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def write(name: str, data: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    return path
