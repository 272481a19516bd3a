"""The records orc passes around: roles, plans, agents, tasks, results and their metrics.

Records are attrs classes, frozen where they can be; change one with :func:`attrs.evolve`. JSON happens only at
the edges (the store, ``--json`` output) through :meth:`to_dict`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import string
import uuid
from collections.abc import Iterable
from typing import Any

import attrs


def new_id(prefix: str) -> str:
    """A short, sortable-enough, unique id such as ``task-3f9c2a1b7d``."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: Decimal places money is kept to (USD). Fine enough for a cache-read token (a fraction of a micro-dollar),
#: coarse enough that a sum of floats never shows its binary noise (0.1 + 0.2 is 0.3, not 0.30000000000000004).
MONEY_DIGITS = 10


def money(usd: float | None) -> float:
    """``usd`` rounded to :data:`MONEY_DIGITS`: what every sum of costs goes through before anyone sees it (#19)."""
    return round(usd or 0.0, MONEY_DIGITS) + 0.0


class AgentRole(enum.StrEnum):
    """The roles of the seed API. Any registered role name works wherever a role is taken; these are names only."""

    ANALYST = "analyst"
    PLANNER = "planner"
    BUILDER = "builder"
    TESTER = "tester"
    REVIEWER = "reviewer"
    DOCUMENTER = "documenter"
    SCOUT = "scout"
    CUSTOM = "custom"


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SubtaskStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Not run because something it depends on did not succeed.
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class AgentStatus(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    IDLE = "idle"
    FAILED = "failed"
    DELETED = "deleted"


def _tuple(value: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(value or ())


def _records(value: Iterable[Any]) -> tuple[Any, ...]:
    """``value`` as a tuple (a typed converter: attrs' mypy plugin cannot type ``converter=tuple``)."""
    return tuple(value)


@attrs.frozen
class Role:
    """What kind of agent to make: its prompt, the tools it sees, and how it may use them.

    :param tools: the exact tool names the model is shown; all of them are pre-approved.
    :param permission_mode: the Claude Code permission mode (``default``, ``acceptEdits``, ``plan``, ...).
    :param provided_by: the plugin that registered the role; set by the core at registration.
    """

    name: str
    description: str
    system_prompt: str
    tools: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    model: str | None = None
    max_turns: int | None = None
    permission_mode: str = "default"
    provided_by: str | None = None
    #: The most tokens one model response may have (the Claude Code CLI's output-token limit); None: the CLI's.
    max_output_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def problem(self) -> str | None:
        """What makes this role unusable (checked when a plugin registers it), or None."""
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            return f"role name {self.name!r} must be letters, digits, '-', '_' or '.', starting with a letter"
        if self.permission_mode not in PERMISSION_MODES:
            return (
                f"role {self.name!r} has permission mode {self.permission_mode!r}; "
                f"use one of {', '.join(PERMISSION_MODES)}"
            )
        bad = [t for t in self.tools if not isinstance(t, str) or not TOOL_NAME.fullmatch(t)]
        if bad:
            return f"role {self.name!r} lists tools that are not tool names: {', '.join(map(repr, bad))}"
        return None


#: What a role, task type or mode may be called.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
#: A tool name as Claude Code takes it: ``Read``, ``mcp__server__tool``.
TOOL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: Claude Code's permission modes (FACTS §4).
PERMISSION_MODES = ("default", "acceptEdits", "plan", "auto", "dontAsk", "bypassPermissions")


@attrs.frozen
class Subtask:
    """One step of a plan: a role, what to tell it, and the subtasks whose results it needs first."""

    id: str
    role: str
    instruction: str
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_tuple)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Plan:
    """The subtasks of a task, in the order a sequential run takes them."""

    subtasks: tuple[Subtask, ...] = attrs.field(converter=_records)
    task_type: str = "custom"
    #: The prompt it was made for (the task's goal), so a saved plan runs on its own (``orc execute --plan``).
    prompt: str | None = None

    def get(self, subtask_id: str) -> Subtask:
        for subtask in self.subtasks:
            if subtask.id == subtask_id:
                return subtask
        raise KeyError(subtask_id)

    def dependents(self, subtask_id: str) -> list[Subtask]:
        """Every subtask that needs ``subtask_id``, directly or through others."""
        found: list[Subtask] = []
        frontier = {subtask_id}
        while frontier:
            nxt = {s.id for s in self.subtasks if frontier & set(s.depends_on) and s not in found}
            found.extend(s for s in self.subtasks if s.id in nxt and s not in found)
            frontier = nxt
        return found

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"task_type": self.task_type, "subtasks": [s.to_dict() for s in self.subtasks]}
        if self.prompt is not None:
            data["prompt"] = self.prompt
        return data


