"""A trained property predictor as an objective: ``predictor:DIR[:TARGET]``.

The score of a molecule is the predictor's ensemble mean for ``TARGET`` (the first target when
not named); with ``conservative=K`` it is the mean minus K calibrated standard deviations (a
lower confidence bound), so a search is penalised where the model is unsure, the lesson of
δ-CS (Kim et al. 2025) for proxies used far from their data.

Optional ``low`` / ``high`` map the value linearly onto [0, 1] (clipped; ``low > high`` to
minimise a property), for optimizers whose updates assume scores in [0, 1] (REINVENT's
augmented likelihood, GEGL's and Genetic GFN's rewards) and so that an invalid molecule
(score 0) is never better than a valid one. Without them the raw prediction is the score.

``min_similarity=S`` keeps the search inside the predictor's applicability domain, as δ-CS
keeps its search within a distance δ of its data: a molecule whose nearest training molecule
is less similar than ``S`` (Tanimoto, Morgan radius 2) scores 0, the bottom of the
``[low, high]`` scale (so ``low`` and ``high`` are needed).

Examples::

    makeable design --objective predictor:models/esol --objective-param conservative=1 \\
        --objective-param low=-6 --objective-param high=2 --out runs/sol
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from makeable.objectives.base import Objective
from makeable.params import require_real

PREFIX = "predictor:"


class PredictorObjective(Objective):
    """Scores molecules with a saved predictor (:mod:`makeable.predict.model`).

    Args:
        folder: the predictor folder.
        target: the target column (default: the predictor's first).
        conservative: K in ``mean - K * std``; needs an ensemble (2 or more models).
        low, high: map ``[low, high]`` linearly onto ``[0, 1]`` (both or neither).
        min_similarity: molecules less similar than this to every training molecule score 0
            (0: off; needs ``low`` and ``high`` and a predictor with ``domain.npz``).

    Raises:
        PredictorError: the folder is not a loadable predictor, or has no such target.
        ValueError: a bad ``conservative``, ``low`` or ``high``.
    """

    def __init__(
        self,
        folder: str | Path,
        target: str | None = None,
        conservative: float = 0.0,
        low: float | None = None,
        high: float | None = None,
        min_similarity: float = 0.0,
    ) -> None:
        from makeable.predict.model import PredictorError, load_predictor

        self.predictor = load_predictor(folder)
        self.column = self.predictor.target_index(target)
        self.target = self.predictor.targets[self.column]
        require_real("conservative", conservative, 0.0)
        if conservative and self.predictor.config["n_models"] < 2:
            raise PredictorError(
                f"{folder}: conservative scores need an uncertainty, and this predictor is one "
                "model: train an ensemble (--ensemble 3)"
            )
        if (low is None) != (high is None) or (low is not None and low == high):
            raise ValueError("give both low and high (and low != high), or neither")
        require_real("min_similarity", min_similarity, 0.0, most=1.0)
        if min_similarity and low is None:
            raise ValueError(
                "min_similarity scores molecules outside the domain 0, the bottom of the [low, "
                "high] scale: give low and high too"
            )
        if min_similarity and not self.predictor.has_domain:
            self.predictor.nearest_similarity([])  # raises PredictorError: no domain.npz
        self.conservative = float(conservative)
        self.min_similarity = float(min_similarity)
        self.low, self.high = low, high
        suffix = f":{self.target}" if target else ""
        self.name = f"{PREFIX}{folder}{suffix}"

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        mean, std = self.predictor.predict_mols(list(mols))
        value = mean[:, self.column]
        if self.conservative:
            value = value - self.conservative * std[:, self.column]
        if self.low is not None and self.high is not None:
            value = np.clip((value - self.low) / (self.high - self.low), 0.0, 1.0)
        if self.min_similarity:
            inside = self.predictor.nearest_similarity(list(mols)) >= self.min_similarity
            value = np.where(inside, value, 0.0)
        return np.asarray(value, dtype=np.float64)


def predictor_objective(spec: str, **params: Any) -> PredictorObjective:
    """The objective of ``predictor:DIR[:TARGET]`` (a ``target`` parameter wins over the spec's).

    Raises:
        PredictorError: the folder is not a predictor, or has no such target.
    """
    rest = spec[len(PREFIX) :]
    folder, target = rest, None
    if not Path(rest).is_dir() and ":" in rest:
        folder, _, target = rest.rpartition(":")
    params.setdefault("target", target)
    return PredictorObjective(folder, **params)
