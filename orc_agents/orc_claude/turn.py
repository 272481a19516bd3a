"""Turn: what one message's stream of SDK messages becomes, as events while it streams and a TurnResult at the end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from orchestrator_core import Agent, Emit, EventKind, Metrics, TurnResult, bound, money
from orchestrator_core.secrets import Redactor, redactor_for

#: How much of a tool's output an event carries; the full output stays in the session transcript.
TOOL_OUTPUT_CHARS = 2000
#: Tools whose ``file_path`` (or ``notebook_path``) names a file they read or change, and how.
FILE_TOOLS = {"Read": "read", "Write": "write", "Edit": "edit", "MultiEdit": "edit", "NotebookEdit": "edit"}
SEARCH_TOOLS = {"Glob", "Grep"}
#: Metrics field -> key in a result's ``usage`` (this turn's calls) and in its ``model_usage`` (the session's).
USAGE_KEYS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_input_tokens",
    "cache_creation_tokens": "cache_creation_input_tokens",
}
MODEL_USAGE_KEYS = {
    "input_tokens": "inputTokens",
    "output_tokens": "outputTokens",
    "cache_read_tokens": "cacheReadInputTokens",
    "cache_creation_tokens": "cacheCreationInputTokens",
}


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return str(content)


class Turn:
    """Turns one ``query()``'s messages into events and, at the end, a TurnResult."""

    def __init__(self, agent: Agent, emit: Emit, redact: Redactor | None = None) -> None:
        self.agent = agent
        self.emit = emit
        self.tools: dict[str, tuple[str, dict[str, Any], float]] = {}
        self.texts: list[str] = []
        self.result: Any = None
        self.error: str | None = None
        self.session_id = agent.session_id
        self.counts = {"messages": 0, "tool_calls": 0}
        #: The distinct paths this turn's tools read and wrote (searches are neither): ``Metrics.files_read``.
        self.read: set[str] = set()
        self.written: set[str] = set()
        self.context_used = 0
        self.retryable = False
        #: The model responses seen: the CLI sends one message per content block, all with the response's id.
        self._responses: set[str] = set()
        # Tool output and answers are cut below: redact first, so a cut never leaves part of a secret (#16).
        self.redact = redact or redactor_for()

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
                {
                    k: data.get(k)
                    for k in ("session_id", "model", "cwd", "tools", "permissionMode", "claude_code_version")
                },
            )
        elif subtype == "api_retry":
            self.emit(
                EventKind.RETRY,
                {k: data.get(k) for k in ("attempt", "error_status", "error", "retry_delay_ms")},
            )

    def _assistant(self, message: Any) -> None:
        from claude_agent_sdk import TextBlock, ToolUseBlock

        response = getattr(message, "message_id", None)
        if response is None or response not in self._responses:
            self.counts["messages"] += 1
            if response is not None:
                self._responses.add(response)
        usage = message.usage or {}
        # An assistant message's usage is the one of its model call's start: its input side is the context size.
        context = sum(
            int(usage.get(k) or 0)
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
        self.context_used = max(self.context_used, context)
        for block in message.content:
            if isinstance(block, TextBlock):
                self.texts.append(block.text)
                self.emit(EventKind.MESSAGE, {"role": "assistant", "text": block.text})
            elif isinstance(block, ToolUseBlock):
                self.counts["tool_calls"] += 1
                self.tools[block.id] = (block.name, dict(block.input), time.monotonic())
                self.emit(
                    EventKind.TOOL_CALL, {"tool_use_id": block.id, "name": block.name, "input": block.input}
                )

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
                    "content": bound(_text_of(block.content), TOOL_OUTPUT_CHARS, self.redact),
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
        if operation != "search":
            (self.read if operation == "read" else self.written).add(full)
        self.emit(
            EventKind.FILE_ACCESS,
            {"path": full, "operation": operation, "tool": name, "tool_use_id": tool_use_id},
        )

    def _tokens(self, result: Any, usage: dict[str, Any]) -> dict[str, int]:
        """This turn's tokens, from the same source as its cost.

        The result's ``usage`` can leave out the last model call (a turn stopped at ``max_budget_usd``) while its
        ``model_usage`` and ``total_cost_usd`` include it (FACTS §11); ``model_usage`` is the session's running
        total, like the cost, so the turn's share is the difference from what the agent has recorded.
        """
        totals = (getattr(result, "model_usage", None) or {}) if result is not None else {}
        if not totals:
            return {field: int(usage.get(key) or 0) for field, key in USAGE_KEYS.items()}
        before = self.agent.metrics
        return {
            field: max(
                sum(int(m.get(MODEL_USAGE_KEYS[field]) or 0) for m in totals.values())
                - getattr(before, field),
                0,
            )
            for field in USAGE_KEYS
        }

    def fail(self, error: str, retryable: bool = False) -> None:
        self.error = error
        self.retryable = retryable
        self.emit(EventKind.ERROR, {"error": error})

    def finish(self, wall_seconds: float) -> TurnResult:
        result = self.result
        usage = (result.usage if result is not None else None) or {}
        # Money enters orc here, rounded (#19): the CLI's own total already shows float noise (0.026139999999999997).
        cumulative = money(float(result.total_cost_usd or 0.0)) if result is not None else 0.0
        # total_cost_usd is the session's running total (FACTS §3): this turn cost the difference.
        cost = money(max(cumulative - self.agent.metrics.cost_usd, 0.0)) if result is not None else 0.0
        window = 0
        for model_usage in (result.model_usage or {}).values() if result is not None else ():
            window = max(window, int(model_usage.get("contextWindow") or 0))
        tokens = self._tokens(result, usage)
        metrics = Metrics.of_files(
            self.read,
            self.written,
            cost_usd=cost,
            **tokens,
            duration_s=(result.duration_ms / 1000)
            if result is not None and result.duration_ms
            else wall_seconds,
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
        text = (result.result if result is not None and result.result else None) or (
            self.texts[-1] if self.texts else ""
        )
        is_error = self.error is not None or result is None or bool(result.is_error)
        error = self.error
        if is_error and error is None:
            errors = getattr(result, "errors", None) if result is not None else None
            error = (
                "; ".join(errors)
                if errors
                else (text or getattr(result, "subtype", None) or "the turn failed")
            )
        self.emit(
            EventKind.RESULT,
            {
                "is_error": is_error,
                "subtype": getattr(result, "subtype", None),
                "num_turns": getattr(result, "num_turns", None),
                "text": bound(text, TOOL_OUTPUT_CHARS, self.redact),
                "error": error,
            },
        )
        return TurnResult(
            text=text,
            is_error=is_error,
            error=error,
            metrics=metrics,
            session_id=self.session_id,
            retryable=self.retryable,
        )
