"""A reaction filter for planning: keep only the proposals a forward model confirms.

A single-step model's proposals are not all reactions. A template model's reactants map onto
the product's atoms by construction; a model that *chooses* reactants from a candidate set
(RetCL) always returns some candidates, and once every stock molecule is a candidate, any
expansion can "solve" a target with molecules that do not make it. Planners guard against
this with a feasibility check of each proposed step: AiZynthFinder's *filter policy*, the
round trip of Schwaller et al. Here the check is the round trip
(:func:`makeable.retro.single_step.metrics.round_trip`): a proposal is kept when a forward
reaction model (``makeable retro train template_mlp_forward``) gives back the product among its
:data:`ROUND_TRIP_K` best outcomes for the proposed reactants.

The search uses it through :attr:`makeable.retro.planning.search.SearchSettings.reaction_filter`
(``--reaction-filter FORWARD`` on ``retro plan``, ``bench planning`` and ``retro improve``):
each expansion's proposals are filtered before the search sees them. An expansion still
counts as one model call; the forward model's work is not counted as calls, and its time is
part of the row's ``model_s``. Results folders record the forward model's digest.

References:
    Schwaller et al., "Predicting retrosynthetic pathways using transformer-based models and a
    hyper-graph exploration strategy", Chem. Sci. 2020. https://doi.org/10.1039/C9SC05704H
    Genheden et al., "AiZynthFinder: a fast, robust and flexible open-source software for
    retrosynthetic planning", J. Cheminf. 2020 (the filter policy).
    https://doi.org/10.1186/s13321-020-00472-1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from makeable.retro.single_step.base import SingleStepModel, load_model
from makeable.retro.single_step.metrics import round_trip

ROUND_TRIP_K = 5
"""A proposal passes when the product is among this many best forward outcomes."""

FORWARD_TEMPLATES = 10
"""Templates the forward Template-MLP applies per reactant set (its ``max_templates``; as
``makeable retro predict --round-trip``)."""


@dataclass(frozen=True)
class ReactionFilter:
    """Keeps the reactant sets from which ``forward`` gives back the product."""

    forward: SingleStepModel
    top_k: int = ROUND_TRIP_K

    def __call__(self, product: str, reactant_sets: Sequence[Iterable[str]]) -> list[bool]:
        """Whether each proposed reactant set passes the round trip to ``product``."""
        return round_trip(self.forward, product, reactant_sets, self.top_k)

    def digest(self) -> str:
        """The forward model's digest, as results folders record it."""
        return self.forward.digest()


def load_reaction_filter(name_or_path: str) -> ReactionFilter:
    """The filter of a forward model (a registered name or saved folder), loaded once per
    process (every search of a benchmark uses the same one).

    Raises:
        FileNotFoundError: a registered name without trained weights (the message says which
            command makes them).
        makeable.registry.UnknownNameError: neither a saved folder nor a registered name.
        ValueError: the model is not a forward reaction model.
    """
    return _load_once(str(name_or_path))


def filter_digest(name_or_path: str | None) -> str | None:
    """The digest of the filter's forward model (``None`` for no filter)."""
    return None if name_or_path is None else load_reaction_filter(name_or_path).digest()


@lru_cache(maxsize=2)
def _load_once(name_or_path: str) -> ReactionFilter:
    try:
        model = load_model(name_or_path, {"max_templates": FORWARD_TEMPLATES}, "forward")
    except TypeError:  # no max_templates: not a Template-MLP; a retro model is refused here
        model = load_model(name_or_path, direction="forward")
    return ReactionFilter(model)
