"""An ensemble of single-step models: each proposes, the proposals are scored by all.

Complementary models err in different places (RetroChimera, Maziarz et al. 2024, combines a
template model with a template-free one for that reason). Here each member proposes its
``k_each`` best reactant sets; a set's ensemble score is the weighted geometric mean of the
members' scores, ``exp(sum_i w_i log s_i / sum_i w_i)``, where a member that did not propose
the set scores ``floor``. The members' scores must be probabilities in (0, 1] (the
Template-MLP's summed template probabilities and the Local-GNN's scores are).

Saved as a folder whose ``config.json`` names the members (registered model names, or model
folders); the members load when the ensemble first predicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from makeable.chem.molecule import Molecule
from makeable.retro.single_step.base import (
    MODELS,
    ReactantSet,
    SingleStepModel,
    load_model,
    weights_digest,
)


@MODELS.register("ensemble")
class EnsembleModel(SingleStepModel):
    """Several single-step models' proposals, re-scored by all of them.

    Args:
        members: the member models: registered names or saved model folders.
        weights: one weight per member (default: 1 each).
        floor: the score of a reactant set a member did not propose.
        k_each: reactant sets asked of each member per product (at least the ``k`` asked).
    """

    name = "ensemble"
    score_merge = "max"
    scores_are_probabilities = True

    def __init__(
        self,
        members: Sequence[str] = (),
        weights: Sequence[float] | None = None,
        floor: float = 1e-4,
        k_each: int = 50,
    ) -> None:
        members = [str(m) for m in members]
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two member models")
        w = [1.0] * len(members) if weights is None else [float(x) for x in weights]
        if len(w) != len(members) or any(not x > 0 for x in w):
            raise ValueError("weights: one positive number per member model")
        if not 0 < floor < 1:
            raise ValueError(f"floor must be in (0, 1), got {floor}")
        super().__init__(members=members, weights=w, floor=float(floor), k_each=int(k_each))
        self._models: list[SingleStepModel] | None = None

    @property
    def models(self) -> list[SingleStepModel]:
        """The member models (loaded on first use)."""
        if self._models is None:
            self._models = [load_model(m) for m in self.params["members"]]
        return self._models

    @property
    def supports_classes(self) -> bool:
        return all(model.supports_classes for model in self.models)

    def classes_missing(self) -> str:
        missing = [m for m in self.models if not m.supports_classes]
        return "; ".join(f"member {m.name}: {m.classes_missing()}" for m in missing)

    def digest(self) -> str:
        """The members' digests with the weights: the ensemble answers alike when they do."""
        return weights_digest([self.name, self.params, [m.digest() for m in self.models]], {})

    def prepare_for_stock(self, stock: Any) -> None:
        for model in self.models:
            model.prepare_for_stock(stock)

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        smiles = [m.smiles for m in products]
        k_each = max(k, self.params["k_each"])
        proposals = [model.predict(smiles, k=k_each, classes=classes) for model in self.models]
        weights = self.params["weights"]
        total = sum(weights)
        log_floor = math.log(self.params["floor"])
        out: list[list[ReactantSet]] = []
        for i in range(len(products)):
            scores: list[dict[tuple[str, ...], float]] = [
                {rs.reactants: rs.score for rs in member[i].reactant_sets} for member in proposals
            ]
            keys = list(dict.fromkeys(key for member in scores for key in member))
            found = []
            for key in keys:
                logs = [
                    math.log(min(1.0, s[key])) if s.get(key, 0.0) > 0 else log_floor for s in scores
                ]
                combined = sum(w * x for w, x in zip(weights, logs, strict=True)) / total
                info = {"members": [s.get(key) for s in scores]}
                found.append(ReactantSet(key, math.exp(combined), info))
            out.append(found)
        return out
