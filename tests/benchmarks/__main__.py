"""``python -m tests.benchmarks`` (``make bench``): run every ``bench_*.py`` and print its figures.

Benchmarks are not tests: they print medians and ratios against a baseline measured in the same
run, because these machines are shared and noisy. ``BENCH_ONLY=auth,cold_start`` picks a subset.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path


def _machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    only = {n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()}
    if only:
        names = [n for n in names if n.removeprefix("bench_") in only]
    print(f"# Stratus benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# {_machine()}")
    for name in names:
        importlib.import_module(f"tests.benchmarks.{name}").main()
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
