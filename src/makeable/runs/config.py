"""Typed, validated run configuration, read from YAML or CLI flags and written beside results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from makeable.chem.filters import FILTER_SETS
from makeable.run_folder import (
    ConfigError,
    RunConfig,
    is_integer,
    read_yaml,
    versions,
    write_yaml,
    yaml_problem,
)
from makeable.synthesis import MODES as SYNTHESIS_MODES
from makeable.synthesis import PLANNING_MODEL

__all__ = [  # the run-folder names are re-exported: importers of this module keep working
    "ConfigError",
    "DesignConfig",
    "RunConfig",
    "is_integer",
    "read_yaml",
    "versions",
    "write_yaml",
    "yaml_problem",
]


@dataclass(frozen=True)
class DesignConfig(RunConfig):
    """Everything that defines a design run.

    Attributes:
        objective: a registered objective name or ``module:function``.
        optimizer: a registered optimizer name.
        budget: oracle calls allowed (unique valid molecules).
        seed: the run's seed (runs are deterministic for a seed).
        optimizer_params: hyper-parameters passed to the optimizer.
        objective_params: parameters passed to the objective.
        pool: ``zinc250k`` (full set when available, else the shipped sample; its protonated
            forms neutralised) or a SMILES file (used as written).
        executor: ``inprocess`` or ``process`` (oracle scoring backend).
        n_workers: workers for the ``process`` executor (default: all cores).
        filters: structural-alert filter sets (``makeable list filters``); a molecule that
            fails one is treated as an invalid SMILES: score 0, free, never recorded. Empty
            (default): off.
        top_k: molecules written to ``top.csv`` / ``top.sdf`` and shown in the report.
        plan_routes: after the run, plan synthesis routes for this many of the best molecules
            (``RUN/routes/``, a report section, ``metrics.json["routes"]``); 0 (default) is
            off. Planning uses no oracle calls.
        route_stock: purchasable molecules where routes may end: a named stock, a file (one
            SMILES or InChIKey a line, or CSV with ``smiles`` and ``price`` columns), or
            several joined by ``+``. The default ``building_blocks`` (23,575 molecules, exact)
            ships with the package (:mod:`makeable.data.stocks`).
        route_model: single-step model, a registered name (default
            :data:`makeable.synthesis.PLANNING_MODEL`, shipped) or a saved model folder.
        route_max_calls: single-step model calls per molecule (Retro* search). 100 because a
            call of the shipped Template-MLP takes about 0.5 s of one CPU core, so a
            molecule costs at most about a minute (the Retro* benchmark's 500 would be ~5).
        route_jobs: worker processes for planning (one molecule per worker at a time).
        synthesis: the synthesis term of the score (:mod:`makeable.synthesis.in_loop`):
            ``none`` (default), ``score`` (× the learned synthesizability score) or ``plan``
            (every molecule planned during the run; not makeable: × ``penalty``).
        synthesis_params: its settings (:class:`makeable.synthesis.in_loop.SynthesisParams`:
            ``score``, ``weight``; ``stock``, ``model``, ``max_calls``, ``penalty``,
            ``length_weight``).
    """

    objective: str
    optimizer: str = "graph_ga"
    budget: int = 10000
    seed: int = 0
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    objective_params: dict[str, Any] = field(default_factory=dict)
    pool: str = "zinc250k"
    executor: str = "inprocess"
    n_workers: int | None = None
    filters: list[str] = field(default_factory=list)
    top_k: int = 100
    plan_routes: int = 0
    route_stock: str = "building_blocks"
    route_model: str = PLANNING_MODEL
    route_max_calls: int = 100
    route_jobs: int = 1
    synthesis: str = "none"
    synthesis_params: dict[str, Any] = field(default_factory=dict)

    REQUIRED = "objective"
    # fields that do not change which molecules a run proposes (so may differ on resume)
    RESUME_FREE = (
        "budget",
        "executor",
        "n_workers",
        "top_k",
        "plan_routes",
        "route_stock",
        "route_model",
        "route_max_calls",
        "route_jobs",
    )

    def __post_init__(self) -> None:
        for name in ("objective", "optimizer", "pool", "executor"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name} must be a non-empty string, not {value!r}")
        if not is_integer(self.budget) or self.budget < 1:
            raise ConfigError(f"budget must be a positive integer, not {self.budget!r}")
        if not is_integer(self.seed):
            raise ConfigError(f"seed must be an integer, not {self.seed!r}")
        for name in ("optimizer_params", "objective_params"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a mapping, not {getattr(self, name)!r}")
        if not isinstance(self.filters, list) or not all(isinstance(n, str) for n in self.filters):
            raise ConfigError(f"filters must be a list of filter set names, not {self.filters!r}")
        # an unknown name fails here, listing the valid ones; recorded as registered
        object.__setattr__(self, "filters", [FILTER_SETS.canonical(n) for n in self.filters])
        if self.n_workers is not None and (not is_integer(self.n_workers) or self.n_workers < 1):
            raise ConfigError(
                f"n_workers must be an integer >= 1 (or unset: all cores), not {self.n_workers!r}"
            )
        for name, least in (
            ("top_k", 1),
            ("plan_routes", 0),
            ("route_max_calls", 1),
            ("route_jobs", 1),
        ):
            value = getattr(self, name)
            if not is_integer(value) or value < least:
                raise ConfigError(f"{name} must be an integer >= {least}, not {value!r}")
        if self.synthesis not in SYNTHESIS_MODES:
            raise ConfigError(
                f"synthesis must be one of {', '.join(SYNTHESIS_MODES)}; not {self.synthesis!r}"
            )
        if not isinstance(self.synthesis_params, dict):
            raise ConfigError(f"synthesis_params must be a mapping, not {self.synthesis_params!r}")
        if self.synthesis == "plan" and self.executor == "process":
            raise ConfigError(
                "--synthesis plan plans in the oracle's process: use --executor inprocess"
            )
        for name in ("route_stock", "route_model"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name} must be a non-empty string, not {value!r}")