@attrs.frozen
class Metrics:
    """What an agent, subtask or task used. Adds up with ``+``."""

    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    messages: int = 0
    tool_calls: int = 0
    files_read: int = 0
    files_written: int = 0
    duration_s: float = 0.0
    #: Tokens in the agent's context after its latest turn, and the model's window.
    context_used: int = 0
    context_window: int = 0

    @property
    def total_cost(self) -> float:
        """The seed API's name for :attr:`cost_usd`."""
        return self.cost_usd

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_creation_tokens

    def __add__(self, other: Metrics) -> Metrics:
        summed = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in attrs.fields(Metrics)
            if f.name not in ("context_used", "context_window")
        }
        summed["cost_usd"] = money(summed["cost_usd"])
        # Context is a level, not a flow: the latest non-empty reading wins.
        return Metrics(
            **summed,
            context_used=other.context_used or self.context_used,
            context_window=other.context_window or self.context_window,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "total_tokens": self.total_tokens}


@attrs.frozen
class Agent:
    """A Claude session with a role. It lives until deleted; its record stays in the store after that."""

    id: str
    name: str
    role: str
    cwd: str
    status: AgentStatus = AgentStatus.CREATED
    session_id: str | None = None
    model: str | None = None
    task_id: str | None = None
    pid: int | None = None
    created_at: dt.datetime = attrs.field(factory=utcnow)
    metrics: Metrics = Metrics()
    #: True once the session has taken at least one turn (later turns resume it).
    started: bool = False
    #: The ``seq`` of the agent's latest event, when loaded from a store (events go on from there).
    last_seq: int = 0
    #: The role itself for a custom agent (``AgentRole.CUSTOM``), whose prompt and tools no plugin registered.
    custom_role: Role | None = None
    #: The agent that created this one (an orchestrator agent), if any: the agent tree.
    parent_id: str | None = None

    @property
    def context_usage(self) -> dict[str, Any]:
        """``used_tokens``, ``window_tokens`` and ``usage_percentage`` after the latest turn."""
        used, window = self.metrics.context_used, self.metrics.context_window
        return {
            "used_tokens": used,
            "window_tokens": window,
            "usage_percentage": round(100 * used / window, 2) if window else 0.0,
        }

    @property
    def agent_id(self) -> str:
        """The seed API's name for :attr:`id`."""
        return self.id

    def __getitem__(self, key: str) -> Any:
        """``agent["metrics"]``: the seed API read agents as dicts; this is :meth:`to_dict`'s value."""
        return self.to_dict()[key]

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["status"] = self.status.value
        data["created_at"] = self.created_at.isoformat()
        data["metrics"] = self.metrics.to_dict()
        data["context_usage"] = self.context_usage
        data["custom_role"] = self.custom_role.to_dict() if self.custom_role else None
        return data


@attrs.frozen
class TurnResult:
    """What one message to an agent produced, as the runtime reports it."""

    text: str
    is_error: bool = False
    error: str | None = None
    metrics: Metrics = Metrics()
    session_id: str | None = None
    #: True when trying again may well succeed (overloaded model, network, a crashed CLI).
    retryable: bool = False
    #: True when the stall policy stopped the turn: the agent showed no sign of life for too long.
    stalled: bool = False


@attrs.frozen
class SubtaskResult:
    subtask_id: str
    role: str
    status: SubtaskStatus
    agent_id: str | None = None
    output: str = ""
    error: str | None = None
    metrics: Metrics = Metrics()
    #: How many agents tried it (1 unless a retry policy ran it again).
    attempts: int = 1
    retryable: bool = False
    #: The stall policy stopped its agent's turn (``ORC_STALL_ACTION``).
    stalled: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status is SubtaskStatus.SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["status"] = self.status.value
        data["metrics"] = self.metrics.to_dict()
        return data


@attrs.frozen
class Task:
    """One prompt given to orc, and what became of it."""

    id: str
    prompt: str
    task_type: str
    mode: str
    cwd: str
    status: TaskStatus = TaskStatus.PENDING
    plan: Plan | None = None
    created_at: dt.datetime = attrs.field(factory=utcnow)
    finished_at: dt.datetime | None = None
    #: The run-wide limits it runs under (Config attribute -> value), kept so ``orc resume`` applies them again.
    limits: dict[str, Any] = attrs.field(factory=dict)
    #: The process running it now (or last), so a watcher can tell a task whose process died (#17).
    pid: int | None = None
    #: Who started it (Config.client): None for the command line and the Python API.
    client: str | None = None


