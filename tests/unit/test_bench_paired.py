"""The api_accept bench's summary of per-round ratios (bench/paired.py): the median, its
interquartile range and the sign-test interval of the median."""

from __future__ import annotations

import math

import pytest

from bench.paired import median_interval, summarise


@pytest.mark.parametrize(
    ("n", "rank", "coverage"),
    [
        (4, 1, 1 - 2 / 16),  # too few for 90 %: the whole range, and what it covers
        (6, 1, 1 - 2 / 64),
        (8, 2, 1 - 2 * 9 / 256),  # the 2nd and 7th of 8: 93 %
        (12, 3, 1 - 2 * (1 + 12 + 66) / 4096),
    ],
)
def test_the_narrowest_interval_covering_at_least_90_percent(
    n: int, rank: int, coverage: float
) -> None:
    found_rank, found_coverage = median_interval(n)
    assert found_rank == rank
    assert found_coverage == pytest.approx(coverage)
    if rank + 1 <= n // 2:  # one rank narrower would cover less than 90 %
        tail = sum(math.comb(n, i) for i in range(rank + 1)) / 2**n
        assert 1 - 2 * tail < 0.9


def test_one_disturbed_round_moves_the_median_by_a_rank_not_by_its_size() -> None:
    steady = [0.95, 0.97, 0.99, 1.0, 1.01, 1.02, 1.04]
    summary = summarise([0.2, *steady])
    assert summary.median == pytest.approx((0.99 + 1.0) / 2)
    # 8 rounds: the interval runs from the 2nd to the 7th ranked ratio.
    assert (summary.low, summary.high) == (0.95, 1.02)
    assert summary.ratios[0] == 0.2  # in the order the rounds ran
    assert "median 0.99 of 8 rounds" in summary.describe()


def test_a_limiter_costing_a_fifth_is_not_within_noise_of_one() -> None:
    summary = summarise([0.78, 0.8, 0.79, 0.82, 0.81, 0.77, 0.8, 0.83])
    assert summary.high < 0.9
    assert summary.q1 <= summary.median <= summary.q3
