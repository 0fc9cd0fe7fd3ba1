"""An exact Gaussian process and two acquisition functions, for small Bayesian optimisation.

The model is GP regression with a constant mean, an ARD Matérn-5/2 kernel times an output scale,
and Gaussian noise, as BoTorch's ``SingleTaskGP`` has it, in torch (float64): no GPyTorch or
BoTorch dependency. Inputs are standardised per dimension and targets to mean 0
and standard deviation 1 on the training data; predictions come back in the targets' units.

Hyper-parameters (the mean, the log length scales, the log output scale, the log noise) are
fitted by maximising the log marginal likelihood plus a log-normal prior on each length scale
centred at ``sqrt(d)`` (Hvarfner, Hellsten, Nardi, "Vanilla Bayesian optimization performs
great in high dimensions", ICML 2024, https://arxiv.org/abs/2402.02229): a few dozen Adam steps
from a start that may be a previous fit (:attr:`GaussianProcess.hyper`), so that a loop refitting
each round stays cheap. The gradient is formed from ``d log p / dK = (a a^T - K^-1) / 2`` with
``a = K^-1 (y - mean)`` (Rasmussen and Williams, eq. 5.9), so autograd differentiates only the
kernel's entries, not the factorisation. Each step costs a Cholesky factorisation and an inverse,
``O(n^3)`` in the ``n`` training points, so callers keep ``n`` to about a thousand.

Everything is deterministic for fixed inputs and torch threads.

References:
    Rasmussen, Williams, "Gaussian processes for machine learning", MIT Press 2006
    (https://gaussianprocess.org/gpml/), algorithm 2.1.
    Jones, Schonlau, Welch, "Efficient global optimization of expensive black-box functions",
    J. Glob. Optim. 1998 (expected improvement).
    Srinivas et al., "Gaussian process optimization in the bandit setting", ICML 2010 (UCB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["GPHyper", "GaussianProcess", "expected_improvement", "upper_confidence_bound"]

MIN_NOISE = 1e-6
"""Smallest noise variance (in standardised target units): keeps the Cholesky factor stable."""
_JITTERS = (0.0, 1e-8, 1e-6, 1e-4, 1e-2)


@dataclass(frozen=True)
class GPHyper:
    """Fitted hyper-parameters, in the standardised units of the data they were fitted on.

    Attributes:
        mean: the constant prior mean.
        log_lengthscales: ``(d,)`` log length scales of the ARD kernel.
        log_outputscale: log of the kernel's variance.
        log_noise: log of the noise variance beyond :data:`MIN_NOISE`.
    """

    mean: float
    log_lengthscales: tuple[float, ...]
    log_outputscale: float
    log_noise: float

    @classmethod
    def initial(cls, d: int) -> GPHyper:
        """The start of a first fit: length scales ``sqrt(d)``, unit output scale, noise 0.01."""
        return cls(0.0, (0.5 * math.log(d),) * d, 0.0, math.log(1e-2))


def _standardize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant)."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


def _matern52(a: torch.Tensor, b: torch.Tensor, log_ls: torch.Tensor) -> torch.Tensor:
    """Unit-variance Matérn-5/2 kernel ``(len(a), len(b))`` with length scales ``exp(log_ls)``."""
    a, b = a / log_ls.exp(), b / log_ls.exp()
    sq = a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2.0 * a @ b.T  # cheap to differentiate
    r = torch.sqrt(sq.clamp(min=1e-12)) * math.sqrt(5.0)  # clamped: a finite gradient at r = 0
    return (1.0 + r + r.pow(2) / 3.0) * torch.exp(-r)


def _cholesky(k: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor of ``k``, with the smallest diagonal jitter that makes it work."""
    eye = torch.eye(len(k), dtype=k.dtype)
    for jitter in _JITTERS:
        factor, info = torch.linalg.cholesky_ex(k + jitter * eye)
        if int(info) == 0:
            return factor
    raise ValueError("the GP kernel matrix is not positive definite even with jitter 1e-2")


