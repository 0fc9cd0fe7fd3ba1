"""The budgeted oracle: every optimizer scores molecules through it.

Counting follows the PMO benchmark (Gao et al. 2022, wenhao-gao/mol_opt): a *call* is the first
evaluation of a unique canonical molecule. Repeats return the cached score and cost nothing;
invalid or empty SMILES score 0, are flagged invalid and cost nothing; the budget is never
exceeded (molecules beyond it are returned unscored with score 0). An optional ``accept``
predicate (e.g. structural-alert filters, :func:`makeable.chem.filters.passes`) turns molecules
away as if they were invalid: score 0, flagged invalid, free and never recorded.

Resume by replay: when the run store already holds calls (an interrupted run), the oracle
serves them back in order, without re-scoring or re-counting, to an optimizer restarted with the
same seed. A deterministic optimizer thus retraces its steps exactly and continues where it was
stopped. If the optimizer proposes something else than the record (a non-deterministic one), the
oracle absorbs the rest of the record as already counted and goes on: nothing lost, nothing
counted twice.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from makeable.objectives.base import Objective, Scores
from makeable.oracle.executor import Executor, InProcessExecutor, chunk
from makeable.oracle.store import CallRecord, RunStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OracleResult:
    """What the oracle returns for a batch, in input order.

    Attributes:
        scores: float64, shape ``(n,)``; 0.0 for invalid or unscored (over-budget) molecules.
        valid: bool, shape ``(n,)``; the SMILES parsed and the objective evaluated it.
        scored: bool, shape ``(n,)``; a score is known (counted now, cached, or invalid).
            False only for molecules turned away because the budget was spent.
        smiles: the canonical SMILES (``None`` for invalid input).
    """

    scores: np.ndarray
    valid: np.ndarray
    scored: np.ndarray
    smiles: list[str | None]


def _score_chunk(args: tuple[Objective, list[str]]) -> tuple[Scores, float]:
    objective, smiles = args
    start = time.perf_counter()
    scores = objective(smiles)
    return scores, time.perf_counter() - start


class Oracle:
    """Wraps an objective with an exact call budget, a cache, a run store and an executor.

    Args:
        objective: what to score.
        budget: the maximum number of counted calls (unique valid molecules).
        store: where counted calls are recorded (``None``: memory only).
        executor: how batches are scored (default: in-process).
        on_calls: called with the number of new counted calls after each batch (progress bars).
        accept: ``f(canonical_smiles) -> bool``; a molecule it rejects is treated exactly as an
            invalid SMILES (default: accept every valid one). It must give the same answer
            every time, so that a resumed run replays the same calls.
    """

    def __init__(
        self,
        objective: Objective,
        budget: int,
        store: RunStore | None = None,
        executor: Executor | None = None,
        on_calls: Callable[[Oracle, int], None] | None = None,
        accept: Callable[[str], bool] | None = None,
    ) -> None:
        if budget < 1:
            raise ValueError(f"budget must be a positive number of calls, not {budget}")
        self.objective = objective
        self.budget = int(budget)
        self.store = store
        self.executor = executor or InProcessExecutor()
        self.on_calls = on_calls
        self.accept = accept
        self._cache: dict[str, tuple[float, bool]] = {}
        self._order: list[str] = []  # canonical SMILES by call index (0-based here)
        self._canon: dict[str, str | None] = {}
        self._replay: list[CallRecord] = store.calls() if store is not None else []
        self.oracle_s = 0.0  # seconds spent inside the objective (this process's runs only)
        self.replayed = 0
        self._top: list[float] = []  # min-heap of the best scores (for progress displays)
        self._checked = False  # whether the first batch scored here was looked at
        if self._replay and store is not None and not store.finished(self.budget):
            log.info("resuming: %d recorded calls will be replayed", len(self._replay))

    # -- state ---------------------------------------------------------------------------
    @property
    def n_calls(self) -> int:
        """Counted calls so far (including replayed ones)."""
        return len(self._order)

    @property
    def remaining(self) -> int:
        return self.budget - self.n_calls

    @property
    def finished(self) -> bool:
        return self.n_calls >= self.budget

    @property
    def replaying(self) -> bool:
        return self.n_calls < len(self._replay)

    @property
    def recorded(self) -> int:
        """Calls in the record of the interrupted run being resumed (0 for a new run)."""
        return len(self._replay)

    def fast_forward(self, n: int) -> None:
        """Count the first ``n`` recorded calls as done, without the optimizer proposing them
        (it restored its state as it was after them: :mod:`makeable.optimizers.checkpoint`).

        Raises:
            ValueError: calls were counted already, or the record has fewer than ``n``.
        """
        if self.n_calls or not 0 <= n <= len(self._replay):
            raise ValueError(f"cannot fast-forward {n} calls ({len(self._replay)} recorded)")
        for record in self._replay[:n]:
            self._count(record.smiles, record.score, record.valid)
        self.replayed += n
        if n and self.on_calls is not None:
            self.on_calls(self, n)

    def __len__(self) -> int:
        return self.n_calls

    def history(self) -> tuple[list[str], np.ndarray]:
        """Canonical SMILES and scores of all counted calls, in call order."""
        return list(self._order), np.array([self._cache[s][0] for s in self._order])

    def best(self, k: int = 1) -> list[tuple[str, float]]:
        """The ``k`` best distinct molecules so far, best first."""
        return heapq.nlargest(k, ((s, self._cache[s][0]) for s in self._order), key=lambda t: t[1])

    def best_score(self) -> float:
        return max(self._top) if self._top else float("nan")

    def top_mean(self, k: int) -> float:
        return float(np.mean(heapq.nlargest(k, self._top))) if self._top else float("nan")

    # -- scoring -------------------------------------------------------------------------
    def canonical(self, smiles: str) -> str | None:
        """The molecule's identity, or ``None`` if it is invalid or ``accept`` rejects it."""
        try:
            return self._canon[smiles]
        except KeyError:
            canon = self.objective.canonical(smiles)
            if canon is not None and self.accept is not None and not self.accept(canon):
                canon = None
            self._canon[smiles] = canon
            return canon

    def __call__(self, smiles: Sequence[str]) -> np.ndarray:
        """Score a batch; returns scores in input order (see :meth:`evaluate` for flags)."""
        return self.evaluate(smiles).scores

    def evaluate(self, smiles: Sequence[str]) -> OracleResult:
        """Score a batch, counting each new unique valid molecule once, within the budget."""
        canon = [self.canonical(s) for s in smiles]
        new: list[str] = []
        seen: set[str] = set()
        for c in canon:
            if c is not None and c not in self._cache and c not in seen:
                seen.add(c)
                new.append(c)
        new = new[: self.remaining]
        new = self._take_replayed(new)
        if new:
            self._score_new(new)
        n = len(canon)
        scores = np.zeros(n)
        valid = np.zeros(n, dtype=bool)
        scored = np.zeros(n, dtype=bool)
        for i, c in enumerate(canon):
            if c is None:
                scored[i] = True
            elif c in self._cache:
                scores[i], valid[i] = self._cache[c]
                scored[i] = True
        return OracleResult(scores, valid, scored, canon)

    def _count(self, smiles: str, score: float, valid: bool) -> None:
        self._cache[smiles] = (score, valid)
        self._order.append(smiles)
        if len(self._top) < 100:
            heapq.heappush(self._top, score)
        elif score > self._top[0]:
            heapq.heapreplace(self._top, score)

    def _take_replayed(self, new: list[str]) -> list[str]:
        """Serve molecules from the record of an interrupted run; return those left to score."""
        before = self.n_calls
        rest = new
        while rest and self.replaying:
            record = self._replay[self.n_calls]
            if record.smiles != rest[0]:
                self._absorb_record()
                return [s for s in rest if s not in self._cache][: self.remaining]
            self._count(record.smiles, record.score, record.valid)
            rest = rest[1:]
        self.replayed += self.n_calls - before
        if self.n_calls > before and self.on_calls is not None:
            self.on_calls(self, self.n_calls - before)
        return rest

    def _absorb_record(self) -> None:
        """The optimizer left the recorded path: count the rest of the record as it stands."""
        log.warning(
            "resume diverged from the record after %d calls; keeping the %d recorded calls",
            self.n_calls,
            len(self._replay),
        )
        for record in self._replay[self.n_calls :]:
            self._count(record.smiles, record.score, record.valid)
        self._replay = self._replay[: self.n_calls]

    def _score_new(self, new: list[str]) -> None:
        start = time.perf_counter()
        chunks = chunk(new, self.executor.n_workers)
        results = self.executor.map(_score_chunk, [(self.objective, c) for c in chunks])
        self.oracle_s += time.perf_counter() - start
        records = []
        for smiles_chunk, (scores, seconds) in zip(chunks, results, strict=True):
            per_mol = seconds / len(smiles_chunk)
            for s, v, ok in zip(smiles_chunk, scores.values, scores.valid, strict=True):
                self._count(s, float(v), bool(ok))
                records.append(CallRecord(self.n_calls, s, float(v), bool(ok), per_mol))
        if self.store is not None:
            self.store.add_calls(records)
        if not self._checked:
            self._checked = True
            if not any(r.valid for r in records):
                error = next((s.error for s, _ in results if s.error), None)
                log.warning(
                    "objective %s failed on every molecule of the first batch (%d): each "
                    "scores 0 and still costs a call; %s. Check the objective (Ctrl-C stops "
                    "the run; nothing counted is lost)",
                    self.objective.name,
                    len(records),
                    f"the first failure: {error}" if error else "no reason was given",
                )
        if self.on_calls is not None:
            self.on_calls(self, len(new))

    def summary(self) -> dict[str, Any]:
        return {
            "n_calls": self.n_calls,
            "budget": self.budget,
            "replayed": self.replayed,
            "best": self.best_score(),
        }
