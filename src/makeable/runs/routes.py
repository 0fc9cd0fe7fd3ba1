"""Synthesis routes for the best molecules of a design run: ``RUN/routes/`` and its report.

With ``routes.top = K`` (``makeable design ... --plan-routes K``), :func:`plan_top_routes`
plans the K best molecules of the run (the order of ``top.csv``) with Retro* and a
single-step model (:func:`makeable.retro.planning.search.plan_many`) down to a stock, and writes:

* ``routes/results.csv``: one row per molecule, best first: ``rank, smiles, score`` (the
  objective's), ``solved`` (makeable: a route whose every starting material an exact stock
  holds), ``unverified`` (routes found, but each needs a starting material only a Bloom
  filter accepts), ``source`` (``planned``, or ``constructed`` for a route the optimizer
  built the molecule by), ``calls`` (single-step model calls), ``seconds``,
  ``route_length`` (of the best route), ``n_reactions``, ``route_score``, ``price`` (of the
  best route's starting materials, when the stock has prices), ``error``;
* ``routes/routes.json``: per molecule (same order), its solved routes, best first, as a
  list of AiZynthFinder / PaRoutes route dictionaries (an empty list when unsolved);
  :func:`makeable.retro.planning.routes.read_route_lists` reads it;
* ``routes/routes.jsonl``: the same routes, one JSON line per planned molecule, appended as
  each molecule finishes (the resume record that ``routes.json`` is made from);
* ``routes/config.json``: model, stock and search settings.

The *makeable share* is the fraction of the K molecules that are makeable: a route whose
starting materials are all held by an exact stock was found within the call budget, or the
optimizer built the molecule from the stock (:meth:`makeable.optimizers.Optimizer.
constructed_route`, checked against the same stock; such a molecule is not planned).
Molecules whose routes all need a Bloom-filter leaf are counted apart, as *unverified*.

Resume: a molecule already in ``results.csv`` is not planned again, so a run interrupted
while planning plans only the missing molecules when re-run. Rows and route lines are
written as each molecule finishes (the route line first). When the model, stock or search
settings differ from those in ``routes/config.json`` the folder's results are discarded and
every molecule is planned again. Planning makes no oracle call and does not touch the
oracle budget.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from makeable.chem.draw import mol_svg
from makeable.chem.synthesis import replay_route
from makeable.data.stocks import Stock, load_stock
from makeable.registry import UnknownNameError
from makeable.results_csv import append_csv, open_append, read_csv, read_jsonl, replace_text
from makeable.retro.planning.route_report import route_svg, route_verdict
from makeable.retro.planning.routes import Route, RouteFormatError
from makeable.retro.planning.search import Outcome, PlanResult, SearchSettings, plan_many
from makeable.retro.single_step.base import SingleStepModel, load_model
from makeable.runs.config import ConfigError, DesignConfig
from makeable.settings import read_settings, settings_diff, write_settings

log = logging.getLogger(__name__)

ROUTES_DIR = "routes"
ROUTES_PER_TARGET = 3
"""Solved routes kept per molecule, cheapest first."""

RESULT_FIELDS = [
    "rank",
    "smiles",
    "score",
    "solved",
    "unverified",
    "source",
    "calls",
    "seconds",
    "route_length",
    "n_reactions",
    "route_score",
    "price",
    "error",
]


@dataclass(frozen=True)
class RoutePlanner:
    """What plans the routes: a loaded model and stock and the search settings.

    Attributes:
        model: the single-step model.
        stock: the purchasable molecules.
        settings: the Retro* search settings.
        model_ref: how the model was named (registered name or folder), for records.
        stock_ref: how the stock was named (registered name or file), for records.
        jobs: workers.
        executor: where the molecules are planned: ``process`` (local processes; ``jobs``
            1 plans in this process) or ``ray`` (a design run with ``--executor ray``).
        address: the Ray cluster of the ``ray`` executor (``None``: a local one).
    """

    model: SingleStepModel
    stock: Stock
    settings: SearchSettings
    model_ref: str
    stock_ref: str
    jobs: int = 1
    executor: str = "process"
    address: str | None = None

    @cached_property
    def model_digest(self) -> str:
        """The model's digest as loaded (before a search prepares it for the stock)."""
        return self.model.digest()

    def identity(self) -> dict[str, Any]:
        """What decides the planning results (compared with ``routes/config.json``)."""
        return {
            "model": self.model_ref,
            "model_digest": self.model_digest,  # a model retrained into the same folder
            "stock": self.stock_ref,
            "search": self.settings.to_dict(),
        }


def search_settings(config: DesignConfig) -> SearchSettings:
    """The search a design run's planning step uses: Retro*, the whole call budget, top 3."""
    return SearchSettings(
        algorithm="retro_star",
        max_calls=config.routes.budget,
        top_k=ROUTES_PER_TARGET,
    )


