"""Synthesis routes: frozen trees of molecules and reactions, in the PaRoutes JSON format.

A :class:`Route` is a tree whose root is the target :class:`MolNode`. A molecule is either a
leaf (a starting material, ``in_stock`` when the search's stock accepts it) or is made by
exactly one :class:`ReactionNode`, whose children are the molecules it consumes. A leaf also
records whether an *exact* stock holds it (``verified``; see :mod:`makeable.data.stocks`): a
stock may be probabilistic (a Bloom filter), so :attr:`Route.makeable`, the verdict, asks for
every leaf verified, while :attr:`Route.solved` only says the search's stock accepted them.
Identity is chemical: two routes are equal when they make the same molecules from the same
reactants, whatever the order of the reactants, the reaction SMILES text (atom maps,
templates) or the metadata.

The JSON form is the AiZynthFinder / PaRoutes route dictionary::

    {"type": "mol", "smiles": "...", "in_stock": false, "children": [   # "verified" and
                                                                         # "price" on leaves
        {"type": "reaction", "smiles": "reactants>>product", "metadata": {...},
         "children": [{"type": "mol", ...}, ...]}]}

Keys this module does not know ride along (``extra``) so that a route read from a file is
written back unchanged.

References:
    Genheden, Bjerrum, "PaRoutes: towards a framework for benchmarking retrosynthesis route
    predictions", Digital Discovery 2022. https://doi.org/10.1039/D2DD00015F
    Genheden et al., "AiZynthFinder: a fast, robust and flexible open-source software for
    retrosynthetic planning", J. Cheminformatics 2020 (the route format).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from makeable.data.stocks import VERIFIED, Stock

MIN_PROBABILITY = 1e-10
"""Probabilities are clipped to at least this before taking logarithms."""


def search_step_cost(probability: float | None) -> float:
    """What a reaction costs in Retro*'s search and in route ranking: ``-log p`` with ``p``
    clipped to ``[1e-10, 0.999]`` as syntheseus does, or 1 for a model without probabilities."""
    if probability is None:
        return 1.0
    return -math.log(min(0.999, max(MIN_PROBABILITY, float(probability))))


_MOL_KEYS = ("type", "smiles", "in_stock", "verified", "children")
_RXN_KEYS = ("type", "smiles", "metadata", "children")


class RouteFormatError(ValueError):
    """A route dictionary that does not follow the PaRoutes / AiZynthFinder format."""


@dataclass(frozen=True, eq=False)
class ReactionNode:
    """One reaction of a route: the molecules it consumes and how it was proposed.

    Args:
        smiles: the reaction SMILES (``reactants>>product`` for routes found by makeable; as
            written in the file for routes read from one).
        reactants: the consumed molecules (each may be made by a further reaction).
        metadata: the single-step model's record (``score``, ``probability``, ``template``,
            ``source``, ...); outside identity.
        extra: other keys of the JSON dictionary, written back unchanged.
    """

    smiles: str
    reactants: tuple[MolNode, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        """The single-step model's score, if recorded."""
        value = self.metadata.get("score")
        return float(value) if value is not None else None

    @property
    def probability(self) -> float | None:
        """The step's probability (``probability`` or AiZynthFinder's ``policy_probability``)."""
        for key in ("probability", "policy_probability"):
            if self.metadata.get(key) is not None:
                return float(self.metadata[key])
        return None

    @property
    def template(self) -> str | None:
        value = self.metadata.get("template")
        return str(value) if value is not None else None

    def key(self) -> tuple[Any, ...]:
        """The identity: the sorted identities of the reactants."""
        return tuple(sorted(r.key() for r in self.reactants))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReactionNode) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


