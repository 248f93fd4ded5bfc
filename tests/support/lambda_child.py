"""A fresh Lambda execution environment for one Mangum handler, run as ``python -c <this file>``.

Standard library only, so that every module it reports was loaded by the function itself, in
any virtualenv (the layer-only one too). The spec (a JSON file named by ``argv[1]``) gives the
handler module, one API Gateway event, how many warm repeats to run and where to write the
result. Timed with ``perf_counter`` (wall) and ``process_time`` (CPU, all threads):

- init: importing the handler module, which is Lambda's init for these functions;
- first: the event, right after init;
- warm: the same event again, ``warm`` times;
- with ``restore``, the SnapStart hooks as the Python runtime runs them (before-snapshot hooks
  in reverse order, after-restore hooks in order, the latter timed), then the event once more.

Also reported: the modules loaded at init and those the first event added, the garbage
collections init ran and the objects it froze, the resident memory after the first event and
the peak by then.

The Lambda runtime ships ``snapshot_restore_py``; where it is not installed (the layer-only
virtualenv), the child provides the same registry under that name before the init, as the
runtime does.
"""

import gc
import json
import sys
import time
import types
from typing import Any

started, started_cpu = time.perf_counter(), time.process_time()


class Context:
    """What powertools and Mangum read from the runtime's context object."""

    function_name = "stratus-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:stratus-bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/stratus-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _memory_mb() -> tuple[float, float]:
    """Resident now, and its peak (VmHWM: ``ru_maxrss`` would carry the parent's over exec)."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    rss, peak = (float(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))
    return rss, peak


def _invoke(handler, event):
    wall, cpu = time.perf_counter(), time.process_time()
    result = handler(event, Context())
    return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _runtime_hooks():
    try:
        import snapshot_restore_py
    except ImportError:
        snapshot_restore_py = types.ModuleType("snapshot_restore_py")
        before: list[Any] = []
        after: list[Any] = []
        snapshot_restore_py.__dict__.update(
            register_before_snapshot=lambda f, *a, **k: before.append((f, a, k)),
            register_after_restore=lambda f, *a, **k: after.append((f, a, k)),
            get_before_snapshot=lambda: before,
            get_after_restore=lambda: after,
        )
        sys.modules["snapshot_restore_py"] = snapshot_restore_py
    return snapshot_restore_py


def _snapshot_and_restore(hooks) -> float:
    for func, args, kwargs in reversed(hooks.get_before_snapshot()):
        func(*args, **kwargs)
    started = time.perf_counter()
    for func, args, kwargs in hooks.get_after_restore():
        func(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    hooks = _runtime_hooks()
    before = set(sys.modules)
    collections = sum(stats["collections"] for stats in gc.get_stats())
    module = __import__(spec["module"], fromlist=["handler"])
    init_collections = sum(stats["collections"] for stats in gc.get_stats()) - collections
    init_ms = (time.perf_counter() - started) * 1000
    init_cpu_ms = (time.process_time() - started_cpu) * 1000
    at_init = set(sys.modules)
    result, first_ms, first_cpu_ms = _invoke(module.handler, spec["event"])
    after_first = set(sys.modules)
    rss_mb, peak_mb = _memory_mb()
    warm = [_invoke(module.handler, spec["event"]) for _ in range(spec.get("warm", 0))]
    restore: dict[str, Any] = {}
    if spec.get("restore"):
        restore["hooks"] = len(hooks.get_after_restore())
        restore["restore_ms"] = _snapshot_and_restore(hooks)
        result, restore["after_restore_ms"], _ = _invoke(module.handler, spec["event"])
        restore["after_restore_status"] = result["statusCode"]
    report = {
        "init_ms": init_ms,
        "init_cpu_ms": init_cpu_ms,
        "first_ms": first_ms,
        "first_cpu_ms": first_cpu_ms,
        "first_status": result["statusCode"],
        "first_body": result.get("body"),
        "warm_ms": [ms for _, ms, _ in warm],
        "warm_cpu_ms": [cpu for _, _, cpu in warm],
        "warm_status": [r["statusCode"] for r, _, _ in warm],
        "init_collections": init_collections,
        "frozen_at_init": gc.get_freeze_count(),
        "modules_init": sorted(at_init - before),
        "modules_first_event": sorted(after_first - at_init),
        "rss_mb": rss_mb,
        "peak_mb": peak_mb,
        **restore,
    }
    with open(spec["output"], "w") as out:
        json.dump(report, out)


main()
