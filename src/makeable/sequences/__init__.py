"""Biological sequence design: tasks, a proxy ensemble, a GFlowNet with δ-Conservative Search,
baselines, and the active-learning loop (Kim et al., ICML 2025, https://arxiv.org/abs/2410.04461).

Tasks are :class:`~makeable.objectives.base.Objective` subclasses over strings, so the shared
:class:`~makeable.oracle.Oracle` counts, caches, records and replays their calls exactly.
Heavy parts (torch, ViennaRNA) are imported by the modules that need them.
"""

from __future__ import annotations

from makeable.sequences.tasks import (
    TASKS,
    InvalidSequenceError,
    SequenceTask,
    get_task,
    task_names,
)

__all__ = ["TASKS", "InvalidSequenceError", "SequenceTask", "get_task", "task_names"]
