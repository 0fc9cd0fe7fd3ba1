"""Baselines and references in torsion space: Metropolis MCMC, parallel tempering, the exhaustive
torsion grid, and ETKDG (+ MMFF94 minimisation) in Cartesian space.

All draw from a seeded ``numpy`` generator (or RDKit's seed): the same seed gives the same result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers

from makeable.conformers.gfn import boltzmann, kt
from makeable.conformers.torsions import TorsionEnvironment, rdkit_seed, wrap

EnergyFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class Samples:
    """States ``(n, d)`` with their energies and (for a grid) weights; the cost of making them."""

    angles: np.ndarray
    energies: np.ndarray
    calls: int
    wall_s: float
    lowest_energy: float
    weights: np.ndarray | None = None


def _propose(x: np.ndarray, rng: np.random.Generator, step: np.ndarray, jump: float) -> np.ndarray:
    """One torsion per chain moves: a normal step of width ``step`` (per chain), or with
    probability ``jump`` a uniform new angle."""
    n, d = x.shape
    k = rng.integers(0, d, n)
    rows = np.arange(n)
    new = x.copy()
    moved = x[rows, k] + rng.normal(0.0, 1.0, n) * step
    uniform = rng.random(n) < jump
    new[rows, k] = wrap(np.where(uniform, rng.uniform(-np.pi, np.pi, n), moved))
    return new


def metropolis(
    energy: EnergyFn,
    start: np.ndarray,
    calls: int,
    n_samples: int,
    temperature_k: float,
    seed: int,
    step_rad: float = 0.6,
    jump: float = 0.1,
    burn_in: float = 0.2,
) -> Samples:
    """Metropolis MCMC over torsions, one chain from ``start``, ``calls`` energy evaluations;
    ``n_samples`` states taken evenly after the burn-in share."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    beta = 1.0 / kt(temperature_k)
    x = np.atleast_2d(wrap(start)).copy()
    e = energy(x)
    lowest = float(e[0])
    chain_x, chain_e = [], []
    for _ in range(calls - 1):
        y = _propose(x, rng, np.array([step_rad]), jump)
        ey = energy(y)
        lowest = min(lowest, float(ey[0]))
        if np.log(rng.random()) < -(ey[0] - e[0]) * beta:
            x, e = y, ey
        chain_x.append(x[0])
        chain_e.append(e[0])
    first = int(len(chain_x) * burn_in)
    take = np.linspace(first, len(chain_x) - 1, n_samples).round().astype(int)
    return Samples(
        np.array(chain_x)[take],
        np.array(chain_e)[take],
        calls,
        time.perf_counter() - t0,
        lowest,
    )


