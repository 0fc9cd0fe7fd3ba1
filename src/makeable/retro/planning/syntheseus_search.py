"""The syntheseus side of :mod:`makeable.retro.planning.search`: algorithms, budget, routes.

syntheseus is imported on first use only. :func:`run_search` builds the algorithm (Retro* or
MolSet MCTS), wraps the single-step model so that it is never asked about more than
``max_calls`` molecules, runs the search and extracts the cheapest solved routes.

References:
    Chen, Li, Dai, Song, "Retro*: Learning Retrosynthetic Planning with Neural Guided A*
    Search", ICML 2020. https://arxiv.org/abs/2006.15820
    Maziarz et al., "Re-evaluating Retrosynthesis Algorithms with Syntheseus", Faraday
    Discussions 2024. https://arxiv.org/abs/2310.19796
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from makeable.data.stocks import UNVERIFIED, Stock
from makeable.retro.planning.routes import MolNode, Route, search_step_cost
from makeable.retro.planning.settings import SearchSettings
from makeable.retro.single_step.base import SingleStepModel

CREATED = "makeable_created"
"""Node data key: the order in which the search created the node (see OrderedRetroStar)."""

ROUTE_EXTRACTION_S = 10.0
"""At most this many seconds are spent extracting the top-k routes from a search graph."""
UNVERIFIED_LOOKAHEAD = 5
"""With a probabilistic stock, routes looked at per route kept (to find makeable ones)."""


class ModelFailedError(ValueError):
    """The single-step model failed on the target molecule: the search says nothing about it."""


@dataclass(frozen=True)
class SearchOutcome:
    """What one search found (see :class:`makeable.retro.planning.search.PlanResult`)."""

    solved: bool
    calls: int
    n_nodes: int
    routes: tuple[Route, ...]
    first_solution_calls: int | None
    first_solution_s: float | None
    model_s: float = 0.0
    adapter_s: float = 0.0
    unverified: bool = False


@lru_cache(maxsize=1)
def _syntheseus() -> SimpleNamespace:
    """syntheseus classes, imported on first use (it is only needed for searching)."""
    from syntheseus import BackwardReactionModel
    from syntheseus import Molecule as SynMolecule
    from syntheseus.search.algorithms.best_first.retro_star import RetroStarSearch
    from syntheseus.search.algorithms.mcts.base import pucb_bound
    from syntheseus.search.algorithms.mcts.molset import MolSetMCTS
    from syntheseus.search.analysis.route_extraction import iter_routes_cost_order
    from syntheseus.search.analysis.solution_time import get_first_solution_time
    from syntheseus.search.graph.and_or import AndNode, AndOrGraph
    from syntheseus.search.mol_inventory import BaseMolInventory
    from syntheseus.search.node_evaluation.base import NoCacheNodeEvaluator
    from syntheseus.search.node_evaluation.common import (
        ConstantNodeEvaluator,
        HasSolutionValueFunction,
        ReactionModelLogProbCost,
        ReactionModelProbPolicy,
    )

    from makeable.retro.single_step.syntheseus_adapter import to_syntheseus

    class BudgetedModel(BackwardReactionModel):
        """Asks the wrapped model about at most ``max_calls`` molecules in all."""

        def __init__(
            self,
            model: SingleStepModel,
            max_calls: int,
            on_calls: Callable[[int], None] | None = None,
            reaction_filter: str | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            check = None
            if reaction_filter is not None:
                from makeable.retro.planning.reaction_filter import load_reaction_filter

                check = load_reaction_filter(reaction_filter)
            self.inner = to_syntheseus(model, check, use_cache=False)
            self.max_calls = max_calls
            self.on_calls = on_calls
            self.used = 0

        def _get_reactions(self, inputs: list[Any], num_results: int) -> list[Sequence[Any]]:
            allowed = max(0, min(len(inputs), self.max_calls - self.used))
            self.used += allowed
            out: list[Sequence[Any]] = []
            if allowed:
                out.extend(self.inner(inputs[:allowed], num_results=num_results))
                if self.on_calls is not None:
                    self.on_calls(self.used)
            return out + [[] for _ in inputs[allowed:]]

        def get_parameters(self) -> list[Any]:
            return list(self.inner.get_parameters())

    class OrderedRetroStar(RetroStarSearch):
        """Retro* that re-queues updated nodes in creation order.

        syntheseus returns the nodes an update reached as a ``set`` of nodes hashed by
        ``id()`` (memory addresses), and pushes them into its queue in that order; the push
        order breaks ties between equal priorities. Sorting them by a creation stamp makes
        the search's course — and its number of model calls — the same in every process.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._stamps = itertools.count()

        def set_node_values(self, nodes: Any, graph: Any) -> list[Any]:
            nodes = list(nodes)
            for node in nodes:
                if CREATED not in node.data:
                    node.data[CREATED] = next(self._stamps)
            updated = super().set_node_values(nodes, graph)
            return sorted(updated, key=lambda node: node.data.get(CREATED, math.inf))

    class LearnedValue(NoCacheNodeEvaluator):  # type: ignore[type-arg]
        """Retro*'s value of an open molecule from a
        :class:`makeable.retro.planning.value.ValueModel`."""

        def __init__(self, folder: str) -> None:
            super().__init__()
            from makeable.retro.planning.value import load_value_model

            self.model = load_value_model(folder)

        def _evaluate_nodes(self, nodes: Sequence[Any], graph: Any = None) -> list[float]:
            return [float(v) for v in self.model.cost([node.mol.smiles for node in nodes])]

    class IdleStoppingMCTS(MolSetMCTS):
        """MolSet MCTS that also stops after many iterations without a new model call, and
        expands a state's molecules in sorted order."""

        def __init__(self, *args: Any, max_idle_iterations: int, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.max_idle_iterations = max_idle_iterations
            self._last_calls = -1
            self._idle = 0

        def _get_mols_to_expand(self, node: Any, graph: Any) -> list[Any]:
            # a state's molecules are a frozenset: ask the model in sorted order, not in the
            # order of this process's string hashes (which would reorder the children)
            return sorted(super()._get_mols_to_expand(node, graph))

        def should_stop_search(self, graph: Any) -> bool:
            calls = self.reaction_model.num_calls()
            if calls != self._last_calls:
                self._last_calls, self._idle = calls, 0
            else:
                self._idle += 1
            return self._idle > self.max_idle_iterations or bool(super().should_stop_search(graph))

    class StockInventory(BaseMolInventory):
        """A syntheseus molecule inventory backed by a makeable :class:`Stock`."""

        def __init__(self, stock: Stock) -> None:
            self.stock = stock

        def is_purchasable(self, mol: Any) -> bool:
            return mol.smiles in self.stock

    return SimpleNamespace(
        StockInventory=StockInventory,
        BudgetedModel=BudgetedModel,
        IdleStoppingMCTS=IdleStoppingMCTS,
        LearnedValue=LearnedValue,
        RetroStarSearch=OrderedRetroStar,
        SynMolecule=SynMolecule,
        pucb_bound=pucb_bound,
        iter_routes_cost_order=iter_routes_cost_order,
        get_first_solution_time=get_first_solution_time,
        AndNode=AndNode,
        AndOrGraph=AndOrGraph,
        ConstantNodeEvaluator=ConstantNodeEvaluator,
        HasSolutionValueFunction=HasSolutionValueFunction,
        ReactionModelLogProbCost=ReactionModelLogProbCost,
        ReactionModelProbPolicy=ReactionModelProbPolicy,
    )


def _step_cost(reaction: Any) -> float:
    """A syntheseus reaction's route cost
    (:func:`makeable.retro.planning.routes.search_step_cost`)."""
    return search_step_cost(reaction.metadata.get("probability"))


def build_algorithm(
    model: SingleStepModel,
    stock: Stock,
    s: SearchSettings,
    on_calls: Callable[[int], None] | None = None,
    target: str = "",
) -> Any:
    """A ready syntheseus search algorithm: Retro*-0 or MolSet MCTS with syntheseus's
    defaults, the budgeted and cached model (behind the settings' reaction filter, if any),
    and the stock as its inventory. ``on_calls`` is told the calls used so far after each
    batch of model calls (for a progress bar). A ``target`` that only a probabilistic stock
    accepts is searched as if it were not in stock."""
    syn = _syntheseus()
    backward = syn.BudgetedModel(
        model,
        s.max_calls,
        on_calls,
        s.reaction_filter,
        use_cache=True,
        default_num_results=s.expansion_k,
    )
    has_probability = model.scores_are_probabilities
    common: dict[str, Any] = {
        "reaction_model": backward,
        "mol_inventory": syn.StockInventory(stock),
        "limit_reaction_model_calls": s.max_calls,
        "time_limit_s": s.time_limit_s if s.time_limit_s is not None else math.inf,
        "max_expansion_depth": s.graph_depth,
        "prevent_repeat_mol_in_trees": True,
        "stop_on_first_solution": s.stop_on_first_solution,
        "expand_purchasable_target": s.expand_stock_target
        or (bool(target) and stock.status(target) == UNVERIFIED),
        "random_state": random.Random(s.seed),
    }
    if s.algorithm == "retro_star":
        cost = (
            syn.ReactionModelLogProbCost()
            if has_probability
            else syn.ConstantNodeEvaluator(constant=1.0)
        )
        value = (
            syn.LearnedValue(s.value_model)
            if s.value_model is not None
            else syn.ConstantNodeEvaluator(constant=0.0)
        )
        return syn.RetroStarSearch(and_node_cost_fn=cost, value_function=value, **common)
    policy = syn.ReactionModelProbPolicy() if has_probability else syn.ConstantNodeEvaluator(1.0)
    return syn.IdleStoppingMCTS(
        reward_function=syn.HasSolutionValueFunction(),
        value_function=syn.ConstantNodeEvaluator(constant=0.5),
        policy=policy,
        bound_function=syn.pucb_bound,
        bound_constant=1.0,
        limit_iterations=1_000_000,
        max_idle_iterations=s.max_idle_iterations,
        **common,
    )


def run_search(
    canon: str,
    model: SingleStepModel,
    stock: Stock,
    s: SearchSettings,
    on_calls: Callable[[int], None] | None = None,
) -> SearchOutcome:
    """Search for routes of the canonical SMILES ``canon`` under the settings ``s``."""
    syn = _syntheseus()
    alg = build_algorithm(model, stock, s, on_calls, target=canon)
    graph, _ = alg.run_from_mol(syn.SynMolecule(canon))
    calls = int(alg.reaction_model.used)
    failed = alg.reaction_model.inner.errors.get(canon)
    if failed:  # the model failed on the target itself: no verdict, an error
        raise ModelFailedError(f"the single-step model failed on the target: {failed}")
    solved = bool(graph.root_node.has_solution)
    first_calls: int | None = None
    first_s: float | None = None
    if solved:
        for node in graph.nodes():
            node.data["analysis_time"] = min(node.data.get("num_calls_rxn_model", 0), calls)
        first_calls = int(syn.get_first_solution_time(graph))
        root_time = graph.root_node.creation_time
        for node in graph.nodes():
            node.data["analysis_time"] = (node.creation_time - root_time).total_seconds()
        first_s = float(syn.get_first_solution_time(graph))
    routes = extract_routes(graph, s.top_k, stock, s.algorithm) if solved else ()
    # the search ends routes wherever the stock says "held"; with an exact stock that is the
    # verdict, with a Bloom filter only a route whose leaves an exact stock holds is makeable
    makeable = solved if stock.exact else any(r.makeable for r in routes)
    inner = alg.reaction_model.inner
    return SearchOutcome(
        solved=makeable,
        unverified=solved and not makeable,
        calls=calls,
        n_nodes=len(graph),
        routes=routes,
        first_solution_calls=first_calls,
        first_solution_s=first_s,
        model_s=float(inner.model_seconds),
        adapter_s=float(inner.adapter_seconds),
    )


def extract_routes(graph: Any, top_k: int, stock: Stock, algorithm: str) -> tuple[Route, ...]:
    """The ``top_k`` cheapest solved routes of a search graph (cost: sum of -log p), their
    leaves checked against ``stock``.

    With a probabilistic stock, a solved route may need a leaf only a Bloom filter accepts
    (unverified); the search looks at up to :data:`UNVERIFIED_LOOKAHEAD` times more routes
    and puts the makeable ones (every leaf verified) first, in cost order.
    """
    syn = _syntheseus()
    is_andor = isinstance(graph, syn.AndOrGraph)
    for node in graph.nodes():
        if is_andor:
            cost = _step_cost(node.reaction) if isinstance(node, syn.AndNode) else 0.0
        else:
            parents = list(graph.predecessors(node))
            # a MolSet graph keeps each reaction on the edge into the state it makes
            edge = graph._graph.edges[parents[0], node] if parents else None
            cost = _step_cost(edge["reaction"]) if edge is not None else 0.0
        node.data["route_cost"] = cost
    routes: list[Route] = []
    max_routes = top_k if stock.exact else top_k * UNVERIFIED_LOOKAHEAD
    for nodes in syn.iter_routes_cost_order(
        graph, max_routes=max_routes, max_time_s=ROUTE_EXTRACTION_S
    ):
        meta = {"algorithm": algorithm}
        if len(nodes) == 1:  # the target itself is bought
            root = graph.root_node
            smiles = root.mol.smiles if is_andor else next(iter(root.mols)).smiles
            routes.append(Route(MolNode(smiles), meta).checked(stock))
            continue
        synthesis = graph.to_synthesis_graph(nodes)
        routes.append(Route.from_syntheseus(synthesis, stock, **meta))
    routes.sort(key=lambda r: not r.makeable)  # stable: cost order within each group
    return tuple(
        Route(r.root, {**r.metadata, "rank": rank})
        for rank, r in enumerate(routes[:top_k], start=1)
    )
