"""The design job: objective + optimizer + budget → a run folder.

Run folder contents: ``run.db`` (every counted call), ``config.yaml``, ``versions.json``,
``metrics.json``, ``top.csv``, ``top.sdf``, ``score_vs_calls.png`` and ``report.html``; with
``routes.top > 0`` also ``routes/`` (synthesis routes of the best molecules, see
:mod:`makeable.runs.routes`). Re-running the same config on the same folder resumes an
interrupted run (see :mod:`makeable.oracle.oracle`); a finished run is not re-scored, and
molecules already planned are not planned again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from makeable.chem.filters import passes
from makeable.chem.molecule import neutralize
from makeable.data.molecules import (
    cache_dir,
    read_smiles_file,
    zinc250k,
    zinc250k_novelty_reference,
    zinc250k_source,
)
from makeable.objectives import OBJECTIVES, get_objective
from makeable.optimizers import OPTIMIZERS, DesignContext, Optimizer, get_optimizer
from makeable.optimizers.checkpoint import Checkpoints
from makeable.oracle.executor import Executor, make_executor
from makeable.oracle.metrics import pmo_metrics
from makeable.oracle.oracle import Oracle
from makeable.oracle.store import RunStore
from makeable.registry import UnknownNameError
from makeable.results_csv import read_jsonl, replace_text
from makeable.run_folder import RunFolder
from makeable.runs.config import ConfigError, DesignConfig
from makeable.runs.outputs import write_top_molecules
from makeable.runs.report import write_report
from makeable.runs.rounds_report import rounds_section

if TYPE_CHECKING:
    from makeable.runs.routes import RoutePlanner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DesignResult:
    out_dir: Path
    metrics: dict[str, Any]
    top: list[tuple[str, float]]


_CHARGED = re.compile(r"\[[^\]]*[+-]")  # a bracket atom with a charge


@functools.lru_cache(maxsize=2)
def neutral_pool(smiles: tuple[str, ...]) -> tuple[str, ...]:
    """The pool with every charged molecule in its neutral form (:func:`neutralize`),
    duplicates dropped (first copy kept, order kept).

    Only SMILES with a charged atom are parsed (a third of ZINC250k: 15-50 s for the full set);
    the result is kept in memory for the process and in the user cache
    (``pools/neutral_<digest>.smi``, keyed by the pool's SMILES and RDKit's version, written
    atomically), so that benchmark workers and later runs read it instead.
    """
    from rdkit import rdBase

    digest = hashlib.sha256("\n".join(smiles).encode()).hexdigest()[:20]
    header = f"# makeable neutral pool {digest} rdkit {rdBase.rdkitVersion}"
    path = cache_dir() / "pools" / f"neutral_{digest}.smi"
    try:
        lines = path.read_text().splitlines()
        if lines and lines[0] == header and len(lines) > 1:
            return tuple(lines[1:])
    except (OSError, UnicodeDecodeError):
        pass  # no cache yet, or an unreadable one: make it again
    pool = tuple(dict.fromkeys(neutralize(s) if _CHARGED.search(s) else s for s in smiles))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_text(path, "\n".join([header, *pool]) + "\n")
    except OSError as exc:  # a read-only cache costs time, not the run
        log.debug("cannot cache the neutral pool in %s: %s", path, exc)
    return pool


def load_pool(pool: str) -> tuple[Sequence[str], str]:
    """The initial molecules: ``zinc250k`` (neutralised, see :func:`neutral_pool`) or a SMILES
    file (as written); returns (smiles, description)."""
    if pool == "zinc250k":
        return neutral_pool(zinc250k()), f"{zinc250k_source()}, neutralised"
    path = Path(pool)
    if not path.is_file():
        raise ConfigError(f"pool {pool!r} is neither 'zinc250k' nor a SMILES file")
    return read_smiles_file(path), f"file {path.name}"


def _check_resume(store: RunStore, config: DesignConfig, pool_source: str) -> str:
    """Refuse a run folder this config cannot resume; return the pool description to record.

    A run with calls is resumed by replaying them, so it must start from the same initial pool
    (runs made before the pool was neutralised, or with another ZINC250k, are refused); a
    finished run is only re-opened for its results and keeps the pool it was made with.
    """
    config.check_resume(store)
    if store.n_calls() > config.budget:
        raise ConfigError(
            f"the run folder already holds {store.n_calls()} calls, more than budget "
            f"{config.budget}"
        )
    recorded_pool = store.get_meta("pool")
    if recorded_pool in (None, pool_source) or store.n_calls() == 0:
        return pool_source
    if store.finished(config.budget):
        return str(recorded_pool)
    raise ConfigError(
        f"the run folder holds a run started from another initial pool ({recorded_pool}; "
        f"now: {pool_source}), so it cannot be resumed; use another --out"
    )


def registered_names(config: DesignConfig) -> DesignConfig:
    """``config`` with its objective and optimizer spelled as registered (``graph-ga`` →
    ``graph_ga``, ``lstm_hc`` → ``lstm-hc``): a run records one spelling, so it resumes
    under either."""
    objective = config.objective
    if objective in OBJECTIVES:  # not a module:function
        objective = OBJECTIVES.canonical(objective)
    optimizer = OPTIMIZERS.canonical(config.optimizer)
    return dataclasses.replace(config, objective=objective, optimizer=optimizer)


def run_design(
    config: DesignConfig,
    out_dir: str | Path,
    progress: bool = True,
    executor: Executor | None = None,
) -> DesignResult:
    """Run (or resume) a design job and write its run folder.

    Args:
        config: the run's configuration.
        out_dir: the run folder (created; an existing one with the same config is resumed).
        progress: show a progress bar with the best score so far.
        executor: override the configured scoring backend (an already running pool).
    """
    out = Path(out_dir)
    objective = get_objective(config.objective, **config.objective_params)
    if config.synthesis != "none":
        from makeable.synthesis.in_loop import synthesis_objective  # loads a model: only then

        try:
            objective = synthesis_objective(
                objective, config.synthesis, config.synthesis_params, out
            )
        except (ValueError, FileNotFoundError, UnknownNameError) as exc:
            raise ConfigError(f"--synthesis {config.synthesis}: {exc}") from exc
    optimizer = get_optimizer(config.optimizer, **config.optimizer_params)
    config = registered_names(config)
    planner = _route_planner(config)  # a missing stock or model fails before any oracle call
    pool, pool_source = load_pool(config.pool)
    out.mkdir(parents=True, exist_ok=True)  # after every check that needs no oracle call
    with RunStore(out / "run.db", exclusive=True) as store:
        pool_source = _check_resume(store, config, pool_source)
        store.pin_params(optimizer.params(), key="optimizer_effective_params")
        store.set_meta("config", config.to_dict())
        store.set_meta("pool", pool_source)
        RunFolder(out, lock=False).record(config.to_dict())  # the store holds the lock

        own_executor = executor is None
        if executor is None:
            executor = make_executor(config.executor, config.n_workers, address=config.address)
        bar = tqdm(
            total=config.budget,
            desc=f"{config.optimizer} on {objective.name}",
            unit="call",
            disable=not progress,
            dynamic_ncols=True,
        )

        def on_calls(oracle: Oracle, n_new: int) -> None:
            bar.update(n_new)
            bar.set_postfix(best=f"{oracle.best_score():.4f}", refresh=False)

        accept = functools.partial(passes, sets=tuple(config.filters)) if config.filters else None
        oracle = Oracle(objective, config.budget, store, executor, on_calls=on_calls, accept=accept)
        resumed_from = store.n_calls()
        finished = store.finished(config.budget)
        checkpoints = Checkpoints(out / CHECKPOINT_DIR, store)
        if not finished and not checkpoints.exists():
            store.clear_events_after(-1)  # a resumed run re-records its events while replaying
        ctx = DesignContext(
            seed=config.seed,
            pool=pool,
            log_event=lambda kind, payload: store.add_event(oracle.n_calls, kind, payload),
            checkpoints=checkpoints,
        )
        start = time.perf_counter()
        try:
            if not finished:
                optimizer.optimize(oracle, ctx)
                if oracle.n_calls < resumed_from:  # the optimizer stopped early while replaying
                    oracle.evaluate([r.smiles for r in store.calls()])
        finally:
            bar.close()
            objective.close()
            if own_executor:
                executor.close()
        wall_s = time.perf_counter() - start
        if not finished:  # re-opening a finished run is not a session of its optimizer
            sessions = store.get_meta("sessions") or []
            sessions.append(
                {
                    "resumed_from": resumed_from,
                    "n_calls": oracle.n_calls,
                    "wall_s": wall_s,
                    "oracle_s": oracle.oracle_s,
                    "propose_s": ctx.propose_s,
                    "from_checkpoint": checkpoints.restored_at,
                }
            )
            store.set_meta("sessions", sessions)
            checkpoints.remove()
            write_constructed_routes(out, optimizer, [r.smiles for r in store.calls()])
        # the optimizer is done: a run interrupted while planning routes resumes without replay
        store.mark_finished(config.budget)
        return finish_run(out, store, config, pool_source, planner=planner, progress=progress)


CHECKPOINT_DIR = "checkpoint"
"""Run-folder subfolder of the optimizer's checkpoint while it runs (removed when it is done)."""
CONSTRUCTED_ROUTES = "constructed_routes.jsonl"
"""Run-folder file: the routes an optimizer built its molecules by, one JSON line each."""


