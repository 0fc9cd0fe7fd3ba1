"""REINVENT: policy optimisation of a SMILES language model towards an augmented likelihood.

Olivecrona, Blaschke, Engkvist, Chen, "Molecular de-novo design through deep reinforcement
learning", J. Cheminform. 2017 (https://doi.org/10.1186/s13321-017-0235-x), as run and tuned by
the PMO benchmark (Gao et al., "Sample Efficiency Matters", NeurIPS 2022; wenhao-gao/mol_opt
``main/reinvent``, MIT).

Each step the agent (initialised from the prior) samples ``batch_size`` sequences; duplicates are
dropped and the rest scored. With the augmented log-likelihood
``log p_prior(x) + sigma * score(x)`` as target, the loss is the mean of
``(augmented - log p_agent(x))^2`` over the batch and over ``experience_replay`` sequences drawn
from a memory of the ``memory_size`` best molecules seen (drawn without replacement, with
probability proportional to score), plus ``likelihood_penalty * mean(-1 / log p_agent(x))``,
which discourages sequences of very high likelihood. PMO-tuned hyper-parameters (the defaults):
batch 64, sigma 500, learning rate 5e-4, experience replay 24 out of a memory of 100.

Differences: the shared prior is an LSTM with dropout (REINVENT's is a dropout-free GRU); the
agent's likelihoods are computed without dropout. A zero-score memory is drawn from uniformly.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from makeable.models.smiles_lm import DEFAULT_PRIOR
from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
    TopMeanPatience,
)
from makeable.oracle.oracle import Oracle
from makeable.params import require_bool, require_int, require_real

if TYPE_CHECKING:  # torch is imported when an optimizer runs, not when it is registered
    import torch

log = logging.getLogger(__name__)


class ExperienceMemory:
    """The best molecules seen, with their token sequences and prior log-likelihoods."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: dict[str, tuple[float, float, list[int]]] = {}  # smiles → score, prior, tokens

    def __len__(self) -> int:
        return len(self.items)

    def add(self, smiles: str, score: float, prior_ll: float, tokens: list[int]) -> None:
        if smiles not in self.items:
            self.items[smiles] = (score, prior_ll, tokens)

    def trim(self) -> None:
        ranked = sorted(self.items.items(), key=lambda kv: (kv[1][0], kv[0]), reverse=True)
        self.items = dict(ranked[: self.size])

    def scores(self) -> dict[str, float]:
        return {s: v[0] for s, v in self.items.items()}

    def sample(
        self, n: int, ctx: DesignContext
    ) -> tuple[list[list[int]], torch.Tensor, torch.Tensor]:
        """``n`` entries without replacement, probability ∝ score; tokens, scores, prior LLs."""
        import torch

        entries = list(self.items.values())
        weights = torch.tensor([max(e[0], 0.0) for e in entries], dtype=torch.float64)
        if float(weights.sum()) <= 0 or int((weights > 0).sum()) < n:
            weights = weights + 1e-10
        picks = ctx.np_rng.choice(
            len(entries), size=n, replace=False, p=(weights / weights.sum()).numpy()
        )
        chosen = [entries[int(i)] for i in picks]
        return (
            [e[2] for e in chosen],
            torch.tensor([e[0] for e in chosen], dtype=torch.float32),
            torch.tensor([e[1] for e in chosen], dtype=torch.float32),
        )


LL_CEILING = -1e-3
"""Upper bound on a sequence log-likelihood inside the ``-1 / log p`` regulariser."""


