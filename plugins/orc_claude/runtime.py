"""ClaudeRuntime: opens an agent's Claude Code session through claude-agent-sdk and reports what it does.

The first turn opens the session with the id orc chose for the agent (``session_id=``); later turns, from this
process or a later one, resume it (``resume=``). SDK messages become :class:`EventKind` events as they arrive.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from orchestrator_core import (
    Agent,
    Config,
    Emit,
    EventKind,
    Metrics,
    Role,
    RuntimeUnavailable,
    TurnResult,
    bound,
)

from .credentials import config_dir, has_credentials

#: How much of a tool's output an event carries; the full output stays in the session transcript.
TOOL_OUTPUT_CHARS = 2000
#: Tools whose ``file_path`` (or ``notebook_path``) names a file they read or change, and how.
FILE_TOOLS = {"Read": "read", "Write": "write", "Edit": "edit", "MultiEdit": "edit", "NotebookEdit": "edit"}
SEARCH_TOOLS = {"Glob", "Grep"}


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return str(content)


class ClaudeRuntime:
    """The default :class:`~orchestrator_core.AgentRuntime`."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def env(self) -> dict[str, str]:
        """The environment the CLI will see: this process's, with the run's additions on top."""
        return {**os.environ, **self.config.runtime_env}

    def check(self) -> None:
        if not has_credentials(self.env):
            raise RuntimeUnavailable(
                "no Claude credentials: set ANTHROPIC_API_KEY or log in with the Claude CLI (`claude` then /login); "
                "or try `orc execute --scripted ...` to see orc work offline"
            )

    def options(self, agent: Agent, role: Role, stderr_lines: deque[str]) -> Any:
        from claude_agent_sdk import ClaudeAgentOptions

        return ClaudeAgentOptions(
            cwd=agent.cwd,
            system_prompt=role.system_prompt,
            tools=list(role.tools),
            # The role's tools are exactly what it may use: pre-approve them all (FACTS §2: allowed_tools only
            # approves, tools= decides what the model sees).
            allowed_tools=list(role.tools),
            permission_mode=role.permission_mode,
            model=agent.model,
            max_turns=role.max_turns,
            env=dict(self.config.runtime_env),
            setting_sources=["project"],
            stderr=stderr_lines.append,
            **({"resume": agent.session_id} if agent.started else {"session_id": agent.session_id}),
        )

    async def run_turn(self, agent: Agent, role: Role, message: str, emit: Emit) -> TurnResult:
        from claude_agent_sdk import ClaudeSDKError, CLINotFoundError, ResultMessage, query

        stderr_lines: deque[str] = deque(maxlen=20)
        turn = _Turn(agent, emit)
        started = time.monotonic()
        try:
            async for sdk_message in query(prompt=message, options=self.options(agent, role, stderr_lines)):
                turn.handle(sdk_message)
        except CLINotFoundError as exc:
            raise RuntimeUnavailable(
                f"the Claude Code CLI was not found ({exc}); reinstall claude-agent-sdk, which bundles it"
            ) from None
        except ClaudeSDKError as exc:
            # After an error result the SDK raises too (FACTS §8); the result already says what went wrong.
            if not (isinstance(turn.result, ResultMessage) and turn.result.is_error):
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                tail = " | ".join(line.strip() for line in stderr_lines if line.strip())[-300:]
                turn.fail(f"{detail}{f' ({tail})' if tail else ''}")
        return turn.finish(time.monotonic() - started)

    async def delete(self, agent: Agent) -> None:
        from claude_agent_sdk import delete_session

        # delete_session reads CLAUDE_CONFIG_DIR from os.environ, not from the agent's env (FACTS §5); no await
        # happens while it is swapped, so no other agent sees the change.
        saved = os.environ.get("CLAUDE_CONFIG_DIR")
        os.environ["CLAUDE_CONFIG_DIR"] = str(config_dir(self.env))
        try:
            with contextlib.suppress(FileNotFoundError, ValueError):
                delete_session(agent.session_id, directory=agent.cwd)
        finally:
            if saved is None:
                os.environ.pop("CLAUDE_CONFIG_DIR", None)
            else:
                os.environ["CLAUDE_CONFIG_DIR"] = saved


