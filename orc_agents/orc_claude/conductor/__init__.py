"""The orchestrator agent (#13): a Claude session that runs the team through orc's own fleet tools.

``orc execute --orchestrator agent`` runs it as the plan's one subtask; ``orc chat`` opens it on the terminal.
Its tools are served in-process (an SDK MCP server), so this lives beside the runtime in ``orc_claude``.
"""

from .fleet import Fleet, FleetError
from .plugin import Conductor, conductor_for
from .role import ROLE

__all__ = ["ROLE", "Conductor", "Fleet", "FleetError", "conductor_for"]
