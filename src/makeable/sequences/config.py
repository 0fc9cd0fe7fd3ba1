"""The typed config of a sequence design run (light: no torch import, so the CLI can build
its flags from it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from makeable.run_folder import ConfigError, RunConfig, is_integer, setting


@dataclass(frozen=True)
class SequenceDesignConfig(RunConfig):
    """Everything that defines a sequence design run.

    Attributes:
        task: a registered sequence task (``makeable seq list`` shows them).
        optimizer: a registered sequence optimizer.
        rounds: active-learning rounds.
        batch: sequences scored by the oracle per round.
        seed: the run's seed (runs are deterministic for a seed and thread count).
        optimizer_params: hyper-parameters passed to the optimizer.
        task_params: parameters passed to the task.
        proxy_params: :class:`~makeable.sequences.proxy.ProxyConfig` overrides.
        n_threads: torch threads (1 keeps runs bit-reproducible across machines).
    """

    task: str = setting(help="sequence task (see `makeable seq list tasks`)")
    optimizer: str = setting("delta_cs", help="delta_cs (default), gfn_al, adalead or mutation")
    rounds: int = setting(10, help="active-learning rounds (default 10)", metavar="N")
    batch: int = setting(128, help="oracle calls per round (default 128)", metavar="N")
    seed: int = setting(
        0, help="random seed (default 0; the same seed repeats the same result)", metavar="N"
    )
    optimizer_params: dict[str, Any] = setting(
        default_factory=dict, help="optimizer parameter", flag="--param", metavar="KEY=VALUE"
    )
    task_params: dict[str, Any] = setting(
        default_factory=dict, help="task parameter", flag="--task-param", metavar="KEY=VALUE"
    )
    proxy_params: dict[str, Any] = setting(
        default_factory=dict, help="proxy parameter", flag="--proxy-param", metavar="KEY=VALUE"
    )
    n_threads: int = 1

    REQUIRED = "task"
    RESUME_FREE = ("n_threads",)

    def __post_init__(self) -> None:
        for name in ("task", "optimizer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name} must be a non-empty string, not {value!r}")
        for name in ("rounds", "batch", "n_threads"):
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, not {value!r}")
        if not is_integer(self.seed):
            raise ConfigError(f"seed must be an integer, not {self.seed!r}")
        for name in ("optimizer_params", "task_params", "proxy_params"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a mapping, not {getattr(self, name)!r}")
        from makeable.sequences.proxy import ProxyConfig  # torch: only when a config is built

        valid = {f.name for f in dataclasses.fields(ProxyConfig)}
        unknown = sorted(set(self.proxy_params) - valid)
        if unknown:
            raise ConfigError(f"unknown proxy parameter(s) {unknown}; valid: {sorted(valid)}")

    @property
    def budget(self) -> int:
        return self.rounds * self.batch
