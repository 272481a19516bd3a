"""orc: run teams of Claude agents. The public API; everything else is a plugin."""

from .agents import AgentManager, AgentRuntime, Emit
from .config import Config, load_config
from .errors import (
    ConfigError,
    ExitCode,
    Interrupted,
    LimitReached,
    OrcError,
    PlanError,
    PluginError,
    RunFailed,
    RuntimeUnavailable,
    StoreError,
    UsageError,
)
from .events import Event, EventKind
from .hookspecs import hookimpl, hookspec
from .orchestrator import Orchestrator
from .plugins import DEFAULT_PLUGINS, make_plugin_manager
from .records import (
    Agent,
    AgentRole,
    AgentStatus,
    Metrics,
    Plan,
    Role,
    Subtask,
    SubtaskResult,
    SubtaskStatus,
    Task,
    TaskResult,
    TaskStatus,
    TaskType,
    TurnResult,
    check_plan,
)
from .run import Executor, Run, bound

__all__ = [
    "DEFAULT_PLUGINS",
    "Agent",
    "AgentManager",
    "AgentRole",
    "AgentRuntime",
    "AgentStatus",
    "Config",
    "ConfigError",
    "Emit",
    "Event",
    "EventKind",
    "ExitCode",
    "Executor",
    "Interrupted",
    "LimitReached",
    "Metrics",
    "Orchestrator",
    "OrcError",
    "Plan",
    "PlanError",
    "PluginError",
    "Role",
    "Run",
    "RunFailed",
    "RuntimeUnavailable",
    "StoreError",
    "Subtask",
    "SubtaskResult",
    "SubtaskStatus",
    "Task",
    "TaskResult",
    "TaskStatus",
    "TaskType",
    "TurnResult",
    "UsageError",
    "bound",
    "check_plan",
    "hookimpl",
    "hookspec",
    "load_config",
    "make_plugin_manager",
]
