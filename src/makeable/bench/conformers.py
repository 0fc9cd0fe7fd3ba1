"""``makeable bench conformers``: the torsion GFlowNet vs ETKDG (+ MMFF94 minimisation) vs
Metropolis MCMC, each judged against a reference ensemble on the same energy (MMFF94, rigid
frame, 298.15 K).

Per molecule (resumable: three rows appended to ``results.csv`` when a molecule is done):

* reference: the exhaustive torsion grid with Boltzmann weights (up to 3 torsions; 10° steps)
  or parallel tempering, 4 independent runs of 8 replicas (298 → 1500 K), pooled; the
  disagreement between the runs (``reference_noise``) is the floor a sample of the same size
  could reach;
* ``gfn`` (``budget`` energy calls: training and ``n`` samples; its replay buffer seeded with
  ``etkdg_seeds`` ETKDG conformers drawn with a seed of their own), ``mcmc`` (one chain of the
  same calls, ``n`` samples evenly after a 20 % burn-in), ``etkdg`` (``n`` ETKDG conformers,
  each MMFF94-minimised, then read as torsion angles and scored in the rigid frame like the
  others);
* metrics (:mod:`makeable.conformers.metrics`): torsion W1 (degrees, mean over torsions), energy
  W1 (kcal/mol), coverage of the reference minima within 0.5 / 1.0 Å heavy-atom RMSD by the
  ``n`` samples and by the method's ensemble (``gfn``, ``mcmc``: at most ``n`` distinct
  conformers within 6 kcal/mol among every state evaluated,
  :func:`makeable.conformers.ensemble.distinct`, what ``makeable conformers`` returns by
  default; ``etkdg``: its ``n`` conformers), the lowest energy found above the reference's
  lowest, energy calls, wall time.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from makeable.conformers import metrics
from makeable.conformers.ensemble import Recorder, distinct_states
from makeable.conformers.generate import ETKDG_SEEDS
from makeable.conformers.gfn import GFNSettings, train_gfn
from makeable.conformers.sampling import (
    Samples,
    etkdg_conformers,
    metropolis,
    parallel_tempering,
    start_states,
    torsion_grid,
)
from makeable.conformers.torsions import TorsionEnvironment, embed, rotatable_torsions
from makeable.report import markdown_table
from makeable.results_csv import append_csv, read_csv
from makeable.run_folder import RunFolder

log = logging.getLogger(__name__)

TEMPERATURE_K = 298.15
GRID_MAX_TORSIONS = 3
GRID_POINTS = {1: 360, 2: 120, 3: 36}
COLUMNS = (
    "smiles",
    "torsions",
    "rotatable_bonds",
    "method",
    "torsion_w1_deg",
    "energy_w1_kcal",
    "coverage_0.5",
    "coverage_1.0",
    "ensemble_size",
    "ensemble_coverage_0.5",
    "ensemble_coverage_1.0",
    "lowest_above_ref_kcal",
    "energy_calls",
    "wall_s",
    "reference",
    "reference_noise_deg",
    "minima",
)
METHODS = ("gfn", "mcmc", "etkdg")


@dataclass(frozen=True)
class BenchSettings:
    """What the benchmark runs; recorded in ``settings.json`` and checked on resume."""

    molecules: int = 10
    min_torsions: int = 3
    max_torsions: int = 8
    n: int = 200
    budget: int = 10_000
    reference_steps: int = 15_000
    seed: int = 0
    smiles: tuple[str, ...] = ()
    etkdg_seeds: int = ETKDG_SEEDS


def torsion_count(smiles: str) -> int | None:
    """Rotatable torsions of ``smiles`` as the environment counts them (no embedding)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or len(Chem.GetMolFrags(mol)) > 1:
        return None
    return len(rotatable_torsions(Chem.AddHs(mol)))


def choose_molecules(n: int, low: int, high: int, seed: int) -> list[str]:
    """``n`` neutral ZINC250k molecules with ``low``–``high`` rotatable torsions: the shuffle
    seeded by ``seed`` fills ``ceil(n / (high − low + 1))`` places per torsion count, and the
    counts take turns (fewest torsions first) until ``n`` are chosen, so every size appears."""
    from makeable.data.molecules import zinc250k

    pool = list(zinc250k())
    order = np.random.default_rng(seed).permutation(len(pool))
    counts = range(low, high + 1)
    quota = math.ceil(n / len(counts))
    buckets: dict[int, list[str]] = {c: [] for c in counts}
    for i in order:
        mol = Chem.MolFromSmiles(pool[i])
        if mol is None or any(a.GetFormalCharge() for a in mol.GetAtoms()):
            continue  # neutral molecules: MMFF94 energies of ions are dominated by Coulomb terms
        smiles = Chem.MolToSmiles(mol)
        count = torsion_count(smiles)
        if count in buckets and len(buckets[count]) < quota:
            buckets[count].append(smiles)
            if all(len(b) == quota for b in buckets.values()):
                break
    turns = [b[k] for k in range(quota) for b in buckets.values() if k < len(b)]
    return turns[:n]


