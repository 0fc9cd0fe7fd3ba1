"""Typed, validated run configuration, read from YAML or CLI flags and written beside results."""

from __future__ import annotations

import dataclasses
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config file or flag is invalid (unknown key, wrong type, bad value)."""


@dataclass(frozen=True)
class DesignConfig:
    """Everything that defines a design run.

    Attributes:
        objective: a registered objective name or ``module:function``.
        optimizer: a registered optimizer name.
        budget: oracle calls allowed (unique valid molecules).
        seed: the run's seed (runs are deterministic for a seed).
        optimizer_params: hyper-parameters passed to the optimizer.
        objective_params: parameters passed to the objective.
        pool: ``zinc250k`` (full set when available, else the shipped sample) or a SMILES file.
        executor: ``inprocess`` or ``process`` (oracle scoring backend).
        n_workers: workers for the ``process`` executor (default: all cores).
        top_k: molecules written to ``top.csv`` / ``top.sdf`` and shown in the report.
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
    top_k: int = 100

    # fields that do not change which molecules a run proposes (so may differ on resume)
    RESUME_FREE = ("budget", "executor", "n_workers", "top_k")

    def __post_init__(self) -> None:
        if not isinstance(self.budget, int) or self.budget < 1:
            raise ConfigError(f"budget must be a positive integer, not {self.budget!r}")
        if not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, not {self.seed!r}")
        if self.top_k < 1:
            raise ConfigError("top_k must be at least 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesignConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; valid keys: {sorted(names)}")
        if "objective" not in data:
            raise ConfigError("the config must name an objective")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> DesignConfig:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """The fields that decide the run's trajectory (compared when resuming)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.RESUME_FREE}


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
