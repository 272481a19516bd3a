"""OpenTelemetry traces of orc's runs, in the GenAI conventions (the ``orc[otel]`` extra). Disable with
``-p no:orc_otel``.

Off by default. On with ``ORC_OTEL=on`` (``--otel``), or by the standard OpenTelemetry environment: with
``ORC_OTEL=auto`` (the default) a set ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) turns it on;
``OTEL_EXPORTER_OTLP_HEADERS``, ``..._PROTOCOL`` (``http/protobuf`` or ``grpc``), ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``) are read as every
OpenTelemetry SDK reads them, from the environment only (never from a repository's ``orc.toml`` or ``.env``).
A task is one trace: an ``invoke_workflow`` span, its ``plan`` span, an ``invoke_agent`` span per agent (the
orchestrator agent's children under it, dag dependencies as links), and under each agent its ``execute_tool``
and ``chat`` spans (:mod:`orc_agents.orc_otel.tracer` says what each carries). Each agent's Claude Code process
gets its span's ``TRACEPARENT``. Prompts and outputs go into spans only with ``ORC_OTEL_CONTENT=true``, cut to
``ORC_OTEL_CONTENT_MAX`` characters; secrets are redacted as in the store. Nothing of OpenTelemetry is imported
while it is off.
"""

from __future__ import annotations

from orchestrator_core import hookimpl
from orchestrator_core.config import choice

from .switch import CONTENT, CONTENT_MAX, SETTING, tracer_for


def _mode(text: str) -> str:
    """``auto``, ``on`` or ``off``; true/false and 1/0 as on/off."""
    value = text.strip().lower()
    value = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}.get(value, value)
    return choice("auto", "on", "off")(value)


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a whole number above 0")
    return value


@hookimpl
def orc_addoption(parser):
    parser.add_setting(
        SETTING,
        parse=_mode,
        default="auto",
        help="OpenTelemetry traces of each run: on, off, or auto (on when OTEL_EXPORTER_OTLP_ENDPOINT is set).",
    )
    parser.add_option(
        "--otel", setting=SETTING, is_flag=True, flag_value="on", commands=("execute", "resume")
    )
    parser.add_setting(
        CONTENT,
        parse=_boolean,
        default=False,
        # Prompts, answers and tool input go to the trace backend: the user's choice, never a repository's.
        from_files=False,
        help="Put prompts, answers and tool input and output into the spans (redacted, cut to "
        "ORC_OTEL_CONTENT_MAX characters).",
    )
    parser.add_setting(
        CONTENT_MAX,
        parse=_positive,
        default=4000,
        help="With ORC_OTEL_CONTENT: the most characters of one prompt, answer or tool input or output in a span.",
    )


@hookimpl
def orc_configure(config, pm):
    """Starts the tracer (``orc-otel``) when traces are on; the plan hook may have started it already."""
    tracer_for(pm, config)


@hookimpl(trylast=True)
def orc_unconfigure(config, pm):
    """trylast: the other plugins' spans-worth of hooks are done; then the last spans are ended and sent."""
    from .switch import PLUGIN_NAME

    tracer = pm.get_plugin(PLUGIN_NAME)
    if tracer is not None:
        pm.unregister(tracer, PLUGIN_NAME)
        tracer.close()


@hookimpl(wrapper=True)
def orc_make_plan(prompt, task_type, roles, config, orc):
    """A wrapper around whichever planner answers: the ``plan`` span (and the task's span, which the plan belongs
    to) covers the planner's work, including a planner agent's whole conversation."""
    tracer = tracer_for(orc.pm, config)
    if tracer is None:
        return (yield)
    planning = tracer.plan_started(prompt, task_type, tuple(roles))
    try:
        answer = yield
    except BaseException as exc:
        planning.failed(exc)
        raise
    return planning.answered(answer)


__all__ = ["CONTENT", "CONTENT_MAX", "SETTING"]
