"""Whether traces are on, and the one tracer per plugin manager (``orc-otel``); where they go is :mod:`.sending`.

Deciding costs no import of OpenTelemetry: ``orc --help`` and every run with traces off never load it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator_core import Config, ConfigError

if TYPE_CHECKING:
    from .tracer import OtelTracer

#: ``auto`` (on when an OTLP endpoint is set in the environment), ``on`` or ``off``.
SETTING = "ORC_OTEL"
#: Prompts, answers and tool input and output in the spans (opt-in, as the GenAI conventions advise).
CONTENT = "ORC_OTEL_CONTENT"
#: The most characters of one such text in a span.
CONTENT_MAX = "ORC_OTEL_CONTENT_MAX"
#: The name the tracer is registered under on a plugin manager.
PLUGIN_NAME = "orc-otel"
#: Environment variables that name where spans go: any of them set turns ``auto`` on.
ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
INSTALL = 'pip install "orc-agents[otel]"'
log = logging.getLogger("orc.otel")


def wanted(config: Config, environ: Mapping[str, str] | None = None) -> bool:
    """True when this run should make spans: ``ORC_OTEL=on``, or ``auto`` with an OTLP endpoint set.

    ``OTEL_SDK_DISABLED=true`` turns it off whatever the setting (the SDK's own switch), and so does
    ``OTEL_TRACES_EXPORTER=none`` under ``auto``.
    """
    environ = os.environ if environ is None else environ
    mode = config.get(SETTING) or "auto"
    if mode == "off" or environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if mode == "on":
        return True
    if (environ.get("OTEL_TRACES_EXPORTER") or "").strip().lower() == "none":
        return False
    return any(environ.get(name) for name in ENDPOINTS)


def tracer_for(pm: Any, config: Config) -> OtelTracer | None:
    """The tracer of ``pm`` (started and registered as ``orc-otel`` the first time), or None when traces are off.

    :raises ConfigError: ``ORC_OTEL=on`` without the otel extra installed, or an exporter orc cannot use. Under
        ``auto`` a missing extra is a warning, said once: the OTLP endpoint may be set for another program.
    """
    found = pm.get_plugin(PLUGIN_NAME)
    if found is not None or pm.is_blocked(PLUGIN_NAME) or not wanted(config):
        return found
    try:
        from .tracer import OtelTracer
    except ImportError as exc:
        if config.get(SETTING) == "on":
            raise ConfigError(f"ORC_OTEL=on needs OpenTelemetry ({exc}): {INSTALL}") from None
        if not getattr(pm, "otel_warned", False):
            pm.otel_warned = True
            log.warning(
                "an OTLP endpoint is set but OpenTelemetry is not installed (%s); no traces: %s", exc, INSTALL
            )
        return None
    from .sending import make_exporter

    tracer = OtelTracer(config, make_exporter())
    pm.register(tracer, PLUGIN_NAME)
    return tracer
