"""Benchmark runs as ordinary design runs: one job per run, in order or in a process pool.

Every design benchmark (PMO, GuacaMol, penalized logP) is a list of :class:`DesignJob` run by
:func:`run_jobs`; each job resumes its run folder like any design run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from makeable.oracle.executor import job_executor
from makeable.runs.config import DesignConfig


@dataclass(frozen=True)
class DesignJob:
    """One design run of a benchmark, picklable for a process pool.

    Attributes:
        labels: ``(column, value)`` pairs that identify the run in the results.
        run_dir: the run folder.
        config: the run's configuration.
        pool: SMILES written to the file ``config.pool`` names before the run (empty: none).
        score: ``f(run_dir) -> dict`` of result columns, called once the run is finished.
    """

    labels: tuple[tuple[str, Any], ...]
    run_dir: Path
    config: DesignConfig
    pool: tuple[str, ...]
    score: Callable[[Path], dict[str, Any]]


def execute(job: DesignJob) -> dict[str, Any]:
    """Run (or resume) one job and return its results row."""
    from makeable.runs.design import run_design

    if job.pool:
        path = Path(job.config.pool)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{s}\n" for s in job.pool))
    run_design(job.config, job.run_dir, progress=False)
    return {**dict(job.labels), **job.score(job.run_dir)}


def run_jobs(
    jobs: Sequence[DesignJob], n_jobs: int = 1, progress: bool = False, desc: str = "runs"
) -> Iterator[dict[str, Any]]:
    """Run jobs in order (or ``n_jobs`` at a time in processes), yielding each results row."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="run", disable=not progress, dynamic_ncols=True)
    try:
        with job_executor(n_jobs, len(jobs)) as executor:
            for row in executor.imap(execute, jobs):
                bar.update(1)
                yield row
    finally:
        bar.close()


def check_optimizer(name: str, params: dict[str, Any]) -> Any:
    """Build the optimizer once, so that an unknown name or parameter fails before any run."""
    from makeable.optimizers import get_optimizer

    return get_optimizer(name, **params)


def accepts(optimizer: str, param: str) -> bool:
    """Whether the registered optimizer takes a constructor parameter ``param``."""
    from makeable.optimizers import OPTIMIZERS, load_builtin_optimizers

    load_builtin_optimizers()
    return param in inspect.signature(OPTIMIZERS.factory(optimizer)).parameters
