"""Ratios of two servers measured in alternating slices, summarised so that a machine's
drift does not decide them.

Each round drives its servers in a palindrome (A, B, C, C, B, A: each server's slices sit
at the same mean time, so a drift linear over the round weighs on all alike), and gives one
ratio per pair of servers: the requests of one over those of the other, each summed over
its slices in the round. Over the rounds the summary is the median ratio (a disturbed round
moves it by one rank, not by its size), the interquartile range, and a distribution-free
confidence interval of the median from order statistics (the binomial sign test: no
assumption on how the ratios are spread)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

CONFIDENCE = 0.9  # the least coverage of the median's interval


@dataclass(frozen=True)
class RatioSummary:
    ratios: tuple[float, ...]
    median: float
    q1: float
    q3: float
    low: float  # the median's confidence interval
    high: float
    coverage: float  # its exact coverage (binomial), >= CONFIDENCE when the rounds allow

    def describe(self) -> str:
        each = ", ".join(f"{ratio:.2f}" for ratio in self.ratios)
        return (
            f"median {self.median:.2f} of {len(self.ratios)} rounds, IQR {self.q1:.2f}-"
            f"{self.q3:.2f}, {self.coverage:.0%} CI {self.low:.2f}-{self.high:.2f}; "
            f"per round {each}"
        )


def median_interval(n: int, confidence: float = CONFIDENCE) -> tuple[int, float]:
    """The 1-based rank k whose order statistics (k, n + 1 - k) bound the median with at
    least ``confidence`` (the narrowest such), and that interval's exact coverage; for too
    few values, rank 1 (the whole range) and its coverage."""
    best_k, best_coverage = 1, 1 - 2 * 0.5**n
    for k in range(2, n // 2 + 1):
        # P(the median lies below the k-th smallest) = P(Binomial(n, 1/2) <= k - 1).
        tail = sum(math.comb(n, i) for i in range(k)) / 2**n
        coverage = 1 - 2 * tail
        if coverage < confidence:
            break
        best_k, best_coverage = k, coverage
    return best_k, best_coverage


def summarise(ratios: list[float]) -> RatioSummary:
    ordered = sorted(ratios)
    n = len(ordered)
    if n == 0:
        return RatioSummary((), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    k, coverage = median_interval(n)
    q1, _, q3 = statistics.quantiles(ordered, n=4) if n > 1 else (ordered[0],) * 3
    return RatioSummary(
        tuple(ratios),
        statistics.median(ordered),
        q1,
        q3,
        ordered[k - 1],
        ordered[n - k],
        coverage,
    )
