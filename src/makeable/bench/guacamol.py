"""The GuacaMol goal-directed benchmark (v2 suite, 20 tasks) built from ordinary design runs.

Brown et al., "GuacaMol: Benchmarking Models for de Novo Molecular Design", J. Chem. Inf. Model.
59, 1096-1108 (2019), https://doi.org/10.1021/acs.jcim.8b00839; code
https://github.com/BenevolentAI/guacamol.

Every (task, seed) is a resumable design run in ``OUT/runs/<task>_s<seed>/`` under a call budget
(GuacaMol itself sets none: the budget used is recorded in ``bench.yaml`` and ``summary.md``).
A run is scored as GuacaMol scores the molecules a model returns
(``GoalDirectedBenchmark.assess_model`` in ``guacamol/goal_directed_benchmark.py``):

1. the molecules are canonicalised *without stereochemistry* and de-duplicated
   (``canonicalize_list(..., include_stereocenters=False)``); here every valid counted call of
   the run's ``run.db`` is a candidate, and stereoisomers share the best score recorded for them
   (the GuacaMol scoring functions ignore stereochemistry, so those scores are equal);
2. the benchmark score is the weighted mean over the task's contributions ``(k, w)`` of
   ``sum(top k scores) / k`` (``compute_global_score`` in
   ``guacamol/goal_directed_score_contributions.py``), so that fewer than ``k`` distinct molecules
   count as zeros (GuacaMol pads the score list with zeros);
3. the contributions come from ``guacamol/standard_benchmarks.py`` (all weights 1): rediscovery
   top-1; similarity, median, MPO, SMARTS and hop tasks top-1, top-10 and top-100; C11H24 top-159
   (all its constitutional isomers); C9H10N2O2PF2Cl top-250 (``isomers_c9h10n2o2pf2cl`` with its
   default ``n_samples=250``; the same numbers appear in GEGL's ``util/chemistry/benchmarks.py``).

Ranolazine MPO gives the optimizer the starting population ``[ranolazine]`` as GuacaMol's
``ranolazine_mpo()`` does; the other tasks start from the configured pool (ZINC250k), where
GuacaMol's Graph GA baseline starts from the best-scoring molecules of its ChEMBL training set.

The small job runner at the end (:class:`DesignJob`, :class:`JobRun`, :func:`check_optimizer`)
is shared with :mod:`makeable.bench.plogp`.
"""

from __future__ import annotations

import functools
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdkit import Chem

from makeable.bench.jobs import DesignJob, JobRun, check_optimizer, registered_optimizer
from makeable.bench.pmo import collect_row
from makeable.chem.molecule import parse_smiles
from makeable.objectives.pmo import RANOLAZINE
from makeable.oracle.store import RunStore
from makeable.report import markdown_table
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder
from makeable.runs.config import DesignConfig

log = logging.getLogger(__name__)

RANK_ONE = ((1, 1.0),)
TOP_1_10_100 = ((1, 1.0), (10, 1.0), (100, 1.0))


@dataclass(frozen=True)
class GuacamolTask:
    """One goal-directed benchmark of the GuacaMol v2 suite.

    Attributes:
        name: the task's name here (its registered objective's name where they coincide).
        title: GuacaMol's benchmark name.
        objective: the registered objective that is GuacaMol's scoring function.
        contributions: ``(top_count, weight)`` pairs of GuacaMol's score specification.
        starting_population: SMILES GuacaMol gives the model to start from (else: the pool).
    """

    name: str
    title: str
    objective: str
    contributions: tuple[tuple[int, float], ...] = TOP_1_10_100
    starting_population: tuple[str, ...] = ()


GUACAMOL_TASKS: tuple[GuacamolTask, ...] = (
    GuacamolTask(
        "celecoxib_rediscovery", "Celecoxib rediscovery", "celecoxib_rediscovery", RANK_ONE
    ),
    GuacamolTask(
        "troglitazone_rediscovery", "Troglitazone rediscovery", "troglitazone_rediscovery", RANK_ONE
    ),
    GuacamolTask(
        "thiothixene_rediscovery", "Thiothixene rediscovery", "thiothixene_rediscovery", RANK_ONE
    ),
    GuacamolTask("aripiprazole_similarity", "Aripiprazole similarity", "aripiprazole_similarity"),
    GuacamolTask("albuterol_similarity", "Albuterol similarity", "albuterol_similarity"),
    GuacamolTask("mestranol_similarity", "Mestranol similarity", "mestranol_similarity"),
    GuacamolTask("isomers_c11h24", "C11H24", "isomers_c11h24", ((159, 1.0),)),
    GuacamolTask(
        "isomers_c9h10n2o2pf2cl", "C9H10N2O2PF2Cl", "isomers_c9h10n2o2pf2cl", ((250, 1.0),)
    ),
    GuacamolTask("median1", "Median molecules 1", "median1"),
    GuacamolTask("median2", "Median molecules 2", "median2"),
    GuacamolTask("osimertinib_mpo", "Osimertinib MPO", "osimertinib_mpo"),
    GuacamolTask("fexofenadine_mpo", "Fexofenadine MPO", "fexofenadine_mpo"),
    GuacamolTask(
        "ranolazine_mpo", "Ranolazine MPO", "ranolazine_mpo", starting_population=(RANOLAZINE,)
    ),
    GuacamolTask("perindopril_mpo", "Perindopril MPO", "perindopril_mpo"),
    GuacamolTask("amlodipine_mpo", "Amlodipine MPO", "amlodipine_mpo"),
    GuacamolTask("sitagliptin_mpo", "Sitagliptin MPO", "sitagliptin_mpo"),
    GuacamolTask("zaleplon_mpo", "Zaleplon MPO", "zaleplon_mpo"),
    GuacamolTask("valsartan_smarts", "Valsartan SMARTS", "valsartan_smarts"),
    GuacamolTask("deco_hop", "Deco Hop", "deco_hop"),
    GuacamolTask("scaffold_hop", "Scaffold Hop", "scaffold_hop"),
)
"""The 20 tasks, in the order of GuacaMol's ``GoalDirectedV2`` suite."""