@OPTIMIZERS.register("reinvent")
class Reinvent(Optimizer):
    """REINVENT with experience replay, on the shared SMILES LSTM prior.

    Args:
        prior: shipped prior name or model folder (the agent starts as a copy).
        batch_size: sequences sampled per step (PMO: 64).
        sigma: weight of the score in the augmented likelihood (PMO: 500).
        lr: Adam learning rate (PMO: 5e-4).
        experience_replay: memory entries replayed per step (PMO: 24; 0 disables).
        memory_size: molecules kept in the replay memory (100).
        likelihood_penalty: weight of the ``-1 / log p_agent`` regulariser (5e3).
        max_len: most SMILES tokens per sample.
        threads: torch CPU threads (0 keeps torch's setting).
        bf16: run the agent's updates under bfloat16 autocast
            (:func:`makeable.optimizers.lm_common.autocast`; faster on CPUs with AVX512-BF16).
        patience: stop once the mean of the 100 best scores has not changed for this many
            steps after 1,000 calls (mol_opt's REINVENT: 5); 0, the default, never stops early,
            as the benchmark tables here were made. An agent that collapsed onto a few
            molecules otherwise writes almost only duplicates, which cost no call, for hours.
    """

    name = "reinvent"

    def __init__(
        self,
        prior: str = DEFAULT_PRIOR,
        batch_size: int = 64,
        sigma: float = 500.0,
        lr: float = 5e-4,
        experience_replay: int = 24,
        memory_size: int = 100,
        likelihood_penalty: float = 5e3,
        max_len: int = 100,
        threads: int = 1,
        bf16: bool = False,
        patience: int = 0,
    ) -> None:
        for key, value, least in (
            ("batch_size", batch_size, 1),
            ("patience", patience, 0),
            ("experience_replay", experience_replay, 0),
            ("memory_size", memory_size, 1),
            ("max_len", max_len, 1),
            ("threads", threads, 0),
        ):
            require_int(key, value, least)
        require_real("sigma", sigma, 0.0)
        require_real("lr", lr, above=0.0)
        require_real("likelihood_penalty", likelihood_penalty, 0.0)
        self.prior = prior
        self.batch_size = batch_size
        self.sigma = sigma
        self.lr = lr
        self.experience_replay = experience_replay
        self.memory_size = memory_size
        self.likelihood_penalty = likelihood_penalty
        self.max_len = max_len
        self.threads = threads
        self.bf16 = require_bool("bf16", bf16)
        self.patience = patience

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        import torch

        from makeable.models.smiles_lm.lstm import pad_batch
        from makeable.optimizers.checkpoint import restore_state, save_if_due
        from makeable.optimizers.lm_common import (
            autocast,
            log_round,
            prior_and_agent,
            torch_session,
        )

        with torch_session(ctx.seed, self.threads) as generator:
            with ctx.proposing():
                prior, agent = prior_and_agent(self.prior)
                optimizer = torch.optim.Adam(agent.parameters(), lr=self.lr)
            memory = ExperienceMemory(self.memory_size)
            guard, step = StallGuard(), 0
            early = TopMeanPatience(self.patience, min_calls=1000, tolerance=1e-12)
            pad = agent.tokenizer.pad_id
            modules, optimizers = {"agent": agent}, {"adam": optimizer}
            restored = restore_state(ctx, oracle, generator, modules, optimizers)
            if restored is not None:
                state = restored[1]
                memory.items = {s: (v, p, t) for s, v, p, t in state["memory"]}
                step = state["step"]
                vars(guard).update(state["guard"])
                vars(early).update(state["early_stop"])
            while not oracle.finished:
                step += 1
                with ctx.proposing():
                    tokens, ended = agent.sample_tokens(self.batch_size, self.max_len, generator)
                    tokens, ended = _unique_rows(tokens, ended)
                    smiles = agent.decode_batch(tokens, ended)
                result = oracle.evaluate(smiles)
                if oracle.finished:
                    log_round(ctx, step, memory.scores())
                    return
                with ctx.proposing():
                    scores = torch.tensor(result.scores, dtype=torch.float32)
                    with autocast(self.bf16):
                        agent_ll = agent.log_likelihood(tokens).float()
                    with torch.no_grad():
                        prior_ll = prior.log_likelihood(tokens)
                    augmented = prior_ll + self.sigma * scores
                    losses = [(augmented - agent_ll) ** 2]
                    all_ll = [agent_ll]
                    if self.experience_replay and len(memory) > self.experience_replay:
                        exp_tokens, exp_scores, exp_prior = memory.sample(
                            self.experience_replay, ctx
                        )
                        with autocast(self.bf16):
                            exp_ll = agent.log_likelihood(pad_batch(exp_tokens, pad)).float()
                        losses.append((exp_prior + self.sigma * exp_scores - exp_ll) ** 2)
                        all_ll.append(exp_ll)
                    for i, canon in enumerate(result.smiles):
                        if canon is not None and result.valid[i]:
                            row = tokens[i][tokens[i] != pad].tolist()
                            memory.add(canon, float(result.scores[i]), float(prior_ll[i]), row)
                    memory.trim()
                    penalty = likelihood_regulariser(torch.cat(all_ll))
                    loss = torch.cat(losses).mean() + self.likelihood_penalty * penalty
                    if torch.isfinite(loss):
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                    else:  # never step on a non-finite loss: it would poison the weights
                        log.warning("reinvent step %d: non-finite loss, update skipped", step)
                log_round(ctx, step, memory.scores(), loss=float(loss.item()))
                if early.stalled(oracle) or guard.stalled(oracle):
                    return
                state = {
                    "memory": [[s, *item] for s, item in memory.items.items()],
                    "step": step,
                    "guard": vars(guard),
                    "early_stop": vars(early),
                }
                save_if_due(ctx, oracle, generator, modules, optimizers, state)


def likelihood_regulariser(log_p: torch.Tensor) -> torch.Tensor:
    """REINVENT's ``mean(-1 / log p)`` over sequence log-likelihoods, with ``log p`` capped at
    :data:`LL_CEILING`: a sequence the agent emits with probability 1 in float32 has
    ``log p == 0`` and made the term infinite (and the weights NaN, on valsartan_smarts where
    every score is 0); below the cap the value and gradient are unchanged."""
    return (-(1.0 / log_p.clamp(max=LL_CEILING))).mean()


def _unique_rows(tokens: torch.Tensor, ended: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop repeated sequences, keeping first occurrences in order."""
    import torch

    seen: dict[tuple[int, ...], int] = {}
    for i, row in enumerate(tokens.tolist()):
        seen.setdefault(tuple(row), i)
    keep = torch.tensor(sorted(seen.values()), dtype=torch.long)
    return tokens[keep], ended[keep]
