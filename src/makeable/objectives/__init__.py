"""Objectives: one registry (``OBJECTIVES``), a batch API, usable by name everywhere.

Built-in objectives register themselves when their module is imported; :func:`get_objective`
imports them on first use and also accepts a Python callable or a ``module:function`` spec.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from makeable.objectives.base import OBJECTIVES, FunctionObjective, Objective, Scores

_BUILTIN_MODULES = (
    "makeable.objectives.pmo",
    "makeable.objectives.bioactivity",
    "makeable.objectives.guacamol",
    "makeable.objectives.synthesizability",
    "makeable.objectives.sleepy",
)
_loaded = False


def load_builtin_objectives() -> None:
    """Import the modules that register the built-in objectives (idempotent)."""
    global _loaded
    if not _loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def objective_names() -> list[str]:
    load_builtin_objectives()
    return OBJECTIVES.names()


def get_objective(spec: str | Objective | Callable[..., Any], **params: Any) -> Objective:
    """Resolve an objective from a registered name, a ``predictor:DIR[:TARGET]`` spec (a
    trained property predictor, :mod:`makeable.objectives.predictor`), a ``module:function``
    spec or a callable.

    A ``module:function`` target may be an :class:`Objective` instance or subclass, or a plain
    function ``f(smiles) -> float`` that is wrapped in a :class:`FunctionObjective`.
    """
    if isinstance(spec, Objective):
        return spec
    if callable(spec):
        return _wrap(getattr(spec, "__name__", "user_objective"), spec)
    if spec.startswith("predictor:"):  # a trained property predictor (makeable predict train)
        from makeable.objectives.predictor import predictor_objective

        return predictor_objective(spec, **params)
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load objective {spec!r}: {exc}") from exc
        if isinstance(target, type) and issubclass(target, Objective):
            return target(**params)
        return _wrap(spec, target)
    load_builtin_objectives()
    return OBJECTIVES.build(spec, **params)


def _wrap(name: str, target: Any) -> Objective:
    if isinstance(target, Objective):
        return target
    if not callable(target):
        raise ValueError(f"objective {name!r} is neither an Objective nor callable")
    return FunctionObjective(name, target)


__all__ = [
    "OBJECTIVES",
    "FunctionObjective",
    "Objective",
    "Scores",
    "get_objective",
    "load_builtin_objectives",
    "objective_names",
]
