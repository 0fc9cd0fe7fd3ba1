"""Genetic Expert-Guided Learning (GEGL).

Ahn, Kim, Lee, Shin, "Guiding Deep Molecular Optimization with Genetic Exploration", NeurIPS 2020
(https://arxiv.org/abs/2007.04897; code: sungsoo-ahn/genetic-expert-guided-learning, and the
PMO copy in wenhao-gao/mol_opt ``main/gegl``, MIT).

Each round:

1. the *apprentice* (a SMILES LSTM, initialised from the prior) samples molecules; they are
   scored and the apprentice's max-reward priority queue keeps the ``queue_size`` best;
2. the *genetic expert* draws parents uniformly from that queue and makes children by Graph GA
   crossover followed by mutation (:mod:`makeable.optimizers.graph_ga_ops`); they are scored and
   the expert's queue keeps its ``queue_size`` best;
3. the apprentice imitates the union of both queues: ``imitation_steps`` maximum-likelihood steps
   on batches drawn uniformly (with replacement) from it.

As in the original code, molecules are canonicalised before scoring and those the apprentice
cannot emit (longer than ``max_len`` tokens, or with tokens outside its vocabulary) are dropped
before scoring, so they cost no oracle call; invalid samples are dropped too.

Hyper-parameters of the paper (GuacaMol and penalized logP): 200 rounds, 8192 apprentice and
8192 expert samples per round, queues of 1024, mutation rate 0.01, Adam with learning rate 1e-3,
8 imitation steps of batch 256, SMILES of at most 100 tokens (81 for penalized logP, to compare
with earlier work that bounded the length), an LSTM of 3 × 1024 units pretrained on ChEMBL
(GuacaMol) or ZINC250k (logP). Those rounds make 3.3 million oracle calls.

Budget-aware defaults used here for PMO's 10,000 calls: 512 apprentice and 512 expert samples per
round (about a dozen rounds fit the budget) and queues of 64 — the paper keeps 1,024 of 16,384
samples per round (the top 6 %), and 64 of 1,024 is the same share; a 1,024 queue at this budget
keeps nearly everything sampled, so the expert's parents and the imitation targets are barely
selected (albuterol_similarity, seed 0: AUC top-10 0.534 with 1,024, 0.838 with 128, 0.857 with
64; osimertinib_mpo 0.779 / 0.811 / 0.838; docs/benchmarks/prior.md). Everything else as in the
paper, with the shared ZINC250k prior (3 × 256 LSTM, see ``resources/priors/zinc250k_lstm``).
Pass ``apprentice_samples=8192, expert_samples=8192, queue_size=1024, n_rounds=200`` for the
paper's setting.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rdkit import Chem

from makeable.chem.molecule import parse_smiles
from makeable.models.smiles_lm import DEFAULT_PRIOR
from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
)
from makeable.optimizers.graph_ga_ops import reproduce
from makeable.oracle.oracle import Oracle
from makeable.params import require_bool, require_int, require_probability, require_real

if TYPE_CHECKING:  # torch is imported when an optimizer runs, not when it is registered
    import torch

    from makeable.models.smiles_lm.lstm import SmilesLSTM

log = logging.getLogger(__name__)


def admissible(oracle: Oracle, model: SmilesLSTM, smiles: Sequence[str], max_len: int) -> list[str]:
    """Distinct canonical SMILES the apprentice can emit, in first-seen order (invalid dropped)."""
    from makeable.optimizers.lm_common import distinct_canonical, fits

    return [c for c in distinct_canonical(oracle, smiles) if fits(model, c, max_len)]


class PriorityQueue:
    """Max-reward priority queue: keeps the ``size`` best distinct molecules seen."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.scores: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.scores)

    def add(self, smiles: Sequence[str], scores: Sequence[float]) -> None:
        for s, v in zip(smiles, scores, strict=True):
            self.scores[s] = float(v)
        if len(self.scores) > self.size:
            best = heapq.nlargest(self.size, self.scores.items(), key=lambda kv: (kv[1], kv[0]))
            self.scores = dict(best)

    def ranked(self) -> list[tuple[str, float]]:
        """``(smiles, score)`` pairs, best first; equal scores in SMILES order."""
        return sorted(self.scores.items(), key=lambda kv: (-kv[1], kv[0]))


