"""One molecule's conformer ensemble by one method: the job behind ``makeable conformers``.

Methods (:data:`METHODS`): ``gfn`` (the torsion GFlowNet, :mod:`makeable.conformers.gfn`),
``etkdg`` (RDKit's ETKDG, each conformer MMFF94-minimised) and ``mcmc`` (Metropolis over the
torsions at the same energy-call budget as ``gfn``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from rdkit import Chem

from makeable.conformers.energy import make_energy
from makeable.conformers.gfn import GFNSettings, kt, train_gfn
from makeable.conformers.sampling import etkdg_conformers, metropolis
from makeable.conformers.torsions import TorsionEnvironment, embed

METHODS = ("gfn", "etkdg", "mcmc")


@dataclass
class ConformerSet:
    """Conformers of one molecule (all hydrogens) with their energies and how they were made."""

    smiles: str
    mol: Chem.Mol
    energies: np.ndarray
    method: str
    seed: int
    energy_model: str
    temperature_k: float
    n_torsions: int
    calls: int | None
    wall_s: float
    history: list[dict[str, float]] = field(default_factory=list)

    def order(self) -> np.ndarray:
        """Conformer indices by increasing energy."""
        return np.argsort(self.energies, kind="stable")

    def boltzmann_weights(self) -> np.ndarray:
        """``exp(−(E − E_min)/kT)`` normalised over the set, in the set's order."""
        w = np.exp(-(self.energies - self.energies.min()) / kt(self.temperature_k))
        return w / w.sum()

    def info(self) -> dict[str, Any]:
        return {
            "smiles": self.smiles,
            "method": self.method,
            "conformers": len(self.energies),
            "seed": self.seed,
            "energy_model": self.energy_model,
            "temperature_k": self.temperature_k,
            "rotatable_torsions": self.n_torsions,
            "energy_calls": self.calls,
            "lowest_energy_kcal_mol": float(self.energies.min()),
            "wall_s": round(self.wall_s, 2),
        }


def generate(
    smiles: str,
    method: str = "gfn",
    n: int = 100,
    seed: int = 0,
    energy: str = "mmff",
    temperature_k: float = 298.15,
    budget: int = 10_000,
    settings: GFNSettings | None = None,
    on_record: Callable[[dict[str, float]], None] | None = None,
) -> ConformerSet:
    """``n`` conformers of ``smiles`` by ``method``.

    Args:
        smiles: the molecule.
        method: one of :data:`METHODS`.
        n: conformers.
        seed: seeds the embedding and every draw.
        energy: ``mmff`` or ``xtb`` (:mod:`makeable.conformers.energy`).
        temperature_k: the Boltzmann temperature (K).
        budget: energy calls of ``gfn`` and ``mcmc`` (training plus the final samples).
        settings: GFlowNet settings (their budget and temperature are replaced by these).

    Raises:
        ValueError: an unknown method, a bad SMILES, no rotatable torsion, a budget below ``n``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    start = time.perf_counter()
    frame = embed(smiles, seed)
    model = make_energy(energy, frame)
    env = TorsionEnvironment(frame, model)
    canonical = env.smiles
    history: list[dict[str, float]] = []
    calls: int | None
    if method == "etkdg":
        mol, _ = etkdg_conformers(frame, n, seed)
        coords = np.array([c.GetPositions() for c in mol.GetConformers()])
        energies = model(coords)
        calls = None  # RDKit's minimiser does not report its evaluations
    else:
        if budget < n + 1:
            raise ValueError(f"a budget of {budget} energy calls cannot give {n} samples")
        e_ref = float(env.energies(env.angles0[None])[0])
        if method == "gfn":
            base = settings or GFNSettings()
            gfn_settings = replace(base, budget=budget, temperature_k=temperature_k)
            _, result = train_gfn(
                env.energies,
                env.dim,
                n,
                gfn_settings,
                seed,
                e_ref=e_ref,
                calls=lambda: env.calls,
                start_state=env.angles0,
                on_record=on_record,
            )
            angles, energies, history = result.angles, result.energies, result.history
        else:
            chain = metropolis(
                env.energies, env.angles0, budget - env.calls, n, temperature_k, seed
            )
            angles, energies = chain.angles, chain.energies
        mol = env.conformer_mol(angles)
        calls = env.calls
    return ConformerSet(
        canonical,
        mol,
        np.asarray(energies, dtype=np.float64),
        method,
        seed,
        energy,
        temperature_k,
        env.dim,
        calls,
        time.perf_counter() - start,
        history,
    )