def load_planner(config: DesignConfig) -> RoutePlanner:
    """Load the model and stock a run's planning step needs (before the run starts).

    Raises:
        ConfigError: the stock or the model is not available (the message says what to pass).
    """
    try:
        stock = load_stock(config.routes.stock)
    except (FileNotFoundError, UnknownNameError, ValueError) as exc:
        raise ConfigError(
            f"--plan-routes needs a stock of purchasable molecules: {exc}; "
            "or pass --route-stock FILE (one SMILES or InChIKey a line)"
        ) from exc
    try:
        model = load_model(config.routes.model)
    except (FileNotFoundError, UnknownNameError) as exc:
        raise ConfigError(
            f"--plan-routes needs a single-step model (--route-model): {exc}"
        ) from exc
    return RoutePlanner(
        model=model,
        stock=stock,
        settings=search_settings(config),
        model_ref=config.routes.model,
        stock_ref=config.routes.stock,
        jobs=config.routes.jobs,
        # a run scoring on Ray plans on Ray too; otherwise local processes, as --route-jobs says
        executor="ray" if config.executor == "ray" else "process",
        address=config.address,
    )


@dataclass(frozen=True)
class TargetRoutes(Outcome):
    """The planning outcome of one of the run's best molecules.

    Attributes:
        rank: its rank in the run (1 = best score).
        smiles: the molecule (canonical SMILES, as in ``run.db``).
        score: its objective score.
        solved: makeable: a route whose starting materials an exact stock holds.
        calls: single-step model calls spent on it.
        seconds: wall-clock seconds of its search.
        routes: its solved routes, best first.
        error: why it could not be planned (empty if it could).
        unverified: routes were found, but each needs a leaf only a Bloom filter accepts.
        source: ``planned`` (by the search) or ``constructed`` (the optimizer's own route).
    """

    rank: int
    smiles: str
    score: float
    solved: bool
    calls: int
    seconds: float
    routes: tuple[Route, ...] = ()
    error: str = ""
    unverified: bool = False
    source: str = "planned"

    def row(self) -> dict[str, Any]:
        """The molecule's row of ``results.csv``."""
        best = self.best
        return {
            "rank": self.rank,
            "smiles": self.smiles,
            "score": repr(self.score),
            "solved": int(self.solved),
            "unverified": int(self.unverified),
            "source": self.source,
            "calls": self.calls,
            "seconds": round(self.seconds, 3),
            **self.route_columns(),
            "price": best.price if best and best.price is not None else "",
            "error": self.error,
        }


@dataclass(frozen=True)
class RoutesSummary:
    """The planning step of a run: every planned molecule and how it went.

    Attributes:
        targets: the run's best molecules, best first.
        planner: the model, stock and settings used.
        n_planned: molecules planned in this session (the others came from ``results.csv``).
        seconds: wall-clock seconds of this session's planning.
    """

    targets: tuple[TargetRoutes, ...]
    planner: RoutePlanner
    n_planned: int
    seconds: float

    @property
    def n_solved(self) -> int:
        return sum(t.solved for t in self.targets)

    @property
    def n_unverified(self) -> int:
        return sum(t.unverified for t in self.targets)

    @property
    def n_constructed(self) -> int:
        return sum(t.solved and t.source == "constructed" for t in self.targets)

    @property
    def share(self) -> float:
        """The makeable share: makeable molecules over planned molecules (0 if none)."""
        return self.n_solved / len(self.targets) if self.targets else 0.0

    def metrics(self) -> dict[str, Any]:
        """The ``routes`` entry of ``metrics.json``: ``solved`` and ``share`` count makeable
        molecules only (verified leaves); ``unverified`` those with Bloom-filter leaves."""
        return {
            "k": len(self.targets),
            "solved": self.n_solved,
            "share": self.share,
            "unverified": self.n_unverified,
            "constructed": self.n_constructed,
            "stock": self.planner.stock_ref,
            "stock_exact": self.planner.stock.exact,
            "model": self.planner.model_ref,
            "max_calls": self.planner.settings.max_calls,
        }


