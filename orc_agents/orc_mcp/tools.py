"""The MCP server: :class:`~.service.Service`'s operations as tools of the official MCP Python SDK's ``MCPServer``.

Each tool answers JSON; a refused call (bad input, outside the server's bounds, an unknown id) is a tool error whose
text says why, never a crash of the server.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from orchestrator_core import OrcError

from .service import Service, ToolRefused

INSTRUCTIONS = """orc runs teams of Claude agents (analyst, planner, builder, tester, reviewer, ...) on a task.
Plan a prompt with `plan` (free), start it with `execute` (returns a task id at once; the team works in the
background), follow it with `wait_for_task` or `task_status`, then read `read_result` (the task's output, or an
agent's) and, if needed, an agent's `read_transcript`. Limits (max_cost_usd, max_agents, max_parallel_agents,
timeout_seconds) default to the server's bounds and may only be lowered."""


def client_of(ctx: Context) -> str | None:
    """``"mcp: NAME VERSION"`` of the host that called, as it introduced itself."""
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None) or getattr(params, "clientInfo", None)
    if info is None:
        return "mcp"
    return f"mcp: {info.name} {info.version}".strip()


def _limits(
    max_cost_usd: float | None,
    max_agents: int | None,
    max_parallel_agents: int | None,
    timeout_seconds: float | None,
) -> dict[str, Any]:
    return {
        "max_cost_usd": max_cost_usd,
        "max_agents": max_agents,
        "max_parallel_agents": max_parallel_agents,
        "timeout_seconds": timeout_seconds,
    }


def make_server(service: Service) -> MCPServer:
    """The ``orc`` MCP server over ``service``."""
    server: MCPServer = MCPServer("orc", instructions=INSTRUCTIONS)

    async def guarded(work: Any) -> Any:
        try:
            return await work
        except (ToolRefused, OrcError) as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    def list_roles() -> dict[str, Any]:
        """The roles of agent orc can run: name, what each does, its tools."""
        return {"roles": service.roles()}

    @server.tool()
    def list_task_types() -> dict[str, Any]:
        """The task types (templates: which roles run in which order) and the execution modes."""
        return {"task_types": service.task_types(), "modes": service.modes()}

    @server.tool()
    def plan(prompt: str, task_type: str = "auto", roles: list[str] | None = None) -> dict[str, Any]:
        """Plan a prompt without spending anything: the subtasks, their roles and dependencies."""
        try:
            return service.plan(prompt, task_type, roles).to_dict()
        except (ToolRefused, OrcError) as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    async def execute(
        ctx: Context,
        prompt: str = "",
        task_type: str = "auto",
        mode: str = "sequential",
        roles: list[str] | None = None,
        plan: dict[str, Any] | None = None,
        cwd: str | None = None,
        max_cost_usd: float | None = None,
        max_agents: int | None = None,
        max_parallel_agents: int | None = None,
        timeout_seconds: float | None = None,
        keep_agents: bool = False,
        approval: bool = False,
    ) -> dict[str, Any]:
        """Start a team on a prompt (or on a plan from `plan`) in the background; returns the task id at once.

        With approval (or when the server requires it) nothing runs until `approve_plan`: the answer is then an
        approval id and the plan. keep_agents keeps the agents afterwards so `send_message` can reach them.
        """
        return await guarded(
            service.execute(
                prompt,
                task_type=task_type,
                mode=mode,
                roles=roles,
                plan=plan,
                cwd=cwd,
                limits=_limits(max_cost_usd, max_agents, max_parallel_agents, timeout_seconds),
                keep_agents=keep_agents,
                approval=approval,
                client=client_of(ctx),
            )
        )

    @server.tool()
    async def approve_plan(ctx: Context, approval_id: str, approve: bool = True) -> dict[str, Any]:
        """Approve (the team starts; returns its task id) or reject a plan that waits for approval."""
        return await guarded(service.approve(approval_id, approve, client_of(ctx)))

    @server.tool()
    async def task_status(task_id: str) -> dict[str, Any]:
        """A task's status, subtasks done, cost, and its agents (id, role, status, cost, turns)."""
        return await guarded(service.status(task_id))

    @server.tool()
    async def wait_for_task(ctx: Context, task_id: str, timeout_seconds: float = 30) -> dict[str, Any]:
        """Wait until the task ends or timeout_seconds (at most 60) pass, reporting progress; returns its status.
        Call again while it is running."""

        async def progress(done: float, total: float, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return await guarded(service.wait(task_id, timeout_seconds, progress))

    @server.tool()
    async def read_result(
        task_id: str | None = None, agent_id: str | None = None, offset: int = 0
    ) -> dict[str, Any]:
        """A task's final output, or an agent's latest result, a bounded piece at a time (pass next_offset)."""
        return await guarded(service.read_result(task_id=task_id, agent_id=agent_id, offset=offset))

    @server.tool()
    async def read_transcript(agent_id: str, offset: int = 0, limit: int = 20) -> dict[str, Any]:
        """A slice of an agent's conversation: messages and tool calls (input and result), each bounded."""
        return await guarded(service.transcript(agent_id, offset, limit))

    @server.tool()
    async def send_message(agent_id: str, message: str) -> dict[str, Any]:
        """Send a kept agent a message; its session continues and its reply comes back (bounded)."""
        return await guarded(service.send(agent_id, message))

    @server.tool()
    async def cancel_task(task_id: str, reason: str = "cancelled by the MCP host") -> dict[str, Any]:
        """Cancel a task this server runs; it ends cancelled and can be resumed."""
        return await guarded(service.cancel(task_id, reason))

    @server.tool()
    async def resume_task(
        ctx: Context,
        task_id: str,
        max_cost_usd: float | None = None,
        max_agents: int | None = None,
        max_parallel_agents: int | None = None,
        timeout_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Carry on a task that stopped before its end, in the background; succeeded subtasks are kept."""
        limits = _limits(max_cost_usd, max_agents, max_parallel_agents, timeout_seconds)
        return await guarded(service.resume(task_id, limits=limits, client=client_of(ctx)))

    return server
