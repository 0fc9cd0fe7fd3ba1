"""Typed, validated run configuration, read from YAML or CLI flags and written beside results."""

from __future__ import annotations

import dataclasses
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import yaml

from makeable.chem.filters import FILTER_SETS
from makeable.settings import refuse_other_settings
from makeable.synthesis import MODES as SYNTHESIS_MODES

if TYPE_CHECKING:
    from makeable.oracle.store import RunStore


class ConfigError(ValueError):
    """A config file or flag is invalid (unknown key, wrong type, bad value)."""


def is_integer(value: Any) -> bool:
    """An ``int`` and not a ``bool`` (YAML's ``true`` is no count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line saying what is wrong in a YAML text and where (line and column, 1-based)."""
    problem = getattr(exc, "problem", None)
    if not problem:
        return " ".join(str(exc).split())
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = getattr(exc, "context", None)
    text = f"{where}{problem}" + (f" ({context})" if context else "")
    if "'\\t'" in problem:
        text += "; indent with spaces, not tabs"
    elif "python/" in problem:
        text += "; makeable reads YAML safely and builds no Python object from it"
    return text


def read_yaml(path: str | Path) -> Any:
    """The YAML document of a file, read safely (``yaml.safe_load``: plain data only).

    Raises:
        FileNotFoundError: no such file.
        ConfigError: the file cannot be read or is not valid YAML (one line naming the file
            and the problem with its line and column).
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {yaml_problem(exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a YAML text file (not UTF-8)") from None
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


class RunConfig:
    """What every job config shares (a frozen dataclass subclasses it): reading from a dict or
    YAML with clear errors, writing back, and the resume check against a run folder.

    Subclasses set ``REQUIRED`` (the key a config must give) and ``RESUME_FREE`` (fields that
    do not change what a run proposes, so may differ when it is resumed).
    """

    REQUIRED: ClassVar[str]
    RESUME_FREE: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; valid keys: {sorted(names)}")
        if cls.REQUIRED not in data:
            raise ConfigError(f"the config must give {cls.REQUIRED!r}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> Self:
        data = read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def identity(self) -> dict[str, Any]:
        """The fields that decide the run's trajectory (compared when resuming)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.RESUME_FREE}

    def check_resume(self, store: RunStore) -> None:
        """Refuse a run folder that holds a run with another identity.

        Raises:
            ConfigError: the recorded config differs in a field of :meth:`identity`.
        """
        recorded = store.get_meta("config")
        if recorded is None:
            return
        refuse_other_settings(
            type(self).from_dict(recorded).identity(),
            self.identity(),
            holds="the run folder holds a different run,",
            hint="use another --out, or the same settings to resume",
            error=ConfigError,
        )


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
        route_model: single-step model, a registered name (``template_mlp`` ships trained
            weights) or a saved model folder.
        route_max_calls: single-step model calls per molecule (Retro* search). 100 because a
            call of the shipped ``template_mlp`` takes about 0.5 s of one CPU core, so a
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
    route_model: str = "template_mlp"
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
        for name in self.filters:
            FILTER_SETS.factory(name)  # an unknown name fails here, listing the valid ones
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


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages a run depends on."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("makeable", "rdkit", "numpy", "networkx", "pyyaml", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