class _Turn:
    """Turns one ``query()``'s messages into events and, at the end, a TurnResult."""

    def __init__(self, agent: Agent, emit: Emit) -> None:
        self.agent = agent
        self.emit = emit
        self.tools: dict[str, tuple[str, dict[str, Any], float]] = {}
        self.texts: list[str] = []
        self.result: Any = None
        self.error: str | None = None
        self.session_id = agent.session_id
        self.counts = {"messages": 0, "tool_calls": 0, "files_read": 0, "files_written": 0}
        self.context_used = 0

    def handle(self, message: Any) -> None:
        from claude_agent_sdk import AssistantMessage, ResultMessage, SystemMessage, UserMessage

        if isinstance(message, SystemMessage):
            self._system(message.subtype, message.data)
        elif isinstance(message, AssistantMessage):
            self._assistant(message)
        elif isinstance(message, UserMessage):
            self._user(message)
        elif isinstance(message, ResultMessage):
            self.result = message

    def _system(self, subtype: str, data: dict[str, Any]) -> None:
        if subtype == "init":
            self.session_id = data.get("session_id") or self.session_id
            self.emit(
                EventKind.SESSION,
                {k: data.get(k) for k in ("session_id", "model", "cwd", "tools", "permissionMode", "claude_code_version")},
            )
        elif subtype == "api_retry":
            self.emit(EventKind.RETRY, {k: data.get(k) for k in ("attempt", "error_status", "error", "retry_delay_ms")})

    def _assistant(self, message: Any) -> None:
        from claude_agent_sdk import TextBlock, ToolUseBlock

        self.counts["messages"] += 1
        usage = message.usage or {}
        # An assistant message's usage is the one of its model call's start: its input side is the context size.
        context = sum(int(usage.get(k) or 0) for k in ("input_tokens", "cache_read_input_tokens",
                                                          "cache_creation_input_tokens"))
        self.context_used = max(self.context_used, context)
        for block in message.content:
            if isinstance(block, TextBlock):
                self.texts.append(block.text)
                self.emit(EventKind.MESSAGE, {"role": "assistant", "text": block.text})
            elif isinstance(block, ToolUseBlock):
                self.counts["tool_calls"] += 1
                self.tools[block.id] = (block.name, dict(block.input), time.monotonic())
                self.emit(EventKind.TOOL_CALL, {"tool_use_id": block.id, "name": block.name, "input": block.input})

    def _user(self, message: Any) -> None:
        from claude_agent_sdk import ToolResultBlock

        if not isinstance(message.content, list):
            return
        for block in message.content:
            if not isinstance(block, ToolResultBlock):
                continue
            name, tool_input, began = self.tools.get(block.tool_use_id, ("?", {}, time.monotonic()))
            self.emit(
                EventKind.TOOL_RESULT,
                {
                    "tool_use_id": block.tool_use_id,
                    "name": name,
                    "is_error": bool(block.is_error),
                    "content": bound(_text_of(block.content), TOOL_OUTPUT_CHARS),
                    "duration_ms": round((time.monotonic() - began) * 1000),
                },
            )
            if not block.is_error:
                self._file_access(block.tool_use_id, name, tool_input)

    def _file_access(self, tool_use_id: str, name: str, tool_input: dict[str, Any]) -> None:
        if name in FILE_TOOLS:
            path = tool_input.get("file_path") or tool_input.get("notebook_path")
            operation = FILE_TOOLS[name]
        elif name in SEARCH_TOOLS:
            path = tool_input.get("path") or "."
            operation = "search"
        else:
            return
        if not path:
            return
        full = str((Path(self.agent.cwd) / path).resolve())
        self.counts["files_read" if operation in ("read", "search") else "files_written"] += operation != "search"
        self.emit(EventKind.FILE_ACCESS, {"path": full, "operation": operation, "tool": name,
                                          "tool_use_id": tool_use_id})

    def fail(self, error: str) -> None:
        self.error = error
        self.emit(EventKind.ERROR, {"error": error})

    def finish(self, wall_seconds: float) -> TurnResult:
        result = self.result
        usage = (result.usage if result is not None else None) or {}
        cumulative = float(result.total_cost_usd or 0.0) if result is not None else 0.0
        # total_cost_usd is the session's running total (FACTS §3): this turn cost the difference.
        cost = max(cumulative - self.agent.metrics.cost_usd, 0.0) if result is not None else 0.0
        window = 0
        for model_usage in ((result.model_usage or {}).values() if result is not None else ()):
            window = max(window, int(model_usage.get("contextWindow") or 0))
        metrics = Metrics(
            cost_usd=cost,
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
            cache_creation_tokens=int(usage.get("cache_creation_input_tokens") or 0),
            duration_s=(result.duration_ms / 1000) if result is not None and result.duration_ms else wall_seconds,
            context_used=self.context_used,
            context_window=window,
            **self.counts,
        )
        if result is not None:
            self.emit(
                EventKind.USAGE,
                {
                    "input_tokens": metrics.input_tokens,
                    "output_tokens": metrics.output_tokens,
                    "cache_read_tokens": metrics.cache_read_tokens,
                    "cache_creation_tokens": metrics.cache_creation_tokens,
                    "cost_usd": cost,
                    "session_cost_usd": cumulative,
                },
            )
            if window:
                self.emit(
                    EventKind.CONTEXT,
                    {
                        "used_tokens": self.context_used,
                        "window_tokens": window,
                        "usage_percentage": round(100 * self.context_used / window, 2),
                    },
                )
        text = (result.result if result is not None and result.result else None) or (self.texts[-1] if self.texts else "")
        is_error = self.error is not None or result is None or bool(result.is_error)
        error = self.error
        if is_error and error is None:
            errors = getattr(result, "errors", None) if result is not None else None
            error = "; ".join(errors) if errors else (text or getattr(result, "subtype", None) or "the turn failed")
        self.emit(
            EventKind.RESULT,
            {
                "is_error": is_error,
                "subtype": getattr(result, "subtype", None),
                "num_turns": getattr(result, "num_turns", None),
                "text": bound(text, TOOL_OUTPUT_CHARS),
                "error": error,
            },
        )
        return TurnResult(text=text, is_error=is_error, error=error, metrics=metrics, session_id=self.session_id)
