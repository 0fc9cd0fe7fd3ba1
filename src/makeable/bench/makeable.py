"""Makeable PMO: the 23 PMO tasks, scored as PMO scores them and by what can be made.

``makeable bench makeable --optimizer NAME [--synthesis score|plan] --out DIR`` runs every
(task, seed) as an ordinary, resumable design run (``DIR/runs/<task>_s<seed>/``), then judges
its molecules with one fixed verdict (:data:`VERDICT_SETTINGS`): Retro* with the shipped
Template-MLP (its 50 most probable templates per call), down to the shipped exact stock
``building_blocks``, at most 50 single-step calls per molecule, ending at the first makeable
route — the settings the learned ``synth_score`` was trained to predict. A molecule the
optimizer built from the stock (:meth:`makeable.optimizers.Optimizer.constructed_route`)
is makeable when every leaf of that route is in the same stock, without planning.

Per run (a row of ``results.csv``):

* ``auc_top10``: PMO's AUC of the running top-10 mean over call order (budget-normalised),
  on the *objective's* score (for a ``--synthesis`` run, the score before the synthesis term,
  from ``synthesis/plans.jsonl``);
* ``makeable_top10_share``, ``makeable_top100_share``: the share of the 10 and 100 best
  molecules by objective score that are makeable (verdict above);
* ``makeable_auc_top10``: the same AUC computed on scores where every molecule that is not
  known to be makeable scores 0, i.e. the running top-10 of makeable molecules, padded with
  zeros while fewer than 10 are known. Only the 100 best molecules (and every molecule with
  a constructed route) are judged, so for an optimizer without constructed routes this is a
  lower bound: a makeable molecule that was in the running top 10 early in the run but is
  not among the final 100 best counts 0.

The verdicts live in ``DIR/runs/<run>/makeable/routes/`` (the design-run routes format,
resumable: a molecule judged before is not planned again). ``--runs-from PMO_DIR`` judges the
finished runs of a ``bench pmo`` folder (copied, not run again): a plain optimizer's run has
the same configuration in both benchmarks.
"""

from __future__ import annotations

import functools
import logging
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from makeable.bench.jobs import JobRun, copy_finished_runs, registered_optimizer
from makeable.bench.pmo import PMO_TASKS, carried_over, check_tasks, pmo_jobs
from makeable.oracle.metrics import auc_top_k
from makeable.oracle.store import RunStore
from makeable.report import markdown_table
from makeable.results_csv import read_jsonl, write_csv
from makeable.retro.planning.search import SearchSettings
from makeable.run_folder import RunFolder
from makeable.synthesis.labels import LABEL_MODEL, LABEL_MODEL_PARAMS, LABEL_SETTINGS, LABEL_STOCK

log = logging.getLogger(__name__)

VERDICT_SETTINGS: SearchSettings = LABEL_SETTINGS
"""The search behind every verdict of the benchmark: the one the learned ``synth_score`` is
trained on (:mod:`makeable.synthesis.labels`), so the score and the verdict mean one thing."""
VERDICT_MODEL = LABEL_MODEL
VERDICT_MODEL_PARAMS = dict(LABEL_MODEL_PARAMS)
VERDICT_STOCK = LABEL_STOCK
JUDGED = 100
"""The best molecules (by objective score) judged per run."""

RESULT_COLUMNS = (
    "task",
    "seed",
    "auc_top10",
    "makeable_top10_share",
    "makeable_top100_share",
    "makeable_auc_top10",
    "top1",
    "n_calls",
    "n_constructed",
    "planned_calls",
)


@functools.lru_cache(maxsize=1)
def verdict_planner() -> Any:
    """The model, stock and search of the verdicts (loaded once per process)."""
    from makeable.data.stocks import load_stock
    from makeable.retro.single_step.base import PredictionMemo, load_model
    from makeable.runs.routes import RoutePlanner

    model = load_model(VERDICT_MODEL, dict(VERDICT_MODEL_PARAMS))
    model.memo = PredictionMemo()  # the top molecules of a run share precursors
    return RoutePlanner(
        model=model,
        stock=load_stock(VERDICT_STOCK),
        settings=VERDICT_SETTINGS,
        model_ref=VERDICT_MODEL,
        stock_ref=VERDICT_STOCK,
    )


def objective_scores(run_dir: Path) -> tuple[list[str], list[float]]:
    """The counted molecules in call order and their objective scores (before a synthesis
    term, which ``synthesis/plans.jsonl`` records beside the combined score)."""
    from makeable.synthesis.in_loop import PLANS

    with RunStore(run_dir / "run.db") as store:
        calls = store.calls()
    raw = {r["smiles"]: float(r["score"]) for r in read_jsonl(run_dir / PLANS, missing_ok=True)}
    return [c.smiles for c in calls], [raw.get(c.smiles, c.score) for c in calls]