def reference(env: TorsionEnvironment, steps: int, seed: int) -> tuple[Samples, float, str]:
    """The reference ensemble, its run-to-run torsion W1 (NaN for a grid) and its kind."""
    if env.dim <= GRID_MAX_TORSIONS:
        grid = torsion_grid(env.energies, env.dim, GRID_POINTS[env.dim], TEMPERATURE_K)
        return grid, math.nan, f"grid {GRID_POINTS[env.dim]}^{env.dim}"
    rng = np.random.default_rng(seed + 1)
    starts = np.vstack([env.angles0, rng.uniform(-np.pi, np.pi, (3, env.dim))])
    runs = parallel_tempering(env.energies, starts, steps, TEMPERATURE_K, seed + 1)
    noise = float(
        np.mean(
            [
                metrics.torsion_w1(runs[i].angles, runs[j].angles)
                for i in range(len(runs))
                for j in range(i + 1, len(runs))
            ]
        )
    )
    pooled = Samples(
        np.concatenate([r.angles for r in runs]),
        np.concatenate([r.energies for r in runs]),
        sum(r.calls for r in runs),
        sum(r.wall_s for r in runs),
        min(r.lowest_energy for r in runs),
    )
    return pooled, noise, f"parallel tempering 4 x {steps}"


def bench_molecule(smiles: str, settings: BenchSettings) -> list[dict[str, Any]]:
    """The three result rows of one molecule."""
    seed = settings.seed
    frame = embed(smiles, seed)
    env = TorsionEnvironment(frame)
    e_ref = float(env.energies(env.angles0[None])[0])
    t0 = time.perf_counter()
    ref, noise, kind = reference(env, settings.reference_steps, seed)
    log.info("%s: reference (%s) in %.0f s", smiles, kind, time.perf_counter() - t0)
    rmsd = metrics.RMSD(env.mol)
    if ref.weights is not None:  # a grid: minima among states with weight
        keep = np.flatnonzero(ref.weights > 1e-6)
        minima_idx = keep[
            metrics.reference_minima(env.coords(ref.angles[keep]), ref.energies[keep], rmsd)
        ]
    else:
        minima_idx = metrics.reference_minima(env.coords(ref.angles), ref.energies, rmsd)
    minima = env.coords(ref.angles[minima_idx])
    ref_lowest = min(ref.lowest_energy, float(ref.energies.min()))

    Result = tuple[np.ndarray, np.ndarray, int | None, float, float, np.ndarray]
    results: dict[str, Result] = {}

    def ensemble(recorder: Recorder) -> np.ndarray:
        return distinct_states(recorder, env, settings.n)[0]

    calls0 = env.calls
    t0 = time.perf_counter()
    starts = start_states(frame, env, settings.etkdg_seeds, seed)
    recorder = Recorder(env.energies)
    _, g = train_gfn(
        recorder, env.dim, settings.n, GFNSettings(budget=settings.budget), seed,
        e_ref=e_ref, start_state=starts,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    results["gfn"] = (
        g.angles, g.energies, env.calls - calls0, wall, g.lowest_energy, ensemble(recorder)
    )  # fmt: skip
    recorder = Recorder(env.energies)
    m = metropolis(recorder, env.angles0, settings.budget, settings.n, TEMPERATURE_K, seed)
    results["mcmc"] = (m.angles, m.energies, m.calls, m.wall_s, m.lowest_energy, ensemble(recorder))
    t0 = time.perf_counter()
    mol, _ = etkdg_conformers(frame, settings.n, seed)
    wall = time.perf_counter() - t0
    angles = env.angles_of(np.array([c.GetPositions() for c in mol.GetConformers()]))
    energies = env.energies(angles)
    results["etkdg"] = (angles, energies, None, wall, float(energies.min()), angles)

    rows = []
    rot = rdMolDescriptors.CalcNumRotatableBonds(Chem.MolFromSmiles(smiles))
    for method in METHODS:
        angles, energies, calls, wall, lowest, chosen = results[method]
        cov = metrics.coverage(minima, env.coords(angles), rmsd)
        ens = metrics.coverage(minima, env.coords(chosen), rmsd)
        rows.append(
            {
                "smiles": smiles,
                "torsions": env.dim,
                "rotatable_bonds": rot,
                "method": method,
                "torsion_w1_deg": round(metrics.torsion_w1(angles, ref.angles, ref.weights), 2),
                "energy_w1_kcal": round(metrics.energy_w1(energies, ref.energies, ref.weights), 3),
                "coverage_0.5": round(cov[0.5], 3),
                "coverage_1.0": round(cov[1.0], 3),
                "ensemble_size": len(chosen),
                "ensemble_coverage_0.5": round(ens[0.5], 3),
                "ensemble_coverage_1.0": round(ens[1.0], 3),
                "lowest_above_ref_kcal": round(lowest - ref_lowest, 3),
                "energy_calls": "" if calls is None else calls,
                "wall_s": round(wall, 1),
                "reference": kind,
                "reference_noise_deg": "" if math.isnan(noise) else round(noise, 2),
                "minima": len(minima),
            }
        )
    return rows


def run_conformer_bench(settings: BenchSettings, out: Path, progress: bool = True) -> Path:
    """Run (or resume) the benchmark into ``out``; returns ``out/results.csv``."""
    with RunFolder(out) as folder:
        current = {**asdict(settings), "smiles": list(settings.smiles)}
        folder.check_settings("settings.json", current, holds=f"{out} holds another benchmark")
        folder.write_settings("settings.json", current)
        folder.record(current)
        molecules = list(settings.smiles) or choose_molecules(
            settings.molecules, settings.min_torsions, settings.max_torsions, settings.seed
        )
        results = out / "results.csv"
        done = {row["smiles"] for row in read_csv(results, missing_ok=True)}
        for i, smiles in enumerate(molecules, 1):
            if smiles in done:
                continue
            t0 = time.perf_counter()
            rows = bench_molecule(smiles, settings)
            for row in rows:
                append_csv(results, COLUMNS, row)
            if progress:
                log.info(
                    "%d/%d %s done in %.0f s", i, len(molecules), smiles, time.perf_counter() - t0
                )
        folder.write_summary(summary(read_csv(results), molecules))
    return results


def summary(rows: list[dict[str, str]], molecules: list[str]) -> str:
    """``summary.md``: the molecules, the table per molecule and method, and the tallies
    against the targets (GFlowNet vs ETKDG)."""
    by = {(r["smiles"], r["method"]): r for r in rows}
    done = [s for s in molecules if all((s, m) in by for m in METHODS)]
    lines = ["# Conformer sampling benchmark", ""]
    lines.append(f"{len(done)} of {len(molecules)} molecules done.\n")
    table = [
        [r["smiles"], r["torsions"], r["method"], r["torsion_w1_deg"], r["energy_w1_kcal"],
         r["coverage_0.5"], r["coverage_1.0"], r["ensemble_size"], r["ensemble_coverage_0.5"],
         r["ensemble_coverage_1.0"], r["lowest_above_ref_kcal"], r["energy_calls"],
         r["wall_s"], r["reference_noise_deg"], r["minima"]]
        for s in done for m in METHODS for r in [by[(s, m)]]
    ]  # fmt: skip
    lines.append(
        markdown_table(
            (
                "smiles",
                "torsions",
                "method",
                "torsion W1 °",
                "energy W1 kcal/mol",
                "cov 0.5 Å",
                "cov 1.0 Å",
                "ensemble",
                "ens. cov 0.5 Å",
                "ens. cov 1.0 Å",
                "lowest − ref",
                "calls",
                "wall s",
                "ref noise °",
                "minima",
            ),
            table,
        )  # fmt: skip
    )
    if done:

        def val(s: str, m: str, key: str) -> float:
            return float(by[(s, m)][key])

        tw = sum(val(s, "gfn", "torsion_w1_deg") < val(s, "etkdg", "torsion_w1_deg") for s in done)
        ew = sum(val(s, "gfn", "energy_w1_kcal") < val(s, "etkdg", "energy_w1_kcal") for s in done)

        def at_least(kind: str) -> int:
            return sum(
                val(s, "gfn", f"{kind}_{t}") >= val(s, "etkdg", f"{kind}_{t}")
                for s in done
                for t in ("0.5", "1.0")
            )

        lines += [
            f"- GFlowNet torsion W1 below ETKDG's: {tw} of {len(done)} molecules; energy W1: "
            f"{ew} of {len(done)}.",
            f"- GFlowNet coverage at least ETKDG's: samples {at_least('coverage')}, ensemble "
            f"{at_least('ensemble_coverage')} of {2 * len(done)} (molecule, threshold) pairs.",
        ]
        for m in METHODS:
            means = [
                np.mean([val(s, m, k) for s in done])
                for k in ("torsion_w1_deg", "energy_w1_kcal", "coverage_0.5", "coverage_1.0",
                          "ensemble_coverage_0.5", "ensemble_coverage_1.0")
            ]  # fmt: skip
            lines.append(
                f"- {m}: mean torsion W1 {means[0]:.1f}°, energy W1 {means[1]:.2f} kcal/mol, "
                f"coverage {means[2]:.2f} / {means[3]:.2f} (ensemble {means[4]:.2f} / "
                f"{means[5]:.2f}), wall {np.mean([val(s, m, 'wall_s') for s in done]):.1f} s "
                "per molecule."
            )
    return "\n".join(lines) + "\n"
