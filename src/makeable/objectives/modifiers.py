"""Score modifiers of the GuacaMol benchmark, vectorised over numpy arrays.

A modifier maps a raw property (a similarity, a TPSA, an atom count, ...) to a desirability
in [0, 1]. The definitions follow GuacaMol's ``score_modifier.py`` as re-used by TDC's PMO
oracles (``tdc/chem_utils/oracle/oracle.py``); all are plain, picklable objects.

References:
    Brown et al., "GuacaMol: Benchmarking Models for de Novo Molecular Design", JCIM 2019.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Modifier(ABC):
    """Maps raw values to scores, elementwise."""

    @abstractmethod
    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Apply the modifier to ``x`` (float array); returns an array of the same shape."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class Gaussian(Modifier):
    """Gaussian bell ``exp(-((x - mu) / sigma)^2 / 2)``: 1 at ``mu``."""

    def __init__(self, mu: float, sigma: float) -> None:
        self.mu = float(mu)
        self.sigma = float(sigma)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mu) / self.sigma
        return np.exp(-0.5 * np.power(z, 2.0))


class MinGaussian(Gaussian):
    """Half Gaussian that rewards small values: 1 for ``x <= mu``, then decays."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return super().__call__(np.maximum(np.asarray(x, dtype=np.float64), self.mu))


class MaxGaussian(Gaussian):
    """Half Gaussian that rewards large values: 1 for ``x >= mu``, decays below."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return super().__call__(np.minimum(np.asarray(x, dtype=np.float64), self.mu))


class Clipped(Modifier):
    """Linear ramp from ``(lower_x, low_score)`` to ``(upper_x, high_score)``, clipped."""

    def __init__(
        self,
        upper_x: float,
        lower_x: float = 0.0,
        high_score: float = 1.0,
        low_score: float = 0.0,
    ) -> None:
        if not low_score < high_score:
            raise ValueError("low_score must be smaller than high_score")
        self.upper_x = float(upper_x)
        self.lower_x = float(lower_x)
        self.high_score = float(high_score)
        self.low_score = float(low_score)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        slope = (self.high_score - self.low_score) / (self.upper_x - self.lower_x)
        intercept = self.high_score - slope * self.upper_x
        y = slope * np.asarray(x, dtype=np.float64) + intercept
        return np.clip(y, self.low_score, self.high_score)


class Thresholded(Modifier):
    """``min(x, threshold) / threshold``."""

    def __init__(self, threshold: float) -> None:
        self.threshold = float(threshold)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.minimum(np.asarray(x, dtype=np.float64), self.threshold) / self.threshold


def geometric_mean(columns: np.ndarray) -> np.ndarray:
    """Row-wise geometric mean ``exp(mean(log x))`` of a ``(n, k)`` array; 0 where any x is 0.

    Args:
        columns: Non-negative scores, one row per molecule.

    Returns:
        Array of shape ``(n,)``.
    """
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(columns), axis=1))


def arithmetic_mean(columns: np.ndarray) -> np.ndarray:
    """Row-wise arithmetic mean of a ``(n, k)`` array.

    Args:
        columns: Scores, one row per molecule.

    Returns:
        Array of shape ``(n,)``.
    """
    return np.mean(columns, axis=1)


__all__ = [
    "Clipped",
    "Gaussian",
    "MaxGaussian",
    "MinGaussian",
    "Modifier",
    "Thresholded",
    "arithmetic_mean",
    "geometric_mean",
]
