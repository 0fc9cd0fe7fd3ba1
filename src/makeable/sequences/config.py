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
        rounds: active-learning rounds (0: ``budget / batch``, or 10 when neither is given).
        batch: sequences scored by the oracle per round.
        budget: oracle calls in all, ``rounds x batch`` (0: from the rounds). Give the rounds or
            the budget; both must agree when both are given. After construction both are set.
        seed: the run's seed (runs are deterministic for a seed and thread count).
        optimizer_params: hyper-parameters passed to the optimizer.
        task_params: parameters passed to the task.
        proxy_params: :class:`~makeable.sequences.proxy.ProxyConfig` overrides.
        n_threads: torch threads (1 keeps runs bit-reproducible across machines).
    """

    task: str = setting(help="sequence task (see `makeable seq list tasks`)")
    optimizer: str = setting("delta_cs", help="delta_cs (default), gfn_al, adalead or mutation")
    rounds: int = setting(
        0, help="active-learning rounds (default 10, or BUDGET / BATCH)", metavar="N"
    )
    batch: int = setting(128, help="oracle calls per round (default 128)", metavar="N")
    budget: int = setting(
        0,
        help="oracle calls in all, rounds x batch: give --rounds or --budget (a multiple of "
        "the batch)",
        metavar="N",
    )
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
        for name, least in (("rounds", 0), ("batch", 1), ("budget", 0), ("n_threads", 1)):
            value = getattr(self, name)
            if not is_integer(value) or value < least:
                raise ConfigError(f"{name} must be an integer >= {least}, not {value!r}")
        rounds, budget = self.rounds, self.budget
        if budget == 0:
            rounds = rounds or 10
            budget = rounds * self.batch
        elif rounds == 0:
            if budget % self.batch:
                raise ConfigError(
                    f"budget {budget} is not a whole number of rounds of batch {self.batch}"
                )
            rounds = budget // self.batch
        elif budget != rounds * self.batch:
            raise ConfigError(
                f"budget {budget} is not rounds x batch = {rounds} x {self.batch}; give one of them"
            )
        object.__setattr__(self, "rounds", rounds)
        object.__setattr__(self, "budget", budget)
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
