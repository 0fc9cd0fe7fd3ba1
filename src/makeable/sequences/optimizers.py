"""Batch proposers for the sequence active-learning loop, and their registry.

Each round the loop (:mod:`makeable.sequences.design`) hands an optimizer a :class:`RoundContext`
(all data so far, the freshly trained proxy ensemble, a seeded generator) and asks for a batch
of new sequences; the real oracle then scores them. Registered: ``delta_cs`` (δ-Conservative
Search on a GFlowNet), ``gfn_al`` (GFlowNet-AL, no δ-CS), ``adalead`` and ``mutation``.

Determinism contract: every random draw comes from ``ctx.rng`` (numpy) or a torch generator
seeded from it, so a run restarted with the same seed proposes the same batches and the
oracle's replay resumes it (see :mod:`makeable.oracle.oracle`).
"""

from __future__ import annotations

import inspect
import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from makeable.models.toolkit import rank_weights
from makeable.registry import Registry
from makeable.sequences.gflownet import GFlowNetConfig, TrajectoryBalance, make_policy
from makeable.sequences.proxy import ProxyEnsemble
from makeable.sequences.tasks import SequenceTask

log = logging.getLogger(__name__)


@dataclass
class RoundContext:
    """What an optimizer sees in one round.

    Attributes:
        task: the sequence task (alphabet, length, encoding).
        round: this round, 1-based.
        n_rounds: rounds in the run.
        batch_size: sequences to propose.
        seqs: every known sequence (offline set, then queried ones, in order).
        scores: their true scores, shape ``(n,)``.
        proxy: the ensemble trained on ``seqs``/``scores`` (``None`` if the optimizer needs none).
        rng: this round's generator (seeded from the run's seed and the round).
        info: per-round diagnostics the optimizer may add (logged in the round's event).
    """

    task: SequenceTask
    round: int
    n_rounds: int
    batch_size: int
    seqs: list[str]
    scores: np.ndarray
    proxy: ProxyEnsemble | None
    rng: np.random.Generator
    info: dict[str, Any] = field(default_factory=dict)
    _weights: dict[float, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.known = set(self.seqs)
        self.codes = self.task.encode(self.seqs)

    def sample_indices(self, n: int, rank_coeff: float) -> np.ndarray:
        """``n`` indices into ``seqs`` drawn with rank-based weights (cached per coefficient)."""
        if rank_coeff not in self._weights:
            self._weights[rank_coeff] = rank_weights(self.scores, rank_coeff)
        return self.rng.choice(len(self.scores), size=n, p=self._weights[rank_coeff])

    def torch_generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(int(self.rng.integers(2**62)))


class SequenceOptimizer(ABC):
    """Proposes a batch of new sequences per round (one hook: :meth:`_propose`)."""

    name: str = "sequence optimizer"
    uses_proxy: bool = True

    def propose(self, ctx: RoundContext) -> list[str]:
        """``ctx.batch_size`` distinct sequences not in ``ctx.seqs`` (fewer only if none exist).

        If the algorithm proposes too few new ones, the batch is topped up with random
        mutants of the best known sequences (counted in ``ctx.info["filled"]``).
        """
        out = [s for s in dict.fromkeys(self._propose(ctx)) if s not in ctx.known]
        out = out[: ctx.batch_size]
        missing = ctx.batch_size - len(out)
        ctx.info["filled"] = missing
        if missing > 0:
            out += mutants_of_best(ctx, missing, exclude=set(out))
        return out

    @abstractmethod
    def _propose(self, ctx: RoundContext) -> list[str]:
        """Candidate sequences, best first (duplicates and known ones are dropped after)."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, as recorded in the run's config."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


SEQ_OPTIMIZERS: Registry[SequenceOptimizer] = Registry(
    "sequence optimizer", group="makeable.sequence_optimizers"
)


def get_seq_optimizer(name: str, **params: Any) -> SequenceOptimizer:
    """Build a registered sequence optimizer; unknown names or parameters fail loudly."""
    return SEQ_OPTIMIZERS.build(name, **params)


# -- helpers ----------------------------------------------------------------------------------
def mutate(
    codes: np.ndarray, n_mut: np.ndarray, alphabet_size: int, rng: np.random.Generator
) -> np.ndarray:
    """Copies of ``codes`` (shape ``(n, L)``) with ``n_mut[i]`` distinct positions changed."""
    out = codes.copy()
    length = codes.shape[1]
    for i, k in enumerate(np.minimum(n_mut, length)):
        pos = rng.choice(length, size=int(k), replace=False)
        out[i, pos] = (out[i, pos] + rng.integers(1, alphabet_size, size=len(pos))) % alphabet_size
    return out


def mutants_of_best(ctx: RoundContext, n: int, exclude: set[str], top_k: int = 128) -> list[str]:
    """``n`` new random mutants of the ``top_k`` best known sequences (1, then more mutations)."""
    order = np.argsort(-ctx.scores, kind="stable")[:top_k]
    parents = ctx.codes[order]
    found: dict[str, None] = {}
    n_mut = 1
    for attempt in range(200):
        pick = parents[ctx.rng.integers(len(parents), size=max(4 * n, 64))]
        for s in ctx.task.decode(
            mutate(pick, np.full(len(pick), n_mut), len(ctx.task.alphabet), ctx.rng)
        ):
            if s not in ctx.known and s not in exclude and s not in found:
                found[s] = None
                if len(found) == n:
                    return list(found)
        if attempt % 5 == 4:
            n_mut = min(n_mut + 1, ctx.task.length)
    log.warning("could only find %d of %d new sequences", len(found), n)
    return list(found)


def top_by_proxy(ctx: RoundContext, candidates: list[str], kappa: float | None = None) -> list[str]:
    """New distinct candidates sorted by the proxy's UCB, best first."""
    fresh = [s for s in dict.fromkeys(candidates) if s not in ctx.known]
    if not fresh or ctx.proxy is None:
        return fresh
    ucb = ctx.proxy.ucb(ctx.task.encode(fresh), kappa)
    order = np.argsort(-ucb, kind="stable")
    ctx.info["n_candidates"] = len(fresh)
    ctx.info["pred_best"] = float(ucb[order[0]])
    return [fresh[i] for i in order]


# -- GFlowNet-AL and δ-CS ---------------------------------------------------------------------
@SEQ_OPTIMIZERS.register("gfn_al")
class GFlowNetAL(SequenceOptimizer):
    """GFlowNet-AL (Jain et al. 2022, https://arxiv.org/abs/2203.04115).

    Each round a fresh GFlowNet policy is trained by trajectory balance on the proxy reward
    ``R(x) = max(UCB(x), reward_min) ** reward_exp``, each step mixing ``batch`` exploratory
    on-policy samples (temperature, ε-uniform) with ``offline_batch`` known sequences drawn by
    rank-weighted sampling (off-policy). Candidates are everything sampled in training plus
    ``n_final`` samples of the trained policy; the proxy's UCB picks the batch.

    Args:
        n_steps: training steps per round (δ-CS: 1000 of 128 + 128; fewer here for CPU).
        batch: on-policy (or δ-CS) samples per step.
        offline_batch: known sequences per step.
        n_final: samples from the trained policy added to the candidates.
        reward_exp: reward exponent β (GFN-AL: 3 for TFBind8, ramped; δ-CS FLEXS code: 1-2).
        reward_min: floor on the UCB before the exponent.
        rank_coeff: rank-weighted sampling of known sequences (δ-CS: 0.01).
        hidden: LSTM width (δ-CS: 512).
        layers: LSTM layers (δ-CS: 2).
        lr: policy learning rate (δ-CS: 5e-4).
        lr_z: log Z learning rate (δ-CS: 1e-3; higher here for the shorter training).
        temperature: sampling temperature (δ-CS/GFN-AL: 2).
        epsilon: uniform-action weight in on-policy rollouts (GFN-AL: 0.001).
    """

    delta_cs = False

    def __init__(
        self,
        n_steps: int = 200,
        batch: int = 64,
        offline_batch: int = 64,
        n_final: int = 1024,
        reward_exp: float = 3.0,
        reward_min: float = 1e-3,
        rank_coeff: float = 0.01,
        hidden: int = 64,
        layers: int = 2,
        lr: float = 5e-4,
        lr_z: float = 0.05,
        temperature: float = 2.0,
        epsilon: float = 0.001,
    ) -> None:
        self.n_steps = n_steps
        self.batch = batch
        self.offline_batch = offline_batch
        self.n_final = n_final
        self.reward_exp = reward_exp
        self.reward_min = reward_min
        self.rank_coeff = rank_coeff
        self.gfn = GFlowNetConfig(hidden, layers, lr, lr_z, 10.0, temperature, epsilon)

    def params(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "gfn" and not k.startswith("_")}
        return {**out, **vars(self.gfn)}

    def _log_reward(self, ctx: RoundContext, codes: np.ndarray) -> torch.Tensor:
        assert ctx.proxy is not None
        ucb = np.maximum(ctx.proxy.ucb(codes), self.reward_min)
        return torch.from_numpy(self.reward_exp * np.log(ucb)).float()

    def _sample(self, ctx: RoundContext, policy: Any, n: int, gen: torch.Generator) -> np.ndarray:
        """Exploratory on-policy samples (δ-CS overrides this with conservative denoising)."""
        cfg = self.gfn
        return policy.sample(n, gen, cfg.temperature, cfg.epsilon).numpy()

    def _propose(self, ctx: RoundContext) -> list[str]:
        task = ctx.task
        alphabet_size = len(task.alphabet)
        policy = make_policy(alphabet_size, task.length, self.gfn, int(ctx.rng.integers(2**31)))
        gen = ctx.torch_generator()
        # initialise log Z at log Σ_x R(x) estimated from uniform sequences
        uniform = ctx.rng.integers(alphabet_size, size=(256, task.length))
        log_r = self._log_reward(ctx, uniform).double().numpy()
        log_z = task.length * math.log(alphabet_size) + np.logaddexp.reduce(log_r) - math.log(256)
        with torch.no_grad():
            policy.log_z.fill_(float(log_z))
        trainer = TrajectoryBalance(policy, self.gfn)
        candidates: list[np.ndarray] = []
        loss = float("nan")
        for _ in range(self.n_steps):
            sampled = self._sample(ctx, policy, self.batch, gen)
            offline = ctx.codes[ctx.sample_indices(self.offline_batch, self.rank_coeff)]
            codes = np.concatenate([sampled, offline])
            loss = trainer.step(torch.from_numpy(codes), self._log_reward(ctx, codes))
            candidates.append(sampled)
        policy.eval()
        for start in range(0, self.n_final, 256):
            candidates.append(self._sample(ctx, policy, min(256, self.n_final - start), gen))
        ctx.info.update({"gfn_loss": loss, "log_z": policy.log_z.item()})
        return top_by_proxy(ctx, task.decode(np.concatenate(candidates)))


@SEQ_OPTIMIZERS.register("delta_cs")
class DeltaCS(GFlowNetAL):
    """δ-Conservative Search (Kim et al., ICML 2025, https://arxiv.org/abs/2410.04461).

    GFlowNet-AL's training, but the exploratory samples are conservative: take known
    sequences by rank-weighted sampling, mask each token independently with probability
    ``δ_i``, and regenerate the masked tokens with the policy left to right (kept tokens fixed
    and seen by the policy). ``δ_i = clip(delta − sigma_coeff · σ(x_i), delta_min, 1)`` with
    ``σ`` the ensemble's std at the guide sequence: uncertain regions are searched more
    conservatively. Paper defaults: ``delta = 0.5, sigma_coeff = 5`` (TFBind8, RNA) and
    ``0.05, 0.1`` (AAV) — ``None`` takes the task's (``task.delta_cs_params``).

    Args:
        delta: base masking probability δ₀.
        sigma_coeff: uncertainty weight λ.
        delta_min: lower clip of δ (δ-CS FLEXS code: 0.001).
        **kwargs: :class:`GFlowNetAL` parameters.
    """

    delta_cs = True

    def __init__(
        self,
        delta: float | None = None,
        sigma_coeff: float | None = None,
        delta_min: float = 0.001,
        **kwargs: Any,
    ) -> None:
        accepted = set(inspect.signature(GFlowNetAL.__init__).parameters) - {"self"}
        unknown = sorted(set(kwargs) - accepted)
        if unknown:
            raise TypeError(
                f"delta_cs got unknown parameter(s) {unknown}; accepted: delta, sigma_coeff, "
                f"delta_min, {', '.join(sorted(accepted))}"
            )
        super().__init__(**kwargs)
        self.delta = delta
        self.sigma_coeff = sigma_coeff
        self.delta_min = delta_min

    def _sample(self, ctx: RoundContext, policy: Any, n: int, gen: torch.Generator) -> np.ndarray:
        assert ctx.proxy is not None
        delta0 = self.delta if self.delta is not None else ctx.task.delta_cs_params["delta"]
        lam = (
            self.sigma_coeff
            if self.sigma_coeff is not None
            else ctx.task.delta_cs_params["sigma_coeff"]
        )
        guide = ctx.codes[ctx.sample_indices(n, self.rank_coeff)]
        _, std = ctx.proxy.predict(guide)
        delta = np.clip(delta0 - lam * std, self.delta_min, 1.0)
        keep = ctx.rng.random(guide.shape) >= delta[:, None]
        ctx.info["delta_mean"] = float(delta.mean())
        out = policy.sample(
            n,
            gen,
            self.gfn.temperature,
            guide=torch.from_numpy(guide),
            keep=torch.from_numpy(keep),
        )
        return out.numpy()


# -- AdaLead and random mutation --------------------------------------------------------------
@SEQ_OPTIMIZERS.register("adalead")
class AdaLead(SequenceOptimizer):
    """AdaLead (Sinai et al. 2020, FLEXS, https://arxiv.org/abs/2010.02141).

    Parents are known sequences within ``threshold`` of the best score; each is rolled out by
    random mutation (rate ``mu / L`` per position), a child continuing while the proxy's mean
    prediction does not drop below its root's, until ``model_queries`` proxy evaluations are
    spent; the batch is the best children by the proxy. ``rho`` rounds of recombination
    (crossover rate ``recomb_rate``) mix the parents first (FLEXS defaults: mu 1, threshold
    0.05, rho 0, recomb_rate 0, eval_batch_size 20).

    Args:
        mu: expected mutations per child.
        threshold: parents score at least ``(1 − threshold) · best``.
        rho: recombination rounds.
        recomb_rate: crossover switch probability per position.
        eval_batch_size: roots rolled out together.
        model_queries: proxy evaluations per round (δ-CS: 2000).
        max_parents: cap on parents (best first).
    """

    def __init__(
        self,
        mu: float = 1.0,
        threshold: float = 0.05,
        rho: int = 0,
        recomb_rate: float = 0.0,
        eval_batch_size: int = 20,
        model_queries: int = 2000,
        max_parents: int = 1000,
    ) -> None:
        self.mu = mu
        self.threshold = threshold
        self.rho = rho
        self.recomb_rate = recomb_rate
        self.eval_batch_size = eval_batch_size
        self.model_queries = model_queries
        self.max_parents = max_parents

    def _recombine(self, parents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if len(parents) < 2 or self.recomb_rate <= 0:
            return parents
        perm = rng.permutation(len(parents))
        out = parents[perm].copy()
        for i in range(0, len(out) - 1, 2):
            switch = np.cumsum(rng.random(out.shape[1]) < self.recomb_rate) % 2 == 1
            a, b = out[i].copy(), out[i + 1].copy()
            out[i, switch], out[i + 1, switch] = b[switch], a[switch]
        return out

    def _propose(self, ctx: RoundContext) -> list[str]:
        assert ctx.proxy is not None
        proxy, rng, a_size = ctx.proxy, ctx.rng, len(ctx.task.alphabet)
        best = float(ctx.scores.max())
        cut = best * (1 - np.sign(best) * self.threshold)
        idx = np.flatnonzero(ctx.scores >= cut)
        idx = idx[np.argsort(-ctx.scores[idx], kind="stable")][: self.max_parents]
        parents = ctx.codes[idx]
        children: dict[str, float] = {}
        queries = 0
        while queries < self.model_queries:
            before = queries
            for _ in range(self.rho):
                parents = self._recombine(parents, rng)
            for start in range(0, len(parents), self.eval_batch_size):
                roots = parents[start : start + self.eval_batch_size]
                root_fit, _ = proxy.predict(roots)
                queries += len(roots)
                nodes, fits = roots, root_fit
                while len(nodes) and queries < self.model_queries + self.eval_batch_size:
                    n_mut = rng.binomial(ctx.task.length, self.mu / ctx.task.length, len(nodes))
                    kids = mutate(nodes, np.maximum(n_mut, 1), a_size, rng)
                    kid_fit, _ = proxy.predict(kids)
                    queries += len(kids)
                    seqs = ctx.task.decode(kids)
                    new = np.array([s not in ctx.known and s not in children for s in seqs])
                    for s, f, ok in zip(seqs, kid_fit, new, strict=True):
                        if ok:
                            children[s] = float(f)
                    go = new & (kid_fit >= fits)
                    nodes, fits = kids[go], fits[go]
                if queries >= self.model_queries:
                    break
            if queries == before:
                break
        ctx.info["n_candidates"] = len(children)
        return sorted(children, key=lambda s: -children[s])


@SEQ_OPTIMIZERS.register("mutation")
class RandomMutation(SequenceOptimizer):
    """Random mutation of the best: new single (then multiple) substitution mutants of the
    ``top_k`` best known sequences, chosen uniformly; no proxy.

    Args:
        top_k: how many of the best known sequences are parents.
    """

    uses_proxy = False

    def __init__(self, top_k: int = 128) -> None:
        self.top_k = top_k

    def _propose(self, ctx: RoundContext) -> list[str]:
        return mutants_of_best(ctx, ctx.batch_size, exclude=set(), top_k=self.top_k)
