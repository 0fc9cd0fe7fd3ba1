"""How close a set of conformers is to a reference ensemble on the same energy.

* :func:`torsion_w1`: the mean over torsions of the circular Wasserstein-1 distance (degrees)
  between the sampled and the reference marginal of each torsion;
* :func:`energy_w1`: the Wasserstein-1 distance (kcal/mol) between the energy distributions;
* :func:`coverage`: the share of reference low-energy minima within a heavy-atom RMSD (Å,
  aligned, symmetry-aware) of some sample; the minima are :func:`reference_minima`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem

HIST_BINS = 72
"""Bins of a torsion histogram (5 degrees each)."""


def _histogram(angles: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    h, _ = np.histogram(angles, bins=HIST_BINS, range=(-np.pi, np.pi), weights=weights)
    return h / h.sum()


def circular_w1(a: np.ndarray, b: np.ndarray, b_weights: np.ndarray | None = None) -> float:
    """Wasserstein-1 distance (degrees) on the circle between angle samples ``a`` and ``b``
    (optionally weighted): ``∫ |F − G − median(F − G)|`` over 5-degree bins."""
    diff = np.cumsum(_histogram(a, None) - _histogram(b, b_weights))
    return float(np.abs(diff - np.median(diff)).sum() * 360.0 / HIST_BINS)


def torsion_w1(
    samples: np.ndarray, reference: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Mean over torsions of :func:`circular_w1`; ``samples`` ``(n, d)``, ``reference``
    ``(m, d)``."""
    d = samples.shape[1]
    return float(np.mean([circular_w1(samples[:, k], reference[:, k], weights) for k in range(d)]))


def energy_w1(
    samples: np.ndarray, reference: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Wasserstein-1 distance (kcal/mol) between sampled and (weighted) reference energies."""
    a = np.sort(np.asarray(samples, dtype=np.float64))
    wa = np.full(len(a), 1.0 / len(a))
    order = np.argsort(reference)
    b = np.asarray(reference, dtype=np.float64)[order]
    wb = np.full(len(b), 1.0 / len(b)) if weights is None else weights[order] / weights.sum()
    values = np.concatenate([a, b])
    jumps = np.concatenate([wa, -wb])
    idx = np.argsort(values, kind="stable")
    values, cdf_diff = values[idx], np.cumsum(jumps[idx])
    return float(np.sum(np.abs(cdf_diff[:-1]) * np.diff(values)))


class RMSD:
    """Heavy-atom RMSD after optimal superposition, minimised over the molecule's symmetries
    (at most ``max_matches`` atom permutations, as RDKit's ``GetBestRMS`` would try).

    Args:
        mol: the molecule (hydrogens may be present; heavy atoms come first, as after AddHs).
    """

    def __init__(self, mol: Chem.Mol, max_matches: int = 64) -> None:
        heavy = Chem.RemoveHs(mol)
        self.n = heavy.GetNumAtoms()
        matches = heavy.GetSubstructMatches(
            heavy, uniquify=False, useChirality=False, maxMatches=max_matches
        )
        self.perms = np.array(matches or [tuple(range(self.n))])

    def matrix(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """RMSD between each of ``a`` ``(p, N, 3)`` and each of ``b`` ``(q, N, 3)`` → ``(p, q)``."""
        a = a[:, : self.n] - a[:, : self.n].mean(axis=1, keepdims=True)
        b = b[:, : self.n] - b[:, : self.n].mean(axis=1, keepdims=True)
        bp = b[:, self.perms]  # (q, P, n, 3)
        out = np.empty((len(a), len(b)))
        for i, x in enumerate(a):
            h = np.einsum("nk,qpnl->qpkl", x, bp)
            u, s, vt = np.linalg.svd(h)
            sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
            trace = s[..., 0] + s[..., 1] + sign * s[..., 2]
            sq = (x * x).sum() + (bp * bp).sum(axis=(2, 3)) - 2.0 * trace
            out[i] = np.sqrt(np.maximum(sq, 0.0) / self.n).min(axis=1)
        return out


def reference_minima(
    coords: np.ndarray,
    energies: np.ndarray,
    rmsd: RMSD,
    window_kcal: float = 3.0,
    separation: float = 0.75,
    max_minima: int = 30,
    pool: int = 3000,
) -> np.ndarray:
    """Indices of the reference's low-energy minima: in energy order, each state within
    ``window_kcal`` of the lowest that lies more than ``separation`` Å from every minimum kept
    so far (so a minimum is the lowest-energy state of its basin), at most ``max_minima``."""
    order = np.argsort(energies, kind="stable")[:pool]
    order = order[energies[order] <= energies[order[0]] + window_kcal]
    kept: list[int] = []
    for i in order:
        if kept and rmsd.matrix(coords[[i]], coords[kept]).min() <= separation:
            continue
        kept.append(int(i))
        if len(kept) == max_minima:
            break
    return np.array(kept)


def coverage(
    minima: np.ndarray, samples: np.ndarray, rmsd: RMSD, thresholds: Sequence[float] = (0.5, 1.0)
) -> dict[float, float]:
    """Share of ``minima`` coordinates ``(m, N, 3)`` with some sample ``(n, N, 3)`` within each
    RMSD threshold (Å)."""
    best = rmsd.matrix(minima, samples).min(axis=1)
    return {t: float((best <= t).mean()) for t in thresholds}
