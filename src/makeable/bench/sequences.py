"""The sequence-design benchmark: tasks × optimizers × seeds, each an ordinary design run.

Every (task, optimizer, seed) runs in ``OUT/runs/<task>/<optimizer>/s<seed>/`` (resumable), then
``OUT/results.csv`` (one row per run and round: task, optimizer, seed, round, max,
median_top128, diversity, novelty, mean_top128, n_calls, wall_s) and ``OUT/summary.md``
(last round, mean ± std over seeds) are rebuilt from the run folders. The protocol is δ-CS's
(Kim et al. 2025, https://arxiv.org/abs/2410.04461): 10 rounds of 128 oracle calls.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from makeable.bench.jobs import JobRun
from makeable.oracle.store import RunStore
from makeable.report import markdown_table
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder

log = logging.getLogger(__name__)

RESULT_COLUMNS = (
    "task",
    "optimizer",
    "seed",
    "round",
    "max",
    "median_top128",
    "diversity",
    "novelty",
    "mean_top128",
    "n_calls",
    "wall_s",
)


@dataclass(frozen=True)
class SeqBenchJob:
    task: str
    optimizer: str
    seed: int
    rounds: int
    batch: int
    optimizer_params: tuple[tuple[str, Any], ...]
    proxy_params: tuple[tuple[str, Any], ...]
    run_dir: Path


def _run_job(job: SeqBenchJob) -> list[dict[str, Any]]:
    from makeable.sequences.design import SequenceDesignConfig, run_sequence_design

    config = SequenceDesignConfig(
        task=job.task,
        optimizer=job.optimizer,
        rounds=job.rounds,
        batch=job.batch,
        seed=job.seed,
        optimizer_params=dict(job.optimizer_params),
        proxy_params=dict(job.proxy_params),
    )
    run_sequence_design(config, job.run_dir)
    return collect_rows(job.task, job.optimizer, job.seed, job.run_dir)


def collect_rows(task: str, optimizer: str, seed: int, run_dir: Path) -> list[dict[str, Any]]:
    """The results.csv rows (one per round) of a finished run folder."""
    store = RunStore(run_dir / "run.db")
    try:
        rounds = [payload for _, _, payload in store.events("round")]
        sessions = store.get_meta("sessions") or []
    finally:
        store.close()
    wall = sum(s.get("wall_s", 0.0) for s in sessions)
    return [
        {
            "task": task,
            "optimizer": optimizer,
            "seed": seed,
            **{k: r.get(k) for k in RESULT_COLUMNS[3:10]},
            "wall_s": wall,
        }
        for r in rounds
    ]


def run_seq_bench(
    tasks: Sequence[str],
    optimizers: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    rounds: int = 10,
    batch: int = 128,
    jobs: int = 1,
    optimizer_params: dict[str, Any] | None = None,
    proxy_params: dict[str, Any] | None = None,
    progress: bool = False,
    executor: str = "process",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Run every (task, optimizer, seed), then write ``results.csv`` and ``summary.md``;
    ``progress``: a progress bar over the runs."""
    from makeable.sequences.optimizers import SEQ_OPTIMIZERS
    from makeable.sequences.tasks import TASKS, load_builtin_tasks

    load_builtin_tasks()
    # unknown names fail here, with the valid ones; runs are recorded under the registered names
    tasks = [TASKS.canonical(name) for name in tasks]
    optimizers = [SEQ_OPTIMIZERS.canonical(name) for name in optimizers]
    with RunFolder(out) as folder:  # one process per benchmark folder
        params = tuple(sorted((optimizer_params or {}).items()))
        proxy = tuple(sorted((proxy_params or {}).items()))
        folder.record(
            {
                "benchmark": "sequences (δ-CS protocol)",
                "tasks": list(tasks),
                "optimizers": list(optimizers),
                "seeds": list(seeds),
                "rounds": rounds,
                "batch": batch,
                "optimizer_params": dict(params),
                "proxy_params": dict(proxy),
            },
            config_name="bench.yaml",
        )
        job_list = [
            SeqBenchJob(t, o, s, rounds, batch, params, proxy, out / "runs" / t / o / f"s{s}")
            for t in tasks
            for o in optimizers
            for s in seeds
        ]
        rows: list[dict[str, Any]] = []
        runs = JobRun(
            job_list,
            jobs,
            progress,
            "sequence runs",
            execute=_run_job,
            executor=executor,
            address=address,
        )
        for i, job_rows in enumerate(runs, 1):
            rows += job_rows
            _progress(i, len(job_list), job_rows[-1])
        write_results(out, rows)
        runs.raise_failures()
        return rows


def _progress(i: int, n: int, row: dict[str, Any]) -> None:
    log.info(
        "[%d/%d] %s %s seed %s: max %.3f, median top-128 %.3f (%.0f s)",
        i,
        n,
        row["task"],
        row["optimizer"],
        row["seed"],
        row["max"],
        row["median_top128"],
        row["wall_s"],
    )


def write_results(out: Path, rows: list[dict[str, Any]]) -> None:
    write_csv(out / "results.csv", RESULT_COLUMNS, rows)
    (out / "summary.md").write_text(summary_markdown(rows))


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {std:.3f}"


def summary_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Last-round metrics per (task, optimizer): mean ± std over seeds."""
    last: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
    for row in rows:
        runs = last.setdefault((row["task"], row["optimizer"]), {})
        seed = row["seed"]
        if seed not in runs or int(row["round"]) >= int(runs[seed]["round"]):
            runs[seed] = row
    header = [
        "task",
        "optimizer",
        "seeds",
        "round",
        "max",
        "median top-128",
        "diversity",
        "novelty",
        "wall s / run",
    ]
    table: list[list[Any]] = []
    for (task, optimizer), runs in sorted(last.items()):
        r = list(runs.values())

        def col(key: str, r: list[dict[str, Any]] = r) -> list[float]:
            return [float(x[key]) for x in r]

        table.append(
            [task, optimizer, len(r), r[0]["round"]]
            + [_mean_std(col(k)) for k in ("max", "median_top128", "diversity", "novelty")]
            + [f"{statistics.fmean(col('wall_s')):.0f}"]
        )
    return markdown_table(header, table)