@attrs.frozen
class TaskResult:
    """The outcome of :meth:`Orchestrator.execute`: ``success``, the final ``output`` and the summed ``metrics``."""

    task_id: str
    success: bool
    output: str
    metrics: Metrics
    subtasks: tuple[SubtaskResult, ...] = attrs.field(default=(), converter=_records)
    status: TaskStatus = TaskStatus.SUCCEEDED
    error: str | None = None
    #: Why the run stopped before its plan was done: interrupted, max_cost, max_agents, timeout, fail_fast.
    stopped: str | None = None
    #: Wall-clock seconds from the first agent's start to the end (``metrics.duration_s`` sums agent time).
    elapsed_s: float = 0.0
    #: What plugins reported at the end (``orc_task_complete``): merges, conflicts, ...
    reports: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "stopped": self.stopped,
            "elapsed_s": self.elapsed_s,
            "reports": self.reports,
            "success": self.success,
            "status": self.status.value,
            "output": self.output,
            "error": self.error,
            "metrics": self.metrics.to_dict(),
            "subtasks": [s.to_dict() for s in self.subtasks],
        }


@attrs.frozen
class StatusSnapshot:
    """The state of a running task at one moment: what a periodic status check reports."""

    task_id: str
    #: Every agent of the task, as it is now.
    agents: tuple[Agent, ...] = attrs.field(converter=_records)
    #: Subtask id -> status value (pending, running, succeeded, ...).
    subtasks: dict[str, str] = attrs.field(factory=dict)
    metrics: Metrics = Metrics()
    elapsed_s: float = 0.0
    ts: dt.datetime = attrs.field(factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "agents": [a.to_dict() for a in self.agents],
            "subtasks": dict(self.subtasks),
            "metrics": self.metrics.to_dict(),
            "elapsed_s": self.elapsed_s,
            "ts": self.ts.isoformat(),
        }


@attrs.frozen
class TaskType:
    """A named template: the subtasks a prompt of this type becomes. Instructions may use ``{prompt}``."""

    name: str
    description: str
    subtasks: tuple[Subtask, ...] = attrs.field(converter=_records)
    provided_by: str | None = None

    def problem(self) -> str | None:
        """What makes this task type unusable (checked when a plugin registers it), or None."""
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            return f"task type name {self.name!r} must be letters, digits, '-', '_' or '.', starting with a letter"
        for subtask in self.subtasks:
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(subtask.instruction) if f is not None]
            except ValueError as exc:
                return (
                    f"task type {self.name!r}, subtask {subtask.id}: {exc} in its instruction "
                    "(write {{ and }} for literal braces)"
                )
            unknown = [f for f in fields if f != "prompt"]
            if unknown:
                return (
                    f"task type {self.name!r}, subtask {subtask.id}: its instruction uses {{{unknown[0]}}}; "
                    "only {prompt} is filled in (write {{ and }} for literal braces)"
                )
        return None


def check_plan(plan: Plan, roles: Iterable[str]) -> None:
    """Refuse a plan that cannot run: no subtasks, duplicate ids, unknown roles or dependencies, a cycle.

    :raises PlanError: with one line saying what is wrong and where.
    """
    from .errors import PlanError

    known = set(roles)
    if not plan.subtasks:
        raise PlanError("the plan has no subtasks; give a task type or --roles that makes at least one")
    ids = [s.id for s in plan.subtasks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanError(f"subtask id(s) {', '.join(duplicates)} appear more than once in the plan")
    for subtask in plan.subtasks:
        if subtask.role not in known:
            raise PlanError(
                f"subtask {subtask.id!r} asks for unknown role {subtask.role!r}; known roles: {', '.join(sorted(known))}"
            )
        missing = [d for d in subtask.depends_on if d not in ids]
        if missing:
            raise PlanError(f"subtask {subtask.id!r} depends on unknown subtask(s) {', '.join(missing)}")
    done: set[str] = set()
    remaining = list(plan.subtasks)
    while remaining:
        ready = [s for s in remaining if set(s.depends_on) <= done]
        if not ready:
            raise PlanError(f"the plan has a dependency cycle among {', '.join(s.id for s in remaining)}")
        done.update(s.id for s in ready)
        remaining = [s for s in remaining if s.id not in done]


@attrs.frozen
class TaskRecord:
    """A task as a store recorded it: what :meth:`Orchestrator.resume` needs to carry it on."""

    task: Task
    #: Results of the subtasks that ended, by subtask id.
    results: dict[str, SubtaskResult] = attrs.field(factory=dict)
    #: The latest agent of each subtask that had one, by subtask id.
    agent_ids: dict[str, str] = attrs.field(factory=dict)
    #: Every agent the task created, oldest first.
    agents: tuple[str, ...] = attrs.field(default=(), converter=tuple)
