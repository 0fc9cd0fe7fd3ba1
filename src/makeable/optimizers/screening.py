"""Random screening: score molecules of the pool in a random order (the PMO floor)."""

from __future__ import annotations

from makeable.optimizers.base import OPTIMIZERS, DesignContext, Optimizer
from makeable.oracle.oracle import Oracle
from makeable.params import require_int


@OPTIMIZERS.register("screening")
class Screening(Optimizer):
    """Screen the initial pool (ZINC250k) in a seeded random order, ``batch_size`` at a time.

    As in PMO's ``screening`` baseline: the pool is shuffled and scored until the budget is spent.

    Args:
        batch_size: molecules sent to the oracle at once.
    """

    name = "screening"

    def __init__(self, batch_size: int = 100) -> None:
        require_int("batch_size", batch_size, 1)
        self.batch_size = batch_size

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        order = ctx.np_rng.permutation(len(ctx.pool))
        for start in range(0, len(order), self.batch_size):
            if oracle.finished:
                return
            oracle([ctx.pool[i] for i in order[start : start + self.batch_size]])
