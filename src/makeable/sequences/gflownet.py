"""A GFlowNet over fixed-length sequences: a left-to-right policy trained by trajectory balance.

Sequences are built one token at a time, left to right, so each sequence has exactly one
trajectory and the backward policy is trivial. Trajectory balance (Malkin et al. 2022,
https://arxiv.org/abs/2201.13259) fits a learned ``log Z`` and the forward policy ``P_F`` so
that ``log Z + Σ_t log P_F(x_t | x_<t) = log R(x)``; at the optimum the policy samples
``x ∝ R(x)``. The policy is an LSTM over the prefix, as in δ-CS's generator (Kim et al. 2025,
https://arxiv.org/abs/2410.04461; GFN-AL, Jain et al. 2022, https://arxiv.org/abs/2203.04115),
smaller by default for CPU speed.

:meth:`SequencePolicy.sample` also does δ-CS's conservative denoising: given guide sequences and
a keep-mask, kept positions take the guide token and masked positions are sampled from the
policy conditioned on the prefix (kept tokens included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from makeable.models.autoregressive import AutoregressiveLSTM
from makeable.models.toolkit import trajectory_balance


@dataclass
class GFlowNetConfig:
    """Policy and training hyper-parameters (δ-CS / GFN-AL values in brackets).

    Attributes:
        hidden: LSTM width [512].
        layers: LSTM layers [2].
        lr: policy learning rate [5e-4].
        lr_z: ``log Z`` learning rate [1e-3; higher here because rounds train fewer steps].
        grad_clip: gradient-norm clip [10].
        temperature: sampling temperature of exploratory rollouts [2].
        epsilon: probability of a uniform action in on-policy rollouts [0.001].
    """

    hidden: int = 64
    layers: int = 2
    lr: float = 5e-4
    lr_z: float = 0.05
    grad_clip: float = 10.0
    temperature: float = 2.0
    epsilon: float = 0.001


class SequencePolicy(AutoregressiveLSTM):
    """Autoregressive forward policy ``P_F(x_t | x_<t)`` and the learned ``log Z``: the
    project's one autoregressive policy (:mod:`makeable.models.autoregressive`) over the task's
    alphabet, the start token after it.

    Args:
        alphabet_size: number of letters ``A`` (the start token is ``A``).
        length: sequence length ``L``.
        hidden: LSTM width (also the embedding size).
        layers: LSTM layers.
    """

    def __init__(self, alphabet_size: int, length: int, hidden: int = 128, layers: int = 2):
        super().__init__(alphabet_size + 1, alphabet_size, hidden, hidden, layers)
        self.alphabet_size = alphabet_size
        self.length = length
        self.log_z = nn.Parameter(torch.zeros(()))

    def _start(self, n: int) -> torch.Tensor:
        return torch.full((n, 1), self.alphabet_size, dtype=torch.long)

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """``Σ_t log P_F(x_t | x_<t)``; ``codes``: long, shape ``(n, L)`` → shape ``(n,)``."""
        inputs = torch.cat([self._start(len(codes)), codes[:, :-1]], dim=1)
        return self.token_log_probs(inputs, codes).sum(dim=1)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator,
        temperature: float = 1.0,
        epsilon: float = 0.0,
        guide: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample ``n`` sequences left to right; returns long codes, shape ``(n, L)``.

        Args:
            n: number of sequences.
            generator: torch generator for the draws.
            temperature: logits are divided by it.
            epsilon: mix the action distribution with uniform by this weight.
            guide: sequences to denoise, long, shape ``(n, L)`` (δ-CS).
            keep: bool, shape ``(n, L)``: positions that keep the guide token.
        """
        codes, _ = self.sample_steps(
            self._start(n),
            self.length,
            generator,
            temperature=temperature,
            epsilon=epsilon,
            guide=guide,
            keep=keep,
        )
        return codes


class TrajectoryBalance:
    """Trains a :class:`SequencePolicy` by trajectory balance.

    Args:
        policy: the policy (its ``log_z`` is trained too).
        config: learning rates and gradient clipping.
    """

    def __init__(self, policy: SequencePolicy, config: GFlowNetConfig | None = None) -> None:
        self.policy = policy
        self.config = config or GFlowNetConfig()
        net = [p for name, p in policy.named_parameters() if name != "log_z"]
        self.opt = torch.optim.Adam(net, lr=self.config.lr)
        self.opt_z = torch.optim.Adam([policy.log_z], lr=self.config.lr_z)

    def loss(self, codes: torch.Tensor, log_reward: torch.Tensor) -> torch.Tensor:
        """Mean of ``(log Z + log P_F(x) − log R(x))²`` over the batch."""
        return trajectory_balance(self.policy.log_z, self.policy.log_prob(codes), log_reward).mean()

    def step(self, codes: torch.Tensor, log_reward: torch.Tensor) -> float:
        """One gradient step on a batch (on-policy, off-policy or mixed); returns the loss."""
        loss = self.loss(codes, log_reward)
        self.opt.zero_grad()
        self.opt_z.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.grad_clip)
        self.opt.step()
        self.opt_z.step()
        return loss.item()


def make_policy(
    alphabet_size: int, length: int, config: GFlowNetConfig, seed: int
) -> SequencePolicy:
    """A freshly initialised policy, its weights drawn from ``seed`` only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SequencePolicy(alphabet_size, length, config.hidden, config.layers)


@torch.no_grad()
def policy_distribution(policy: SequencePolicy, codes: np.ndarray) -> np.ndarray:
    """Exact ``P_F(x)`` of each sequence in ``codes`` (for small spaces enumerated in full)."""
    return policy.log_prob(torch.from_numpy(codes).long()).exp().double().numpy()
