"""The ``security`` role: what the agent is told and which tools it may use.

It only reads (Read, Glob, Grep): an auditor that cannot change the code it audits.
"""

from orchestrator_core import Role

#: What the auditor looks for, in order; ``orc security-checklist`` prints it and the prompt includes it.
CHECKLIST = (
    "Secrets in the code or config (passwords, API keys, tokens, private keys)",
    "Injection: SQL built from strings, shell commands built from input, eval/exec",
    "Unsafe deserialisation (pickle, yaml.load without SafeLoader)",
    "Paths from user input used without normalising (path traversal)",
    "Disabled TLS verification, weak hashing (md5/sha1) for passwords",
    "Dependencies pinned to versions with known advisories",
)

SECURITY = Role(
    name="security",
    description="Audits the change for vulnerabilities and leaked secrets; changes nothing.",
    system_prompt=(
        "You are the security auditor of the team. Read the code the task touches and search it for the problems "
        "on this checklist:\n"
        + "\n".join(f"- {item}" for item in CHECKLIST)
        + "\n\nReport each finding as `file:line: problem (severity): fix`, most severe first, or say that you "
        "found none. Do not change any file. You are one agent in a team run by orc: the next agent reads only "
        "your final summary."
    ),
    tools=("Read", "Glob", "Grep"),
    permission_mode="default",
)
