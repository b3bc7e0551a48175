"""One latency summary for every benchmark and timing script: how many, median (p50), p90, p95,
mean, min and max, in milliseconds. Percentiles interpolate linearly between the two nearest
measurements (numpy's default), so they are defined for any number of runs."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def latency_summary(ms: Iterable[float]) -> dict:
    """``{"n", "median_ms", "p90_ms", "p95_ms", "mean_ms", "min_ms", "max_ms"}`` of durations in
    milliseconds (to the microsecond); ``{"n": 0}`` for none."""
    a = np.asarray(list(ms), dtype=np.float64)
    if a.size == 0:
        return {"n": 0}
    p50, p90, p95 = np.percentile(a, (50, 90, 95))
    return {"n": int(a.size), **{f"{k}_ms": round(float(v), 3) for k, v in (
        ("median", p50), ("p90", p90), ("p95", p95), ("mean", a.mean()), ("min", a.min()), ("max", a.max()))}}
