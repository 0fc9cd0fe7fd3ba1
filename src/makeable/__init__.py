"""makeable: AI-driven molecular design — design what you can make.

The core API is importable from here (``from makeable import get_objective, run_design,
DesignConfig``); each name is imported on first use, so ``import makeable`` loads neither RDKit
nor torch.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (8 ms)
__version__ = "0.1.0"

# name → the module that defines it
_API = {
    "get_objective": "makeable.objectives",
    "objective_names": "makeable.objectives",
    "Objective": "makeable.objectives",
    "get_optimizer": "makeable.optimizers",
    "optimizer_names": "makeable.optimizers",
    "Optimizer": "makeable.optimizers",
    "DesignConfig": "makeable.runs.config",
    "run_design": "makeable.runs.design",
    "DesignResult": "makeable.runs.design",
    "load_stock": "makeable.data.stocks",
    "load_model": "makeable.retro.single_step.base",
    "plan": "makeable.retro.planning.search",
    "plan_many": "makeable.retro.planning.search",
    "SearchSettings": "makeable.retro.planning.search",
    "PlanResult": "makeable.retro.planning.search",
    "SequenceDesignConfig": "makeable.sequences.design",
    "run_sequence_design": "makeable.sequences.design",
    "get_task": "makeable.sequences.tasks",
}

__all__ = [  # the names of _API
    "DesignConfig",
    "DesignResult",
    "Objective",
    "Optimizer",
    "PlanResult",
    "SearchSettings",
    "SequenceDesignConfig",
    "__version__",
    "get_objective",
    "get_optimizer",
    "get_task",
    "load_model",
    "load_stock",
    "objective_names",
    "optimizer_names",
    "plan",
    "plan_many",
    "run_design",
    "run_sequence_design",
]

if TYPE_CHECKING:
    from typing import Any

    from makeable.data.stocks import load_stock
    from makeable.objectives import Objective, get_objective, objective_names
    from makeable.optimizers import Optimizer, get_optimizer, optimizer_names
    from makeable.retro.planning.search import PlanResult, SearchSettings, plan, plan_many
    from makeable.retro.single_step.base import load_model
    from makeable.runs.config import DesignConfig
    from makeable.runs.design import DesignResult, run_design
    from makeable.sequences.design import SequenceDesignConfig, run_sequence_design
    from makeable.sequences.tasks import get_task


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'makeable' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
