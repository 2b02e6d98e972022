"""Regression checks of a bench run against earlier runs: pure functions of the loaded history."""

from __future__ import annotations

import statistics

from ..store.bench_history import BenchResult


def check_regressions(history: list[BenchResult], current: BenchResult, *, ratio: float = 0.10,
                      min_seconds: float = 0.5, window: int = 5, hit_drop: float = 0.05) -> list[str]:
    """Compare each (benchmark, scenario) of `current` with the same one in the last `window` earlier
    results of the same machine and builder. Slower counts only beyond both `ratio` and `min_seconds`,
    so noise on a short build and a small relative change on a long one are both ignored."""
    earlier = [
        h for h in history
        if h.id != current.id and h.created < current.created and h.machine_key == current.machine_key
    ]
    messages: list[str] = []
    for name, bench in current.benchmarks.items():
        for scenario, now in bench.scenarios.items():
            past = [
                h.benchmarks[name].scenarios[scenario] for h in earlier
                if name in h.benchmarks and h.benchmarks[name].builder == bench.builder
                and scenario in h.benchmarks[name].scenarios
            ][-window:] if window > 0 else []
            if not past:
                continue
            where = f"{name} {scenario}"
            if past[-1].all_ok and not now.all_ok:
                messages.append(f"{where}: now fails ({now.ok} of {now.builds} builds ok), built ok before")
                continue
            times = [p.median_s for p in past if p.all_ok and p.median_s is not None]
            if now.all_ok and now.median_s is not None and times:
                old = statistics.median(times)
                if now.median_s - old > min_seconds and now.median_s > old * (1 + ratio):
                    pct = (now.median_s / old - 1) * 100 if old > 0 else float("inf")
                    messages.append(
                        f"{where}: slower, median {now.median_s:.2f} s, was {old:.2f} s "
                        f"(median of {len(times)} earlier runs), +{pct:.0f}%"
                    )
            rates = [p.hit_rate for p in past if p.hit_rate is not None]
            if now.hit_rate is not None and rates:
                old_rate = statistics.median(rates)
                if old_rate - now.hit_rate > hit_drop:
                    messages.append(f"{where}: cache hit rate dropped to {now.hit_rate:.0%}, was {old_rate:.0%}")
    return messages


def comparable_runs(history: list[BenchResult], current: BenchResult) -> int:
    """How many earlier results of the same machine there are (0: a first run)."""
    return sum(h.id != current.id and h.created < current.created and h.machine_key == current.machine_key
               for h in history)
