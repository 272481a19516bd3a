"""OtelTracer: what orc's observer hooks report, as OpenTelemetry spans in the GenAI semantic conventions.

One task is one trace:

- ``invoke_workflow {task type}`` (INTERNAL): the task, from the start of planning to its end. ``gen_ai.workflow.name``
  is the task type; ``orc.*`` carries the task's id, mode, status, stop reason, cost, files, and its summed tokens
  as ``gen_ai.usage.*``.
- ``plan`` (INTERNAL): the planner's work; a planner agent's span is under it.
- ``invoke_agent {agent name}`` (INTERNAL): one per agent, from its creation to its last turn's end, under the task
  (or under the agent that created it: the orchestrator agent's children), linked to the agents of the subtasks
  it depends on (dag dependencies). ``gen_ai.agent.*``, ``gen_ai.request.model``, ``gen_ai.conversation.id`` (the
  Claude session id), ``gen_ai.usage.*`` equal to the store's (input tokens include the cache reads and writes, as
  the conventions ask; ``orc.usage.input_tokens`` is the uncached part, the store's ``input_tokens``), and
  ``orc.*``: role, cost, files read and written, flags, stop reason, subtask.
- ``execute_tool {tool}`` (INTERNAL) under its agent, from the model's call to the tool's result.
- ``chat {model}`` (CLIENT) under its agent: one model call, from its input being complete (the agent's message,
  or the last tool result) to the last block of its answer. The CLI reports usage per turn, not per call, so the
  tokens are on the agent's span. With Claude Code's own tracing on, its ``claude_code.llm_request`` spans (per-call
  tokens) nest under the agent's span beside these, through the ``TRACEPARENT`` each agent's process gets.

Errors and cancellations set the span's status to ERROR with ``error.type``. Every text is redacted exactly as
the store redacts it before it becomes an attribute; prompts, answers and tool input and output only with
``ORC_OTEL_CONTENT``, cut to ``ORC_OTEL_CONTENT_MAX`` characters.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import threading
import time
from typing import Any

import attrs
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from orchestrator_core import (
    Agent,
    AgentStatus,
    Config,
    Event,
    EventKind,
    Metrics,
    Role,
    Subtask,
    SubtaskResult,
    SubtaskStatus,
    Task,
    TaskResult,
    TaskStatus,
    bound,
    hookimpl,
)
from orchestrator_core.secrets import Redactor, secrets_in

from .planning import PLANNING, Planning
from .sending import Reporting
from .switch import CONTENT, CONTENT_MAX

PROVIDER = "anthropic"
log = logging.getLogger("orc.otel")
SCOPE = "orc_agents.orc_otel"
#: The longest the end of a run waits for the last spans to leave.
CLOSE_TIMEOUT_S = 3.0


def _ns(when: dt.datetime | None = None) -> int:
    return time.time_ns() if when is None else int(when.timestamp() * 1_000_000_000)


@attrs.define
class _AgentSpan:
    """One agent's span and what is known about its turn in progress."""

    span: Any
    agent: Agent
    #: Its metrics when the span started (an agent an earlier process made has some): the span counts the rest.
    before: Metrics
    last_active: int
    tools: dict[str, Any] = attrs.field(factory=dict)
    #: The open model call's span, and when its answer's latest block came.
    chat: Any = None
    chat_end: int = 0
    #: When the model's input was complete (the agent's message, the last tool result): a model call is on.
    waiting: int | None = None
    model: str | None = None
    error: str | None = None
    cancelled: str | None = None
    flags: list[str] = attrs.field(factory=list)
    files: dict[str, set[str]] = attrs.field(factory=lambda: {"read": set(), "written": set()})