def cached_mol(cache: dict[str, Chem.Mol | None], smiles: str) -> Chem.Mol | None:
    """The parsed molecule of ``smiles`` (None if invalid), parsed once per cache."""
    if smiles not in cache:
        cache[smiles] = parse_smiles(smiles)
    return cache[smiles]


def score_into(
    oracle: Oracle, smiles: list[str], *queues: PriorityQueue
) -> list[tuple[str, float]]:
    """Score ``smiles``; the valid, scored ones enter every queue and are returned."""
    if not smiles:
        return []
    result = oracle.evaluate(smiles)
    kept = [
        (smiles[i], float(result.scores[i]))
        for i in range(len(smiles))
        if result.scored[i] and result.valid[i]
    ]
    for queue in queues:
        queue.add([s for s, _ in kept], [v for _, v in kept])
    return kept


@OPTIMIZERS.register("gegl")
class GEGL(Optimizer):
    """Genetic expert-guided learning: an LSTM apprentice imitating its and a GA's best finds.

    Args:
        prior: shipped prior name or model folder the apprentice starts from.
        apprentice_samples: molecules sampled by the apprentice per round (paper: 8192).
        expert_samples: children made by the genetic expert per round (paper: 8192).
        queue_size: molecules kept by each priority queue (paper: 1024; 64 here, see above).
        mutation_rate: probability of mutating a crossover child (paper: 0.01).
        lr: Adam learning rate of the imitation steps (paper: 1e-3).
        imitation_steps: imitation steps per round (paper: 8).
        imitation_batch_size: molecules per imitation step (paper: 256).
        max_len: most SMILES tokens (paper: 100; 81 for penalized logP).
        n_rounds: stop after this many rounds (paper: 200); 0 runs until the budget is spent.
        sampling_batch_size: sequences sampled together.
        threads: torch CPU threads (0 keeps torch's setting).
        init_pool: score the first ``init_pool`` molecules of the run's pool before the first
            round and put them into both queues, as the paper's similarity-constrained runs
            seed the queues with the start molecule (``init_smis`` in
            ``run_gegl_constrained.py``); 0 (default, PMO and unconstrained logP) starts from
            the apprentice's own samples.
        bf16: run the imitation steps under bfloat16 autocast
            (:func:`makeable.optimizers.lm_common.autocast`; faster on CPUs with AVX512-BF16).
    """

    name = "gegl"

    def __init__(
        self,
        prior: str = DEFAULT_PRIOR,
        apprentice_samples: int = 512,
        expert_samples: int = 512,
        queue_size: int = 64,
        mutation_rate: float = 0.01,
        lr: float = 1e-3,
        imitation_steps: int = 8,
        imitation_batch_size: int = 256,
        max_len: int = 100,
        n_rounds: int = 0,
        sampling_batch_size: int = 512,
        threads: int = 1,
        init_pool: int = 0,
        bf16: bool = False,
    ) -> None:
        for key, value, least in (
            ("apprentice_samples", apprentice_samples, 1),
            ("expert_samples", expert_samples, 0),
            ("queue_size", queue_size, 1),
            ("imitation_steps", imitation_steps, 1),
            ("imitation_batch_size", imitation_batch_size, 1),
            ("max_len", max_len, 1),
            ("n_rounds", n_rounds, 0),
            ("sampling_batch_size", sampling_batch_size, 1),
            ("threads", threads, 0),
            ("init_pool", init_pool, 0),
        ):
            require_int(key, value, least)
        require_probability("mutation_rate", mutation_rate)
        require_real("lr", lr, above=0.0)
        self.prior = prior
        self.apprentice_samples = apprentice_samples
        self.expert_samples = expert_samples
        self.queue_size = queue_size
        self.mutation_rate = mutation_rate
        self.lr = lr
        self.imitation_steps = imitation_steps
        self.imitation_batch_size = imitation_batch_size
        self.max_len = max_len
        self.n_rounds = n_rounds
        self.sampling_batch_size = sampling_batch_size
        self.threads = threads
        self.init_pool = init_pool
        self.bf16 = require_bool("bf16", bf16)

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        import torch

        from makeable.optimizers.checkpoint import restore_state, save_if_due
        from makeable.optimizers.lm_common import log_round, resolve_prior, torch_session

        with torch_session(ctx.seed, self.threads) as generator:
            with ctx.proposing():
                model = resolve_prior(self.prior)
                optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
            apprentice_q = PriorityQueue(self.queue_size)
            expert_q = PriorityQueue(self.queue_size)
            mols: dict[str, Chem.Mol | None] = {}
            guard, round_ = StallGuard(), 0
            modules, optimizers = {"model": model}, {"adam": optimizer}
            restored = restore_state(ctx, oracle, generator, modules, optimizers)
            if restored is not None:
                state = restored[1]
                apprentice_q.scores = dict(state["apprentice_queue"])
                expert_q.scores = dict(state["expert_queue"])
                round_ = state["round"]
                vars(guard).update(state["guard"])
            elif self.init_pool:
                with ctx.proposing():
                    seeds = admissible(oracle, model, ctx.pool[: self.init_pool], self.max_len)
                score_into(oracle, seeds, apprentice_q, expert_q)
            while not oracle.finished and (self.n_rounds <= 0 or round_ < self.n_rounds):
                round_ += 1
                start_calls = oracle.n_calls
                with ctx.proposing():
                    samples = model.sample(
                        self.apprentice_samples, self.max_len, generator, self.sampling_batch_size
                    )
                    candidates = admissible(oracle, model, samples, self.max_len)
                score_into(oracle, candidates, apprentice_q)
                apprentice_calls = oracle.n_calls - start_calls
                loss = float("nan")
                if not oracle.finished and len(apprentice_q) > 0:
                    with ctx.proposing():
                        parents = [cached_mol(mols, s) for s in apprentice_q.scores]
                        parents = [m for m in parents if m is not None]
                        children = [
                            reproduce(parents, self.mutation_rate, ctx.rng)
                            for _ in range(self.expert_samples if parents else 0)
                        ]
                        smiles = [Chem.MolToSmiles(c) for c in children if c is not None]
                        candidates = admissible(oracle, model, smiles, self.max_len)
                    score_into(oracle, candidates, expert_q)
                    if not oracle.finished:
                        with ctx.proposing():
                            loss = self._imitate(model, optimizer, apprentice_q, expert_q, ctx)
                both = {**apprentice_q.scores, **expert_q.scores}
                log_round(
                    ctx,
                    round_,
                    both,
                    apprentice_calls=apprentice_calls,
                    expert_calls=oracle.n_calls - start_calls - apprentice_calls,
                    imitation_loss=loss,
                )
                if guard.stalled(oracle):
                    return
                state = {
                    "apprentice_queue": list(apprentice_q.scores.items()),
                    "expert_queue": list(expert_q.scores.items()),
                    "round": round_,
                    "guard": vars(guard),
                }
                save_if_due(ctx, oracle, generator, modules, optimizers, state)

    def _imitate(
        self,
        model: SmilesLSTM,
        optimizer: torch.optim.Optimizer,
        apprentice_q: PriorityQueue,
        expert_q: PriorityQueue,
        ctx: DesignContext,
    ) -> float:
        """Imitation learning on the union of both queues; returns the mean loss."""
        from makeable.optimizers.lm_common import imitation_step

        union = list({**apprentice_q.scores, **expert_q.scores})
        if not union:
            return float("nan")
        model.train()
        losses = [
            imitation_step(
                model,
                optimizer,
                ctx.rng.choices(union, k=self.imitation_batch_size),
                bf16=self.bf16,
            )
            for _ in range(self.imitation_steps)
        ]
        return sum(losses) / len(losses)
