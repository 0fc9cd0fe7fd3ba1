"""Splits of a molecule set (random, or by Bemis-Murcko scaffold) and the classification
metrics every learned model of the project reports (ROC-AUC, average precision)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

SPLITS = ("random", "scaffold")


def scaffold(mol: Chem.Mol) -> str:
    """The Bemis-Murcko scaffold SMILES (the molecule itself when RDKit cannot make one)."""
    try:
        return str(MurckoScaffold.MurckoScaffoldSmiles(mol=mol))
    except ValueError:
        return Chem.MolToSmiles(mol)


def split_indices(
    mols: Sequence[Chem.Mol],
    split: str,
    seed: int,
    val_fraction: float,
    test_fraction: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the training, validation and test molecules.

    ``random``: a seeded shuffle. ``scaffold``: molecules grouped by scaffold, groups kept
    whole; groups larger than half the test set go to training, the others are shuffled with
    ``seed`` and fill validation, then test, then training.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    n = len(mols)
    n_val = max(1, round(val_fraction * n))
    n_test = max(1, round(test_fraction * n))
    rng = random.Random(seed)
    if split == "random":
        order = list(range(n))
        rng.shuffle(order)
        groups = [[i] for i in order]
    else:
        by_scaffold: dict[str, list[int]] = {}
        for i, mol in enumerate(mols):
            by_scaffold.setdefault(scaffold(mol), []).append(i)
        big = [g for g in by_scaffold.values() if len(g) > n_test / 2]
        small = [g for g in by_scaffold.values() if len(g) <= n_test / 2]
        rng.shuffle(small)
        groups = small + big  # the big groups come last: they fill training
    val: list[int] = []
    test: list[int] = []
    train: list[int] = []
    for group in groups:
        if len(val) + len(group) <= n_val:
            val += group
        elif len(test) + len(group) <= n_test:
            test += group
        else:
            train += group
    return np.array(sorted(train)), np.array(sorted(val)), np.array(sorted(test))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney U statistic, ties counted half);
    NaN when one class is absent."""
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    start = 0
    for end in np.append(np.flatnonzero(np.diff(sorted_s)) + 1, len(s)):
        ranks[order[start:end]] = (start + end + 1) / 2  # average rank of a tie, 1-based
        start = end
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision, ``Σ (R_k - R_{k-1}) P_k``
    over the distinct score thresholds (scikit-learn's definition); NaN without positives."""
    y = np.asarray(labels, dtype=bool)
    if not y.any():
        return float("nan")
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.append(np.flatnonzero(np.diff(s)), len(s) - 1)  # end of each tie group
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
