"""A fresh Lambda execution environment for one Mangum handler, run as ``python -c <this file>``.

Standard library only, so that every module it reports was loaded by the function itself, in
any virtualenv (the layer-only one too). The spec (a JSON file named by ``argv[1]``) gives the
handler module, one API Gateway event, how many warm repeats to run and where to write the
result. Timed with ``perf_counter`` (wall) and ``process_time`` (CPU, all threads):

- init: importing the handler module, which is Lambda's init for these functions;
- first: the event, right after init;
- warm: the same event again, ``warm`` times.

Also reported: the modules loaded at init and those the first event added, the resident memory
after the first event and the peak (``ru_maxrss``) by then.
"""

import json
import resource
import sys
import time

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


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _invoke(handler, event):
    wall, cpu = time.perf_counter(), time.process_time()
    result = handler(event, Context())
    return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    before = set(sys.modules)
    module = __import__(spec["module"], fromlist=["handler"])
    init_ms = (time.perf_counter() - started) * 1000
    init_cpu_ms = (time.process_time() - started_cpu) * 1000
    at_init = set(sys.modules)
    result, first_ms, first_cpu_ms = _invoke(module.handler, spec["event"])
    after_first = set(sys.modules)
    rss_mb = _rss_mb()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    warm = [_invoke(module.handler, spec["event"]) for _ in range(spec.get("warm", 0))]
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
        "modules_init": sorted(at_init - before),
        "modules_first_event": sorted(after_first - at_init),
        "rss_mb": rss_mb,
        "peak_mb": peak_mb,
    }
    with open(spec["output"], "w") as out:
        json.dump(report, out)


main()
