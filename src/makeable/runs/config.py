"""Typed, validated run configuration, read from YAML or CLI flags and written beside results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from makeable.chem.filters import FILTER_SETS
from makeable.data.stocks import DEFAULT_STOCK
from makeable.oracle.executor import ADDRESS_HELP, EXECUTOR_KINDS
from makeable.run_folder import (
    ConfigError,
    ConfigSection,
    RunConfig,
    is_integer,
    read_yaml,
    setting,
    versions,
    write_yaml,
    yaml_problem,
)
from makeable.synthesis import MODES as SYNTHESIS_MODES
from makeable.synthesis import PLANNING_MODEL

__all__ = [  # the run-folder names are re-exported: importers of this module keep working
    "ConfigError",
    "DesignConfig",
    "RoutesConfig",
    "RunConfig",
    "is_integer",
    "read_yaml",
    "versions",
    "write_yaml",
    "yaml_problem",
]


ROUTE_KEYS = {
    "plan_routes": "top",
    "route_stock": "stock",
    "route_model": "model",
    "route_max_calls": "budget",
    "route_jobs": "jobs",
}
"""The flat route keys of configs written before the ``routes`` section, and their names in it."""


@dataclass(frozen=True)
class RoutesConfig(ConfigSection):
    """After a design run, plan synthesis routes for its best molecules (``RUN/routes/``, a
    report section, ``metrics.json["routes"]``). Planning uses no oracle calls.

    Attributes:
        top: plan this many of the best molecules; 0 (default) is off.
        stock: where routes may end: a named stock, a file (one SMILES or InChIKey a line, or
            CSV with ``smiles`` and ``price`` columns), or several joined by ``+``. The
            default ``building_blocks`` (23,575 molecules, exact) ships with the package
            (:mod:`makeable.data.stocks`).
        model: single-step model, a registered name (default
            :data:`makeable.synthesis.PLANNING_MODEL`, shipped) or a saved model folder.
        budget: single-step model calls per molecule (Retro* search). 100 because a call of
            the shipped Template-MLP takes about 0.5 s of one CPU core, so a molecule costs at
            most about a minute (the Retro* benchmark's 500 would be ~5).
        jobs: worker processes for planning (one molecule per worker at a time).
    """

    SECTION = "routes"

    top: int = setting(
        0, help="plan the top K molecules (default 0: off)", flag="--plan-routes", metavar="K"
    )
    stock: str = setting(
        DEFAULT_STOCK,
        help="where routes may end: a named stock (default building_blocks, shipped), a file "
        "(SMILES/InChIKey a line, or CSV with smiles and price columns), or several joined by "
        "+ (building_blocks+zinc_instock: Bloom-filter leaves stay unverified)",
        metavar="NAME|FILE",
    )
    model: str = setting(
        PLANNING_MODEL,
        help=f"single-step model: registered name or saved folder (default {PLANNING_MODEL})",
        metavar="NAME|DIR",
    )
    budget: int = setting(
        100,
        help="single-step model calls per molecule (default 100, about a CPU-minute)",
        aliases=("--route-max-calls",),
        metavar="N",
    )
    jobs: int = setting(1, help="worker processes for planning (default 1)", metavar="J")

    def __post_init__(self) -> None:
        for name, least in (("top", 0), ("budget", 1), ("jobs", 1)):
            value = getattr(self, name)
            if not is_integer(value) or value < least:
                raise ConfigError(f"routes.{name} must be an integer >= {least}, not {value!r}")
        for name in ("stock", "model"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"routes.{name} must be a non-empty string, not {value!r}")


@dataclass(frozen=True)
class DesignConfig(RunConfig):
    """Everything that defines a design run.

    Each setting is also a flag of ``makeable design`` (its help is the field's ``help``);
    YAML configs use the same names, ``routes`` as a nested mapping.

    Attributes:
        objective: a registered objective name or ``module:function``.
        optimizer: a registered optimizer name.
        budget: oracle calls allowed (unique valid molecules).
        seed: the run's seed (runs are deterministic for a seed).
        optimizer_params: hyper-parameters passed to the optimizer.
        objective_params: parameters passed to the objective.
        pool: ``zinc250k`` (full set when available, else the shipped sample; its protonated
            forms neutralised) or a SMILES file (used as written).
        executor: ``inprocess``, ``process`` or ``ray`` (where the oracle scores its
            batches; recording stays with the run). With ``ray``, ``--plan-routes`` planning
            uses Ray too.
        n_workers: workers for the ``process`` / ``ray`` executor (default: all cores, or
            the Ray cluster's CPUs).
        address: the Ray cluster of the ``ray`` executor: ``auto`` or ``HOST:PORT``
            (default: start a local one).
        filters: structural-alert filter sets (``makeable list filters``); a molecule that
            fails one is treated as an invalid SMILES: score 0, free, never recorded. Empty
            (default): off.
        top_k: molecules written to ``top.csv`` / ``top.sdf`` and shown in the report.
        routes: route planning after the run (:class:`RoutesConfig`; off by default).
        synthesis: the synthesis term of the score (:mod:`makeable.synthesis.in_loop`):
            ``none`` (default), ``score`` (× the learned synthesizability score) or ``plan``
            (every molecule planned during the run; not makeable: × ``penalty``).
        synthesis_params: its settings (:class:`makeable.synthesis.in_loop.SynthesisParams`:
            ``score``, ``weight``; ``stock``, ``model``, ``budget``, ``penalty``,
            ``length_weight``).
    """

    objective: str = setting(help="registered objective name or module:function")
    optimizer: str = setting(
        "graph_ga", help="registered optimizer (see `makeable list optimizers`; default graph_ga)"
    )
    budget: int = setting(
        10000, help="oracle calls allowed: unique valid molecules scored (default 10000)"
    )
    seed: int = setting(
        0, help="random seed (default 0; the same seed repeats the same result)", metavar="N"
    )
    optimizer_params: dict[str, Any] = setting(
        default_factory=dict, help="optimizer parameter", flag="--param", metavar="KEY=VALUE"
    )
    objective_params: dict[str, Any] = setting(
        default_factory=dict,
        help="objective parameter",
        flag="--objective-param",
        metavar="KEY=VALUE",
    )
    pool: str = setting("zinc250k", help="initial molecules: 'zinc250k' (default) or a SMILES file")
    executor: str = setting(
        "inprocess",
        help="oracle scoring backend: inprocess (default), process (local worker processes) "
        "or ray (Ray actors; also plans --plan-routes)",
        choices=EXECUTOR_KINDS,
    )
    n_workers: int | None = setting(
        None,
        help="workers for --executor process or ray (default: all cores, or the Ray "
        "cluster's CPUs)",
        flag="--workers",
        metavar="N",
    )
    address: str | None = setting(
        None,
        help=ADDRESS_HELP,
        metavar="ADDRESS",
    )
    filters: list[str] = setting(
        default_factory=list,
        help="structural-alert filter sets (`makeable list filters`): a molecule failing one "
        "scores 0 and costs no oracle call, like an invalid SMILES (default: none)",
        metavar="NAME",
    )
    top_k: int = setting(
        100,
        help="molecules written to top.csv / top.sdf and shown in the report (default 100)",
        metavar="K",
    )
    routes: RoutesConfig = setting(
        default_factory=RoutesConfig,
        help="after the run, plan routes for its best molecules (no oracle calls); writes "
        "OUT/routes/, adds the makeable share to metrics.json and the routes to report.html",
        flag="--route",
    )
    synthesis: str = setting(
        "none",
        help="score: multiply by the learned synthesizability score (fast); plan: plan every "
        "molecule during the run, not makeable scores x penalty (default none)",
        choices=SYNTHESIS_MODES,
    )
    synthesis_params: dict[str, Any] = setting(
        default_factory=dict,
        help="synthesis setting: weight, score (score mode); stock, model, budget (20), "
        "penalty (0), length_weight (0) (plan mode)",
        flag="--synthesis-param",
        metavar="KEY=VALUE",
    )

    REQUIRED = "objective"
    # fields that do not change which molecules a run proposes (so may differ on resume)
    RESUME_FREE = ("budget", "executor", "n_workers", "address", "top_k", "routes")

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Configs written before the ``routes`` section had flat ``route_*`` keys."""
        flat = {k: data.pop(k) for k in list(data) if k in ROUTE_KEYS}
        if flat:
            routes = data.setdefault("routes", {})
            if isinstance(routes, dict):
                data["routes"] = {**{ROUTE_KEYS[k]: v for k, v in flat.items()}, **routes}
        return data

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
        if not is_integer(self.top_k) or self.top_k < 1:
            raise ConfigError(f"top_k must be an integer >= 1, not {self.top_k!r}")
        if isinstance(self.routes, dict):  # DesignConfig(**to_dict()) gives the section as one
            object.__setattr__(self, "routes", RoutesConfig.from_dict(self.routes))
        if not isinstance(self.routes, RoutesConfig):
            raise ConfigError(f"routes must be a mapping of route settings, not {self.routes!r}")
        if self.synthesis not in SYNTHESIS_MODES:
            raise ConfigError(
                f"synthesis must be one of {', '.join(SYNTHESIS_MODES)}; not {self.synthesis!r}"
            )
        if not isinstance(self.synthesis_params, dict):
            raise ConfigError(f"synthesis_params must be a mapping, not {self.synthesis_params!r}")
        if self.synthesis == "plan" and self.executor != "inprocess":
            raise ConfigError(
                "--synthesis plan plans in the oracle's process: use --executor inprocess"
            )
        if self.address is not None and (not isinstance(self.address, str) or not self.address):
            raise ConfigError(f"address must be auto or HOST:PORT, not {self.address!r}")
        if self.address is not None and self.executor != "ray":
            raise ConfigError(f"--address {self.address} is for --executor ray")
