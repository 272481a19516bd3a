"""Sending spans: the exporter the standard environment asks for, and a wrapper that reports a failure once."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from orchestrator_core import ConfigError

log = logging.getLogger("orc.otel")


class Reporting(SpanExporter):
    """The exporter, saying once, in one line, that spans could not be sent (the SDK's own retries and failures
    are logged a line a try, a batch every few seconds: quieted to CRITICAL)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.warned = False
        logging.getLogger("opentelemetry.exporter.otlp").setLevel(logging.CRITICAL)

    def export(self, spans: Any) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # an exporter that raises instead of answering FAILURE
            result, detail = SpanExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
        else:
            detail = "the endpoint refused them or did not answer"
        if result is not SpanExportResult.SUCCESS and not self.warned:
            self.warned = True
            endpoint = getattr(self.inner, "_endpoint", None) or "the OTLP endpoint"
            log.warning(
                "orc_otel: spans could not be sent to %s (%s); the run goes on (said once)", endpoint, detail
            )
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def make_exporter(environ: Mapping[str, str] | None = None) -> Any:
    """The span exporter the environment asks for (``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_PROTOCOL``),
    configured by the exporter itself from ``OTEL_EXPORTER_OTLP_*``; None for ``none``.

    :raises ConfigError: an exporter or protocol orc cannot send with, or the one it needs is not installed.
    """
    environ = os.environ if environ is None else environ
    kind = (environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")[0].strip().lower()
    if kind == "none":
        return None
    if kind == "console":
        import sys

        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)
    if kind != "otlp":
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER={kind} is not one orc can send with; use otlp, console or none"
        )
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: pip install "
                "opentelemetry-exporter-otlp-proto-grpc (or use http/protobuf, which the otel extra has)"
            ) from None
        return GrpcExporter()
    raise ConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported by orc; use http/protobuf or grpc"
    )
