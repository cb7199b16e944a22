"""Small statistics and formatting helpers for the benchmark report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def geomean(a: float, b: float) -> float:
    return math.sqrt(a * b)


def pair_ratios(
    baseline_runs: Sequence[float], emulator_runs: Sequence[float], higher_is_better: bool
) -> list[float]:
    """Emulator run ``i`` against the baseline runs just before and after it.

    The schedule is ``B0 E0 B1 E1 ... Bn``: each emulator run is bracketed by
    two baseline runs, and their geometric mean is its reference, which
    cancels drift that is linear over the round. Ratios read "emulator
    performance / baseline performance": above 1 the emulator is better.
    """
    ratios = []
    for i, value in enumerate(emulator_runs):
        if i + 1 < len(baseline_runs):
            reference = geomean(baseline_runs[i], baseline_runs[i + 1])
        else:
            reference = baseline_runs[i]
        if value <= 0 or reference <= 0:
            ratios.append(0.0)
        else:
            ratios.append(value / reference if higher_is_better else reference / value)
    return ratios


def fmt_rate(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f}k {unit}"
    if value >= 1000:
        return f"{value / 1000:.2f}k {unit}"
    return f"{value:.0f} {unit}"


def fmt_us(us: float | None) -> str:
    if us is None or math.isnan(us):
        return "-"
    if us >= 100_000:
        return f"{us / 1e6:.2f}s"
    if us >= 1000:
        return f"{us / 1000:.1f}ms"
    return f"{us:.0f}us"


def fmt_seconds(s: float | None) -> str:
    if s is None or math.isnan(s):
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.01:
        return f"{s * 1000:.0f} ms"
    return f"{s * 1000:.2f} ms"


def fmt_pct(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    return f"{x * 100:.0f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [line, rule]
    for row in rows:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(out)