@dataclass(frozen=True, eq=False)
class MolNode:
    """One molecule of a route.

    Args:
        smiles: the molecule (canonical for routes found by makeable; as written in the file
            for routes read from one).
        in_stock: whether the search's stock accepts the molecule (it may be a Bloom filter).
        reaction: the reaction that makes it, ``None`` for a starting material.
        extra: other keys of the JSON dictionary, written back unchanged (a leaf's
            ``price`` when its stock has one).
        verified: for a leaf, whether an exact stock holds it; ``None`` when not checked
            (a route read from a file that does not say).
    """

    smiles: str
    in_stock: bool = False
    reaction: ReactionNode | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    verified: bool | None = None

    @property
    def status(self) -> str:
        """A leaf's stock status for people: ``verified``, ``unverified`` (only a
        probabilistic stock accepts it), ``unchecked`` (in stock, never checked against an
        exact one), ``missing``; ``made`` for a molecule a reaction of the route makes."""
        if self.reaction is not None:
            return "made"
        if not self.in_stock:
            return "missing"
        if self.verified is None:
            return "unchecked"
        return "verified" if self.verified else "unverified"

    @property
    def price(self) -> float | None:
        value = self.extra.get("price")
        return float(value) if isinstance(value, int | float) else None

    @property
    def is_leaf(self) -> bool:
        return self.reaction is None

    def key(self) -> tuple[Any, ...]:
        """The identity: SMILES, stock flag and the identity of the reaction making it."""
        return (self.smiles, self.in_stock, self.reaction.key() if self.reaction else None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MolNode) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


