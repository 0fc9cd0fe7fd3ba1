"""The sequence active-learning loop (GFN-AL, Jain et al. 2022; δ-CS, Kim et al. 2025).

Each of ``rounds`` rounds: train the proxy ensemble on all data so far (offline starting set +
every queried sequence), let the optimizer propose ``batch`` new sequences against it, score
them with the real task through the shared :class:`~makeable.oracle.Oracle`, and record the
round. The oracle's budget is ``rounds × batch``: the offline starting set is given data, not
oracle calls (as in δ-CS, whose starting sets come with their scores), so only proposed
sequences are counted — each distinct sequence once, repeats free.

Run folder: ``run.db`` (calls, meta, and one ``events`` row of kind ``round`` per round, with
round, max, median_top128, diversity, novelty, ...), ``config.yaml``, ``versions.json``,
``results.csv`` (one row per round, round 0 = the starting set), ``top.csv`` and ``report.html``.
Re-running the same config on the same folder resumes an interrupted run: the loop restarts
with the same seeds and the oracle replays the recorded calls (a finished run is not redone).

Metrics follow δ-CS's evaluation (``proximal-exploration/utils/eval_utils.py``) over all data
(starting set included): max score, median of the top 128, diversity = mean pairwise Hamming
distance within the top 128, novelty = mean Hamming distance from each top-128 sequence to
the nearest starting sequence.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from makeable.models.toolkit import torch_settings
from makeable.oracle.oracle import Oracle
from makeable.oracle.store import RunStore
from makeable.results_csv import write_csv
from makeable.run_folder import ConfigError, RunFolder
from makeable.sequences.config import SequenceDesignConfig
from makeable.sequences.optimizers import SEQ_OPTIMIZERS, RoundContext, get_seq_optimizer
from makeable.sequences.proxy import ProxyConfig, ProxyEnsemble
from makeable.sequences.report import write_sequence_report
from makeable.sequences.tasks import TASKS, SequenceTask, get_task

log = logging.getLogger(__name__)

ROUND_COLUMNS = ("round", "max", "median_top128", "mean_top128", "diversity", "novelty", "n_calls")
TOP_K = 128


@dataclass(frozen=True)
class SequenceDesignResult:
    out_dir: Path
    rounds: list[dict[str, Any]]
    top: list[tuple[str, float]]


# -- metrics ----------------------------------------------------------------------------------
def hamming_to_nearest(codes: np.ndarray, reference: np.ndarray, chunk: int = 8) -> np.ndarray:
    """For each row of ``codes``, the Hamming distance to the nearest row of ``reference``."""
    out = np.empty(len(codes), dtype=np.int64)
    for start in range(0, len(codes), chunk):
        block = codes[start : start + chunk]
        out[start : start + chunk] = (block[:, None, :] != reference[None]).sum(-1).min(axis=1)
    return out


def round_metrics(
    codes: np.ndarray, scores: np.ndarray, initial: np.ndarray, k: int = TOP_K
) -> dict[str, float]:
    """δ-CS's metrics over all data: max, top-``k`` median/mean, diversity, novelty."""
    top = np.argsort(-scores, kind="stable")[:k]
    top_codes = codes[top]
    pair = (top_codes[:, None, :] != top_codes[None]).sum(-1)
    n = len(top)
    diversity = float(pair.sum() / (n * (n - 1))) if n > 1 else 0.0
    return {
        "max": float(scores.max()),
        "median_top128": float(np.median(scores[top])),
        "mean_top128": float(scores[top].mean()),
        "diversity": diversity,
        "novelty": float(hamming_to_nearest(top_codes, initial).mean()),
    }