def write_constructed_routes(out: Path, optimizer: Optimizer, smiles: Sequence[str]) -> None:
    """Write ``CONSTRUCTED_ROUTES`` for the counted molecules the optimizer built by synthesis
    (nothing for an optimizer that builds none). Rewritten atomically after each session;
    a resumed run replays its optimizer, which builds the same routes again."""
    lines = []
    for s in smiles:
        route = optimizer.constructed_route(s)
        if route is not None:
            lines.append(json.dumps({"smiles": s, "route": route}) + "\n")
    if not lines:
        return
    replace_text(out / CONSTRUCTED_ROUTES, "".join(lines))


def read_constructed_routes(out: Path) -> dict[str, Any]:
    """The routes of ``CONSTRUCTED_ROUTES`` by canonical SMILES (empty when there is none)."""
    return {
        item["smiles"]: item["route"]
        for item in read_jsonl(out / CONSTRUCTED_ROUTES, missing_ok=True)
    }


def _route_planner(config: DesignConfig) -> RoutePlanner | None:
    """The loaded model and stock of the planning step (``None`` when it is off)."""
    if config.routes.top <= 0:
        return None
    from makeable.runs.routes import load_planner  # imports torch: only when planning

    return load_planner(config)


def finish_run(
    out: Path,
    store: RunStore,
    config: DesignConfig,
    pool_source: str,
    planner: RoutePlanner | None = None,
    progress: bool = False,
) -> DesignResult:
    """Compute metrics from the store and write the result files and report.

    With ``config.routes.top > 0`` it then plans synthesis routes for the best molecules
    (``routes/``; molecules planned before are skipped), adds their makeable share to
    ``metrics.json`` and a "Synthesis routes" section to ``report.html``. Planning makes no
    oracle call and is logged as a ``routes`` event in ``run.db``.

    Args:
        out: the run folder.
        store: the run's store.
        config: the run's configuration.
        pool_source: where the initial pool came from (recorded in the metrics).
        planner: the loaded model and stock for planning (loaded here when needed and not
            given).
        progress: show a progress bar while planning.
    """
    calls = store.calls()
    smiles = [c.smiles for c in calls]
    scores = [c.score for c in calls]
    reference = zinc250k_novelty_reference()
    metrics: dict[str, Any] = dict(pmo_metrics(smiles, scores, config.budget, reference=reference))
    metrics["pool"] = pool_source
    if config.synthesis != "none":
        from makeable.synthesis.in_loop import synthesis_summary

        metrics["synthesis"] = {"mode": config.synthesis, **(synthesis_summary(out) or {})}
    ranked = sorted(range(len(calls)), key=lambda i: scores[i], reverse=True)
    order = ranked[: config.top_k]
    top = [(smiles[i], scores[i]) for i in order]
    write_top_molecules(out, [calls[i] for i in order])
    sections = [rounds_section(store.events())]

    def write_results() -> None:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        events = store.events()
        write_report(out, config, metrics, calls, events, extra_sections=sections)

    write_results()  # the run's results stand even if planning is interrupted
    if config.routes.top > 0:
        from makeable.runs.routes import load_planner, plan_top_routes, routes_section

        planner = planner or load_planner(config)
        targets = [(smiles[i], scores[i]) for i in ranked[: config.routes.top]]
        summary = plan_top_routes(
            out, targets, planner, progress=progress, constructed=read_constructed_routes(out)
        )
        metrics["routes"] = summary.metrics()
        payload = {**summary.metrics(), "planned": summary.n_planned, "seconds": summary.seconds}
        store.add_event(store.n_calls(), "routes", payload)
        sections.append(routes_section(summary))
        write_results()
    return DesignResult(out, metrics, top)
