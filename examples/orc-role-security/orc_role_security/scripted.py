"""What the security auditor does under ``orc execute --scripted``: a real Grep in the working directory, then a
finding written from what the Grep returned.
"""

from __future__ import annotations

from orchestrator_core.testing import ScriptedRequest, Usage, text, tool

#: The Grep the scripted auditor runs first: lines that look like secrets or dangerous calls.
PATTERN = r"(password|secret|api_key|token)\s*=|eval\(|exec\(|pickle\.loads|shell=True"


def finding(request: ScriptedRequest):
    """The auditor's summary: each matching file, or that none matched."""
    output = request.last_tool_output
    hits = [
        line
        for line in output.splitlines()
        if line.strip() and not line.startswith("No ") and "Found" not in line
    ]
    if not hits:
        return text(
            "Security review: no secrets or risky calls found (grep for secrets, eval/exec, pickle, "
            "shell=True). No findings.",
            usage=Usage(input_tokens=1900, output_tokens=60),
        )
    listed = "\n".join(
        f"- {hit}: review this match (medium): move secrets to the environment, avoid eval/exec"
        for hit in hits[:10]
    )
    return text(
        f"Security review: {len(hits)} finding(s).\n{listed}",
        usage=Usage(input_tokens=2100, output_tokens=120),
    )


def replies() -> list:
    """The scripted model's replies to a security agent, in order."""
    return [
        tool(
            "Grep",
            {"pattern": PATTERN, "output_mode": "files_with_matches"},
            usage=Usage(input_tokens=1700, output_tokens=40),
        ),
        finding,
    ]
