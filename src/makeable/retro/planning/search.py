"""Multi-step synthesis planning: search for routes from a target down to a stock.

:func:`plan` runs one of syntheseus's search algorithms with any makeable single-step model
(through :func:`makeable.retro.single_step.syntheseus_adapter.to_syntheseus`) and a :class:`Stock`:

* ``retro_star``: Retro* best-first AND-OR search (Chen et al. 2020) with a zero value
  function ("Retro*-0"); a reaction costs ``-log p`` of its single-step probability (a
  constant 1 for models without probabilities);
* ``mcts``: MCTS over sets of molecules with syntheseus's defaults (P-UCB with the model's
  probabilities as the policy, a value of 0.5 for unexplored states, reward 1 for a solved
  state). Since MCTS can keep revisiting solved states without asking the model anything,
  it also stops after ``max_idle_iterations`` iterations in a row without a new call.

The budget is counted in single-step model calls: one call is one *new* molecule expanded
(repeats are served from a cache and are free) and the model is never asked for more than
``max_calls`` molecules, not even by MCTS, which expands every molecule of a state at once.
A wall-clock ``time_limit_s`` can cap the search too. The result holds whether the target
was solved (a *makeable* route: every starting material held by an exact stock; routes only
through Bloom-filter leaves are reported as *unverified*), the calls and seconds used,
when the first solution appeared, and the ``top_k`` cheapest solved routes.

:func:`plan_many` plans a list of targets, optionally in parallel workers (local processes or
Ray actors, :func:`makeable.oracle.executor.make_executor`) that each load the model and the
stock once.

References:
    Chen, Li, Dai, Song, "Retro*: Learning Retrosynthetic Planning with Neural Guided A*
    Search", ICML 2020. https://arxiv.org/abs/2006.15820
    Maziarz et al., "Re-evaluating Retrosynthesis Algorithms with Syntheseus", Faraday
    Discussions 2024. https://arxiv.org/abs/2310.19796
    Genheden, Bjerrum, "PaRoutes: towards a framework for benchmarking retrosynthesis route
    predictions", Digital Discovery 2022. https://doi.org/10.1039/D2DD00015F
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from makeable.chem.reaction import canonical_unmapped
from makeable.data.stocks import Stock, load_stock
from makeable.oracle.executor import Executor, InProcessExecutor, make_executor, runs_here
from makeable.retro.planning.routes import Route
from makeable.retro.planning.settings import ALGORITHMS, DEFAULT_MAX_DEPTH, SearchSettings
from makeable.retro.planning.syntheseus_search import run_search
from makeable.retro.single_step.base import PredictionMemo, SingleStepModel, load_model

log = logging.getLogger(__name__)

__all__ = [  # the search settings live in settings.py (syntheseus_search needs them too)
    "ALGORITHMS",
    "DEFAULT_MAX_DEPTH",
    "InvalidTargetError",
    "PlanResult",
    "SearchSettings",
    "canonical_target",
    "plan",
    "plan_many",
    "verdict",
]


class InvalidTargetError(ValueError):
    """A target SMILES that RDKit cannot parse (or an empty one)."""


class Outcome:
    """What every planning outcome shares (a search's :class:`PlanResult`, a design run's
    judged molecule :class:`makeable.runs.routes.TargetRoutes`): the verdict, the best route and
    the route columns of a results row. A subclass has ``solved``, ``unverified``, ``error`` and
    ``routes`` (cheapest first)."""

    solved: bool
    unverified: bool
    error: str | None
    routes: tuple[Route, ...]

    @property
    def verdict(self) -> str:
        """:func:`verdict` of this outcome."""
        return verdict(self.solved, self.unverified, self.error)

    @property
    def best(self) -> Route | None:
        """The cheapest solved route, if any."""
        return self.routes[0] if self.routes else None

    def route_columns(self) -> dict[str, Any]:
        """``route_length``, ``n_reactions`` and ``route_score`` of the best route (blank when
        there is none)."""
        best = self.best
        return {
            "route_length": best.depth if best else "",
            "n_reactions": best.n_reactions if best else "",
            "route_score": round(best.score, 6) if best else "",
        }


@dataclass(frozen=True)
class PlanResult(Outcome):
    """The outcome of planning one target.

    Attributes:
        target: the target as given; ``canonical`` its canonical SMILES (``None`` if invalid).
        solved: a *makeable* route was found: every starting material is held by an exact
            stock (with a Bloom-filter stock, leaves it alone accepts are unverified and do
            not count).
        unverified: routes were found, but each needs a starting material only a
            probabilistic stock (a Bloom filter) accepts; ``solved`` is then false.
        calls: single-step model calls used (new molecules expanded).
        seconds: wall-clock seconds, search and route extraction.
        routes: up to ``top_k`` solved routes, cheapest (most probable) first.
        first_solution_calls, first_solution_s: calls and search seconds when the target was
            first solved (``None`` if unsolved).
        n_nodes: size of the search graph.
        model_s: seconds inside the single-step model's ``predict``; ``adapter_s``: seconds
            converting its answers for syntheseus (makeable's only overhead on the search);
            the rest of ``seconds`` is syntheseus's search and route extraction.
        error: why the target could not be planned (``plan_many`` only; ``plan`` raises).
        settings: the search settings used (:meth:`SearchSettings.to_dict`), in ``to_dict``.
    """

    target: str
    canonical: str | None
    algorithm: str
    solved: bool
    calls: int
    seconds: float
    routes: tuple[Route, ...] = ()
    first_solution_calls: int | None = None
    first_solution_s: float | None = None
    n_nodes: int = 0
    model_s: float = 0.0
    adapter_s: float = 0.0
    error: str | None = None
    settings: dict[str, Any] = field(default_factory=dict, compare=False)
    unverified: bool = False

    def row(self) -> dict[str, Any]:
        """One flat record (a row of the planning benchmark's ``results.csv``)."""
        return {
            "target": self.target,
            "solved": int(self.solved),
            "unverified": int(self.unverified),
            "calls": self.calls,
            "seconds": round(self.seconds, 3),
            **self.route_columns(),
            "first_solution_calls": _blank(self.first_solution_calls),
            "first_solution_s": _blank(self.first_solution_s, 3),
            "n_nodes": self.n_nodes,
            "model_s": round(self.model_s, 3),
            "adapter_s": round(self.adapter_s, 3),
            "error": self.error or "",
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record: the summary plus the routes in PaRoutes format."""
        out = {k: v for k, v in self.row().items() if k != "target"}
        out.update(
            target=self.target,
            canonical=self.canonical,
            algorithm=self.algorithm,
            solved=self.solved,
            unverified=self.unverified,
            verdict=self.verdict,
            first_solution_calls=self.first_solution_calls,
            first_solution_s=self.first_solution_s,
            error=self.error,
            routes=[r.to_dict() for r in self.routes],
            route_scores=[
                {
                    "score": r.score,
                    "cost": r.cost,
                    "n_reactions": r.n_reactions,
                    "depth": r.depth,
                    "makeable": r.makeable,
                    "price": r.price,
                }
                for r in self.routes
            ],
            settings=self.settings,
        )
        return out


def verdict(solved: bool, unverified: bool, error: str | None) -> str:
    """The verdict on a molecule for people: ``makeable``, ``unverified`` (routes only through
    Bloom-filter leaves), ``not solved`` or ``error``."""
    if error:
        return "error"
    if solved:
        return "makeable"
    return "unverified" if unverified else "not solved"


def _blank(value: float | None, digits: int | None = None) -> Any:
    if value is None:
        return ""
    return round(value, digits) if digits is not None else value


def canonical_target(target: str) -> str:
    """The canonical SMILES of a target (atom maps removed).

    Raises:
        InvalidTargetError: empty or unparseable SMILES.
    """
    canon = canonical_unmapped(target) if isinstance(target, str) else None
    if canon is None:
        shown = target if isinstance(target, str) else type(target).__name__
        raise InvalidTargetError(f"invalid target SMILES {shown!r}: RDKit cannot parse it")
    return canon


def plan(
    target: str,
    model: SingleStepModel | str | Path,
    stock: Stock | str | Path,
    algorithm: str = "retro_star",
    max_calls: int = 500,
    time_limit_s: float | None = None,
    top_k: int = 5,
    progress: bool = False,
    **settings: Any,
) -> PlanResult:
    """Search for synthesis routes of ``target``.

    Args:
        target: the molecule to make (SMILES; atom maps are removed).
        model: a single-step model, or a registered name / saved folder to load.
        stock: a :class:`Stock`, or a named stock / stock file.
        algorithm: ``"retro_star"`` or ``"mcts"``.
        max_calls: budget of single-step model calls.
        time_limit_s: wall-clock limit of the search (``None``: none).
        top_k: how many solved routes to return.
        progress: show a progress bar of the model calls used.
        **settings: the other fields of :class:`SearchSettings` (``expansion_k``,
            ``max_depth``, ``stop_on_first_solution``, ``seed``, ...).

    Raises:
        InvalidTargetError: the target is not a valid SMILES (checked before anything loads).
    """
    canon = canonical_target(target)
    config = SearchSettings(
        algorithm=algorithm,
        max_calls=max_calls,
        time_limit_s=time_limit_s,
        top_k=top_k,
        **settings,
    )
    m = model if isinstance(model, SingleStepModel) else load_model(model)
    stock = load_stock(stock)
    from tqdm import tqdm

    with tqdm(total=max_calls, desc="searching", unit="call", disable=not progress) as bar:

        def on_calls(used: int) -> None:
            bar.update(used - bar.n)

        return _search(target, canon, m, stock, config, on_calls)


def plan_many(
    targets: Sequence[str],
    model: SingleStepModel | str | Path,
    stock: Stock | str | Path,
    settings: SearchSettings | None = None,
    jobs: int = 1,
    progress: bool = False,
    on_result: Callable[[PlanResult], None] | None = None,
    executor: str = "process",
    address: str | None = None,
) -> list[PlanResult]:
    """Plan every target; invalid targets and failures are recorded, never raised.

    Args:
        targets: target SMILES.
        model: a single-step model, or a registered name / saved folder. With workers, each
            loads a name or folder itself; an instance is inherited by forked processes (and
            pickled to Ray actors). A model without a
            :class:`~makeable.retro.single_step.base.PredictionMemo` gets one for this call
            (a worker's copy, for the worker's life), so a molecule that several targets'
            searches expand is computed once and charged to each search.
        stock: a :class:`Stock`, or a named stock / stock file (loaded once per process).
        settings: the search settings (default :class:`SearchSettings`).
        jobs: workers, through the executor interface of oracle scoring
            (:mod:`makeable.oracle.executor`); with the ``process`` executor 1 plans in this
            process.
        progress: show a progress bar.
        on_result: called in this process with each result as it completes (in completion
            order), e.g. to append it to a results file: recording stays here.
        executor: ``process`` (local cores, the default), ``ray`` or ``inprocess``.
        address: the Ray cluster of the ``ray`` executor (``None``: a local one).

    Returns:
        One :class:`PlanResult` per target, in the order of ``targets``.
    """
    from tqdm import tqdm

    settings = settings or SearchSettings()
    results: list[PlanResult | None] = [None] * len(targets)
    bar = tqdm(total=len(targets), desc="planning", unit="target", disable=not progress)
    solved = 0

    def done(i: int, result: PlanResult) -> None:
        nonlocal solved
        results[i] = result
        solved += result.solved
        bar.update(1)
        bar.set_postfix(solved=f"{solved}/{bar.n}")
        if on_result is not None:
            on_result(result)

    workers: Executor
    lent: SingleStepModel | None = None  # a caller's model, given a memo for this call only
    if runs_here(executor, jobs, len(targets)):
        m = model if isinstance(model, SingleStepModel) else load_model(model)
        if m.memo is None:  # its weights do not change while it plans: repeats are free
            m.memo = PredictionMemo()
            lent = m
        fn: Callable[[str], PlanResult] = partial(
            _plan_safely, model=m, stock=load_stock(stock), settings=settings
        )
        workers = InProcessExecutor()
    else:
        fn = _worker_plan
        workers = make_executor(
            executor, jobs, _init_worker, (model, stock, settings), address=address
        )
    try:
        with workers:
            for i, result in workers.imap_unordered(fn, targets):
                done(i, result)
    finally:
        bar.close()
        if lent is not None:  # the caller may train its model next: nothing stale stays
            lent.memo = None
    return [r for r in results if r is not None]


# ---------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _init_worker(model: Any, stock: Any, settings: SearchSettings) -> None:
    m = model if isinstance(model, SingleStepModel) else load_model(model)
    if m.memo is None:  # the worker's own copy: its weights never change
        m.memo = PredictionMemo()
    _WORKER["model"] = m
    _WORKER["stock"] = load_stock(stock)
    _WORKER["settings"] = settings


def _worker_plan(target: str) -> PlanResult:
    return _plan_safely(target, _WORKER["model"], _WORKER["stock"], _WORKER["settings"])


def _plan_safely(
    target: str, model: SingleStepModel, stock: Stock, settings: SearchSettings
) -> PlanResult:
    t0 = time.perf_counter()
    try:
        return _search(target, canonical_target(target), model, stock, settings)
    except Exception as exc:  # one bad target must not end a long benchmark
        if not isinstance(exc, InvalidTargetError):
            log.exception("planning failed for %s", target)
        canon = canonical_unmapped(target) if isinstance(target, str) else None
        return PlanResult(
            target=str(target),
            canonical=canon,
            algorithm=settings.algorithm,
            solved=False,
            calls=0,
            seconds=time.perf_counter() - t0,
            error=f"{type(exc).__name__}: {exc}",
            settings=settings.to_dict(),
        )


# ---------------------------------------------------------------------- search
def _search(
    target: str,
    canon: str,
    model: SingleStepModel,
    stock: Stock,
    s: SearchSettings,
    on_calls: Callable[[int], None] | None = None,
) -> PlanResult:
    model.prepare_for_stock(stock)  # one-time set-up (RetCL: embed the stock), not timed
    t0 = time.perf_counter()
    out = run_search(canon, model, stock, s, on_calls)
    return PlanResult(
        target=target,
        canonical=canon,
        algorithm=s.algorithm,
        solved=out.solved,
        unverified=out.unverified,
        calls=out.calls,
        seconds=time.perf_counter() - t0,
        routes=out.routes,
        first_solution_calls=out.first_solution_calls,
        first_solution_s=out.first_solution_s,
        n_nodes=out.n_nodes,
        model_s=out.model_s,
        adapter_s=out.adapter_s,
        settings=s.to_dict(),
    )
