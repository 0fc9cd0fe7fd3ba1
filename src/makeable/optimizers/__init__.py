"""Optimizers: one registry (``OPTIMIZERS``); built-ins register on import."""

from __future__ import annotations

import importlib
from typing import Any

from makeable.optimizers.base import OPTIMIZERS, DesignContext, Optimizer

_BUILTIN_MODULES = (
    "makeable.optimizers.graph_ga",
    "makeable.optimizers.screening",
    "makeable.optimizers.gegl",
    "makeable.optimizers.reinvent",
    "makeable.optimizers.lstm_hc",
    "makeable.optimizers.genetic_gfn",
    "makeable.optimizers.synthesis_ga",
    "makeable.optimizers.vae_bo",
    "makeable.optimizers.fragment_rag",
)


def load_builtin_optimizers() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def get_optimizer(name: str, **params: Any) -> Optimizer:
    """Build a registered optimizer; unknown names or parameters fail with the valid ones."""
    load_builtin_optimizers()
    return OPTIMIZERS.build(name, **params)


def optimizer_names() -> list[str]:
    load_builtin_optimizers()
    return OPTIMIZERS.names()


__all__ = ["OPTIMIZERS", "DesignContext", "Optimizer", "get_optimizer", "optimizer_names"]
