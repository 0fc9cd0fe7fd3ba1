"""Graph GA (Jensen 2019) as run by the PMO benchmark.

Jensen, "A graph-based genetic algorithm and generative model/Monte Carlo tree search for the
exploration of chemical space", Chem. Sci. 2019 (https://doi.org/10.1039/C8SC05372C); loop and
PMO-tuned hyper-parameters from Gao et al., "Sample Efficiency Matters", NeurIPS 2022
(wenhao-gao/mol_opt ``main/graph_ga``, MIT): population 120, offspring 70, mutation rate 0.067,
mating pool of population size, initial population drawn with replacement from ZINC250k,
early stop after 5 generations in which the mean of the 100 best scores so far improved by less
than 1e-3 (checked once more than 100 calls were made).

Each child gets its own seed from the run's generator and is made from it alone
(:func:`~makeable.optimizers.graph_ga_ops.reproduce_seeded`), so with ``jobs > 1`` the children
of a generation are made in a pool of worker processes and the run is the same call for call as
with one job.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem

from makeable.chem.molecule import parse_smiles
from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
    TopMeanPatience,
)
from makeable.optimizers.graph_ga_ops import make_mating_pool, reproduce_seeded
from makeable.oracle.executor import Executor, InProcessExecutor, chunk, make_executor
from makeable.oracle.oracle import Oracle
from makeable.params import require_int, require_probability


def dedupe_mols(mols: Sequence[Chem.Mol | None]) -> tuple[list[Chem.Mol], list[str]]:
    """Drop ``None`` and repeated molecules (by SMILES), keeping first occurrences.

    Returns the molecules and their SMILES.
    """
    seen: dict[str, Chem.Mol] = {}
    for mol in mols:
        if mol is not None:
            seen.setdefault(Chem.MolToSmiles(mol), mol)
    return list(seen.values()), list(seen)


@OPTIMIZERS.register("graph_ga")
class GraphGA(Optimizer):
    """Graph-based genetic algorithm with crossover and mutation on molecular graphs.

    Args:
        population_size: molecules kept each generation (PMO-tuned: 120).
        offspring_size: children made per generation (PMO-tuned: 70).
        mutation_rate: probability that a child is mutated (PMO-tuned: 0.067).
        patience: generations without improvement of the top-100 mean before stopping (5);
            0 disables early stopping.
        jobs: processes making the children (1: in this process); the result does not depend
            on it.
    """

    name = "graph_ga"

    def __init__(
        self,
        population_size: int = 120,
        offspring_size: int = 70,
        mutation_rate: float = 0.067,
        patience: int = 5,
        jobs: int = 1,
    ) -> None:
        require_int("population_size", population_size, 1)
        require_int("offspring_size", offspring_size, 1)
        require_probability("mutation_rate", mutation_rate)
        require_int("patience", patience, 0)
        require_int("jobs", jobs, 1)
        self.jobs = jobs
        self.population_size = population_size
        self.offspring_size = offspring_size
        self.mutation_rate = mutation_rate
        self.patience = patience

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        executor = make_executor("process", self.jobs) if self.jobs > 1 else InProcessExecutor()
        with executor:
            self._run(oracle, ctx, executor)

    def _children(
        self, pool: list[Chem.Mol], ctx: DesignContext, executor: Executor
    ) -> list[Chem.Mol | None]:
        seeds = [ctx.rng.getrandbits(64) for _ in range(self.offspring_size)]
        parts = executor.map(
            _reproduce_part, [(pool, self.mutation_rate, part) for part in chunk(seeds, self.jobs)]
        )
        return [child for part in parts for child in part]

    def _run(self, oracle: Oracle, ctx: DesignContext, executor: Executor) -> None:
        picks = ctx.np_rng.integers(0, len(ctx.pool), size=self.population_size)
        population = [parse_smiles(ctx.pool[i]) for i in picks]
        population = [m for m in population if m is not None]
        scores = list(oracle([Chem.MolToSmiles(m) for m in population]))
        guard, generation = StallGuard(), 0
        early = TopMeanPatience(self.patience, min_calls=100, tolerance=1e-3)
        early.start(oracle)
        while not oracle.finished:
            with ctx.proposing():
                pool = make_mating_pool(population, scores, self.population_size, ctx.rng)
                children = self._children(pool, ctx, executor)
            population, smiles = dedupe_mols([*population, *children])
            scores = list(oracle(smiles))
            order = sorted(range(len(population)), key=lambda i: scores[i], reverse=True)
            order = order[: self.population_size]
            population = [population[i] for i in order]
            scores = [scores[i] for i in order]
            generation += 1
            ctx.log_event(
                "generation",
                {"generation": generation, "best": scores[0], "mean": float(np.mean(scores))},
            )
            if early.stalled(oracle) or guard.stalled(oracle):
                return


def _reproduce_part(
    job: tuple[list[Chem.Mol], float, list[int]],
) -> list[Chem.Mol | None]:
    """A worker's share of a generation: the children of its seeds."""
    pool, rate, seeds = job
    return reproduce_seeded(pool, rate, seeds)