def judge_run(budget: int, task: str, seed: int, run_dir: Path) -> dict[str, Any]:
    """One ``results.csv`` row: plan the run's best molecules and compute the metrics."""
    from makeable.runs.design import read_constructed_routes
    from makeable.runs.routes import check_constructed, plan_top_routes

    smiles, scores = objective_scores(run_dir)
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    top = [(smiles[i], scores[i]) for i in order[:JUDGED]]
    constructed = read_constructed_routes(run_dir)
    summary = plan_top_routes(run_dir / "makeable", top, verdict_planner(), constructed=constructed)
    failed = [t for t in summary.targets if t.error]
    if failed:
        # a failed plan is no verdict: counting it as "not makeable" would write a wrong row
        raise RuntimeError(
            f"{task} seed {seed}: {len(failed)} of {len(summary.targets)} verdict plans failed "
            f"(first: {failed[0].error}); no row written. Fix the cause and run the benchmark "
            "again: the failed molecules are planned again, the others are kept"
        )
    makeable = {t.smiles for t in summary.targets if t.solved}
    stock = verdict_planner().stock
    for s, data in constructed.items():  # every molecule the optimizer built, not only the top
        if s not in makeable and check_constructed(s, data, stock) is not None:
            makeable.add(s)
    masked = [score if s in makeable else 0.0 for s, score in zip(smiles, scores, strict=True)]
    best = [s for s, _ in top]
    return {
        "task": task,
        "seed": seed,
        "auc_top10": auc_top_k(scores, 10, budget),
        "makeable_top10_share": _share(best[:10], makeable),
        "makeable_top100_share": _share(best, makeable),
        "makeable_auc_top10": auc_top_k(masked, 10, budget),
        "top1": max(scores) if scores else 0.0,
        "n_calls": len(scores),
        "n_constructed": len(constructed),
        "planned_calls": sum(t.calls for t in summary.targets),
    }


def _share(molecules: Sequence[str], makeable: set[str]) -> float:
    return sum(m in makeable for m in molecules) / len(molecules) if molecules else 0.0


def run_makeable_pmo(
    optimizer: str,
    seeds: Sequence[int],
    budget: int,
    out: Path,
    tasks: Sequence[str] = PMO_TASKS,
    jobs: int = 1,
    optimizer_params: dict[str, Any] | None = None,
    synthesis: str = "none",
    synthesis_params: dict[str, Any] | None = None,
    progress: bool = False,
    executor: str = "process",
    address: str | None = None,
    runs_from: Path | None = None,
) -> list[dict[str, Any]]:
    """Run and judge every (task, seed); write ``results.csv`` and ``summary.md`` into ``out``.

    ``runs_from``: a folder of ``bench pmo`` (or ``bench makeable``) whose finished runs are
    copied into ``out/runs/`` where ``out`` has none; a copied run is only judged. Its
    recorded configuration must be this benchmark's (the usual resume check refuses any
    other optimizer, parameters or budget).

    Raises:
        ValueError: an unknown task, or ``runs_from`` is not a folder.
    """
    optimizer = registered_optimizer(optimizer)
    check_tasks(tasks)
    if runs_from is not None and not (runs_from / "runs").is_dir():
        raise ValueError(f"--runs-from {runs_from}: no runs/ folder of a benchmark there")
    with RunFolder(out) as folder:  # one process per benchmark folder
        params = dict(sorted((optimizer_params or {}).items()))
        folder.record(
            {
                "benchmark": "makeable_pmo",
                "optimizer": optimizer,
                "optimizer_params": params,
                "synthesis": synthesis,
                "synthesis_params": dict(synthesis_params or {}),
                "seeds": list(seeds),
                "budget": budget,
                "tasks": list(tasks),
                "verdict": {
                    "model": VERDICT_MODEL,
                    "model_params": VERDICT_MODEL_PARAMS,
                    "stock": VERDICT_STOCK,
                    "search": VERDICT_SETTINGS.to_dict(),
                    "judged": JUDGED,
                },
            },
            config_name="bench.yaml",
        )
        job_list = pmo_jobs(
            optimizer,
            seeds,
            budget,
            out,
            tasks,
            params,
            functools.partial(judge_run, budget),
            synthesis=synthesis,
            synthesis_params=dict(synthesis_params or {}),
        )
        if runs_from is not None:
            copied = copy_finished_runs(runs_from, [j.run_dir for j in job_list])
            log.info("%d finished runs copied from %s (judged, not run again)", copied, runs_from)
        job_list, done = carried_over(out, job_list)
        rows: list[dict[str, Any]] = []
        runs = JobRun(
            job_list,
            jobs,
            progress=progress,
            desc=f"makeable PMO: {optimizer}",
            executor=executor,
            address=address,
        )
        for row in runs:
            rows.append(row)
            done[(row["task"], int(row["seed"]))] = row
            log.info(
                "%s seed %s: auc_top10 %.3f, makeable top-10 %.1f, makeable auc %.3f",
                row["task"],
                row["seed"],
                row["auc_top10"],
                row["makeable_top10_share"],
                row["makeable_auc_top10"],
            )
            write_results(out, optimizer, synthesis, list(done.values()), budget)
        runs.raise_failures()
        return rows


