"""Route quality beyond "solved": does a route match the reference, do its steps round-trip.

**Route accuracy** (Genheden & Bjerrum, PaRoutes, 2022): a predicted route matches the
reference route of its target when both are the same reaction tree — the same molecules made
from the same reactants, whatever the order of the reactants, the reaction SMILES (atom maps,
templates), the metadata or the leaves' stock flags. :func:`route_key` is that identity:
every molecule by its canonical SMILES (atom maps removed; stereochemistry counts, as in the
single-step exact match), every reaction by the sorted keys of its reactants.
:func:`route_rank` is the 1-based position of the first predicted route that matches, and
top-k route accuracy is the share of targets with a match among their first k routes.

PaRoutes compares routes by a tree edit distance over molecule fingerprints (distance 0 is a
match) and, for routes without scores, re-orders them by a simple route cost in which equal
costs share a rank. Here routes are taken in the order given: the planner's own ranking
(cheapest first, :func:`makeable.retro.planning.syntheseus_search.extract_routes`).

**Round-trip validity** (Schwaller et al., Chem. Sci. 2020): the share of a route's reactions
whose product a forward reaction model gives back among its ``k`` best outcomes (default 5)
for the step's reactants (:func:`makeable.retro.single_step.metrics.round_trip`, the check of
``makeable retro predict --round-trip`` and of the planner's reaction filter). It needs no
reference route.

References:
    Genheden, Bjerrum, "PaRoutes: towards a framework for benchmarking retrosynthesis route
    predictions", Digital Discovery 2022. https://doi.org/10.1039/D2DD00015F
    Schwaller et al., "Predicting retrosynthetic pathways using transformer-based models and a
    hyper-graph exploration strategy", Chem. Sci. 2020. https://doi.org/10.1039/C9SC05704H
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from makeable.chem.reaction import canonical_unmapped
from makeable.retro.planning.reaction_filter import ROUND_TRIP_K
from makeable.retro.planning.routes import MolNode, Route, RouteFormatError, routes_from_json
from makeable.retro.single_step.metrics import round_trip, top_k_accuracy

if TYPE_CHECKING:
    from makeable.retro.single_step.base import SingleStepModel

ROUTE_TOP_KS = (1, 5, 10)
"""The cut-offs of route accuracy that PaRoutes reports."""


@lru_cache(maxsize=200_000)
def _canonical(smiles: str) -> str:
    """A molecule's canonical SMILES without atom maps (the text itself if RDKit cannot read
    it, so that such a molecule still matches only itself)."""
    return canonical_unmapped(smiles) or smiles


def route_key(route: Route | MolNode) -> tuple[Any, ...]:
    """The reaction tree of a route as a hashable value, ``(smiles, reactants)`` per molecule:
    canonical SMILES, and the sorted keys of the reactants that make it (``()`` for a
    starting material). Equal keys are the same route in the PaRoutes sense."""

    def key(node: MolNode) -> tuple[Any, ...]:
        made = node.reaction
        return (
            _canonical(node.smiles),
            tuple(sorted(key(r) for r in made.reactants)) if made else (),
        )

    return key(route.root if isinstance(route, Route) else route)


def route_rank(predicted: Sequence[Route], reference: Route) -> int | None:
    """The 1-based position of the first of ``predicted`` that is ``reference``'s reaction
    tree, ``None`` when none is."""
    wanted = route_key(reference)
    for rank, route in enumerate(predicted, start=1):
        if route_key(route) == wanted:
            return rank
    return None


def top_k_route_accuracy(
    predicted: Mapping[str, Sequence[Route]],
    references: Mapping[str, Route],
    ks: Sequence[int] = ROUTE_TOP_KS,
) -> dict[int, float]:
    """The share of the reference targets whose reference route is among their first ``k``
    predicted routes, for each ``k``.

    Args:
        predicted: each target's routes, best first, by target SMILES (canonicalised here); a
            reference target without routes counts as a miss.
        references: the reference route of each target (:func:`read_reference_routes`).
        ks: the cut-offs.
    """
    by_target = {_canonical(t): routes for t, routes in predicted.items()}
    ranks = [route_rank(by_target.get(t, ()), ref) for t, ref in references.items()]
    return top_k_accuracy(ranks, ks)


def read_reference_routes(path: str | Path) -> dict[str, Route]:
    """The reference routes of a PaRoutes JSON file (a list of routes, one per target, as
    PaRoutes' ``n1-routes.json``), by canonical target SMILES.

    Raises:
        FileNotFoundError: no such file.
        RouteFormatError: not JSON, not a flat list of route dictionaries, or two different
            reference routes for one target (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference routes file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RouteFormatError(f"{path} is not a JSON file of routes ({exc})") from None
    if not isinstance(data, list):
        raise RouteFormatError(f"{path}: expected a JSON list of reference routes")
    try:
        routes = routes_from_json(data)
    except RouteFormatError as exc:
        raise RouteFormatError(f"{path}: {exc}") from None
    references: dict[str, Route] = {}
    for route in routes:
        if not isinstance(route, Route):
            raise RouteFormatError(f"{path}: expected one route per target, not lists of routes")
        target = _canonical(route.target)
        known = references.setdefault(target, route)
        if route_key(known) != route_key(route):
            raise RouteFormatError(f"{path}: two different reference routes for {target}")
    return references


def references_digest(references: Mapping[str, Route]) -> str:
    """A SHA-256 of the reference trees (not of the file's text): results folders record it,
    so a benchmark is not resumed against other references."""
    keys = sorted((t, route_key(r)) for t, r in references.items())
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()


def route_round_trip(route: Route, forward: SingleStepModel, k: int = ROUND_TRIP_K) -> list[bool]:
    """Whether ``forward`` gives back each reaction's product from its reactants (within its
    ``k`` best outcomes), one flag per reaction in :meth:`Route.reactions` order.

    Raises:
        ValueError: ``forward`` is not a forward reaction model.
    """
    return [
        round_trip(forward, product.smiles, [[m.smiles for m in rxn.reactants]], k)[0]
        for product, rxn in route.reactions()
    ]


def round_trip_validity(
    route: Route, forward: SingleStepModel, k: int = ROUND_TRIP_K
) -> float | None:
    """The share of the route's reactions that pass the round trip (:func:`route_round_trip`);
    ``None`` for a route without reactions (a bought target)."""
    passed = route_round_trip(route, forward, k)
    return sum(passed) / len(passed) if passed else None
