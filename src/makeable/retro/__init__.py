"""Single-step retrosynthesis: reactions data, templates, models, metric and benchmark.

Importing this package registers the models in :data:`makeable.retro.base.MODELS`.
"""

from makeable.retro import retcl, template_mlp  # noqa: F401  (registers the models)
from makeable.retro.base import (
    MODELS,
    Prediction,
    ReactantSet,
    SingleStepModel,
    load_model,
)

__all__ = ["MODELS", "Prediction", "ReactantSet", "SingleStepModel", "load_model"]