# -- the loop ---------------------------------------------------------------------------------
def run_sequence_design(
    config: SequenceDesignConfig, out_dir: str | Path, progress: bool = False
) -> SequenceDesignResult:
    """Run (or resume) a sequence design job and write its run folder.

    Args:
        config: the run's configuration.
        out_dir: the run folder (created; an existing one with the same config is resumed).
        progress: log one line per round at INFO level (the CLI shows them).
    """
    out = Path(out_dir)
    task = get_task(config.task, **config.task_params)
    optimizer = get_seq_optimizer(config.optimizer, **config.optimizer_params)
    config = dataclasses.replace(  # recorded as registered: delta-cs → delta_cs
        config,
        task=TASKS.canonical(config.task),
        optimizer=SEQ_OPTIMIZERS.canonical(config.optimizer),
    )
    initial_seqs, initial_scores = task.initial_data()
    check_space(config, task, initial_seqs)
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore(out / "run.db", exclusive=True)
    try:
        config.check_resume(store)
        store.set_meta("config", config.to_dict())
        store.set_meta("task", task.describe())
        store.pin_params(optimizer.params())
        RunFolder(out, lock=False).record(config.to_dict(), extra_versions=("viennarna",))
        oracle = Oracle(task, config.budget, store)
        start = time.perf_counter()
        resumed_from = store.n_calls()
        if not store.finished(config.budget):
            store.clear_events_after(-1)  # a resumed run re-records its rounds while replaying
            _loop(config, task, optimizer, oracle, store, initial_seqs, initial_scores, progress)
            sessions = store.get_meta("sessions") or []
            sessions.append(
                {
                    "resumed_from": resumed_from,
                    "n_calls": oracle.n_calls,
                    "wall_s": time.perf_counter() - start,
                    "oracle_s": oracle.oracle_s,
                }
            )
            store.set_meta("sessions", sessions)
            store.mark_finished(config.budget)
        rounds = [payload for _, _, payload in store.events("round")]
        calls = store.calls()
    finally:
        store.close()
    write_csv(out / "results.csv", ROUND_COLUMNS, rounds)
    top = sorted(((c.smiles, c.score) for c in calls), key=lambda t: -t[1])[:TOP_K]
    with open(out / "top.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sequence", "score"])
        writer.writerows(top)
    write_sequence_report(out, config, task, rounds, top)
    return SequenceDesignResult(out, rounds, top)


def check_space(config: SequenceDesignConfig, task: SequenceTask, initial: list[str]) -> None:
    """Refuse a run that asks for more new sequences than the task has.

    Every oracle call scores a sequence neither in the starting set nor scored before, so
    ``rounds x batch`` calls need that many sequences outside the starting set; asking for
    more would leave the optimizer searching for sequences that do not exist.

    Raises:
        ConfigError: ``rounds x batch`` exceeds the sequences outside the starting set.
    """
    space = len(task.alphabet) ** task.length
    fresh = space - len(set(initial))
    if config.budget > fresh:
        raise ConfigError(
            f"{config.rounds} rounds x batch {config.batch} = {config.budget:,} new sequences, "
            f"but {task.name} has only {fresh:,} outside its starting set ({len(task.alphabet)}"
            f"^{task.length} = {space:,} in all): lower --batch or --rounds"
        )


def _loop(
    config: SequenceDesignConfig,
    task: SequenceTask,
    optimizer: Any,
    oracle: Oracle,
    store: RunStore,
    initial_seqs: list[str],
    initial_scores: np.ndarray,
    progress: bool,
) -> None:
    with torch_settings(config.n_threads):
        seqs = list(initial_seqs)
        scores = np.asarray(initial_scores, dtype=np.float64)
        initial_codes = task.encode(seqs)
        payload: dict[str, Any] = {
            "round": 0,
            **round_metrics(initial_codes, scores, initial_codes),
            "n_calls": 0,
        }
        store.add_event(0, "round", payload)
        for r in range(1, config.rounds + 1):
            t0 = time.perf_counter()
            rng = np.random.default_rng([config.seed, r])
            proxy = None
            if optimizer.uses_proxy:
                proxy = ProxyEnsemble(len(task.alphabet), ProxyConfig(**config.proxy_params))
                proxy.fit(task.encode(seqs), scores, rng)
            ctx = RoundContext(task, r, config.rounds, config.batch, seqs, scores, proxy, rng)
            batch = optimizer.propose(ctx)
            result = oracle.evaluate(batch)
            keep = [i for i, s in enumerate(result.smiles) if s is not None and result.scored[i]]
            seqs = seqs + [batch[i] for i in keep]
            scores = np.concatenate([scores, result.scores[keep]])
            codes = task.encode(seqs)
            payload = {"round": r, **round_metrics(codes, scores, initial_codes)}
            payload.update(
                {
                    "n_calls": oracle.n_calls,
                    "batch_max": float(result.scores[keep].max()) if keep else float("nan"),
                    "batch_mean": float(result.scores[keep].mean()) if keep else float("nan"),
                    "round_s": time.perf_counter() - t0,
                    **ctx.info,
                }
            )
            store.add_event(oracle.n_calls, "round", payload)
            if progress:
                log.info(
                    "round %d/%d: max %.4f, median top-128 %.4f, %d calls (%.1f s)",
                    r,
                    config.rounds,
                    payload["max"],
                    payload["median_top128"],
                    oracle.n_calls,
                    payload["round_s"],
                )
            if oracle.finished:
                break