def parallel_tempering(
    energy: EnergyFn,
    starts: np.ndarray,
    steps: int,
    temperature_k: float,
    seed: int,
    t_max_k: float = 1500.0,
    replicas: int = 8,
    swap_every: int = 10,
    thin: int = 10,
    burn_in: float = 0.25,
) -> list[Samples]:
    """Replica-exchange MCMC (Swendsen & Wang 1986): ``len(starts)`` independent runs, each
    ``replicas`` chains at temperatures geometric from ``temperature_k`` to ``t_max_k``, all
    stepped together; returns each run's cold chain after burn-in, thinned. Step widths adapt
    per replica during the burn-in (target acceptance about 0.3). Independent runs from other
    starts tell whether the chains mixed (they should agree)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    runs = len(starts)
    temps = temperature_k * (t_max_k / temperature_k) ** np.linspace(0, 1, replicas)
    betas = np.tile(1.0 / kt(1.0) / temps, runs)  # (runs * replicas,)
    x = np.repeat(wrap(np.asarray(starts)), replicas, axis=0)
    e = energy(x)
    step = np.full(len(x), 0.6)
    accepted = np.zeros(len(x))
    lowest = float(e.min())
    kept: list[list[np.ndarray]] = [[] for _ in range(runs)]
    kept_e: list[list[float]] = [[] for _ in range(runs)]
    first = int(steps * burn_in)
    cold = np.arange(runs) * replicas
    for t in range(steps):
        y = _propose(x, rng, step, 0.1)
        ey = energy(y)
        lowest = min(lowest, float(ey.min()))
        ok = np.log(rng.random(len(x))) < -(ey - e) * betas
        x[ok], e[ok] = y[ok], ey[ok]
        accepted += ok
        if t < first and (t + 1) % 100 == 0:  # adapt the step widths during the burn-in
            rate = accepted / 100
            step = np.clip(step * np.where(rate > 0.3, 1.2, 0.8), 0.05, np.pi)
            accepted[:] = 0
        if (t + 1) % swap_every == 0:
            for r in range(runs):
                for i in range(rng.integers(0, 2), replicas - 1, 2):
                    a, b = r * replicas + i, r * replicas + i + 1
                    if np.log(rng.random()) < (betas[a] - betas[b]) * (e[a] - e[b]):
                        x[[a, b]], e[[a, b]] = x[[b, a]], e[[b, a]]
        if t >= first and (t + 1) % thin == 0:
            for r, c in enumerate(cold):
                kept[r].append(x[c].copy())
                kept_e[r].append(float(e[c]))
    wall = time.perf_counter() - t0
    calls = steps * len(x) + len(x)
    return [
        Samples(np.array(kept[r]), np.array(kept_e[r]), calls // runs, wall / runs, lowest)
        for r in range(runs)
    ]


def torsion_grid(energy: EnergyFn, dim: int, points: int, temperature_k: float) -> Samples:
    """Every state of a ``points^dim`` grid with its Boltzmann weight (the exact reference for a
    few torsions, to the grid's resolution)."""
    t0 = time.perf_counter()
    axis = -np.pi + (np.arange(points) + 0.5) * 2 * np.pi / points
    grid = np.stack(np.meshgrid(*([axis] * dim), indexing="ij"), axis=-1).reshape(-1, dim)
    energies = np.concatenate(
        [energy(chunk) for chunk in np.array_split(grid, max(len(grid) // 4096, 1))]
    )
    weights = boltzmann(energies, temperature_k)
    return Samples(
        grid, energies, len(grid), time.perf_counter() - t0, float(energies.min()), weights
    )


def etkdg_conformers(
    mol: Chem.Mol, n: int, seed: int, minimize: bool = True
) -> tuple[Chem.Mol, np.ndarray]:
    """``n`` ETKDG conformers of ``mol`` (explicit hydrogens), each MMFF94-minimised when
    ``minimize``; returns the molecule holding them and their MMFF94 energies (kcal/mol).

    Raises:
        ValueError: RDKit embedded no conformer.
    """
    mol = Chem.Mol(mol)
    mol.RemoveAllConformers()
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = rdkit_seed(seed)
    ids = list(rdDistGeom.EmbedMultipleConfs(mol, n, params))
    if not ids:
        raise ValueError(f"ETKDG embedded no conformer of {Chem.MolToSmiles(Chem.RemoveHs(mol))}")
    props = rdForceFieldHelpers.MMFFGetMoleculeProperties(mol)
    energies = []
    for cid in ids:
        ff = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, props, confId=cid)
        if minimize:
            ff.Minimize(maxIts=2000)
        energies.append(ff.CalcEnergy())
    return mol, np.array(energies)


def start_states(frame: Chem.Mol, env: TorsionEnvironment, k: int, seed: int) -> np.ndarray:
    """The frame's torsions, then those of ``k`` ETKDG conformers (each MMFF94-minimised) drawn
    with a seed of their own (not the ETKDG baseline's): diverse low-energy starting points,
    e.g. for a GFlowNet's replay buffer; ``(1 + ≤ k, d)``."""
    if k < 1:
        return env.angles0[None]
    mol, _ = etkdg_conformers(frame, k, seed + 1_000_003)
    found = env.angles_of(np.array([c.GetPositions() for c in mol.GetConformers()]))
    return np.vstack([env.angles0[None], found])