def plan_top_routes(
    out: Path,
    top: Sequence[tuple[str, float]],
    planner: RoutePlanner,
    *,
    progress: bool = False,
    constructed: Mapping[str, Mapping[str, Any]] | None = None,
) -> RoutesSummary:
    """Plan routes for the run's best molecules, resuming what ``out/routes`` holds.

    Args:
        out: the run folder (``routes/`` is created in it).
        top: ``(smiles, score)`` of the molecules to plan, best first.
        planner: the model, stock and search settings.
        progress: show a progress bar.
        constructed: routes the optimizer built molecules by (PaRoutes dictionaries, by
            canonical SMILES); a molecule whose route is makeable against the planner's
            stock is not planned.

    Returns:
        The outcome of every molecule of ``top``, in that order.
    """
    folder = out / ROUTES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    results_path, lines_path = folder / "results.csv", folder / "routes.jsonl"
    _check_identity(folder, planner)
    record = {
        **planner.identity(),
        "model_params": planner.model.params,
        "stock_size": len(planner.stock),
        "jobs": planner.jobs,
        "executor": planner.executor,
    }
    write_settings(folder / "config.json", record)

    rank = {smiles: i for i, (smiles, _) in enumerate(top, start=1)}
    score = dict(top)
    # a molecule whose planning failed (an error, not a verdict) is planned again
    done = {
        t.smiles: t for t in _read_results(results_path, _read_routes(lines_path)) if not t.error
    }
    judged = sum(smiles in done for smiles, _ in top)
    if judged:
        log.info("routes: %d of %d molecules already judged", judged, len(top))
    n_built = 0
    for smiles, _ in top:
        if smiles in done:
            continue
        built = check_constructed(smiles, (constructed or {}).get(smiles), planner.stock)
        if built is not None:
            n_built += 1
            done[smiles] = TargetRoutes(
                rank[smiles], smiles, score[smiles], True, 0, 0.0, (built,), source="constructed"
            )
    if n_built:
        log.info("routes: %d molecules carry the optimizer's route (checked, not planned)", n_built)
    todo = [smiles for smiles, _ in top if smiles not in done]
    start = time.perf_counter()
    if todo:
        with open_append(lines_path) as lines_fh:

            def append(result: PlanResult) -> None:
                target = _target(result, rank[result.target], score[result.target])
                routes = [r.to_dict() for r in target.routes]
                lines_fh.write(json.dumps({"smiles": target.smiles, "routes": routes}) + "\n")
                lines_fh.flush()
                append_csv(results_path, RESULT_FIELDS, target.row())
                done[target.smiles] = target

            plan_many(
                todo,
                planner.model,
                planner.stock,
                planner.settings,
                jobs=planner.jobs,
                executor=planner.executor,
                address=planner.address,
                progress=progress,
                on_result=append,
            )
    seconds = time.perf_counter() - start
    targets = tuple(
        _reranked(done[smiles], rank[smiles], score[smiles]) for smiles, _ in top if smiles in done
    )
    _write_final(folder, targets)
    summary = RoutesSummary(targets, planner, len(todo), seconds)
    log.info(
        "routes: %d of %d molecules makeable from stock %s (%d planned now, %.1f s)%s",
        summary.n_solved,
        len(targets),
        planner.stock_ref,
        len(todo),
        seconds,
        f"; {summary.n_unverified} more only through Bloom-filter leaves (unverified)"
        if summary.n_unverified
        else "",
    )
    return summary


def check_constructed(smiles: str, data: Mapping[str, Any] | None, stock: Stock) -> Route | None:
    """The optimizer's route for ``smiles``, if it stands: every reaction, re-applied with
    its recorded forward template, gives back its product
    (:func:`makeable.chem.synthesis.replay_route`), and every leaf is in ``stock`` (exact:
    verified). ``None`` otherwise (the molecule is then planned like any other)."""
    if data is None:
        return None
    try:
        route = Route.from_dict(data, source="constructed").checked(stock)
    except RouteFormatError:
        log.warning("routes: the optimizer's route of %s is not a valid route; planning it", smiles)
        return None
    if not route.makeable or route.target != smiles:
        return None
    problems = replay_route(data)
    if problems:
        log.warning("routes: the optimizer's route of %s does not replay (%s)", smiles, problems[0])
        return None
    return route


def _target(result: PlanResult, rank: int, score: float) -> TargetRoutes:
    return TargetRoutes(
        rank=rank,
        smiles=result.target,
        score=score,
        solved=result.solved,
        calls=result.calls,
        seconds=result.seconds,
        routes=result.routes,
        error=result.error or "",
        unverified=result.unverified,
    )


def _reranked(target: TargetRoutes, rank: int, score: float) -> TargetRoutes:
    if target.rank == rank and target.score == score:
        return target
    return dataclasses.replace(target, rank=rank, score=score)


def _check_identity(folder: Path, planner: RoutePlanner) -> None:
    """Discard the folder's results when they were planned with other settings."""
    path = folder / "config.json"
    if not path.is_file():
        return
    if not settings_diff(read_settings(path), planner.identity()):
        return
    log.warning("routes: model, stock or search settings changed; planning every molecule again")
    for name in ("results.csv", "routes.jsonl", "routes.json"):
        (folder / name).unlink(missing_ok=True)