def write_results(
    out: Path, optimizer: str, synthesis: str, rows: list[dict[str, Any]], budget: int
) -> None:
    write_csv(out / "results.csv", RESULT_COLUMNS, rows)
    (out / "summary.md").write_text(summary_markdown(optimizer, synthesis, rows, budget))


METRIC_KEYS = ("auc_top10", "makeable_top10_share", "makeable_top100_share", "makeable_auc_top10")


def task_means(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[int, dict[str, float]]]:
    """Per task (sorted): the number of seeds and the mean of each metric over them."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_task.setdefault(str(row["task"]), []).append(row)
    return {
        task: (
            len(by_task[task]),
            {k: statistics.fmean(float(r[k]) for r in by_task[task]) for k in METRIC_KEYS},
        )
        for task in sorted(by_task)
    }


def summary_markdown(
    optimizer: str, synthesis: str, rows: Sequence[dict[str, Any]], budget: int
) -> str:
    """Per-task means over seeds and the sums / averages over tasks."""
    keys = METRIC_KEYS
    name = optimizer + (f" + synthesis {synthesis}" if synthesis != "none" else "")
    header = ["task", "seeds", "AUC top-10", "makeable top-10", "makeable top-100"]
    header += ["makeable AUC top-10"]
    table: list[list[Any]] = []
    means: dict[str, list[float]] = {k: [] for k in keys}
    per_task = task_means(rows)
    for task, (n_seeds, m) in per_task.items():
        for k in keys:
            means[k].append(m[k])
        table.append(
            [task, n_seeds, f"{m['auc_top10']:.3f}", f"{m['makeable_top10_share']:.2f}"]
            + [f"{m['makeable_top100_share']:.2f}", f"{m['makeable_auc_top10']:.3f}"]
        )
    if per_task:
        table.append(
            [f"**sum / mean over {len(per_task)} tasks**", "", f"**{sum(means['auc_top10']):.3f}**"]
            + [f"**{statistics.fmean(means[k]):.2f}**" for k in keys[1:3]]
            + [f"**{sum(means['makeable_auc_top10']):.3f}**"]
        )
    lines = [
        f"# Makeable PMO: {name}, budget {budget}",
        "",
        markdown_table(header, table).rstrip("\n"),
        "",
        f"Verdicts: Retro* with {VERDICT_MODEL} (max_templates="
        f"{VERDICT_MODEL_PARAMS.get('max_templates')}), stock {VERDICT_STOCK}, "
        f"{VERDICT_SETTINGS.max_calls} single-step calls per molecule, the {JUDGED} best "
        "molecules per run (and every "
        "molecule the optimizer built) judged; see makeable.bench.makeable.",
    ]
    return "\n".join(lines) + "\n"


def glance_markdown(results: dict[str, list[dict[str, Any]]], reference: str | None = None) -> str:
    """One row per optimizer (its ``results.csv`` rows): the tasks it has, the most seeds of a
    task, the sum over tasks of the per-task mean AUC top-10, the mean makeable shares, the sum
    of makeable AUC top-10, and, with ``reference`` (one of ``results``), the reference's sum
    AUC top-10 over the same tasks (its own seeds' means).

    Raises:
        ValueError: a reference that is not among the results, or that lacks a task another
            optimizer has.
    """
    if reference is not None and reference not in results:
        raise ValueError(f"the reference {reference!r} is not one of {', '.join(results)}")
    means = {name: task_means(rows) for name, rows in results.items()}
    header = ["optimizer", "tasks", "seeds", "sum AUC top-10", "makeable top-10 / top-100"]
    header += ["sum makeable AUC top-10"]
    if reference is not None:
        header.append(f"{reference} sum AUC top-10, same tasks")
    table = []
    for name, per_task in means.items():
        values = [m for _, m in per_task.values()]
        if not values:
            continue
        row = [
            name,
            str(len(per_task)),
            str(max(n for n, _ in per_task.values())),
            f"{sum(m['auc_top10'] for m in values):.3f}",
            f"{statistics.fmean(m['makeable_top10_share'] for m in values):.2f} / "
            f"{statistics.fmean(m['makeable_top100_share'] for m in values):.2f}",
            f"{sum(m['makeable_auc_top10'] for m in values):.3f}",
        ]
        if reference is not None:
            missing = sorted(set(per_task) - set(means[reference]))
            if missing:
                raise ValueError(f"the reference {reference} has no row for {', '.join(missing)}")
            row.append(f"{sum(means[reference][t][1]['auc_top10'] for t in per_task):.3f}")
        table.append(row)
    return markdown_table(header, table)