TASKS_BY_NAME = {t.name: t for t in GUACAMOL_TASKS}

# Sums of the 20 benchmark scores, GuacaMol paper (goal-directed results table).
PUBLISHED_SUMS = {"graph_ga": 17.983, "lstm-hc": 17.341}
PUBLISHED_NAMES = {"graph_ga": "Graph GA", "lstm-hc": "SMILES LSTM (hill climbing)"}

RESULT_COLUMNS = (
    "task",
    "seed",
    "score",
    "n_calls",
    "best",
    "best_smiles",
    "wall_s",
    "n_distinct",
    "top_x",
)


# ----------------------------------------------------------------------------- scoring
def guacamol_score(
    scores: Sequence[float], contributions: Sequence[tuple[int, float]]
) -> tuple[float, dict[int, float]]:
    """GuacaMol's benchmark score of the scores of distinct molecules.

    Args:
        scores: one score per distinct molecule, in any order.
        contributions: ``(k, weight)`` pairs; each contributes ``sum(best k scores) / k``, so that
            missing molecules count as zeros, as in GuacaMol.

    Returns:
        The weighted mean of the contributions and the top-``k`` value of each ``k``.
    """
    if not contributions:
        raise ValueError("at least one (top_count, weight) contribution is needed")
    ordered = sorted((float(s) for s in scores), reverse=True)
    top = {k: sum(ordered[:k]) / k for k, _ in contributions}
    total_weight = sum(w for _, w in contributions)
    return sum(top[k] * w for k, w in contributions) / total_weight, top


def stereo_free(smiles: str) -> str | None:
    """Canonical SMILES without stereochemistry (GuacaMol's ``include_stereocenters=False``)."""
    mol = parse_smiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=False)


def distinct_scores(run_dir: Path) -> dict[str, float]:
    """Best recorded score of each distinct stereo-free molecule of a run's valid calls."""
    store = RunStore(run_dir / "run.db")
    try:
        calls = store.calls()
    finally:
        store.close()
    best: dict[str, float] = {}
    for call in calls:
        key = stereo_free(call.smiles) if call.valid else None
        if key is not None and (key not in best or call.score > best[key]):
            best[key] = call.score
    return best


def score_run(run_dir: Path, task: str) -> dict[str, Any]:
    """The GuacaMol score of one finished run, with its best molecule (a results row's values)."""
    spec = TASKS_BY_NAME[task]
    best = distinct_scores(run_dir)
    score, top = guacamol_score(list(best.values()), spec.contributions)
    best_smiles = max(best, key=best.__getitem__) if best else ""
    return {
        "score": score,
        "best": best.get(best_smiles, 0.0),
        "best_smiles": best_smiles,
        "n_distinct": len(best),
        "top_x": ";".join(f"top{k}={v:.4f}" for k, v in top.items()),
    }


def _guacamol_row(run_dir: Path, task: str, seed: int) -> dict[str, Any]:
    timing = collect_row(task, seed, run_dir)
    return {"n_calls": timing["n_calls"], "wall_s": timing["wall_s"], **score_run(run_dir, task)}


