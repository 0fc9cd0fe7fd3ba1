"""The ``Optimizer`` interface and its registry.

An optimizer proposes molecules and scores them through an :class:`~makeable.oracle.Oracle`
until the oracle's budget is spent (or it decides to stop). The public :meth:`Optimizer.optimize`
does the cross-cutting work (seeding, the initial pool, the stall guard); an implementer overrides
one hook, :meth:`Optimizer._optimize`.

Determinism contract: all randomness comes from ``ctx.rng`` / ``ctx.np_rng`` (seeded from the
run's seed), so that a run re-started with the same seed retraces its calls exactly — this is
how interrupted runs resume (see :mod:`makeable.oracle.oracle`).
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from makeable.optimizers.checkpoint import Checkpoints
from makeable.oracle.oracle import Oracle
from makeable.registry import Registry

log = logging.getLogger(__name__)


@dataclass
class DesignContext:
    """What an optimizer receives besides the oracle.

    Attributes:
        seed: the run's seed.
        pool: SMILES to start from (ZINC250k in the PMO setting).
        rng: Python RNG seeded from ``seed``.
        np_rng: NumPy generator seeded from ``seed``.
        log_event: record a per-round event in the run store (``kind``, JSON-able payload).
        propose_s: seconds spent inside :meth:`proposing` blocks (the algorithm's own work, as
            opposed to oracle time and the framework's bookkeeping).
        checkpoints: where an optimizer that supports it saves its state now and then, so that
            a resumed run restarts from there (:mod:`makeable.optimizers.checkpoint`; disabled
            by default).
    """

    seed: int
    pool: Sequence[str]
    rng: random.Random = field(init=False)
    np_rng: np.random.Generator = field(init=False)
    log_event: Callable[[str, dict[str, Any]], None] = lambda kind, payload: None
    checkpoints: Checkpoints = field(default_factory=Checkpoints)

    propose_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.np_rng = np.random.default_rng(self.seed)

    @contextmanager
    def proposing(self) -> Iterator[None]:
        """Time the optimizer's own work (making proposals, training models) in ``propose_s``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.propose_s += time.perf_counter() - start


class Optimizer(ABC):
    """Proposes molecules to maximise an oracle under its call budget."""

    name: str = "optimizer"

    def optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        """Run until the budget is spent or the optimizer stops by itself."""
        if not ctx.pool:
            raise ValueError("the initial molecule pool is empty")
        self._optimize(oracle, ctx)
        log.info("%s stopped after %d calls", self.name, oracle.n_calls)

    @abstractmethod
    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        """The algorithm: call ``oracle`` on batches of SMILES; stop when ``oracle.finished``."""

    def constructed_route(self, smiles: str) -> dict[str, Any] | None:
        """The route by which the optimizer built ``smiles`` (a PaRoutes / AiZynthFinder JSON
        route dictionary), for optimizers that build molecules by synthesis; ``None`` for the
        others and for molecules it did not build. ``smiles`` is canonical, as in ``run.db``;
        ask after :meth:`optimize` has returned."""
        return None

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, as recorded in the run's config."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


class StallGuard:
    """Stops a loop that keeps proposing only molecules already scored.

    Args:
        max_stalled_rounds: rounds in a row without a new counted call before giving up.
    """

    def __init__(self, max_stalled_rounds: int = 50) -> None:
        self.max_stalled_rounds = max_stalled_rounds
        self._last = -1
        self._stalled = 0

    def stalled(self, oracle: Oracle) -> bool:
        if oracle.n_calls == self._last:
            self._stalled += 1
        else:
            self._stalled, self._last = 0, oracle.n_calls
        if self._stalled >= self.max_stalled_rounds:
            log.warning("no new molecules for %d rounds: stopping", self._stalled)
            return True
        return False


class TopMeanPatience:
    """mol_opt's early stop: a run ends once the mean of the 100 best scores so far has gained
    less than ``tolerance`` in each of ``patience`` rounds in a row, counting only rounds that
    end with more than ``min_calls`` calls (before that, a round is compared with 0).

    Graph GA (PMO: ``patience=5, min_calls=100, tolerance=1e-3``) and REINVENT (mol_opt's
    ``patience`` after 1,000 calls, any gain resets it: ``tolerance`` tiny) share it. Call
    :meth:`start` after the first scored batch and :meth:`stalled` once at the end of every
    round; ``patience=0`` never stops.
    """

    def __init__(self, patience: int, min_calls: int, tolerance: float) -> None:
        self.patience, self.min_calls, self.tolerance = patience, min_calls, tolerance
        self._last = 0.0
        self._rounds = 0

    def start(self, oracle: Oracle) -> None:
        """Take the current top-100 mean as the first comparison point (no round counted)."""
        self._last = oracle.top_mean(100) if oracle.n_calls > self.min_calls else 0.0

    def stalled(self, oracle: Oracle) -> bool:
        if not self.patience or oracle.n_calls <= self.min_calls:
            self._last = 0.0
            return False
        now = oracle.top_mean(100)
        gained = now - self._last >= self.tolerance
        self._rounds = 0 if gained else self._rounds + 1
        self._last = now
        if self._rounds >= self.patience:
            log.info("top-100 mean unchanged for %d rounds: stopping", self._rounds)
            return True
        return False


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer", group="makeable.optimizers")
