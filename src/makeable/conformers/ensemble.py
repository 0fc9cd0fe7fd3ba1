"""A conformer ensemble from every state a method evaluated: distinct low-energy conformers.

A sampler at 298 K spends its samples where the Boltzmann density is: a minimum 3 kcal/mol above
the lowest holds e^-5 of the mass, so 200 samples rarely show it, although the sampler has
usually been there while it searched. A chemist asks for the conformer ensemble instead: the
distinct conformers within an energy window of the lowest, each with its Boltzmann population,
as conformer searches report them (CREST's default window is 6 kcal/mol). :func:`distinct`
makes one from all the states a method evaluated (a GFlowNet's training batches and its final
samples; an MCMC chain's proposals): in energy order, each state within ``window_kcal`` of the
lowest that lies more than ``separation`` Å from every conformer kept so far, so each kept
conformer is the lowest state found in its neighbourhood.

Distance is the distance-matrix RMSD over heavy atoms (``sqrt(mean((D_a − D_b)^2))`` over atom
pairs), which needs no superposition and is cheap for thousands of states; it ignores the
molecule's symmetries, so two symmetry-equivalent conformers can both be kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from makeable.conformers.torsions import TorsionEnvironment

WINDOW_KCAL = 6.0
"""Default energy window above the lowest conformer (kcal/mol; CREST's default)."""
SEPARATION = 0.25
"""Default least distance-matrix RMSD (Å) between two kept conformers."""


def pair_distances(coords: np.ndarray) -> np.ndarray:
    """Heavy-atom pair distances ``(n, N(N−1)/2)`` of coordinates ``(n, N, 3)``."""
    i, j = np.triu_indices(coords.shape[1], k=1)
    return np.sqrt(((coords[:, i] - coords[:, j]) ** 2).sum(axis=-1))


def distinct(
    energies: np.ndarray,
    coords: Callable[[np.ndarray], np.ndarray],
    n: int,
    window_kcal: float = WINDOW_KCAL,
    separation: float = SEPARATION,
) -> np.ndarray:
    """Indices of at most ``n`` distinct low-energy conformers, lowest energy first.

    Args:
        energies: the candidates' energies (kcal/mol), shape ``(m,)``; non-finite ones are
            never kept.
        coords: heavy-atom coordinates ``(k, N, 3)`` of the candidates with the given indices
            (called once, for those within the window only).
        n: most conformers kept.
        window_kcal: only states within this of the lowest are candidates.
        separation: a state closer than this (distance-matrix RMSD, Å) to a kept conformer is
            the same conformer.
    """
    energies = np.asarray(energies, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(energies))
    if len(finite) == 0 or n < 1:
        return np.zeros(0, dtype=np.int64)
    order = finite[np.argsort(energies[finite], kind="stable")]
    order = order[energies[order] <= energies[order[0]] + window_kcal]
    dists = pair_distances(np.asarray(coords(order), dtype=np.float64))
    limit = separation**2 * max(dists.shape[1], 1)
    kept: list[int] = []
    kept_d = np.empty((min(n, len(order)), dists.shape[1]))
    for pos, idx in enumerate(order):
        if kept and ((kept_d[: len(kept)] - dists[pos]) ** 2).sum(axis=1).min() <= limit:
            continue
        kept_d[len(kept)] = dists[pos]
        kept.append(int(idx))
        if len(kept) == n:
            break
    return np.array(kept, dtype=np.int64)


class Recorder:
    """Wraps an energy function and keeps every state it is asked about with its energy.

    Args:
        energy: energies of states ``(n, d)``.
    """

    def __init__(self, energy: Callable[[np.ndarray], np.ndarray]) -> None:
        self.energy = energy
        self._x: list[np.ndarray] = []
        self._e: list[np.ndarray] = []

    def __call__(self, states: np.ndarray) -> np.ndarray:
        e = np.asarray(self.energy(states), dtype=np.float64)
        self._x.append(np.array(states, dtype=np.float64, copy=True).reshape(len(e), -1))
        self._e.append(e)
        return e

    def states(self) -> tuple[np.ndarray, np.ndarray]:
        """Every state asked about ``(m, d)`` and its energy ``(m,)``, in order."""
        if not self._x:
            return np.zeros((0, 0)), np.zeros(0)
        return np.concatenate(self._x), np.concatenate(self._e)


def distinct_states(
    recorder: Recorder, env: TorsionEnvironment, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`distinct` states among those ``recorder`` saw in ``env``: their torsions
    ``(≤ n, d)`` and energies, lowest first."""
    seen, seen_e = recorder.states()
    keep = distinct(seen_e, lambda idx: env.coords(seen[idx])[:, : env.n_heavy], n)
    return seen[keep], seen_e[keep]
