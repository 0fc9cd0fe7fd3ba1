"""One molecule's conformer ensemble by one method: the job behind ``makeable conformers``.

Methods (:data:`METHODS`): ``gfn`` (the torsion GFlowNet, :mod:`makeable.conformers.gfn`, its
replay buffer seeded with a few ETKDG conformers), ``etkdg`` (RDKit's ETKDG, each conformer
MMFF94-minimised) and ``mcmc`` (Metropolis over the torsions at the same energy-call budget as
``gfn``).

What is returned (:data:`SELECTIONS`):

* ``distinct`` (default): the conformer ensemble, the distinct conformers within 6 kcal/mol of
  the lowest among every state the method evaluated (:func:`makeable.conformers.ensemble.distinct`),
  each weighted by ``exp(−E/kT)`` normalised over the set, as conformer searches report
  populations;
* ``samples``: the method's own ``n`` draws. A GFlowNet's or a chain's draws already follow the
  Boltzmann density, so each weighs ``1/n`` (weighting them again by ``exp(−E/kT)`` would count
  the density twice); ETKDG's conformers are no such draws and are weighted by ``exp(−E/kT)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from rdkit import Chem

from makeable.conformers.energy import make_energy
from makeable.conformers.ensemble import Recorder, distinct, distinct_states
from makeable.conformers.gfn import GFNSettings, boltzmann, train_gfn
from makeable.conformers.sampling import etkdg_conformers, metropolis, start_states
from makeable.conformers.torsions import TorsionEnvironment, embed

METHODS = ("gfn", "etkdg", "mcmc")
SELECTIONS = ("distinct", "samples")
ETKDG_SEEDS = 32
"""ETKDG (+ MMFF94) conformers put in the GFlowNet's replay buffer before training."""


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
    weights: np.ndarray
    selection: str = "distinct"
    history: list[dict[str, float]] = field(default_factory=list)

    def order(self) -> np.ndarray:
        """Conformer indices by increasing energy."""
        return np.argsort(self.energies, kind="stable")

    def weighting(self) -> str:
        """What the weights mean, in words."""
        if self.selection == "samples" and self.method != "etkdg":
            return "1/n each: the samples are Boltzmann draws"
        return "exp(-E/kT) normalised over these conformers"

    def info(self) -> dict[str, Any]:
        return {
            "smiles": self.smiles,
            "method": self.method,
            "selection": self.selection,
            "weights": self.weighting(),
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
    select: str = "distinct",
    etkdg_seeds: int = ETKDG_SEEDS,
) -> ConformerSet:
    """``n`` conformers of ``smiles`` by ``method`` (at most ``n`` when ``select`` is
    ``distinct``).

    Args:
        smiles: the molecule.
        method: one of :data:`METHODS`.
        n: conformers.
        seed: seeds the embedding and every draw.
        energy: ``mmff`` or ``xtb`` (:mod:`makeable.conformers.energy`).
        temperature_k: the Boltzmann temperature (K).
        budget: energy calls of ``gfn`` and ``mcmc`` (training plus the final samples).
        settings: GFlowNet settings (their budget and temperature are replaced by these).
        select: ``distinct`` or ``samples`` (:data:`SELECTIONS`, see the module).
        etkdg_seeds: ETKDG conformers seeding the GFlowNet's replay buffer (0: none).

    Raises:
        ValueError: an unknown method or selection, a bad SMILES, no rotatable torsion, a
            budget below ``n``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if select not in SELECTIONS:
        raise ValueError(f"unknown selection {select!r}; choose from {', '.join(SELECTIONS)}")
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
        if select == "distinct":
            keep = distinct(energies, lambda idx: coords[idx][:, : env.n_heavy], n)
            mol = _subset(mol, keep)
            energies = energies[keep]
        weights = boltzmann(energies, temperature_k)
    else:
        if budget < n + 1:
            raise ValueError(f"a budget of {budget} energy calls cannot give {n} samples")
        recorder = Recorder(env.energies)
        e_ref = float(recorder(env.angles0[None])[0])
        if method == "gfn":
            base = settings or GFNSettings()
            gfn_settings = replace(base, budget=budget, temperature_k=temperature_k)
            _, result = train_gfn(
                recorder,
                env.dim,
                n,
                gfn_settings,
                seed,
                e_ref=e_ref,
                calls=lambda: env.calls,
                start_state=start_states(frame, env, etkdg_seeds, seed),
                on_record=on_record,
            )
            angles, energies, history = result.angles, result.energies, result.history
        else:
            chain = metropolis(recorder, env.angles0, budget - env.calls, n, temperature_k, seed)
            angles, energies = chain.angles, chain.energies
        if select == "distinct":
            angles, energies = distinct_states(recorder, env, n)
            weights = boltzmann(energies, temperature_k)
        else:
            weights = np.full(len(energies), 1.0 / len(energies))
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
        np.asarray(weights, dtype=np.float64),
        select,
        history,
    )


def _subset(mol: Chem.Mol, keep: np.ndarray) -> Chem.Mol:
    """A copy of ``mol`` holding only its conformers at positions ``keep``, in that order."""
    conformers = list(mol.GetConformers())
    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    for i in keep:
        out.AddConformer(Chem.Conformer(conformers[int(i)]), assignId=True)
    return out
