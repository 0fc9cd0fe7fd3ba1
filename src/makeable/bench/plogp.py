"""Penalized logP benchmarks: unconstrained (SMILES length bounded) and similarity-constrained.

The property is the project's ``logp`` objective: the JT-VAE *normalised* penalized logP with
the cycle-basis ring term, as TDC computes it (:func:`makeable.chem.descriptors.penalized_logp`).
GEGL normalises with its own ZINC statistics (``util/chemistry/benchmarks.py``: logP 2.45710 ±
1.43398, SA 3.05083 ± 0.83270, cycle 0.04815 ± 0.28606, against TDC's 2.45710 ± 1.43432,
3.05258 ± 0.83352, 0.04857 ± 0.28602), so scores agree to about 0.1 %.

Unconstrained (``makeable bench plogp``): one design run per seed; molecules whose canonical
SMILES *without stereochemistry* is longer than ``max_len`` (81) characters are outside the
search space. GEGL filters exactly this string: its trainer canonicalises every sample with
GuacaMol's ``canonicalize(smi, include_stereocenters=False)`` and drops it before scoring unless
``SmilesCharDictionary.allowed`` (``len(smiles) <= max_smi_len``), with ``--max_smiles_length
81`` for penalized logP (``runner/gegl_trainer.py``, ``util/smiles/char_dict.py``, README of
sungsoo-ahn/genetic-expert-guided-learning). Here :class:`LengthBounded` makes such molecules
invalid before they are counted: the oracle returns score 0 flagged invalid and charges no call,
as for an unparseable SMILES. Language-model optimizers that take ``max_len`` get it too, so
that they sample at most that many tokens (a string of 81 tokens can still be longer than 81
characters, and is then rejected by the bound).

Constrained (``makeable bench constrained-plogp``): the JT-VAE protocol on the 800 ZINC molecules
of lowest penalized logP (GEGL's ``resource/data/zinc/logp_800.txt``). For each start molecule
and threshold δ a design run starts from the pool ``[start]`` with the objective
:class:`SimilarityConstrained`: ``plogp(x) - plogp(start)`` when the Tanimoto similarity of
``x`` to the start is at least δ, else invalid (counted, score 0: the start's own value). No length
bound applies (JT-VAE has none; GEGL's constrained runs kept its default 120 characters). The
similarity is that of JT-VAE's ``JTPropVAE.optimize`` (``AllChem.GetMorganFingerprint(mol, 2)``,
i.e. unfolded Morgan *count* fingerprints of radius 2, in wengong-jin/icml18-jtnn) and of GEGL's
``similarity_constrained_penalized_logp_cyclebasis`` (GuacaMol ``TanimotoScoringFunction`` with
``ECFP4``, the same fingerprint); a folded 2048-bit variant is available as ``morgan2048``.
A molecule's improvement is the best recorded value among the molecules with similarity ≥ δ, or
0 with the start itself when there is none (JT-VAE's ``optimize`` falls back to the start, with
similarity 1, when no decoded molecule meets the constraint; GEGL seeds its queues with the
start, whose improvement is 0). Success: improvement > 0, i.e. a different molecule with
similarity ≥ δ and a higher penalized logP was found. Neither repository's code computes the
success rate reported in the papers' tables; improvement > 0 is our reading of it.

GEGL is run as in its constrained script (``run_gegl_constrained.py``): the start molecule
seeds both priority queues (``init_pool=1``, set by the benchmark unless given), so the expert
breeds from it and the apprentice imitates it from the first round.

``floor`` (CLI ``--floor F``) optionally clamps the values the optimizer sees, as Jensen's
GB-GA does for penalized logP (``scoring_functions.logP_max``: ``max(0.0, score)``); it is off
by default (Graph GA's roulette selection shifts negative scores itself). Clamping leaves the
reported results unchanged (a best unconstrained score is positive; an improvement ≤ 0 is
reported as 0).

References:
    Jin, Barzilay, Jaakkola, "Junction Tree Variational Autoencoder for Molecular Graph
    Generation", ICML 2018 (https://arxiv.org/abs/1802.04364).
    You et al., "Graph Convolutional Policy Network for Goal-Directed Molecular Graph
    Generation", NeurIPS 2018.
    Ahn, Kim, Lee, Shin, "Guiding Deep Molecular Optimization with Genetic Exploration",
    NeurIPS 2020 (https://arxiv.org/abs/2007.04897).
    Jensen, "A graph-based genetic algorithm ...", Chem. Sci. 10, 3567 (2019).
"""

