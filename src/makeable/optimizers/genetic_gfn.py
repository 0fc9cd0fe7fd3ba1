"""Genetic GFN: a SMILES language model trained as a GFlowNet on its own and a GA's best finds.

Kim, Kim, Choi, Park, Kim, Ahn, "Genetic-guided GFlowNets for Sample Efficient Molecular
Optimization", NeurIPS 2024 (https://arxiv.org/abs/2402.05961; code hyeonahkimm/genetic_gfn,
``main/genetic_gfn``). GEGL's loop (a language-model policy and a genetic expert feeding one
another) with three changes: the policy is trained with the trajectory-balance loss of a GFlowNet
towards ``R(x) = exp(beta * score(x))`` instead of by imitation; training molecules and GA parents
are drawn rank-based; and a KL term keeps the policy near the prior.

Each step:

1. the policy samples ``batch_size`` molecules; they are scored and enter a replay memory of the
   ``memory_size`` best;
2. once more than ``population_size`` molecules are scored, the genetic expert runs
   ``ga_generations`` generations: each draws ``population_size`` parents from the mating pool
   with rank-based weights ``1 / (rank_coefficient * N + rank)`` (rank 0 = best), makes
   ``offspring_size`` children by Graph GA crossover and mutation, scores them (they enter the
   memory) and makes parents + children the next generation's mating pool; the first mating
   pool is the memory, i.e. the ``memory_size`` best molecules scored so far in the run (every
   scored molecule, the policy's and the GA's, enters it);
3. ``replay_steps`` times, ``replay_batch_size`` molecules are drawn from the memory (rank-based,
   with replacement) and the policy takes an Adam step on the trajectory-balance loss
   ``mean((log Z + log p(x) - beta * score(x))^2)`` plus
   ``kl_coefficient * mean(log p(x) - log p_prior(x))`` (``log Z`` has its own learning rate).

Hyper-parameters (the defaults) are those of the authors' PMO setting
(``hparams_default.yaml``): batch 64, learning rate 5e-4, ``log Z`` initialised to 5 with
learning rate 0.1, beta 50, memory 1,024, 8 replay steps of 64, population 64, 8 offspring, 2
generations, mutation rate 0.01, rank coefficient 0.01, KL coefficient 0.01.

Differences: the shared ZINC250k prior (an LSTM with dropout; the policy's likelihoods are
computed without dropout, as in :mod:`makeable.optimizers.reinvent`); molecules are
canonicalised before scoring and those the policy cannot emit (longer than ``max_len`` tokens,
or with tokens outside its vocabulary) are dropped, as in GEGL, so every molecule in the memory
can be scored by the policy; PMO's early stop (top-100 unchanged) is not used — the run stops
when the budget is spent or after 50 steps without a new molecule.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import TYPE_CHECKING

from rdkit import Chem

from makeable.models.smiles_lm import DEFAULT_PRIOR
from makeable.models.toolkit import rank_weights, trajectory_balance
from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
)
from makeable.optimizers.gegl import PriorityQueue, admissible, cached_mol, score_into
from makeable.optimizers.graph_ga_ops import reproduce
from makeable.oracle.oracle import Oracle
from makeable.params import require_bool, require_int, require_probability, require_real

if TYPE_CHECKING:  # torch is imported when an optimizer runs, not when it is registered
    import torch

    from makeable.models.smiles_lm.lstm import SmilesLSTM

log = logging.getLogger(__name__)


@OPTIMIZERS.register("genetic_gfn")
class GeneticGFN(Optimizer):
    """Genetic-guided GFlowNet on the shared SMILES LSTM prior.

    Args:
        prior: shipped prior name or model folder the policy starts from.
        batch_size: molecules sampled by the policy per step (64).
        lr: Adam learning rate of the policy (5e-4).
        lr_z: learning rate of ``log Z`` (0.1).
        log_z_init: initial ``log Z`` (5.0).
        beta: inverse temperature of the reward ``exp(beta * score)`` (50).
        kl_coefficient: weight of ``mean(log p - log p_prior)`` on the replayed molecules (0.01).
        memory_size: best molecules kept for replay; also the size of the first mating pool
            (1,024).
        replay_steps: policy updates per step (8).
        replay_batch_size: molecules per update (64).
        population_size: parents drawn per GA generation (64); 0 turns the GA off.
        offspring_size: children per GA generation (8).
        ga_generations: GA generations per step (2).
        mutation_rate: probability of mutating a crossover child (0.01).
        rank_coefficient: ``k`` of the rank-based weights (0.01; smaller favours the best).
        max_len: most SMILES tokens.
        threads: torch CPU threads (0 keeps torch's setting).
        bf16: run the policy's updates under bfloat16 autocast
            (:func:`makeable.optimizers.lm_common.autocast`; faster on CPUs with AVX512-BF16).
    """

    name = "genetic_gfn"

    def __init__(
        self,
        prior: str = DEFAULT_PRIOR,
        batch_size: int = 64,
        lr: float = 5e-4,
        lr_z: float = 0.1,
        log_z_init: float = 5.0,
        beta: float = 50.0,
        kl_coefficient: float = 0.01,
        memory_size: int = 1024,
        replay_steps: int = 8,
        replay_batch_size: int = 64,
        population_size: int = 64,
        offspring_size: int = 8,
        ga_generations: int = 2,
        mutation_rate: float = 0.01,
        rank_coefficient: float = 0.01,
        max_len: int = 100,
        threads: int = 1,
        bf16: bool = False,
    ) -> None:
        for key, value, least in (
            ("batch_size", batch_size, 1),
            ("memory_size", memory_size, 1),
            ("replay_steps", replay_steps, 0),
            ("replay_batch_size", replay_batch_size, 1),
            ("population_size", population_size, 0),
            ("offspring_size", offspring_size, 1),
            ("ga_generations", ga_generations, 0),
            ("max_len", max_len, 1),
            ("threads", threads, 0),
        ):
            require_int(key, value, least)
        require_real("lr", lr, above=0.0)
        require_real("lr_z", lr_z, 0.0)
        require_real("log_z_init", log_z_init)
        require_real("beta", beta, above=0.0)
        require_real("kl_coefficient", kl_coefficient, 0.0)
        require_probability("mutation_rate", mutation_rate)
        require_real("rank_coefficient", rank_coefficient, above=0.0)
        self.prior = prior
        self.batch_size = batch_size
        self.lr = lr
        self.lr_z = lr_z
        self.log_z_init = log_z_init
        self.beta = beta
        self.kl_coefficient = kl_coefficient
        self.memory_size = memory_size
        self.replay_steps = replay_steps
        self.replay_batch_size = replay_batch_size
        self.population_size = population_size
        self.offspring_size = offspring_size
        self.ga_generations = ga_generations
        self.mutation_rate = mutation_rate
        self.rank_coefficient = rank_coefficient
        self.max_len = max_len
        self.threads = threads
        self.bf16 = require_bool("bf16", bf16)

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        import torch

        from makeable.optimizers.checkpoint import restore_state, save_if_due
        from makeable.optimizers.lm_common import log_round, prior_and_agent, torch_session

        with torch_session(ctx.seed, self.threads) as generator:
            with ctx.proposing():
                prior, policy = prior_and_agent(self.prior)
                log_z = torch.nn.Parameter(torch.tensor(float(self.log_z_init)))
                optimizer = torch.optim.Adam(
                    [
                        {"params": list(policy.parameters()), "lr": self.lr},
                        {"params": [log_z], "lr": self.lr_z},
                    ]
                )
            memory = PriorityQueue(self.memory_size)
            prior_ll: dict[str, float] = {}  # the prior is fixed: each molecule's LL once
            mols: dict[str, Chem.Mol | None] = {}
            guard, step = StallGuard(), 0
            modules, optimizers = {"policy": policy}, {"adam": optimizer}
            restored = restore_state(ctx, oracle, generator, modules, optimizers)
            if restored is not None:
                tensors, state = restored
                with torch.no_grad():
                    log_z.copy_(tensors["log_z"])
                memory.scores = dict(state["memory"])
                prior_ll.update(state["prior_ll"])
                step = state["step"]
                vars(guard).update(state["guard"])
            while not oracle.finished:
                step += 1
                start_calls = oracle.n_calls
                with ctx.proposing():
                    samples = policy.sample(self.batch_size, self.max_len, generator)
                    candidates = admissible(oracle, policy, samples, self.max_len)
                score_into(oracle, candidates, memory)
                policy_calls = oracle.n_calls - start_calls
                if self.population_size and len(memory) > self.population_size:
                    self._genetic_expert(oracle, policy, memory, mols, ctx)
                loss = float("nan")
                if not oracle.finished and len(memory) > self.replay_batch_size:
                    with ctx.proposing():
                        loss = self._train(policy, prior, prior_ll, log_z, optimizer, memory, ctx)
                log_round(
                    ctx,
                    step,
                    memory.scores,
                    policy_calls=policy_calls,
                    expert_calls=oracle.n_calls - start_calls - policy_calls,
                    loss=loss,
                    log_z=float(log_z.item()),
                )
                if guard.stalled(oracle):
                    return
                state = {
                    "memory": list(memory.scores.items()),
                    "prior_ll": prior_ll,
                    "step": step,
                    "guard": vars(guard),
                }
                tensors = {"log_z": log_z.detach()}
                save_if_due(ctx, oracle, generator, modules, optimizers, state, tensors)

    def _genetic_expert(
        self,
        oracle: Oracle,
        policy: SmilesLSTM,
        memory: PriorityQueue,
        mols: dict[str, Chem.Mol | None],
        ctx: DesignContext,
    ) -> None:
        """``ga_generations`` generations of rank-based Graph GA from the run's best molecules."""
        pool = memory.ranked()
        for _ in range(self.ga_generations):
            if oracle.finished or not pool:
                return
            with ctx.proposing():
                probs = rank_weights([v for _, v in pool], self.rank_coefficient)
                picks = ctx.np_rng.choice(len(pool), size=self.population_size, p=probs)
                parents = [pool[int(i)] for i in picks]
                parent_mols = [m for s, _ in parents if (m := cached_mol(mols, s)) is not None]
                children = [
                    reproduce(parent_mols, self.mutation_rate, ctx.rng)
                    for _ in range(self.offspring_size if parent_mols else 0)
                ]
                smiles = [Chem.MolToSmiles(c) for c in children if c is not None]
                candidates = admissible(oracle, policy, smiles, self.max_len)
            kept = score_into(oracle, candidates, memory)
            pool = parents + kept

    def _train(
        self,
        policy: SmilesLSTM,
        prior: SmilesLSTM,
        prior_ll: dict[str, float],
        log_z: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        memory: PriorityQueue,
        ctx: DesignContext,
    ) -> float:
        """``replay_steps`` trajectory-balance updates on rank-based draws from the memory.

        ``prior_ll`` caches the prior's log-likelihood of each molecule (filled here)."""
        import torch

        from makeable.optimizers.lm_common import autocast, token_batch

        entries = memory.ranked()
        new = [s for s, _ in entries if s not in prior_ll]
        for start in range(0, len(new), 256):
            chunk = new[start : start + 256]
            with torch.no_grad():
                values = prior.log_likelihood(token_batch(prior, chunk))
            prior_ll.update(zip(chunk, values.tolist(), strict=True))
        probs = rank_weights([v for _, v in entries], self.rank_coefficient)
        losses = []
        for _ in range(self.replay_steps):
            # a draw with replacement repeats the best molecules: each distinct one goes
            # through the network once, weighted by its count (the same loss, cheaper)
            picks = Counter(
                int(i)
                for i in ctx.np_rng.choice(len(entries), size=self.replay_batch_size, p=probs)
            )
            batch = [entries[i] for i in picks]
            counts = torch.tensor(list(picks.values()), dtype=torch.float32)
            tokens = token_batch(policy, [s for s, _ in batch])
            scores = torch.tensor([v for _, v in batch], dtype=torch.float32)
            with autocast(self.bf16):
                log_p = policy.log_likelihood(tokens).float()
            log_p_prior = torch.tensor([prior_ll[s] for s, _ in batch], dtype=torch.float32)
            balance = trajectory_balance(log_z, log_p, self.beta * scores)
            kl = log_p - log_p_prior
            loss = (counts * (balance + self.kl_coefficient * kl)).sum() / counts.sum()
            if not torch.isfinite(loss):  # never step on a non-finite loss
                log.warning("genetic_gfn: non-finite loss, update skipped")
                continue
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.item()))
        return sum(losses) / len(losses) if losses else math.nan
