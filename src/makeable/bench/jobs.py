"""Benchmark runs as ordinary design runs: one job per run, in order, in a process pool or on
Ray actors (``--executor``).

Every design benchmark (PMO, GuacaMol, penalized logP) is a list of :class:`DesignJob` run by
:class:`JobRun`; each job resumes its run folder like any design run.
"""

from __future__ import annotations

import functools
import inspect
import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from makeable.oracle.executor import job_executor
from makeable.runs.config import DesignConfig

log = logging.getLogger(__name__)


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


def _execute_safely(fn: Callable[[Any], Any], job: Any) -> tuple[Any, str | None]:
    """``(fn(job), None)``, or ``(None, error)`` when the run raised (interrupts still stop)."""
    try:
        return fn(job), None
    except Exception as exc:  # one failing run must not stop the others
        return None, f"{type(exc).__name__}: {exc}"


class JobsFailedError(RuntimeError):
    """Some runs of a benchmark raised; the others finished and their results were written."""


class JobRun:
    """The runs of a benchmark, in order (or ``n_jobs`` at a time in workers).

    Iterating yields ``execute(job)`` for each job that finished (a results row for a
    :class:`DesignJob`). A run that raises is logged and recorded in :attr:`failures` (by
    its ``run_dir``) while the others go on; call :meth:`raise_failures` after writing the
    results, so that the command still fails (re-running it retries those runs).

    Args:
        jobs: picklable jobs with a ``run_dir`` attribute.
        n_jobs: workers (1 with the ``process`` executor: in this process).
        progress: show a progress bar.
        desc: the progress bar's label.
        execute: a module-level function running one job (default: a design run).
        executor: where the jobs run (:func:`makeable.oracle.executor.job_executor`):
            ``process`` (local processes, the default), ``ray`` or ``inprocess``. Each job
            writes its own run folder, one writer each, wherever it runs; on a Ray cluster the
            folders must be on storage every node sees.
        address: the Ray cluster of the ``ray`` executor (``None``: a local one).
    """

    def __init__(
        self,
        jobs: Sequence[Any],
        n_jobs: int = 1,
        progress: bool = False,
        desc: str = "runs",
        execute: Callable[[Any], Any] = execute,
        executor: str = "process",
        address: str | None = None,
    ) -> None:
        self.jobs = list(jobs)
        self.n_jobs = n_jobs
        self.executor = executor
        self.address = address
        self.progress = progress
        self.desc = desc
        self.execute = execute
        self.failures: list[tuple[Path, str]] = []

    def __iter__(self) -> Iterator[Any]:
        from tqdm import tqdm

        bar = tqdm(
            total=len(self.jobs),
            desc=self.desc,
            unit="run",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        try:
            with job_executor(self.n_jobs, len(self.jobs), self.executor, self.address) as executor:
                safely = functools.partial(_execute_safely, self.execute)
                for job, (row, error) in zip(
                    self.jobs, executor.imap(safely, self.jobs), strict=True
                ):
                    bar.update(1)
                    if error is not None:
                        log.error("run %s failed (the others go on): %s", job.run_dir, error)
                        self.failures.append((job.run_dir, error))
                    else:
                        yield row
        finally:
            bar.close()

    def raise_failures(self) -> None:
        """Raise :class:`JobsFailedError` listing the failed runs, if any."""
        raise_failures([self])


def raise_failures(runs: Sequence[JobRun]) -> None:
    """Raise :class:`JobsFailedError` listing the failed runs of several job sets, if any."""
    failed = [failure for run in runs for failure in run.failures]
    if failed:
        listed = "; ".join(f"{path}: {error}" for path, error in failed)
        total = sum(len(run.jobs) for run in runs)
        raise JobsFailedError(
            f"{len(failed)} of {total} run(s) failed ({listed}); the other "
            "results are written; run the same command again to retry them"
        )


def registered_optimizer(name: str) -> str:
    """The registered spelling of an optimizer name (``graph-ga`` → ``graph_ga``): a benchmark
    records it, names its run folders by it and so resumes under either spelling."""
    from makeable.optimizers import OPTIMIZERS, load_builtin_optimizers

    load_builtin_optimizers()
    return OPTIMIZERS.canonical(name)


def check_optimizer(name: str, params: dict[str, Any]) -> Any:
    """Build the optimizer once, so that an unknown name or parameter fails before any run."""
    from makeable.optimizers import get_optimizer

    return get_optimizer(name, **params)


def accepts(optimizer: str, param: str) -> bool:
    """Whether the registered optimizer takes a constructor parameter ``param``."""
    from makeable.optimizers import OPTIMIZERS, load_builtin_optimizers

    load_builtin_optimizers()
    return param in inspect.signature(OPTIMIZERS.factory(optimizer)).parameters


def copy_finished_runs(source: Path, run_dirs: Sequence[Path]) -> int:
    """Copy ``source/runs/<name>`` to each of ``run_dirs`` that does not exist yet, when the
    source run finished (its ``metrics.json`` is written); without its lock. Returns how many
    were copied."""
    copied = 0
    for run_dir in run_dirs:
        found = source / "runs" / run_dir.name
        if run_dir.exists() or not (found / "metrics.json").is_file():
            continue
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        partial = run_dir.with_name(run_dir.name + ".copying")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(found, partial, ignore=shutil.ignore_patterns("run.lock"))
        partial.rename(run_dir)  # a copy cut off by a kill is never taken for a run
        copied += 1
    return copied