from __future__ import annotations

import functools
import logging
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem

from makeable.bench.guacamol import distinct_scores
from makeable.bench.jobs import DesignJob, JobRun, accepts, check_optimizer, registered_optimizer
from makeable.bench.pmo import collect_row
from makeable.chem.fingerprints import bulk_tanimoto, fingerprint, morgan_bits
from makeable.chem.molecule import canonical_smiles, parse_smiles
from makeable.objectives import get_objective
from makeable.objectives.base import Objective
from makeable.report import markdown_table
from makeable.results_csv import append_csv, read_csv, write_csv
from makeable.run_folder import ConfigError, RunFolder, read_yaml
from makeable.runs.config import DesignConfig
from makeable.settings import refuse_other_settings

log = logging.getLogger(__name__)

MAX_LEN = 81
THRESHOLDS = (0.4, 0.6)
LOGP_800 = "molecules/gegl/logp_800.txt"
SIMILARITY_FPS = ("ecfp4", "morgan2048")

# Best penalized logP found (top-1), as given in the issue for the three methods: GEGL (NeurIPS
# 2020, Table 1a), JT-VAE (ICML 2018) and GCPN (NeurIPS 2018). The arXiv abstract of GEGL
# (2007.04897) states 31.82.
PUBLISHED_BEST = {"GEGL": 31.40, "JT-VAE": 5.30, "GCPN": 7.98}


def _clamp(values: np.ndarray, floor: float | None) -> np.ndarray:
    return values if floor is None else np.maximum(values, floor)


# ----------------------------------------------------------------------------- objectives
class LengthBounded(Objective):
    """An objective restricted to molecules whose SMILES has at most ``max_len`` characters.

    The bounded string is the RDKit canonical SMILES without stereochemistry (GEGL's filter).
    A longer molecule is invalid: :meth:`canonical` and :meth:`parse` return ``None`` for it, so
    the oracle scores it 0, flags it invalid and does not count it; :meth:`reason` says why.

    Args:
        objective: the registered objective to bound (default ``logp``).
        max_len: most characters allowed (81 in GEGL's penalized logP experiment).
        floor: clamp the values at this floor (``None``: raw values).
    """

    def __init__(
        self, objective: str = "logp", max_len: int = MAX_LEN, floor: float | None = None
    ) -> None:
        if max_len < 1:
            raise ValueError(f"max_len must be a positive number of characters, not {max_len}")
        self.inner = get_objective(objective)
        self.max_len = int(max_len)
        self.floor = floor
        self.invalid_score = self.inner.invalid_score
        self.name = f"{self.inner.name}_len{self.max_len}"

    def length(self, smiles: str) -> int | None:
        """Length of the stereo-free canonical SMILES; ``None`` if ``smiles`` is invalid."""
        mol = self.inner.parse(smiles)
        return None if mol is None else len(Chem.MolToSmiles(mol, isomericSmiles=False))

    def reason(self, smiles: str) -> str | None:
        """Why ``smiles`` is invalid here (``None`` when it is valid)."""
        n = self.length(smiles)
        if n is None:
            return "invalid SMILES"
        if n > self.max_len:
            return f"too long: {n} > {self.max_len} characters (stereo-free canonical SMILES)"
        return None

    def parse(self, item: str) -> Any | None:
        mol = self.inner.parse(item)
        if mol is None or len(Chem.MolToSmiles(mol, isomericSmiles=False)) > self.max_len:
            return None
        return mol

    def canonical(self, item: str) -> str | None:
        if self.parse(item) is None:
            log.debug("%s: %s is %s", self.name, item, self.reason(item))
            return None
        return self.inner.canonical(item)

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        values, valid = self.inner._safe_score(list(mols))
        return _clamp(np.where(valid, values, np.nan), self.floor)


