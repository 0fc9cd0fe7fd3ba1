"""How oracle scoring scales with workers: ``makeable bench scaling --out DIR``.

Two measurements, both through the :class:`~makeable.oracle.Oracle` an optimizer uses (new
molecules chunked over the executor's workers, one batch at a time, committed per batch):

* **throughput**: ``sleepy_qed`` (QED after ``delay`` seconds per molecule, a stand-in for an
  expensive objective) on a fixed list of ZINC250k molecules in batches of ``batch``
  molecules, for each executor (``inprocess`` once; ``process`` and ``ray`` with each worker
  count): molecules per second and the speedup over in-process;
* **overhead per batch**: the same objective with no delay (plain QED, about a millisecond a
  molecule) in small batches, chunked over the workers as the oracle does: the wall time of a
  batch minus the longest time a worker spent in the objective is what shipping the batch to
  the workers and back costs (the median over the batches; in-process: about 0).

Each executor is started and warmed up on molecules outside the measured list before the clock
runs; that start (processes forked, a local Ray instance and its actors) is reported apart
(``start_s``). ``OUT/results.csv`` holds one row per measurement, ``OUT/summary.md`` the
tables, ``OUT/bench.yaml`` the settings and the machine (cores, load average at the start),
``OUT/versions.json`` the versions (Ray included).
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from makeable.data.molecules import zinc250k, zinc250k_source
from makeable.objectives import get_objective
from makeable.objectives.base import Objective, Scores
from makeable.oracle import Oracle
from makeable.oracle.executor import Executor, chunk, make_executor
from makeable.report import markdown_table
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder

log = logging.getLogger(__name__)

RESULT_COLUMNS = (
    "part",
    "executor",
    "workers",
    "delay_s",
    "molecules",
    "batch",
    "seconds",
    "mol_per_s",
    "speedup",
    "ms_per_batch",
    "overhead_ms",
    "start_s",
)

WARMUP = 16
"""Molecules scored once per executor before timing (outside the measured list)."""


def _molecules(n: int) -> list[str]:
    """The first ``n`` distinct molecules of ZINC250k (the shipped sample without data)."""
    pool = list(dict.fromkeys(zinc250k()))
    if len(pool) < n + WARMUP:
        raise ValueError(f"--molecules {n}: ZINC250k here has {len(pool) - WARMUP} to measure")
    return pool[: n + WARMUP]


def _score_all(executor: Executor, delay: float, smiles: Sequence[str], batch: int) -> float:
    """Seconds to score ``smiles`` in batches of ``batch`` through a fresh oracle."""
    oracle = Oracle(get_objective("sleepy_qed", delay=delay), len(smiles), executor=executor)
    start = time.perf_counter()
    for i in range(0, len(smiles), batch):
        oracle(smiles[i : i + batch])
    seconds = time.perf_counter() - start
    if oracle.n_calls != len(smiles):  # every molecule is new and counted once
        raise RuntimeError(f"counted {oracle.n_calls} calls for {len(smiles)} molecules")
    return seconds


def _timed(args: tuple[Objective, list[str]]) -> tuple[Scores, float]:
    """Score a chunk in a worker; its scores and the seconds spent in the objective."""
    objective, smiles = args
    start = time.perf_counter()
    scores = objective(smiles)
    return scores, time.perf_counter() - start


def _overheads(executor: Executor, smiles: Sequence[str], batch: int) -> tuple[float, float]:
    """(seconds in all, median seconds per batch beyond its slowest chunk's objective time)."""
    objective = get_objective("sleepy_qed", delay=0.0)
    extra = []
    start = time.perf_counter()
    for i in range(0, len(smiles), batch):
        chunks = chunk(smiles[i : i + batch], executor.n_workers)
        t0 = time.perf_counter()
        results = executor.map(_timed, [(objective, c) for c in chunks])
        extra.append(time.perf_counter() - t0 - max(sec for _, sec in results))
    return time.perf_counter() - start, statistics.median(extra)


def _measure(
    kind: str,
    workers: int,
    address: str | None,
    throughput: tuple[float, Sequence[str], int],
    overhead: tuple[Sequence[str], int],
    warmup: Sequence[str],
) -> tuple[float, float, tuple[float, float]]:
    """Start ``kind`` with ``workers`` and warm it up; (start seconds, throughput seconds,
    overhead seconds and median overhead per batch)."""
    start = time.perf_counter()
    executor = make_executor(kind, workers, address=address)
    with executor:
        _score_all(executor, 0.0, warmup, len(warmup))  # forks, actors, imports
        start_s = time.perf_counter() - start
        return start_s, _score_all(executor, *throughput), _overheads(executor, *overhead)


def run_scaling(
    out: Path,
    workers: Sequence[int] = (1, 2, 8),
    executors: Sequence[str] = ("inprocess", "process", "ray"),
    delay: float = 0.02,
    molecules: int = 400,
    batch: int = 100,
    overhead_batches: int = 20,
    overhead_batch: int = 8,
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Measure throughput and per-batch overhead for each executor and worker count; write
    ``results.csv``, ``summary.md``, ``bench.yaml`` and ``versions.json`` into ``out``.

    Args:
        out: the benchmark folder (its files are replaced).
        workers: worker counts of the ``process`` and ``ray`` executors.
        executors: which executors (``inprocess`` runs once, with one worker).
        delay: seconds ``sleepy_qed`` waits per molecule in the throughput part.
        molecules: molecules scored in the throughput part.
        batch: molecules per oracle call in the throughput part (an optimizer's batch).
        overhead_batches: batches of the overhead part (delay 0).
        overhead_batch: molecules per batch of the overhead part.
        address: the Ray cluster (``None``: a local Ray instance per worker count).

    Returns:
        The rows of ``results.csv``.
    """
    smiles = _molecules(max(molecules, overhead_batches * overhead_batch))
    warmup, measured = smiles[:WARMUP], smiles[WARMUP:]
    throughput = (delay, measured[:molecules], batch)
    overhead = (measured[: overhead_batches * overhead_batch], overhead_batch)
    config = {
        "benchmark": "scaling (oracle throughput by executor and workers)",
        "objective": "sleepy_qed",
        "delay_s": delay,
        "molecules": molecules,
        "batch": batch,
        "overhead_batches": overhead_batches,
        "overhead_batch": overhead_batch,
        "workers": list(workers),
        "executors": list(executors),
        "address": address,
        "pool": zinc250k_source(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    rows: list[dict[str, Any]] = []
    with RunFolder(out) as folder:
        folder.record(config, config_name="bench.yaml", extra_versions=("ray",))
        for kind in executors:
            for n in [1] if kind == "inprocess" else workers:
                log.info("scaling: %s with %d worker(s)", kind, n)
                ray_address = address if kind == "ray" else None
                start_s, seconds, (over_s, extra_s) = _measure(
                    kind, n, ray_address, throughput, overhead, warmup
                )
                common = {"executor": kind, "workers": n, "start_s": round(start_s, 2)}
                for part, d, (items, b), s, extra in (
                    ("throughput", delay, throughput[1:], seconds, None),
                    ("overhead", 0.0, overhead, over_s, extra_s),
                ):
                    rows.append(
                        {
                            "part": part,
                            **common,
                            "delay_s": d,
                            "molecules": len(items),
                            "batch": b,
                            "seconds": round(s, 3),
                            "mol_per_s": round(len(items) / s, 2),
                            "ms_per_batch": round(1000 * s / -(-len(items) // b), 2),
                            "overhead_ms": "" if extra is None else round(1000 * extra, 2),
                        }
                    )
        _relative(rows)
        write_csv(out / "results.csv", RESULT_COLUMNS, rows)
        folder.write_summary(summary(rows, config))
    return rows


def _relative(rows: list[dict[str, Any]]) -> None:
    """Fill ``speedup``: throughput over in-process (blank without an in-process row)."""
    base = {r["part"]: r for r in rows if r["executor"] == "inprocess"}
    for r in rows:
        ref = base.get(r["part"])
        r["speedup"] = round(r["mol_per_s"] / ref["mol_per_s"], 2) if ref else ""


def summary(rows: Sequence[dict[str, Any]], config: dict[str, Any]) -> str:
    """``summary.md``: the throughput and overhead tables and the settings they were run with."""
    through = [r for r in rows if r["part"] == "throughput"]
    over = [r for r in rows if r["part"] == "overhead"]
    lines = [
        "# Oracle scoring: throughput by executor and workers",
        "",
        f"`sleepy_qed`, {config['delay_s']} s per molecule, {config['molecules']} ZINC250k "
        f"molecules in batches of {config['batch']}; {config['cpu_count']} cores, load "
        f"average {config['load_average_1min']} at the start.",
        "",
        markdown_table(
            ["executor", "workers", "molecules/s", "speedup", "seconds", "start (s)"],
            [
                [
                    r["executor"],
                    r["workers"],
                    r["mol_per_s"],
                    r["speedup"],
                    r["seconds"],
                    r["start_s"],
                ]
                for r in through
            ],
        ),  # fmt: skip
        "",
        f"## Overhead per batch (QED, no delay, {config['overhead_batches']} batches of "
        f"{config['overhead_batch']})",
        "",
        markdown_table(
            ["executor", "workers", "ms per batch", "overhead per batch (ms, median)"],
            [[r["executor"], r["workers"], r["ms_per_batch"], r["overhead_ms"]] for r in over],
        ),
        "",
        "Overhead: a batch's wall time minus the longest time one worker spent in the "
        "objective (shipping the chunks out, the results back, waiting for a free worker).",
    ]
    return "\n".join(lines) + "\n"
