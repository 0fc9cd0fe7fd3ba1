"""PMO metrics, computed as wenhao-gao/mol_opt computes them (Gao et al., NeurIPS 2022).

AUC top-k: the mean of the best ``k`` scores among the first ``n`` calls is logged every
``freq_log`` calls; the area under that curve (trapezoid rule, starting from 0), carried forward
at the last value up to the full budget, divided by the budget. A run that stops early (Graph GA's
patience) keeps its last top-k for the unused calls.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Sequence

import numpy as np


def _topk_mean(heap: list[float], k: int) -> float:
    return float(np.mean(heapq.nlargest(k, heap)))


def auc_top_k(
    scores: Sequence[float], k: int, budget: int, freq_log: int = 100, finish: bool = True
) -> float:
    """AUC of the running top-``k`` mean over call order, normalised by ``budget``.

    Args:
        scores: scores of the counted calls in call order.
        k: how many best scores to average (1, 10, 100).
        budget: the oracle budget (``max_oracle_calls``).
        freq_log: calls between two points of the curve (100 in PMO).
        finish: carry the last value forward to the budget (True for a finished run).
    """
    scores = list(scores)[:budget]
    n = len(scores)
    if n == 0:
        return 0.0
    total, prev, called = 0.0, 0.0, 0
    best: list[float] = []  # the k best so far, as a min-heap
    for idx in range(freq_log, min(n, budget), freq_log):
        for s in scores[called:idx]:
            if len(best) < k:
                heapq.heappush(best, s)
            elif s > best[0]:
                heapq.heapreplace(best, s)
        now = float(np.mean(best))
        total += freq_log * (now + prev) / 2
        prev, called = now, idx
    now = _topk_mean(scores, k)
    total += (n - called) * (now + prev) / 2
    if finish and n < budget:
        total += (budget - n) * now
    return total / budget


def top_k_mean(scores: Sequence[float], k: int) -> float:
    """Mean of the ``k`` best scores (of all of them if fewer)."""
    return _topk_mean(list(scores), k) if len(scores) else 0.0


def pmo_metrics(
    smiles: Sequence[str],
    scores: Sequence[float],
    budget: int,
    reference: Container[str] | None = None,
) -> dict[str, float | int | str | None]:
    """All PMO summary metrics for one run.

    Args:
        smiles: canonical SMILES of the counted calls, in call order.
        scores: their scores.
        budget: the oracle budget.
        reference: canonical SMILES of the training set (ZINC250k) for novelty; ``None`` skips it.
    """
    from makeable.chem.fingerprints import internal_diversity

    scores = list(scores)
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)[:100]
    top100 = [smiles[i] for i in order]
    out: dict[str, float | int | str | None] = {
        "n_calls": len(scores),
        "auc_top1": auc_top_k(scores, 1, budget),
        "auc_top10": auc_top_k(scores, 10, budget),
        "auc_top100": auc_top_k(scores, 100, budget),
        "top1": top_k_mean(scores, 1),
        "top10_mean": top_k_mean(scores, 10),
        "top100_mean": top_k_mean(scores, 100),
        "diversity_top100": internal_diversity(top100) if len(top100) > 1 else None,
        "novelty_top100": None,
    }
    if reference is not None and top100:
        out["novelty_top100"] = sum(s not in reference for s in top100) / len(top100)
    return out