# ----------------------------------------------------------------------------- benchmark
def run_guacamol(
    optimizer: str,
    seeds: Sequence[int],
    budget: int,
    out: Path,
    tasks: Sequence[str] | None = None,
    jobs: int = 1,
    optimizer_params: dict[str, Any] | None = None,
    progress: bool = False,
    executor: str = "process",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Run every (task, seed), then write ``results.csv`` and ``summary.md`` into ``out``.

    Args:
        optimizer: a registered optimizer.
        seeds: one run per task and seed.
        budget: oracle calls per run (GuacaMol has no budget; this one is recorded).
        out: the benchmark folder (runs in ``out/runs``); re-running resumes.
        tasks: a subset of :data:`GUACAMOL_TASKS` names (default: all 20).
        jobs: runs in parallel (workers).
        optimizer_params: hyper-parameters passed to the optimizer.
        executor: where the runs go (``process``: local processes, the default; ``ray``;
            ``inprocess``); :class:`makeable.bench.jobs.JobRun`.
        address: the Ray cluster of ``executor`` ``ray`` (``None``: a local one).
        progress: show a progress bar over the runs.

    Returns:
        The results rows, one per (task, seed).
    """
    names = list(tasks or TASKS_BY_NAME)
    unknown = [t for t in names if t not in TASKS_BY_NAME]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; GuacaMol tasks: {', '.join(TASKS_BY_NAME)}")
    optimizer = registered_optimizer(optimizer)
    params = dict(optimizer_params or {})
    opt = check_optimizer(optimizer, params)
    with RunFolder(out) as folder:  # one process per benchmark folder
        folder.record(
            {
                "benchmark": "guacamol_v2_goal_directed",
                "optimizer": optimizer,
                "optimizer_params": params,
                "prior": getattr(opt, "prior", None),
                "seeds": list(seeds),
                "budget": budget,
                "tasks": names,
            },
            config_name="bench.yaml",
        )
        job_list = []
        for name in names:
            spec = TASKS_BY_NAME[name]
            for seed in seeds:
                run_dir = out / "runs" / f"{name}_s{seed}"
                pool = spec.starting_population
                config = DesignConfig(
                    objective=spec.objective,
                    optimizer=optimizer,
                    budget=budget,
                    seed=seed,
                    optimizer_params=params,
                    pool=str(run_dir / "pool.smi") if pool else "zinc250k",
                )
                score = functools.partial(_guacamol_row, task=name, seed=seed)
                job_list.append(
                    DesignJob((("task", name), ("seed", seed)), run_dir, config, pool, score)
                )
        runs = JobRun(
            job_list, jobs, progress, f"guacamol {optimizer}", executor=executor, address=address
        )
        rows = list(runs)
        write_results(out, rows)
        (out / "summary.md").write_text(summary_markdown(optimizer, rows, budget, opt))
        runs.raise_failures()
        return rows


def write_results(out: Path, rows: Sequence[dict[str, Any]]) -> None:
    write_csv(out / "results.csv", RESULT_COLUMNS, rows)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summary_markdown(
    optimizer: str, rows: Sequence[dict[str, Any]], budget: int, opt: Any = None
) -> str:
    """Per-task mean ± std of the GuacaMol score over seeds, their sum and the published sums."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    header = ["task", "GuacaMol score (mean ± std)", "top-1", "distinct", "calls", "wall s"]
    table: list[list[str]] = []
    total = 0.0
    for task in [t.name for t in GUACAMOL_TASKS if t.name in by_task]:
        task_rows = by_task[task]
        mean, std = _mean_std([float(r["score"]) for r in task_rows])
        total += mean
        m = {
            k: statistics.fmean(float(r[k]) for r in task_rows)
            for k in ("best", "n_distinct", "n_calls", "wall_s")
        }
        table.append(
            [TASKS_BY_NAME[task].title, f"{mean:.3f} ± {std:.3f}", f"{m['best']:.3f}"]
            + [f"{m['n_distinct']:.0f}", f"{m['n_calls']:.0f}", f"{m['wall_s']:.1f}"]
        )
    n_seeds = len({r["seed"] for r in rows})
    seeds_word = "seed" if n_seeds == 1 else "seeds"
    lines = [
        f"# GuacaMol goal-directed (v2): {optimizer}, budget {budget} calls per run",
        "",
        markdown_table(header, table).rstrip("\n"),
    ]
    lines += ["", f"**Sum over {len(by_task)} tasks ({n_seeds} {seeds_word}): {total:.3f}**", ""]
    published = ", ".join(f"{PUBLISHED_NAMES[k]} {v}" for k, v in PUBLISHED_SUMS.items())
    lines.append(f"Published sums over the 20 tasks (GuacaMol paper): {published}.")
    if len(by_task) < len(GUACAMOL_TASKS):
        lines.append(f"Only {len(by_task)} of the 20 tasks were run: the sums do not compare.")
    lines += [
        "",
        f"Budget: {budget} oracle calls per run. GuacaMol sets no call budget (its Graph GA "
        "baseline scores the whole ChEMBL training set to pick its first population and then "
        "runs up to 1000 generations), so scores under a budget are lower bounds of the protocol.",
    ]
    prior = getattr(opt, "prior", None)
    if prior is not None:
        lines.append(
            f"Prior of the language-model optimizer: `{prior}` (the shipped ZINC250k prior "
            "unless overridden); GuacaMol's baselines were pretrained on its ChEMBL training "
            "set, which is not available offline."
        )
    lines.append(
        "Ranolazine MPO starts from GuacaMol's starting population [ranolazine]; the other "
        "tasks from the configured pool (ZINC250k)."
    )
    return "\n".join(lines) + "\n"


__all__ = [
    "GUACAMOL_TASKS",
    "PUBLISHED_SUMS",
    "GuacamolTask",
    "guacamol_score",
    "run_guacamol",
    "score_run",
]
