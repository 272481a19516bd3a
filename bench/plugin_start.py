"""What the start-up check for a built-in replaced by another distribution costs (#21): reading the entry points of
every installed distribution with and without the scan of the plugin distributions' RECORDs for files inside
orc's own package. Five fake plugin distributions (200-file RECORDs) are put on sys.path; the two variants run
interleaved, and the result is their ratio (the baseline is measured in the same run)."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import write


def fake_plugins(site: Path, count: int, files: int) -> None:
    for i in range(count):
        info = site / f"orc_fake{i}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: orc-fake{i}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[orc]\nfake{i} = orc_fake{i}\n")
        (info / "RECORD").write_text("".join(f"orc_fake{i}/m{j}.py,sha256=x,1\n" for j in range(files)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--plugins", type=int, default=5)
    args = parser.parse_args()
    site = Path(tempfile.mkdtemp())
    fake_plugins(site, args.plugins, 200)
    sys.path.insert(0, str(site))
    from orchestrator_core import plugins

    scan = plugins.warn_if_intruding
    timings: dict[str, list[float]] = {"with_scan": [], "without_scan": []}
    for _ in range(args.runs):
        for name, check in (("with_scan", scan), ("without_scan", lambda *a: False)):
            plugins.warn_if_intruding = check  # type: ignore[assignment]
            began = time.perf_counter()
            plugins.installed_entry_points()
            timings[name].append(time.perf_counter() - began)
    plugins.warn_if_intruding = scan
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    ratio = medians["with_scan"] / medians["without_scan"]
    path = write(
        "plugin_start",
        {"plugins": args.plugins, "runs": args.runs, "median_ms": medians, "ratio_with_to_without": ratio},
    )
    print(
        f"entry points of every distribution, {args.plugins} plugin distributions: median "
        f"{medians['with_scan']:.2f} ms with the scan, {medians['without_scan']:.2f} ms without "
        f"(ratio {ratio:.2f}); {path}"
    )


if __name__ == "__main__":
    main()