class SimilarityConstrained(Objective):
    """Improvement of an objective over a start molecule, under a similarity constraint.

    ``objective(x) - objective(start)`` when ``sim(x, start) >= threshold``; otherwise ``x`` is
    invalid (a counted call scored ``invalid_score`` = 0, the start's own improvement).

    Args:
        start: the start molecule (SMILES).
        threshold: the similarity threshold δ.
        objective: the registered objective to improve (default ``logp``).
        fingerprint: ``ecfp4`` (unfolded Morgan counts, radius 2: JT-VAE and GEGL) or
            ``morgan2048`` (folded 2048-bit Morgan, radius 2).
        floor: clamp the improvements at this floor (``None``: raw values).
    """

    def __init__(
        self,
        start: str,
        threshold: float,
        objective: str = "logp",
        fingerprint: str = "ecfp4",
        floor: float | None = None,
    ) -> None:
        if fingerprint not in SIMILARITY_FPS:
            raise ValueError(f"fingerprint must be one of {SIMILARITY_FPS}, not {fingerprint!r}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], not {threshold}")
        self.inner = get_objective(objective)
        canon = canonical_smiles(start)
        if canon is None:
            raise ValueError(f"invalid start molecule {start!r}")
        self.start = canon
        self.threshold = float(threshold)
        self.fingerprint = fingerprint
        self.floor = floor
        scores = self.inner([canon])
        if not scores.valid[0]:
            raise ValueError(f"{self.inner.name} cannot score the start molecule {start!r}")
        self.start_value = float(scores.values[0])
        self.name = f"{self.inner.name}_improvement_sim{self.threshold:g}"

    def _fp(self, mol: Chem.Mol) -> Any:
        return fingerprint(mol, "ecfp4") if self.fingerprint == "ecfp4" else morgan_bits(mol)

    def similarity(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        """Tanimoto similarity of each molecule to the start, shape ``(n,)``."""
        start = parse_smiles(self.start)
        assert start is not None
        return bulk_tanimoto(self._fp(start), [self._fp(m) for m in mols])

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        mols = list(mols)
        out = np.full(len(mols), np.nan)
        keep = np.flatnonzero(self.similarity(mols) >= self.threshold)
        if keep.size:
            values, valid = self.inner._safe_score([mols[i] for i in keep])
            out[keep] = np.where(valid, values - self.start_value, np.nan)
        return _clamp(out, self.floor)


# ----------------------------------------------------------------------------- unconstrained
PLOGP_COLUMNS = ("seed", "best", "best_smiles", "length", "second", "third", "n_calls", "wall_s")


def _plogp_row(run_dir: Path, seed: int) -> dict[str, Any]:
    timing = collect_row("plogp", seed, run_dir)
    best = sorted(distinct_scores(run_dir).items(), key=lambda t: t[1], reverse=True)[:3]
    values = [v for _, v in best] + [float("nan")] * (3 - len(best))
    smiles = best[0][0] if best else ""
    return {
        "best": values[0],
        "best_smiles": smiles,
        "length": len(smiles),
        "second": values[1],
        "third": values[2],
        "n_calls": timing["n_calls"],
        "wall_s": timing["wall_s"],
    }


def run_plogp(
    optimizer: str,
    seeds: Sequence[int],
    budget: int,
    out: Path,
    max_len: int = MAX_LEN,
    floor: float | None = None,
    jobs: int = 1,
    optimizer_params: dict[str, Any] | None = None,
    progress: bool = False,
    executor: str = "process",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Maximise penalized logP under a SMILES length bound, one run per seed.

    Args:
        optimizer: a registered optimizer.
        seeds: one run per seed, in ``out/runs/plogp_s<seed>``.
        budget: oracle calls per run.
        out: the benchmark folder; re-running resumes.
        max_len: most characters of the stereo-free canonical SMILES (81).
        floor: clamp the values the optimizer sees at this floor (``None``: raw values).
        jobs: runs in parallel (workers).
        optimizer_params: hyper-parameters passed to the optimizer; ``max_len`` is added for
            optimizers that take it, unless given.
        executor: where the runs go (``process``: local processes, the default; ``ray``;
            ``inprocess``); :class:`makeable.bench.jobs.JobRun`.
        address: the Ray cluster of ``executor`` ``ray`` (``None``: a local one).
        progress: show a progress bar over the runs.
    """
    optimizer = registered_optimizer(optimizer)
    params = dict(optimizer_params or {})
    if accepts(optimizer, "max_len"):
        params.setdefault("max_len", max_len)
    opt = check_optimizer(optimizer, params)
    objective_params: dict[str, Any] = {"objective": "logp", "max_len": max_len, "floor": floor}
    with RunFolder(out) as folder:  # one process per benchmark folder
        folder.record(
            {
                "benchmark": "penalized_logp_unconstrained",
                "optimizer": optimizer,
                "optimizer_params": params,
                "prior": getattr(opt, "prior", None),
                "objective": f"{__name__}:LengthBounded",
                "objective_params": objective_params,
                "seeds": list(seeds),
                "budget": budget,
            },
            config_name="bench.yaml",
        )
        job_list = [
            DesignJob(
                (("seed", seed),),
                out / "runs" / f"plogp_s{seed}",
                DesignConfig(
                    objective=f"{__name__}:LengthBounded",
                    optimizer=optimizer,
                    budget=budget,
                    seed=seed,
                    optimizer_params=params,
                    objective_params=objective_params,
                ),
                (),
                functools.partial(_plogp_row, seed=seed),
            )
            for seed in seeds
        ]
        runs = JobRun(
            job_list, jobs, progress, f"plogp {optimizer}", executor=executor, address=address
        )
        rows = list(runs)
        write_csv(out / "results.csv", PLOGP_COLUMNS, rows)
        (out / "summary.md").write_text(plogp_summary(optimizer, rows, budget, max_len, floor))
        runs.raise_failures()
        return rows


def plogp_summary(
    optimizer: str,
    rows: Sequence[dict[str, Any]],
    budget: int,
    max_len: int,
    floor: float | None,
) -> str:
    """Per-seed best penalized logP and molecule, mean ± std, and the published bests."""
    header = ["seed", "best", "2nd", "3rd", "best molecule", "length", "calls", "wall s"]
    table = [
        [r["seed"]]
        + [f"{float(r[k]):.2f}" for k in ("best", "second", "third")]
        + [f"`{r['best_smiles']}`", r["length"], r["n_calls"], f"{float(r['wall_s']):.1f}"]
        for r in rows
    ]
    lines = [
        f"# Penalized logP (unconstrained, SMILES ≤ {max_len} characters): {optimizer}",
        "",
        markdown_table(header, table).rstrip("\n"),
    ]
    bests = [float(r["best"]) for r in rows]
    if bests:
        mean = statistics.fmean(bests)
        std = statistics.stdev(bests) if len(bests) > 1 else 0.0
        lines += ["", f"**Best score, mean ± std over {len(bests)} seeds: {mean:.2f} ± {std:.2f}**"]
    published = ", ".join(f"{k} {v:.2f}" for k, v in PUBLISHED_BEST.items())
    lines += [
        "",
        f"Published best scores: {published} (GEGL: SMILES ≤ 81 characters; GEGL's arXiv "
        "abstract states 31.82).",
        "",
        f"Budget: {budget} oracle calls per run (molecules over the length bound are not "
        "counted). GEGL's penalized-logP run made 200 rounds of 8192 + 8192 samples (about "
        "3.3 million calls) without a call budget.",
        "Score: JT-VAE-normalised penalized logP with the cycle-basis ring term (TDC's `logp`).",
    ]
    if floor is not None:
        lines.append(f"The optimizer saw the scores clamped at {floor:g}.")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- constrained
CONSTRAINED_COLUMNS = (
    "index",
    "start_smiles",
    "threshold",
    "improvement",
    "similarity",
    "best_smiles",
    "start_plogp",
    "best_plogp",
    "success",
    "n_calls",
    "wall_s",
)


def logp_800_file() -> Path:
    """GEGL's 800 start molecules in the data folder (``$MAKEABLE_DATA``, then the user cache).

    Raises:
        FileNotFoundError: neither folder holds ``molecules/gegl/logp_800.txt``.
    """
    from makeable.data.molecules import data_file

    return data_file(
        LOGP_800,
        "the 800 start molecules (GEGL's resource/data/zinc/logp_800.txt)",
        ", or pass --molecules FILE",
    )


def _constrained_row(
    run_dir: Path, start: str, threshold: float, fingerprint: str, floor: float | None
) -> dict[str, Any]:
    timing = collect_row("constrained", 0, run_dir)
    objective = SimilarityConstrained(start, threshold, fingerprint=fingerprint, floor=floor)
    best = distinct_scores(run_dir)  # valid calls only: similarity >= threshold
    smiles = max(best, key=best.__getitem__) if best else ""
    improvement = best[smiles] if best else 0.0
    if improvement <= 0:  # nothing better than the start: keep the start (JT-VAE, GEGL)
        smiles, improvement = objective.start, 0.0
    mol = parse_smiles(smiles)
    assert mol is not None
    return {
        "start_smiles": objective.start,
        "improvement": improvement,
        "similarity": float(objective.similarity([mol])[0]),
        "best_smiles": smiles,
        "start_plogp": objective.start_value,
        "best_plogp": objective.start_value + improvement,
        "success": int(improvement > 0),
        "n_calls": timing["n_calls"],
        "wall_s": timing["wall_s"],
    }


def _key(index: Any, threshold: Any) -> tuple[int, float]:
    return int(index), round(float(threshold), 6)


def run_constrained(
    optimizer: str,
    budget: int,
    out: Path,
    thresholds: Sequence[float] = THRESHOLDS,
    molecules: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    fingerprint: str = "ecfp4",
    floor: float | None = None,
    jobs: int = 1,
    optimizer_params: dict[str, Any] | None = None,
    progress: bool = False,
    executor: str = "process",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Improve each start molecule under each similarity threshold (JT-VAE protocol).

    Finished (index, threshold) pairs already in ``out/results.csv`` are skipped; rows are
    appended as runs finish, so an interrupted benchmark resumes.

    Args:
        optimizer: a registered optimizer.
        budget: oracle calls per (molecule, threshold).
        out: the benchmark folder (runs in ``out/runs/m<index>_d<threshold>``).
        thresholds: similarity thresholds δ.
        molecules: a SMILES file of start molecules (default: GEGL's ``logp_800.txt``).
        limit: only the first ``limit`` molecules.
        seed: the seed of every run.
        fingerprint: ``ecfp4`` (JT-VAE, GEGL) or ``morgan2048``.
        floor: clamp the improvements the optimizer sees at this floor (``None``: raw values).
        jobs: runs in parallel (workers).
        optimizer_params: hyper-parameters passed to the optimizer.
        executor: where the runs go (``process``: local processes, the default; ``ray``;
            ``inprocess``); :class:`makeable.bench.jobs.JobRun`.
        address: the Ray cluster of ``executor`` ``ray`` (``None``: a local one).
        progress: show a progress bar over the runs.

    Returns:
        All results rows (earlier ones included), sorted by threshold and index.
    """
    from makeable.data.molecules import read_smiles_file

    if fingerprint not in SIMILARITY_FPS:
        raise ValueError(f"fingerprint must be one of {SIMILARITY_FPS}, not {fingerprint!r}")
    if not thresholds or any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise ValueError(f"thresholds must lie in [0, 1], got {list(thresholds)}")
    path = molecules if molecules is not None else logp_800_file()
    if not path.is_file():
        raise FileNotFoundError(f"no molecule file {path}")
    starts = read_smiles_file(path)[: limit if limit is not None else None]
    bad = [i for i, s in enumerate(starts) if canonical_smiles(s) is None]
    if bad:
        raise ValueError(f"{path}: invalid SMILES at line(s) {[i + 1 for i in bad[:10]]}")
    optimizer = registered_optimizer(optimizer)
    params = dict(optimizer_params or {})
    if accepts(optimizer, "init_pool"):
        params.setdefault("init_pool", 1)  # GEGL seeds its queues with the start molecule
    opt = check_optimizer(optimizer, params)
    identity = {
        "optimizer": optimizer,
        "optimizer_params": params,
        "fingerprint": fingerprint,
        "floor": floor,
        "seed": seed,
        "budget": budget,
    }
    results = out / "results.csv"
    rows: list[dict[str, Any]] = read_csv(results, missing_ok=True)
    _check_same_benchmark(out, identity, rows, starts)
    with RunFolder(out) as folder:  # one process per benchmark folder
        folder.record(
            {
                "benchmark": "penalized_logp_similarity_constrained",
                **identity,
                "prior": getattr(opt, "prior", None),
                "molecules": str(path),
                "n_molecules": len(starts),
                "thresholds": [float(t) for t in thresholds],
            },
            config_name="bench.yaml",
        )
        done = {_key(r["index"], r["threshold"]) for r in rows}
        job_list = []
        for delta in thresholds:
            for index, start in enumerate(starts):
                if _key(index, delta) in done:
                    continue
                run_dir = out / "runs" / f"m{index:03d}_d{delta:g}"
                objective_params = {
                    "start": start,
                    "threshold": float(delta),
                    "fingerprint": fingerprint,
                    "floor": floor,
                }
                config = DesignConfig(
                    objective=f"{__name__}:SimilarityConstrained",
                    optimizer=optimizer,
                    budget=budget,
                    seed=seed,
                    optimizer_params=params,
                    objective_params=objective_params,
                    pool=str(run_dir / "start.smi"),
                )
                score = functools.partial(
                    _constrained_row,
                    start=start,
                    threshold=float(delta),
                    fingerprint=fingerprint,
                    floor=floor,
                )
                labels = (("index", index), ("threshold", float(delta)))
                job_list.append(DesignJob(labels, run_dir, config, (start,), score))
        if job_list:
            log.info("%d runs to do, %d already in %s", len(job_list), len(done), results)
        runs = JobRun(
            job_list,
            jobs,
            progress,
            f"constrained plogp {optimizer}",
            executor=executor,
            address=address,
        )
        for row in runs:
            append_csv(results, CONSTRAINED_COLUMNS, row)
            rows.append(row)
        rows.sort(key=lambda r: (float(r["threshold"]), int(r["index"])))
        write_csv(results, CONSTRAINED_COLUMNS, rows)
        (out / "summary.md").write_text(constrained_summary(optimizer, rows, budget, fingerprint))
        runs.raise_failures()
        return rows


def _check_same_benchmark(
    out: Path, identity: dict[str, Any], rows: Sequence[dict[str, Any]], starts: Sequence[str]
) -> None:
    """Refuse to extend ``results.csv`` rows made with other settings or start molecules."""
    if not rows:
        return
    recorded = read_yaml(out / "bench.yaml") if (out / "bench.yaml").is_file() else {}
    refuse_other_settings(
        recorded,
        identity,
        holds=f"{out} holds results",
        hint="use another --out, or the same settings to resume",
        error=ConfigError,
    )
    for row in rows:
        index = int(row["index"])
        if index < len(starts) and canonical_smiles(starts[index]) != row["start_smiles"]:
            raise ConfigError(
                f"{out}/results.csv: molecule {index} is {row['start_smiles']}, not "
                f"{starts[index]}: use another --out for another molecule file"
            )


def constrained_summary(
    optimizer: str, rows: Sequence[dict[str, Any]], budget: int, fingerprint: str
) -> str:
    """Mean ± std improvement, mean similarity and success rate per threshold."""
    by_delta: dict[float, list[dict[str, Any]]] = {}
    for row in rows:
        by_delta.setdefault(round(float(row["threshold"]), 6), []).append(row)
    header = ["δ", "molecules", "improvement (mean ± std)", "similarity (mean ± std)", "success"]
    table: list[list[Any]] = []
    for delta in sorted(by_delta):
        group = by_delta[delta]
        imp = [float(r["improvement"]) for r in group]
        sim = [float(r["similarity"]) for r in group]
        success = statistics.fmean(int(r["success"]) for r in group)
        imp_std = statistics.stdev(imp) if len(imp) > 1 else 0.0
        sim_std = statistics.stdev(sim) if len(sim) > 1 else 0.0
        table.append(
            [f"{delta:g}", len(group), f"{statistics.fmean(imp):.2f} ± {imp_std:.2f}"]
            + [f"{statistics.fmean(sim):.2f} ± {sim_std:.2f}", f"{success:.1%}"]
        )
    lines = [
        f"# Similarity-constrained penalized logP: {optimizer}, budget {budget} per molecule",
        "",
        markdown_table(header, table).rstrip("\n"),
    ]
    fp = {"ecfp4": "unfolded Morgan counts, radius 2", "morgan2048": "2048-bit Morgan, radius 2"}
    lines += [
        "",
        "Improvement: best penalized logP (JT-VAE normalisation, cycle-basis ring term) among "
        "the molecules with similarity ≥ δ, minus that of the start; 0 (the start kept) when "
        "none is better. Success: improvement > 0.",
        f"Similarity: Tanimoto on {fp[fingerprint]} (`{fingerprint}`).",
        "Each run starts from the pool [start molecule]; GEGL seeds both its queues with it "
        "(`init_pool=1`, as the paper's `init_smis`); reinvent and lstm-hc sample from the "
        "prior and do not use the pool.",
        "",
        "Published mean improvements, as quoted by Jin et al. (ICLR 2019, Table 1): GCPN "
        "2.49 ± 1.30 (δ 0.4) and 0.79 ± 0.63 (δ 0.6), JT-VAE 1.03 ± 1.39 and 0.28 ± 0.79. "
        "GEGL's own table (NeurIPS 2020) is not available offline; its constrained script "
        "runs 50 rounds of 1,024 + 1,024 samples per molecule (about 100,000 calls).",
    ]
    return "\n".join(lines) + "\n"


__all__ = [
    "MAX_LEN",
    "PUBLISHED_BEST",
    "THRESHOLDS",
    "LengthBounded",
    "SimilarityConstrained",
    "logp_800_file",
    "run_constrained",
    "run_plogp",
]