class GaussianProcess:
    """Exact GP regression fitted on ``(x, y)``.

    Args:
        x: ``(n, d)`` training inputs.
        y: ``(n,)`` training targets.
        steps: Adam steps on the negative log marginal likelihood (0: keep ``start``).
        lr: Adam learning rate.
        start: hyper-parameters to start from (e.g. the previous round's :attr:`hyper`);
            default :meth:`GPHyper.initial`. A start of another dimension is ignored.

    Attributes:
        hyper: the fitted hyper-parameters (a start for the next fit).

    Raises:
        ValueError: shapes that do not match, no training point, or non-finite values.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        steps: int = 50,
        lr: float = 0.05,
        start: GPHyper | None = None,
    ) -> None:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or y.shape != (len(x),) or not len(x):
            raise ValueError(f"need x (n, d) and y (n,) with n >= 1, got {x.shape} and {y.shape}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("GP training data must be finite")
        d = x.shape[1]
        self._x_mean, self._x_std = _standardize(x)
        y_mean, y_std = _standardize(y[:, None])
        self._y_mean, self._y_std = float(y_mean[0]), float(y_std[0])
        self._x = torch.from_numpy((x - self._x_mean) / self._x_std)
        self._y = torch.from_numpy((y - self._y_mean) / self._y_std)
        if start is None or len(start.log_lengthscales) != d:
            start = GPHyper.initial(d)
        self.hyper = self._fit(start, steps, lr)
        self._factor, self._alpha = self._posterior(self.hyper)

    def _fit(self, start: GPHyper, steps: int, lr: float) -> GPHyper:
        """Maximise the log marginal likelihood plus the length scales' log prior."""
        d = self._x.shape[1]
        mean = torch.tensor(start.mean, dtype=torch.float64, requires_grad=True)
        log_ls = torch.tensor(start.log_lengthscales, dtype=torch.float64, requires_grad=True)
        log_os = torch.tensor(start.log_outputscale, dtype=torch.float64, requires_grad=True)
        log_noise = torch.tensor(start.log_noise, dtype=torch.float64, requires_grad=True)
        prior_loc, prior_scale = math.sqrt(2.0) + 0.5 * math.log(d), math.sqrt(3.0)
        optimizer = torch.optim.Adam([mean, log_ls, log_os, log_noise], lr=lr)
        n = len(self._y)
        for _ in range(steps):
            optimizer.zero_grad()
            k = self._kernel_matrix(log_ls, log_os, log_noise)
            with torch.no_grad():  # d log p(y | x) / dK = (alpha alpha^T - K^-1) / 2
                factor = _cholesky(k)
                alpha = torch.cholesky_solve((self._y - mean).unsqueeze(1), factor)
                weight = alpha @ alpha.T - torch.cholesky_inverse(factor)
            # a surrogate with the gradient of -log p(y | x) / n: autograd then only goes
            # through the kernel's entries, not through the Cholesky factorisation
            surrogate = -(0.5 * (weight * k).sum() + alpha.sum() * mean) / n
            prior = ((log_ls - prior_loc) ** 2).sum() / (2 * prior_scale**2)
            (surrogate + prior / n).backward()
            optimizer.step()
        return GPHyper(
            float(mean.detach()),
            tuple(float(v) for v in log_ls.detach()),
            float(log_os.detach()),
            float(log_noise.detach()),
        )

    def _kernel_matrix(
        self, log_ls: torch.Tensor, log_os: torch.Tensor, log_noise: torch.Tensor
    ) -> torch.Tensor:
        k = log_os.exp() * _matern52(self._x, self._x, log_ls)
        return k + (log_noise.exp() + MIN_NOISE) * torch.eye(len(k), dtype=k.dtype)

    def _posterior(self, hyper: GPHyper) -> tuple[torch.Tensor, torch.Tensor]:
        """The Cholesky factor of the training kernel and ``K^-1 (y - mean)``."""
        log_ls, log_os, log_noise = (
            torch.tensor(v, dtype=torch.float64)
            for v in (hyper.log_lengthscales, hyper.log_outputscale, hyper.log_noise)
        )
        with torch.no_grad():
            factor = _cholesky(self._kernel_matrix(log_ls, log_os, log_noise))
            alpha = torch.cholesky_solve((self._y - hyper.mean).unsqueeze(1), factor)
        return factor, alpha

    def predict(self, x: np.ndarray, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at ``x`` ``(m, d)``,
        each ``(m,)``, in the targets' units (the noise is not added to the deviation)."""
        x = np.asarray(x, dtype=np.float64)
        log_ls = torch.tensor(self.hyper.log_lengthscales, dtype=torch.float64)
        outputscale = math.exp(self.hyper.log_outputscale)
        means, stds = [], []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                xs = torch.from_numpy((x[i : i + batch_size] - self._x_mean) / self._x_std)
                cross = outputscale * _matern52(xs, self._x, log_ls)  # (m, n)
                means.append((self.hyper.mean + cross @ self._alpha).squeeze(1))
                v = torch.linalg.solve_triangular(self._factor, cross.T, upper=False)
                stds.append((outputscale - v.pow(2).sum(dim=0)).clamp(min=0.0).sqrt())
        mean = torch.cat(means).numpy() if means else np.zeros(0)
        std = torch.cat(stds).numpy() if stds else np.zeros(0)
        return mean * self._y_std + self._y_mean, std * self._y_std


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """``E[max(f - best, 0)]`` under ``f ~ N(mean, std^2)`` (for maximisation), elementwise;
    ``max(mean - best, 0)`` where ``std`` is 0."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    gain = mean - best
    safe = np.where(std > 0, std, 1.0)
    u = torch.from_numpy(gain / safe)
    cdf = torch.special.ndtr(u).numpy()
    pdf = np.exp(-0.5 * u.numpy() ** 2) / math.sqrt(2 * math.pi)
    ei = gain * cdf + safe * pdf
    return np.where(std > 0, np.maximum(ei, 0.0), np.maximum(gain, 0.0))


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, kappa: float) -> np.ndarray:
    """``mean + kappa * std``, elementwise."""
    return np.asarray(mean, dtype=np.float64) + kappa * np.asarray(std, dtype=np.float64)
