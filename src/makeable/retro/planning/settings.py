"""How a search runs: :class:`SearchSettings` (everything but the target, the model and the
stock) and the algorithms. Its own module so that :mod:`~makeable.retro.planning.search` and
:mod:`~makeable.retro.planning.syntheseus_search` both use it without importing each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ALGORITHMS = ("retro_star", "mcts")
"""The search algorithms :func:`plan` can run."""

DEFAULT_MAX_DEPTH = {"retro_star": 5, "mcts": 20}
"""syntheseus's default expansion depths, in reactions: Retro* expands molecules at most 5
reactions below the target (AND-OR depth 10); MCTS states hold at most 20 reactions."""


@dataclass(frozen=True)
class SearchSettings:
    """How one search runs (everything but the target, the model and the stock).

    Args:
        algorithm: ``"retro_star"`` or ``"mcts"``.
        max_calls: budget of single-step model calls (new molecules expanded).
        time_limit_s: wall-clock limit of the search, ``None`` for none.
        top_k: how many solved routes to return, cheapest first.
        expansion_k: reactant sets the model proposes per molecule.
        max_depth: expansion limit in reactions; ``None``: syntheseus's default. Retro*
            expands no molecule more than ``max_depth`` reactions below the target (default
            5, i.e. syntheseus's AND-OR depth 10); MCTS expands no state that already holds
            ``max_depth`` reactions (default 20).
        stop_on_first_solution: end the search as soon as the target is solved (the Retro*
            benchmark protocol) instead of spending the whole budget on more routes.
        seed: seed of the search's random choices (MCTS tie-breaking).
        expand_stock_target: search even when the target itself is in stock (otherwise it
            is solved at once, by buying it).
        max_idle_iterations: MCTS also stops after this many iterations in a row without a
            new model call (nothing left worth expanding).
        value_model: folder of a learned Retro* value function
            (:mod:`makeable.retro.planning.value`); ``None``: Retro*-0 (value 0).
        reaction_filter: a forward reaction model (registered name or saved folder) that
            must give back the product of every proposed step, or the step is dropped
            (:mod:`makeable.retro.planning.reaction_filter`); ``None``: no filter.
    """

    algorithm: str = "retro_star"
    max_calls: int = 500
    time_limit_s: float | None = None
    top_k: int = 5
    expansion_k: int = 50
    max_depth: int | None = None
    stop_on_first_solution: bool = False
    seed: int = 0
    expand_stock_target: bool = False
    max_idle_iterations: int = 2000
    value_model: str | None = None
    reaction_filter: str | None = None

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"unknown search algorithm {self.algorithm!r}; choose one of: "
                f"{', '.join(ALGORITHMS)}"
            )
        for name in ("max_calls", "top_k", "expansion_k", "max_idle_iterations"):
            least = 0 if name == "max_calls" else 1  # 0 calls: only checks the stock
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be at least {least}, got {getattr(self, name)}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be positive, got {self.time_limit_s}")
        if self.max_depth is not None and self.max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, got {self.max_depth}")
        if self.value_model is not None and self.algorithm != "retro_star":
            raise ValueError("a value model (--value-model) guides Retro* only, not MCTS")

    @property
    def depth(self) -> int:
        """The expansion limit in use, in reactions."""
        return self.max_depth or DEFAULT_MAX_DEPTH[self.algorithm]

    @property
    def graph_depth(self) -> int:
        """The limit in syntheseus's node depth (AND-OR graphs count molecule and reaction
        levels, so twice the reactions)."""
        return 2 * self.depth if self.algorithm == "retro_star" else self.depth

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("value_model", "reaction_filter"):
            if out[key] is None:  # as results folders made before the option hold it
                del out[key]
        return out
