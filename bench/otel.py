"""What OpenTelemetry traces cost a run: a scripted five-role team run's wall time with orc_otel exporting (OTLP over
HTTP, batched, to a local receiver) and with it off, side by side in the same process, runs interleaved; plus the
tracer's own CPU time (its hooks on the event loop, and the exporter's thread). Goal (#24): <= 1% of the wall time.

The receiver is a plain HTTP server on 127.0.0.1 that reads each OTLP request and answers 200: the exporter does all
its real work (encoding, HTTP), and no backend's speed is measured.

    python bench/otel.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, write  # noqa: E402

from orc_agents.orc_otel.switch import PLUGIN_NAME  # noqa: E402
from orchestrator_core import Config, Orchestrator, make_plugin_manager  # noqa: E402
from orchestrator_core.testing import ScriptedModel  # noqa: E402


class Receiver(http.server.ThreadingHTTPServer):
    """Takes OTLP/HTTP posts on 127.0.0.1 and counts them."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests += 1
                receiver.bytes += len(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class TimedExporter:
    """The real OTLP exporter, with the time its export calls take (on the batch processor's thread)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.cpu = 0.0
        self.spans = 0

    def export(self, spans):
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.inner.export(spans)
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu += time.thread_time() - cpu
            self.spans += len(spans)

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def team_run(traced: bool, receiver: Receiver) -> dict:
    """One scripted feature_implementation run (five agents, real CLIs); with ``traced``, orc_otel exports."""
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as model:
        work = Path(tmp) / "work"
        work.mkdir()
        pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
        pm.hook.orc_scripted_model(model=model)
        config = Config(
            db_path=Path(tmp) / "orc.db",
            runtime_env=model.env(Path(tmp) / "claude"),
            plugin_settings={"ORC_SCRIPTED": True},
        )
        spent = {"hooks": 0.0, "hooks_cpu": 0.0, "calls": 0}
        exporter = None
        if traced:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            from orc_agents.orc_otel.tracer import OtelTracer

            exporter = TimedExporter(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"))
            tracer = OtelTracer(config, exporter, batch=True)  # type: ignore[arg-type]
            pm.register(tracer, PLUGIN_NAME)

            def timed(function):
                def wrapper(*args, **kwargs):
                    start, cpu = time.perf_counter(), time.thread_time()
                    try:
                        return function(*args, **kwargs)
                    finally:
                        spent["hooks"] += time.perf_counter() - start
                        spent["hooks_cpu"] += time.thread_time() - cpu
                        spent["calls"] += 1

                return wrapper

            for caller in pm.hook.__dict__.values():
                for impl in getattr(caller, "get_hookimpls", list)():
                    if impl.plugin is tracer or impl.plugin_name == "orc_otel":
                        impl.function = timed(impl.function)
        orc = Orchestrator(config, pm=pm)

        async def go():
            await orc.start()
            start = time.perf_counter()
            result = await orc.execute("Add CSV export", task_type="feature_implementation", cwd=work)
            wall = time.perf_counter() - start
            closing = time.perf_counter()
            await orc.stop()  # flushes the last spans
            return result, wall, time.perf_counter() - closing

        result, wall, stop_s = anyio.run(go)
    assert result.success, result.error
    # CPU time, not wall: on a loaded 2-core machine a thread's wall time is mostly waiting for a core.
    own = spent["hooks_cpu"] + (exporter.cpu if exporter else 0.0)
    return {
        "traced": traced,
        "wall_s": round(wall, 3),
        "stop_s": round(stop_s, 3),
        "hook_calls": spent["calls"],
        "hook_s": round(spent["hooks"], 5),
        "hook_cpu_s": round(spent["hooks_cpu"], 5),
        "export_s": round(exporter.seconds, 5) if exporter else 0.0,
        "export_cpu_s": round(exporter.cpu, 5) if exporter else 0.0,
        "spans": exporter.spans if exporter else 0,
        "tracer_share": round(own / wall, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    runs: list[dict] = []
    with Timer() as bench_timer:
        team_run(False, receiver)  # warm-up: first CLI start, imports
        for i in range(args.repeat):
            # Interleaved, alternating which goes first: a busy 2-core machine drifts over minutes.
            for traced in (i % 2 == 0, i % 2 != 0):
                runs.append(team_run(traced, receiver))
    receiver.shutdown()
    on = [r for r in runs if r["traced"]]
    off = [r for r in runs if not r["traced"]]
    median_on = statistics.median(r["wall_s"] for r in on)
    median_off = statistics.median(r["wall_s"] for r in off)
    # Each on/off pair ran back to back: their ratio drifts less than the medians' on a shared machine.
    pairs = [on_run["wall_s"] / off_run["wall_s"] for on_run, off_run in zip(on, off, strict=True)]
    data = {
        "command": f"python bench/otel.py --repeat {args.repeat}",
        "runs_each": args.repeat,
        "wall_s_median": {"otel_on": median_on, "otel_off": median_off},
        "wall_on_vs_off": round(median_on / median_off, 4),
        "wall_on_vs_off_pairs": [round(p, 4) for p in pairs],
        "wall_on_vs_off_pairs_median": round(statistics.median(pairs), 4),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "tracer_share_median": statistics.median(r["tracer_share"] for r in on),
        "tracer_share_max": max(r["tracer_share"] for r in on),
        "spans_per_run": on[0]["spans"],
        "otlp_requests": receiver.requests,
        "otlp_bytes": receiver.bytes,
        "goal": "tracer_share_median <= 0.01: the tracer's CPU time (hooks + exporter thread) over the run's wall "
        "time; the wall-time ratios are shown too, but on a shared machine their noise is larger than 1%",
        "bench_s": round(bench_timer.seconds, 1),
        "runs": runs,
    }
    path = write("otel", data)
    print(f"wrote {path}")
    for key in (
        "wall_s_median",
        "wall_on_vs_off",
        "wall_on_vs_off_pairs",
        "load_average",
        "tracer_share_median",
        "tracer_share_max",
        "spans_per_run",
    ):
        print(f"{key}: {data[key]}")


if __name__ == "__main__":
    main()