def _read_routes(path: Path) -> dict[str, tuple[Route, ...]]:
    """The routes of ``routes.jsonl`` by molecule (a later line wins; a torn last line is
    skipped)."""
    return {
        item["smiles"]: tuple(Route.from_dict(r) for r in item["routes"])
        for item in read_jsonl(path, missing_ok=True)
    }


def _read_results(path: Path, routes: dict[str, tuple[Route, ...]]) -> list[TargetRoutes]:
    """The molecules already planned, from ``results.csv`` (incomplete rows are skipped)."""
    out = []
    for row in read_csv(path, missing_ok=True):
        try:
            out.append(
                TargetRoutes(
                    rank=int(row["rank"]),
                    smiles=row["smiles"],
                    score=float(row["score"]),
                    solved=row["solved"] == "1",
                    calls=int(row["calls"]),
                    seconds=float(row["seconds"]),
                    routes=routes.get(row["smiles"], ()),
                    error=row["error"] or "",
                    unverified=row.get("unverified") == "1",
                    source=row.get("source") or "planned",
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _write_final(folder: Path, targets: Sequence[TargetRoutes]) -> None:
    """Rewrite ``results.csv``, ``routes.jsonl`` and ``routes.json`` in rank order, atomically."""

    def replace(name: str, text: str) -> None:
        replace_text(folder / name, text)

    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=RESULT_FIELDS)
    writer.writeheader()
    writer.writerows(t.row() for t in targets)
    replace("results.csv", table.getvalue())
    per_target = [[r.to_dict() for r in t.routes] for t in targets]
    replace(
        "routes.jsonl",
        "".join(
            json.dumps({"smiles": t.smiles, "routes": routes}) + "\n"
            for t, routes in zip(targets, per_target, strict=True)
        ),
    )
    replace("routes.json", json.dumps(per_target, indent=2) + "\n")


# ---------------------------------------------------------------------- report
def routes_section(summary: RoutesSummary) -> str:
    """The "Synthesis routes" section of ``report.html``.

    The makeable share (verified leaves only; unverified molecules counted apart), then per
    molecule its picture, objective score, verdict, and its best route drawn as a tree with
    each starting material's stock status.
    """
    planner = summary.planner
    n, k = summary.n_solved, len(summary.targets)
    parts = [
        "<h2>Synthesis routes</h2>",
        f'<p class="share">Makeable share: {n} of the top {k} molecules '
        f"({100 * summary.share:.0f} %) have a route whose every starting material is in "
        f"stock <b>{html.escape(planner.stock_ref)}</b>: {html.escape(planner.stock.describe())}."
        "</p>",
    ]
    if summary.n_unverified:
        parts.append(
            f'<p class="unverified">{summary.n_unverified} more have routes only through '
            "starting materials that a Bloom filter alone accepts (<i>unverified</i>: such a "
            "filter calls some molecules it does not hold purchasable); they are not counted."
            "</p>"
        )
    if summary.n_constructed:
        parts.append(
            f"<p>{summary.n_constructed} of the makeable molecules carry the route the "
            "optimizer built them by (checked against the same stock, not planned).</p>"
        )
    parts.append(
        f"<p>Retro* search with the single-step model <b>{html.escape(planner.model_ref)}</b>, "
        f"at most {planner.settings.max_calls} model calls per molecule; routes in "
        '<a href="routes/routes.json">routes/routes.json</a>, one row per molecule in '
        '<a href="routes/results.csv">routes/results.csv</a>.</p>'
    )
    for t in summary.targets:
        status = t.verdict
        how = (
            "built by the optimizer"
            if t.source == "constructed"
            else f"{t.calls} model call{'' if t.calls == 1 else 's'} · {t.seconds:.1f} s"
        )
        card = (
            f'<div class="card">{mol_svg(t.smiles)}<div class="score">#{t.rank} · '
            f'score {t.score:.4f} · <span class="{status.replace(" ", "-")}">{status}</span>'
            f"</div><div>{how}</div>"
            f'<div class="smi">{html.escape(t.smiles)}</div></div>'
        )
        best = t.best
        if best is not None:
            how = (
                "the optimizer's own forward reactions, each replayed from its template"
                if t.source == "constructed"
                else best.score_text(3)
            )
            detail = (
                f"<div><p>Best route: {best.n_reactions} reaction(s), length {best.depth}, "
                f"{how}; {route_verdict(best)}</p>"
                f"{route_svg(best)}</div>"
            )
        elif t.error:
            detail = f'<p class="not-solved">Could not be planned: {html.escape(t.error)}</p>'
        else:
            detail = f'<p class="not-solved">No route from stock within {t.calls} model calls.</p>'
        parts.append(f'<div class="route-row">{card}{detail}</div>')
    return "\n".join(parts) + "\n"
