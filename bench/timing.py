"""Timing helpers the in-process benches share: run a callable repeatedly, summarise the seconds in milliseconds."""

import statistics
import time


def timings(run, repeat: int) -> list[float]:
    """Seconds each of `repeat` calls of `run` took."""
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        out.append(time.perf_counter() - started)
    return out


def summary(seconds: list[float]) -> dict:
    """Runs, median, 90th percentile and maximum of `seconds`, in milliseconds."""
    ordered = sorted(seconds)
    return {
        "runs": len(ordered),
        "median_ms": 1000 * statistics.median(ordered),
        "p90_ms": 1000 * ordered[int(0.9 * (len(ordered) - 1))],
        "max_ms": 1000 * ordered[-1],
    }
