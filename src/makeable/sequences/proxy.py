"""The proxy: an ensemble of small CNNs on one-hot sequences, retrained every round.

As in δ-CS's FLEXS experiments (Kim et al. 2025, https://arxiv.org/abs/2410.04461, code
hyeonahkimm/delta_cs ``proximal-exploration``), itself following PEX (Ren et al. 2022): each
member is conv → conv → global max-pool → dense, trained by MSE with rank-based prioritised
sampling (weight ``1 / (rank_coeff · N + rank)``, Tripp et al. 2020); the acquisition is the
upper confidence bound ``UCB = mean + κ · std`` over members (κ = 1 in δ-CS's code).

Differences, for CPU speed: members are retrained from scratch each round for a fixed number
of gradient steps (no early stopping), and targets are standardised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from makeable.models.toolkit import rank_weights


def one_hot(codes: np.ndarray, alphabet_size: int) -> torch.Tensor:
    """Integer codes, shape ``(n, L)``, to one-hot floats, shape ``(n, alphabet_size, L)``."""
    x = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.int64))
    return nn.functional.one_hot(x, alphabet_size).permute(0, 2, 1).float()


class CNN(nn.Module):
    """conv(k=5) → ReLU → conv(k=5) → ReLU → max over positions → dense → ReLU → dense."""

    def __init__(self, alphabet_size: int, filters: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(alphabet_size, filters, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(filters, filters, 5, padding=2),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(filters, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: one-hot, shape ``(n, A, L)`` → predictions, shape ``(n,)``."""
        return self.head(self.conv(x).amax(dim=-1)).squeeze(-1)


@dataclass
class ProxyConfig:
    """Proxy hyper-parameters.

    Attributes:
        n_models: ensemble members (δ-CS: 3).
        kappa: UCB exploration weight κ (δ-CS's FLEXS code: 1).
        n_steps: gradient steps per member per round.
        batch_size: minibatch size (δ-CS: 256).
        lr: Adam learning rate (δ-CS: 1e-3).
        rank_coeff: rank-based sampling coefficient (δ-CS: 0.01; 0 = uniform).
        filters: convolution channels.
        hidden: dense hidden units.
    """

    n_models: int = 3
    kappa: float = 1.0
    n_steps: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    rank_coeff: float = 0.01
    filters: int = 32
    hidden: int = 64


class ProxyEnsemble:
    """An ensemble of :class:`CNN` regressors with mean, std and UCB predictions.

    Args:
        alphabet_size: number of letters.
        config: hyper-parameters.
    """

    def __init__(self, alphabet_size: int, config: ProxyConfig | None = None) -> None:
        self.alphabet_size = alphabet_size
        self.config = config or ProxyConfig()
        self.models: list[CNN] = []
        self._shift = 0.0
        self._scale = 1.0

    def fit(self, codes: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
        """Train fresh members on all data; returns the last minibatch loss (standardised).

        Args:
            codes: integer sequences, shape ``(n, L)``.
            y: scores, shape ``(n,)``.
            rng: source of every random draw (initialisation seeds and minibatches).
        """
        cfg = self.config
        y = np.asarray(y, dtype=np.float64)
        self._shift = float(y.mean())
        self._scale = float(y.std()) or 1.0
        x_all = one_hot(codes, self.alphabet_size)
        y_all = torch.from_numpy((y - self._shift) / self._scale).float()
        p = rank_weights(y, cfg.rank_coeff) if cfg.rank_coeff > 0 else None
        self.models = []
        loss = torch.zeros(())
        for _ in range(cfg.n_models):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(rng.integers(2**31)))
                model = CNN(self.alphabet_size, cfg.filters, cfg.hidden)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            size = min(cfg.batch_size, len(y))
            for _step in range(cfg.n_steps):
                idx = torch.from_numpy(rng.choice(len(y), size=size, p=p))
                loss = nn.functional.mse_loss(model(x_all[idx]), y_all[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            self.models.append(model)
        return loss.item()

    @torch.no_grad()
    def predict(self, codes: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std over members, shape ``(n,)`` each, in score units."""
        if not self.models:
            raise RuntimeError("the proxy has not been fitted")
        preds = []
        for start in range(0, len(codes), chunk):
            x = one_hot(codes[start : start + chunk], self.alphabet_size)
            preds.append(torch.stack([m(x) for m in self.models]).double().numpy())
        if not preds:
            return np.zeros(0), np.zeros(0)
        p = np.concatenate(preds, axis=1) * self._scale + self._shift
        return p.mean(axis=0), p.std(axis=0)

    def ucb(self, codes: np.ndarray, kappa: float | None = None) -> np.ndarray:
        """``mean + κ · std`` (κ from the config unless given)."""
        mean, std = self.predict(codes)
        return mean + (self.config.kappa if kappa is None else kappa) * std