class OtelTracer:
    """Registered as ``orc-otel``: builds the spans from the observer hooks and exports them."""

    def __init__(self, config: Config, exporter: SpanExporter | None, *, batch: bool | None = None) -> None:
        self.config = config
        #: Exactly the store's redaction: the secret values of this process's environment and the run's.
        self.redact = Redactor(secrets_in(os.environ, config.runtime_env))
        self.content = bool(config.get(CONTENT))
        self.content_max = int(config.get(CONTENT_MAX) or 4000)
        resource = Resource.create({})
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": "orc"}))
        self.provider = TracerProvider(resource=resource)
        if exporter is not None:
            # An exporter that talks to a backend gets a batch (spans leave on a thread of its own, off the run's
            # event loop); the in-memory one of tests is simple (spans are there when they end).
            use_batch = batch if batch is not None else type(exporter).__name__ != "InMemorySpanExporter"
            if use_batch:
                exporter = Reporting(exporter)
            processor = BatchSpanProcessor(exporter) if use_batch else SimpleSpanProcessor(exporter)
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer(SCOPE)
        self.tasks: dict[str, Any] = {}
        self.agents: dict[str, _AgentSpan] = {}
        #: (task id, subtask id) -> the span context of the subtask's latest agent: what dependents link to.
        self.subtasks: dict[tuple[str, str], Any] = {}
        self.plannings: list[Planning] = []
        self.closed = False
        atexit.register(self.close)

    # -- helpers ------------------------------------------------------------------------------------------------

    def text(self, value: Any) -> str:
        """``value`` as the store would write it: redacted."""
        return self.redact(str(value))

    def content_text(self, value: Any) -> str:
        """A prompt, answer or tool text: redacted, then cut (so a cut never leaves part of a secret)."""
        return bound(str(value), self.content_max, self.redact)

    @staticmethod
    def fail(span: Any, exc: BaseException | str, kind: str | None = None) -> None:
        message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        span.set_attribute(
            "error.type", kind or (type(exc).__name__ if not isinstance(exc, str) else "_OTHER")
        )
        span.set_status(Status(StatusCode.ERROR, message[:1000]))

    def _messages(self, role: str, text: str) -> str:
        """A GenAI ``input.messages`` / ``output.messages`` value (as JSON: span attributes are flat)."""
        return json.dumps([{"role": role, "parts": [{"type": "text", "content": self.content_text(text)}]}])

    # -- planning (called from the plugin's orc_make_plan wrapper) -----------------------------------------------

    def plan_started(self, prompt: str, task_type: str, roles: tuple[str, ...]) -> Planning:
        root = self.tracer.start_span(
            "invoke_workflow",
            kind=SpanKind.INTERNAL,
            attributes={"gen_ai.operation.name": "invoke_workflow"},
        )
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "plan",
            "orc.plan.requested": self.text(task_type),
        }
        if roles:
            attributes["orc.plan.roles"] = [self.text(r) for r in roles]
        plan = self.tracer.start_span(
            "plan", context=trace.set_span_in_context(root), kind=SpanKind.INTERNAL, attributes=attributes
        )
        if self.content:
            root.set_attribute("gen_ai.input.messages", self._messages("user", prompt))
        return Planning(self, root, plan)

    # -- tasks ----------------------------------------------------------------------------------------------------

    @hookimpl
    def orc_task_started(self, task: Task) -> None:
        planning = PLANNING.get()
        if planning is not None and not planning.adopted and planning.root.is_recording():
            planning.adopted = True
            PLANNING.set(None)
            root = planning.root
        else:
            root = self.tracer.start_span(
                "invoke_workflow",
                kind=SpanKind.INTERNAL,
                attributes={"gen_ai.operation.name": "invoke_workflow"},
            )
            if self.content:
                root.set_attribute("gen_ai.input.messages", self._messages("user", task.prompt))
        root.update_name(f"invoke_workflow {task.task_type}")
        root.set_attributes(
            {
                "gen_ai.workflow.name": self.text(task.task_type),
                "orc.task.id": task.id,
                "orc.task.mode": self.text(task.mode),
                "orc.task.subtasks": len(task.plan.subtasks) if task.plan else 0,
            }
        )
        self.tasks[task.id] = root

    @hookimpl
    def orc_task_finished(self, task: Task, result: TaskResult) -> None:
        span = self.tasks.pop(task.id, None)
        if span is None:
            return
        for state in [s for s in self.agents.values() if s.agent.task_id == task.id]:
            self._end_agent(state)
        metrics = result.metrics
        span.set_attributes(
            {
                **self._usage(metrics),
                "orc.task.status": result.status.value,
                "orc.task.elapsed_s": result.elapsed_s,
                "orc.task.agents": len({s.agent_id for s in result.subtasks if s.agent_id}),
            }
        )
        if result.stopped:
            span.set_attribute("orc.stop_reason", result.stopped)
        if self.content and result.output:
            span.set_attribute("gen_ai.output.messages", self._messages("assistant", result.output))
        if result.status is TaskStatus.CANCELLED:
            self.fail(span, self.text(result.error or "cancelled"), "cancelled")
        elif not result.success:
            self.fail(span, self.text(result.error or "failed"), result.stopped or "failed")
        span.end()

    @hookimpl
    def orc_subtask_started(self, task: Task, subtask: Subtask, agent: Agent) -> None:
        state = self._agent(agent)
        span = state.span
        span.set_attribute("orc.subtask.id", self.text(subtask.id))
        if subtask.depends_on:
            span.set_attribute("orc.subtask.depends_on", [self.text(d) for d in subtask.depends_on])
        for dependency in subtask.depends_on:
            context = self.subtasks.get((task.id, dependency))
            if context is not None:
                span.add_link(context, {"orc.link": "depends_on", "orc.subtask.id": self.text(dependency)})
        self.subtasks[(task.id, subtask.id)] = span.get_span_context()
        if self.content:
            span.set_attribute("orc.subtask.instruction", self.content_text(subtask.instruction))

    @hookimpl
    def orc_subtask_finished(self, task: Task, subtask: Subtask, result: SubtaskResult) -> None:
        root = self.tasks.get(task.id)
        state = self.agents.get(result.agent_id) if result.agent_id else None
        if state is None:
            if root is not None and result.status in (SubtaskStatus.SKIPPED, SubtaskStatus.CANCELLED):
                root.add_event(
                    f"orc.subtask.{result.status.value}",
                    {"orc.subtask.id": self.text(subtask.id), "orc.reason": self.text(result.error or "")},
                )
            return
        state.span.set_attributes(
            {"orc.subtask.status": result.status.value, "orc.subtask.attempts": result.attempts}
        )
        if result.status is SubtaskStatus.CANCELLED:
            state.cancelled = self.text(result.error or "cancelled")
        elif result.status is SubtaskStatus.FAILED and state.error is None:
            state.error = self.text(result.error or "failed")
        if result.stalled:
            state.span.set_attribute("orc.stalled", True)

    # -- agents ---------------------------------------------------------------------------------------------------

    def _parent(self, agent: Agent) -> Any:
        if agent.parent_id and agent.parent_id in self.agents:
            return trace.set_span_in_context(self.agents[agent.parent_id].span)
        if agent.task_id and agent.task_id in self.tasks:
            return trace.set_span_in_context(self.tasks[agent.task_id])
        planning = PLANNING.get()
        if planning is not None and planning.plan.is_recording():
            return trace.set_span_in_context(planning.plan)
        return None

    def _agent(self, agent: Agent, when: int | None = None) -> _AgentSpan:
        """The agent's span: started the first time orc tells of the agent."""
        state = self.agents.get(agent.id)
        if state is not None:
            state.agent = agent
            return state
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.agent.id": agent.id,
            "gen_ai.agent.name": self.text(agent.name),
            "orc.agent.role": self.text(agent.role),
        }
        if agent.model:
            attributes["gen_ai.request.model"] = self.text(agent.model)
        if agent.session_id:
            attributes["gen_ai.conversation.id"] = agent.session_id
        if agent.task_id:
            attributes["orc.task.id"] = agent.task_id
        if agent.parent_id:
            attributes["orc.agent.parent_id"] = agent.parent_id
        start = when if when is not None else _ns(agent.created_at)
        span = self.tracer.start_span(
            f"invoke_agent {self.text(agent.name)}",
            context=self._parent(agent),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=start,
        )
        state = _AgentSpan(span=span, agent=agent, before=agent.metrics, last_active=start, model=agent.model)
        self.agents[agent.id] = state
        return state

    @hookimpl
    def orc_agent_created(self, agent: Agent) -> None:
        self._agent(agent)

    @hookimpl
    def orc_agent_environment(self, agent: Agent, role: Role) -> dict[str, str] | None:
        """The agent's span as the W3C trace context of its process: Claude Code's own spans nest under it. Not an
        observer hook (an exception would stop the session from opening), so a failure here costs only the
        trace context."""
        try:
            state = self._agent(agent, when=None if agent.id in self.agents else time.time_ns())
            if role.description:
                state.span.set_attribute("gen_ai.agent.description", self.text(role.description))
            carrier: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(state.span))
        except Exception as exc:
            log.warning(
                "orc_otel could not give agent %s its trace context: %s: %s",
                agent.id,
                type(exc).__name__,
                exc,
            )
            return None
        env = {"TRACEPARENT": carrier["traceparent"]} if "traceparent" in carrier else {}
        if carrier.get("tracestate"):
            env["TRACESTATE"] = carrier["tracestate"]
        return env or None

    @hookimpl
    def orc_agent_updated(self, agent: Agent) -> None:
        if agent.status is AgentStatus.DELETED and agent.id not in self.agents:
            return  # a record changed after its span ended (a planner agent given its task's id): no new span
        state = self._agent(agent, when=None if agent.id in self.agents else time.time_ns())
        if agent.session_id:
            state.span.set_attribute("gen_ai.conversation.id", agent.session_id)
        if agent.status in (AgentStatus.IDLE, AgentStatus.FAILED):
            state.last_active = time.time_ns()
            self._end_chat(state)
        if agent.status is AgentStatus.FAILED and state.error is None:
            state.error = "the agent's turn failed"

    @hookimpl
    def orc_agent_deleted(self, agent: Agent) -> None:
        state = self.agents.get(agent.id)
        if state is not None:
            state.agent = agent
            self._end_agent(state)

    @hookimpl
    def orc_agent_flagged(self, agent: Agent, kind: str, message: str) -> None:
        state = self.agents.get(agent.id)
        if state is None:
            return
        state.flags.append(kind)
        state.span.set_attribute("orc.flags", list(state.flags))
        state.span.add_event(
            "orc.flag", {"orc.flag.kind": self.text(kind), "orc.flag.message": self.text(message)}
        )

    def _end_agent(self, state: _AgentSpan) -> None:
        """End the agent's span at its last turn's end, with what it spent (from the agent's record: the store's)."""
        self.agents.pop(state.agent.id, None)
        end = max(state.last_active, state.span.start_time or 0)
        self._end_chat(state)
        for tool in state.tools.values():
            self.fail(tool, "the agent stopped before the tool answered", "interrupted")
            tool.end(end_time=end)
        state.tools.clear()
        agent, span = state.agent, state.span
        spent = _minus(agent.metrics, state.before)
        span.set_attributes(
            {
                **self._usage(spent),
                "orc.agent.status": agent.status.value,
                "orc.messages": spent.messages,
                "orc.tool_calls": spent.tool_calls,
                "orc.files_read_count": spent.files_read,
                "orc.files_written_count": spent.files_written,
                "orc.duration_s": spent.duration_s,
            }
        )
        if agent.metrics.context_window:
            span.set_attribute("orc.context.used_tokens", agent.metrics.context_used)
            span.set_attribute("orc.context.window_tokens", agent.metrics.context_window)
        if state.files["read"]:
            span.set_attribute("orc.files_read", sorted(state.files["read"])[:100])
        if state.files["written"]:
            span.set_attribute("orc.files_written", sorted(state.files["written"])[:100])
        if state.model:
            span.set_attribute("gen_ai.response.model", self.text(state.model))
        if state.cancelled:
            self.fail(span, state.cancelled, "cancelled")
        elif state.error:
            self.fail(span, state.error, "agent_error")
        span.end(end_time=end)

    def _usage(self, metrics: Metrics) -> dict[str, Any]:
        cached = metrics.cache_read_tokens + metrics.cache_creation_tokens
        return {
            # The conventions count cached input in input_tokens; orc.usage.input_tokens is the store's (uncached).
            "gen_ai.usage.input_tokens": metrics.input_tokens + cached,
            "gen_ai.usage.output_tokens": metrics.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": metrics.cache_read_tokens,
            "gen_ai.usage.cache_creation.input_tokens": metrics.cache_creation_tokens,
            "orc.usage.input_tokens": metrics.input_tokens,
            "orc.cost_usd": metrics.cost_usd,
        }

    # -- what happens inside a session ----------------------------------------------------------------------------

    @hookimpl
    def orc_event(self, event: Event) -> None:
        state = self.agents.get(event.agent_id)
        if state is None:
            return
        kind, payload, when = event.kind, event.payload, _ns(event.ts)
        if kind is EventKind.MESSAGE:
            if payload.get("role") == "user":
                self._end_chat(state)
                state.waiting = when
                state.error = state.cancelled = None
                if self.content:
                    state.span.set_attribute(
                        "gen_ai.input.messages", self._messages("user", payload.get("text", ""))
                    )
            else:
                self._answered(state, when)
        elif kind is EventKind.TOOL_CALL:
            self._answered(state, when)
            self._tool_called(state, payload, when)
        elif kind is EventKind.TOOL_RESULT:
            self._tool_answered(state, payload, when)
        elif kind is EventKind.FILE_ACCESS:
            self._file(state, payload)
        elif kind is EventKind.SESSION:
            if payload.get("model"):
                state.model = str(payload["model"])
            if payload.get("node_id"):
                state.span.set_attribute("orc.ray.node_id", str(payload["node_id"]))
        elif kind is EventKind.RESULT:
            self._end_chat(state)
            state.waiting = None
            if payload.get("subtype"):
                state.span.set_attribute("orc.stop_reason", self.text(payload["subtype"]))
            if payload.get("num_turns") is not None:
                state.span.set_attribute("orc.num_turns", payload["num_turns"])
            if payload.get("is_error"):
                state.error = self.text(payload.get("error") or payload.get("subtype") or "the turn failed")
            if self.content and payload.get("text"):
                state.span.set_attribute(
                    "gen_ai.output.messages", self._messages("assistant", payload["text"])
                )
        elif kind is EventKind.ERROR:
            state.error = self.text(payload.get("error") or "error")
            state.span.add_event("orc.error", {"orc.error": state.error}, timestamp=when)
        elif kind is EventKind.RETRY:
            state.span.add_event(
                "orc.retry",
                {k: self.text(v) for k, v in payload.items() if v is not None},
                timestamp=when,
            )
        elif kind is EventKind.NOTICE:
            state.span.add_event(
                "orc.notice", {"orc.notice": self.text(payload.get("message", ""))}, timestamp=when
            )

    def _answered(self, state: _AgentSpan, when: int) -> None:
        """A block of the model's answer came: it belongs to the open model call, or starts one."""
        if state.chat is None and state.waiting is not None:
            model = state.model or state.agent.model or "claude"
            attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": self.text(model),
            }
            if state.agent.session_id:
                attributes["gen_ai.conversation.id"] = state.agent.session_id
            state.chat = self.tracer.start_span(
                f"chat {self.text(model)}",
                context=trace.set_span_in_context(state.span),
                kind=SpanKind.CLIENT,
                attributes=attributes,
                start_time=state.waiting,
            )
            state.waiting = None
        state.chat_end = max(when, state.chat_end)

    def _end_chat(self, state: _AgentSpan) -> None:
        if state.chat is not None:
            state.chat.end(end_time=max(state.chat_end, state.chat.start_time or 0))
            state.chat = None

    def _tool_called(self, state: _AgentSpan, payload: dict[str, Any], when: int) -> None:
        name = str(payload.get("name") or "tool")
        call_id = str(payload.get("tool_use_id") or "")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": self.text(name),
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "extension" if name.startswith("mcp__") else "function",
        }
        if self.content and payload.get("input") is not None:
            attributes["gen_ai.tool.call.arguments"] = self.content_text(
                json.dumps(payload["input"], default=str)
            )
        state.tools[call_id] = self.tracer.start_span(
            f"execute_tool {self.text(name)}",
            context=trace.set_span_in_context(state.span),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=when,
        )

    def _tool_answered(self, state: _AgentSpan, payload: dict[str, Any], when: int) -> None:
        self._end_chat(state)
        span = state.tools.pop(str(payload.get("tool_use_id") or ""), None)
        if span is not None:
            if payload.get("duration_ms") is not None:
                span.set_attribute("orc.tool.duration_ms", payload["duration_ms"])
            if self.content and payload.get("content") is not None:
                span.set_attribute("gen_ai.tool.call.result", self.content_text(payload["content"]))
            if payload.get("is_error"):
                span.set_status(Status(StatusCode.ERROR, "the tool answered with an error"))
                span.set_attribute("error.type", "tool_error")
            span.end(end_time=when)
        if not state.tools:
            state.waiting = when  # every result is in: the next model call has its input

    def _file(self, state: _AgentSpan, payload: dict[str, Any]) -> None:
        path = self.text(payload.get("path") or "")
        operation = str(payload.get("operation") or "")
        if operation in ("read", "search"):
            state.files["read"].add(path)
        else:
            state.files["written"].add(path)
        span = state.tools.get(str(payload.get("tool_use_id") or ""))
        target = span if span is not None else state.span
        target.set_attribute("orc.file.path", path)
        target.set_attribute("orc.file.operation", self.text(operation))

    # -- the end --------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """End what is still open (an agent kept for later, a plan with no task) and send every span."""
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.close)
        for state in list(self.agents.values()):
            self._end_agent(state)
        for planning in self.plannings:
            if planning.plan.is_recording():
                planning.plan.end()
            planning.end_root()
        for span in self.tasks.values():
            span.end()
        self.tasks.clear()
        # Bounded: a backend that is down would hold the end of the run for the exporter's retries (7 s and more here).
        # The thread is a daemon: what it has not sent when orc exits is lost, and said so.
        closing = threading.Thread(target=self.provider.shutdown, name="orc-otel-close", daemon=True)
        closing.start()
        closing.join(CLOSE_TIMEOUT_S)
        if closing.is_alive():
            log.warning(
                "orc_otel: the trace backend did not take the last spans within %g s; they are lost",
                CLOSE_TIMEOUT_S,
            )


def _minus(after: Metrics, before: Metrics) -> Metrics:
    """What was spent between two readings of an agent's metrics (context is a level: the latest)."""
    if before == Metrics():
        return after
    flows = {
        f.name: max(getattr(after, f.name) - getattr(before, f.name), 0)
        for f in attrs.fields(Metrics)
        if f.name not in ("context_used", "context_window")
    }
    return Metrics(**flows, context_used=after.context_used, context_window=after.context_window)
