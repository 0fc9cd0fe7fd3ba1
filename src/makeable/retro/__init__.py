"""Retrosynthesis, split by role as syntheseus is: ``single_step/`` (models that propose one
reaction back from a product) and ``planning/`` (multi-step search down to a stock, routes,
value functions, self-improvement). Their benchmarks live in ``makeable.bench`` (``uspto50k``,
``planning``).

Importing this package registers the single-step models in
:data:`makeable.retro.single_step.base.MODELS`.
"""

from makeable.retro.single_step import (  # noqa: F401  (registers the models)
    ensemble,
    local_gnn,
    retcl,
    template_mlp,
)
from makeable.retro.single_step.base import (
    MODELS,
    Prediction,
    ReactantSet,
    SingleStepModel,
    load_model,
)

__all__ = ["MODELS", "Prediction", "ReactantSet", "SingleStepModel", "load_model"]
