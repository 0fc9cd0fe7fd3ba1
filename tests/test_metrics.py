"""PMO metrics against a direct transcription of mol_opt's ``top_auc`` formula."""

from __future__ import annotations

import numpy as np
import pytest

from makeable.oracle.metrics import auc_top_k, top_k_mean


def naive_top_auc(scores, top_n, finish, freq_log, budget):
    """The mol_opt algorithm written naively: re-sort the prefix at every log point."""
    total, prev, called = 0.0, 0.0, 0
    n = len(scores)
    for idx in range(freq_log, min(n, budget), freq_log):
        now = np.mean(sorted(scores[:idx], reverse=True)[:top_n])
        total += freq_log * (now + prev) / 2
        prev, called = now, idx
    now = np.mean(sorted(scores, reverse=True)[:top_n])
    total += (n - called) * (now + prev) / 2
    if finish and n < budget:
        total += (budget - n) * now
    return total / budget


@pytest.mark.parametrize("n", [1, 99, 100, 101, 1000, 1234])
@pytest.mark.parametrize("k", [1, 10, 100])
def test_auc_matches_mol_opt(n, k):
    rng = np.random.default_rng(n * 7 + k)
    scores = list(rng.random(n))
    assert auc_top_k(scores, k, 1000) == pytest.approx(
        naive_top_auc(scores[:1000], k, True, 100, 1000), abs=1e-12
    )


def test_constant_score_gives_that_auc_minus_the_ramp():
    # 1.0 from the first call: the first trapezoid starts at 0, so AUC = 1 - 50/budget
    assert auc_top_k([1.0] * 1000, 10, 1000) == pytest.approx(1 - 50 / 1000)


def test_early_stop_is_carried_forward():
    full = auc_top_k([0.5] * 200, 1, 1000, finish=True)
    assert full == pytest.approx((0.5 * 200 - 25 + 0.5 * 800) / 1000)
    assert auc_top_k([0.5] * 200, 1, 1000, finish=False) < full


def test_top_k_mean():
    assert top_k_mean([1, 5, 3], 2) == 4
    assert top_k_mean([1], 10) == 1