@dataclass(frozen=True, eq=False)
class Route:
    """A synthesis route: a tree from the target down to starting materials.

    Args:
        root: the target molecule's node.
        metadata: route-level information (search algorithm, rank, ...); outside identity and
            not part of the PaRoutes JSON.
    """

    root: MolNode
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Route) and self.root == other.root

    def __hash__(self) -> int:
        return hash(self.root)

    # ------------------------------------------------------------------ structure
    @property
    def target(self) -> str:
        return self.root.smiles

    def molecules(self) -> Iterator[MolNode]:
        """Every molecule node, depth first from the target (reactants in stored order)."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            if node.reaction is not None:
                stack.extend(reversed(node.reaction.reactants))

    def reactions(self) -> Iterator[tuple[MolNode, ReactionNode]]:
        """Every ``(product, reaction)`` pair, depth first from the target."""
        for node in self.molecules():
            if node.reaction is not None:
                yield node, node.reaction

    def leaves(self) -> list[MolNode]:
        """The starting materials (molecules no reaction of the route makes)."""
        return [m for m in self.molecules() if m.is_leaf]

    @property
    def n_reactions(self) -> int:
        """How many reactions the route has."""
        return sum(1 for _ in self.reactions())

    @property
    def depth(self) -> int:
        """The longest chain of reactions from a starting material to the target.

        This is the *route length* of PaRoutes; 0 for a target that is bought.
        """

        def depth(node: MolNode) -> int:
            if node.reaction is None:
                return 0
            return 1 + max((depth(r) for r in node.reaction.reactants), default=0)

        return depth(self.root)

    @property
    def solved(self) -> bool:
        """Whether the search's stock accepted every starting material (possibly a Bloom
        filter's false positive: :attr:`makeable` is the verdict)."""
        return all(m.in_stock for m in self.leaves())

    @property
    def makeable(self) -> bool:
        """The verdict: every starting material is held by an exact stock (verified)."""
        return all(m.in_stock and m.verified is True for m in self.leaves())

    def unverified_leaves(self) -> list[MolNode]:
        """Starting materials only a probabilistic stock accepted."""
        return [m for m in self.leaves() if m.in_stock and m.verified is False]

    @property
    def price(self) -> float | None:
        """The sum of the starting materials' prices, ``None`` unless every one has a price."""
        prices = [m.price for m in self.leaves()]
        if not prices or any(p is None for p in prices):
            return None
        return float(sum(p for p in prices if p is not None))

    def checked(self, stock: Stock) -> Route:
        """This route with every starting material checked against ``stock``: ``in_stock``,
        ``verified`` and ``price`` set from it (the one rule behind every verdict)."""

        def walk(node: MolNode) -> MolNode:
            if node.reaction is None:
                return _leaf(node.smiles, stock, node.extra)
            rxn = node.reaction
            sub = ReactionNode(
                rxn.smiles, tuple(walk(m) for m in rxn.reactants), rxn.metadata, rxn.extra
            )
            return MolNode(node.smiles, node.smiles in stock, sub, node.extra, None)

        return Route(walk(self.root), self.metadata)

    # ------------------------------------------------------------------ scores
    @property
    def cost(self) -> float:
        """Sum over reactions of ``-log p`` (p clipped to ``[1e-10, 1]``); steps without a
        probability count 0. Lower is better; 0 for a target that is bought."""
        total = 0.0
        for _, rxn in self.reactions():
            p = rxn.probability
            if p is not None:
                total += -math.log(min(1.0, max(MIN_PROBABILITY, p)))
        return total

    @property
    def score(self) -> float:
        """Product of the step probabilities, ``exp(-cost)``: in ``[0, 1]``, higher is better."""
        return math.exp(-self.cost)

    def score_text(self, digits: int = 4) -> str:
        """The score for people: says what it is, and that there is none when no step has a
        probability (a model such as RetCL; such routes are ranked by their reactions)."""
        if self.n_reactions and all(rxn.probability is None for _, rxn in self.reactions()):
            return "no step probabilities (ranked by number of reactions)"
        return f"score {self.score:.{digits}g} (product of step probabilities)"

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The route as an AiZynthFinder / PaRoutes dictionary (JSON-ready)."""
        return _mol_to_dict(self.root)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **metadata: Any) -> Route:
        """Read an AiZynthFinder / PaRoutes route dictionary.

        Raises:
            RouteFormatError: not a route dictionary (wrong ``type``, missing ``smiles``, a
                molecule made by several reactions, ...).
        """
        return cls(_mol_from_dict(data, "route"), dict(metadata))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    # ------------------------------------------------------------------ text
    def to_text(self) -> str:
        """An indented, human-readable tree (what ``makeable retro plan`` prints)."""
        lines: list[str] = []

        def walk(node: MolNode, indent: str) -> None:
            flag = "" if node.reaction else _TEXT_FLAGS[node.status]
            lines.append(f"{indent}{node.smiles}{flag}")
            rxn = node.reaction
            if rxn is None:
                return
            parts = []
            if rxn.probability is not None:
                parts.append(f"p={rxn.probability:.3g}")
            elif rxn.score is not None:
                parts.append(f"score={rxn.score:.3g}")
            lines.append(f"{indent}  <= {' '.join(parts)}".rstrip())
            for reactant in rxn.reactants:
                walk(reactant, indent + "     ")

        walk(self.root, "")
        return "\n".join(lines)

    # ------------------------------------------------------------------ syntheseus
    @classmethod
    def from_syntheseus(
        cls,
        route: Any,
        stock: Stock | None = None,
        **metadata: Any,
    ) -> Route:
        """Convert a syntheseus route (a ``SynthesisGraph`` of reactions) to a :class:`Route`.

        Args:
            route: a ``syntheseus.search.graph.route.SynthesisGraph``, e.g. from
                ``AndOrGraph.to_synthesis_graph(nodes)``.
            stock: the stock the leaves are checked against (:meth:`checked`); default: the
                ``is_purchasable`` metadata that the search's inventory set, unverified.
            **metadata: route-level metadata.
        """

        def stocked(mol: Any) -> bool:
            return bool(mol.metadata.get("is_purchasable", False))

        def build(rxn: Any, seen: frozenset[Any]) -> ReactionNode:
            made = {child.product: child for child in route.successors(rxn)}
            children = []
            for mol in sorted(rxn.unique_reactants, key=lambda m: m.smiles):
                child = made.get(mol)
                sub = (
                    build(child, seen | {rxn}) if child is not None and child not in seen else None
                )
                children.append(MolNode(mol.smiles, stocked(mol), sub))
            meta = {k: _plain(v) for k, v in dict(rxn.metadata).items()}
            return ReactionNode(rxn.reaction_smiles, tuple(children), meta)

        root_rxn = route.root_node
        product = root_rxn.product
        root = MolNode(product.smiles, stocked(product), build(root_rxn, frozenset()))
        out = cls(root, dict(metadata))
        return out.checked(stock) if stock is not None else out


_TEXT_FLAGS = {
    "verified": " [stock]",
    "unverified": " [unverified: Bloom filter only]",
    "unchecked": " [stock]",
    "missing": " [not in stock]",
}


def _leaf(smiles: str, stock: Stock, extra: Mapping[str, Any] | None = None) -> MolNode:
    """A starting material checked against ``stock``."""
    status = stock.status(smiles)
    price = stock.price(smiles) if status != "missing" else None
    extra = {k: v for k, v in (extra or {}).items() if k != "price"}
    if price is not None:
        extra["price"] = price
    return MolNode(smiles, status != "missing", None, extra, status == VERIFIED)


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a metadata value (numbers, strings, lists, dicts)."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    try:
        return float(value)  # numpy scalars
    except (TypeError, ValueError):
        return str(value)


def _mol_to_dict(node: MolNode) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "mol", "smiles": node.smiles, "in_stock": node.in_stock}
    if node.verified is not None:
        out["verified"] = node.verified
    out.update(node.extra)
    if node.reaction is not None:
        rxn = node.reaction
        r: dict[str, Any] = {"type": "reaction", "smiles": rxn.smiles}
        if rxn.metadata:
            r["metadata"] = dict(rxn.metadata)
        r.update(rxn.extra)
        r["children"] = [_mol_to_dict(m) for m in rxn.reactants]
        out["children"] = [r]
    return out


def _mol_from_dict(data: Mapping[str, Any], where: str) -> MolNode:
    if not isinstance(data, Mapping) or data.get("type") != "mol":
        raise RouteFormatError(f"{where}: expected a molecule ({{'type': 'mol', ...}})")
    smiles = data.get("smiles")
    if not isinstance(smiles, str) or not smiles:
        raise RouteFormatError(f"{where}: a molecule without 'smiles'")
    children = data.get("children") or []
    if len(children) > 1:
        raise RouteFormatError(f"{where}: molecule {smiles} is made by {len(children)} reactions")
    reaction = _rxn_from_dict(children[0], f"{where} > {smiles}") if children else None
    extra = {k: v for k, v in data.items() if k not in _MOL_KEYS}
    verified = data.get("verified")
    verified = bool(verified) if isinstance(verified, bool) and reaction is None else None
    return MolNode(smiles, bool(data.get("in_stock", False)), reaction, extra, verified)


def _rxn_from_dict(data: Mapping[str, Any], where: str) -> ReactionNode:
    if not isinstance(data, Mapping) or data.get("type") != "reaction":
        raise RouteFormatError(f"{where}: expected a reaction ({{'type': 'reaction', ...}})")
    children = data.get("children") or []
    if not children:
        raise RouteFormatError(f"{where}: a reaction without reactants")
    reactants = tuple(_mol_from_dict(c, where) for c in children)
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise RouteFormatError(f"{where}: reaction metadata must be a dictionary")
    extra = {k: v for k, v in data.items() if k not in _RXN_KEYS}
    return ReactionNode(str(data.get("smiles", "")), reactants, dict(metadata), extra)


# ---------------------------------------------------------------------- files
def routes_from_json(data: Any) -> list[Route] | list[list[Route]]:
    """Routes from parsed JSON: a route dict, a list of routes, or a list of lists of routes
    (PaRoutes' per-target lists). The nesting of the input is kept."""
    if isinstance(data, Mapping):
        return [Route.from_dict(data)]
    if not isinstance(data, list):
        raise RouteFormatError("expected a route dictionary or a list of routes")
    if data and all(isinstance(x, list) for x in data):
        return [[Route.from_dict(r) for r in group] for group in data]
    return [Route.from_dict(r) for r in data]


def read_routes(path: str | Path) -> list[Route]:
    """Read a JSON file holding one route or a flat list of routes.

    Raises:
        RouteFormatError: the file holds per-target lists (use :func:`read_route_lists`) or
            something that is not a route.
    """
    routes = routes_from_json(json.loads(Path(path).read_text()))
    if routes and isinstance(routes[0], list):
        raise RouteFormatError(f"{path} holds lists of routes: use read_route_lists")
    return routes  # type: ignore[return-value]


def read_route_lists(path: str | Path) -> list[list[Route]]:
    """Read a JSON file holding one list of routes per target (PaRoutes' ``routes.json``)."""
    routes = routes_from_json(json.loads(Path(path).read_text()))
    if routes and not isinstance(routes[0], list):
        raise RouteFormatError(f"{path} holds a flat list of routes: use read_routes")
    return routes  # type: ignore[return-value]


def write_routes(path: str | Path, routes: Sequence[Route] | Sequence[Sequence[Route]]) -> Path:
    """Write routes (a flat list, or one list per target) as PaRoutes JSON; returns the path."""
    data = [r.to_dict() if isinstance(r, Route) else [x.to_dict() for x in r] for r in routes]
    path = Path(path)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
