"""The multi-step planning benchmark: solved rate of a target set under a call budget.

``makeable bench planning --targets paroutes_n1 --stock paroutes_n1 --model NAME --out DIR``
plans every target with :func:`makeable.retro.planning.search.plan_many` and writes, into ``DIR``:

* ``config.json``: the search settings, model, stock, target source and versions;
* ``results.csv``: one row per target (``target, solved`` (makeable: leaves in an exact
  stock), ``unverified`` (routes only through Bloom-filter leaves), ``calls, seconds``, ...),
  appended as each target finishes;
* ``routes.jsonl``: per target, its solved routes in PaRoutes format (one JSON object a line);
* ``summary.md``: solved rate (also within 10, 50, 100, 200 calls), mean calls and seconds per
  solved target, the configuration;
* ``targets.txt``: the targets of this run (after ``--sample`` / ``--limit``).

Route quality, when asked for (:mod:`makeable.retro.planning.route_quality`):
``references`` (``--reference-routes FILE``, PaRoutes reference routes) adds the columns
``has_reference`` and ``route_rank`` (the position of the reference route among the target's
routes, blank when it is not among them) and top-1/5/10 route accuracy to the summary;
``round_trip`` (``--round-trip FORWARD``, a forward reaction model) adds ``round_trip_passed``
and ``round_trip_validity`` (steps of the best makeable route that the forward model gives back)
and their mean. Without them ``results.csv`` keeps its columns; a folder is resumed only with
the same references and forward model.

Running the same command on the same folder resumes: targets already in ``results.csv`` are
skipped and the new ones appended. A folder holding results of different search settings is
refused; the single-step model, a learned value model and a reaction filter's forward model are
identified by digests of their weights, so one retrained into the same folder is refused too.

Target sets: a file with one SMILES a line, or a name: ``paroutes_n1`` is
``$MAKEABLE_DATA/planning/paroutes/n1-targets.txt`` (the 10,000 PaRoutes set-n1 targets).
``sample_targets(targets, n, seed)`` picks a fixed subset that depends only on the targets
and the seed: the ``n`` targets with the smallest BLAKE2b hash of ``"{seed}:{smiles}"``, kept
in file order (``--sample 1000 --sample-seed 0`` is the documented 1,000-target subset).

References:
    Genheden, Bjerrum, "PaRoutes: towards a framework for benchmarking retrosynthesis route
    predictions", Digital Discovery 2022. https://doi.org/10.1039/D2DD00015F
    Chen et al., "Retro*: Learning Retrosynthetic Planning with Neural Guided A* Search",
    ICML 2020 (solved rate under a budget of 500 single-step calls).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from makeable.data.molecules import data_file, read_smiles_file
from makeable.data.stocks import Stock
from makeable.oracle.executor import runs_here
from makeable.report import markdown_table, write_text
from makeable.results_csv import append_csv, open_append, read_csv
from makeable.retro.planning.reaction_filter import filter_digest, load_reaction_filter
from makeable.retro.planning.route_quality import (
    ROUTE_TOP_KS,
    references_digest,
    route_rank,
    route_round_trip,
)
from makeable.retro.planning.routes import Route
from makeable.retro.planning.search import PlanResult, SearchSettings, plan_many
from makeable.retro.planning.value import value_digest
from makeable.retro.single_step.base import SingleStepModel, load_model
from makeable.retro.single_step.metrics import top_k_accuracy
from makeable.run_folder import RunFolder, versions

log = logging.getLogger(__name__)

TARGET_SETS = {"paroutes_n1": "planning/paroutes/n1-targets.txt"}
"""Named target sets: their file relative to the data folder."""

BUDGETS = (10, 50, 100, 200, 500)
"""Smaller budgets the summary reports too: a search stopped after ``c`` calls solves exactly
the targets first solved within ``c`` (without a time limit, the search's course does not depend
on its call budget), so one run at 500 calls gives the solved rate at every smaller budget."""

DIGESTS = ("model_digest", "value_digest", "filter_digest")
"""What identifies the models' weights in ``config.json``, beside their names or folders."""

RESULT_FIELDS = [
    "target",
    "solved",
    "unverified",
    "calls",
    "seconds",
    "route_length",
    "n_reactions",
    "route_score",
    "first_solution_calls",
    "first_solution_s",
    "n_nodes",
    "model_s",
    "adapter_s",
    "error",
]
REFERENCE_FIELDS = ["has_reference", "route_rank"]
"""The columns ``--reference-routes`` adds."""
ROUND_TRIP_FIELDS = ["round_trip_passed", "round_trip_validity"]
"""The columns ``--round-trip`` adds."""
QUALITY_SETTINGS = ("reference_digest", "round_trip", "round_trip_digest", "round_trip_k")
"""What the route-quality options record in ``config.json``; compared on resuming whether
given or not, so a folder never mixes rows with and without them."""


def load_targets(name_or_path: str | Path) -> list[str]:
    """Target SMILES from a named set (``paroutes_n1``) or a file (first field of each line).

    Raises:
        FileNotFoundError: no such file, or the named set's data file is missing.
    """
    name = str(name_or_path)
    if name in TARGET_SETS:
        path = data_file(TARGET_SETS[name], f"target set {name!r}")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"targets file not found: {path} (named sets: {', '.join(TARGET_SETS)})"
            )
    targets = [t for t in read_smiles_file(path) if t.lower() != "smiles"]
    return list(dict.fromkeys(targets))  # each target once, first occurrence kept


def sample_targets(targets: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """A fixed subset of ``n`` targets: the smallest BLAKE2b hashes of ``"{seed}:{smiles}"``.

    The choice depends only on the targets and the seed (not on library versions or on the
    order of the file); the chosen targets keep their order in ``targets``.
    """
    if n < 1:
        raise ValueError(f"a sample needs at least 1 target, got {n}")
    if n >= len(targets):
        return list(targets)

    def key(smiles: str) -> bytes:
        return hashlib.blake2b(f"{seed}:{smiles}".encode(), digest_size=16).digest()

    chosen = set(sorted(targets, key=key)[:n])
    return [t for t in targets if t in chosen]


def run_planning_bench(
    targets: Sequence[str],
    model: str | Path | SingleStepModel,
    stock: str | Path | Stock,
    out: Path,
    settings: SearchSettings,
    jobs: int = 1,
    progress: bool = False,
    source: str = "",
    model_params: Mapping[str, Any] | None = None,
    references: Mapping[str, Route] | None = None,
    round_trip: str | None = None,
    executor: str = "process",
    address: str | None = None,
) -> dict[str, Any]:
    """Plan ``targets`` (resuming what ``out`` already holds) and write the benchmark files.

    Args:
        targets: target SMILES, in order.
        model: a registered name or saved folder (loaded once per worker), or an instance.
        stock: a named stock, a stock file or a :class:`Stock`.
        out: output folder (created).
        settings: the search settings.
        jobs: workers.
        progress: show a progress bar.
        source: where the targets came from (recorded in the configuration).
        model_params: overrides of the saved model's parameters (``--model-param``, e.g.
            Template-MLP's ``max_templates``) when ``model`` is a name or folder.
        references: reference routes by canonical target SMILES
            (:func:`makeable.retro.planning.route_quality.read_reference_routes`): adds route
            ranks and top-k route accuracy.
        round_trip: a forward reaction model (registered name or saved folder): adds the
            round-trip validity of each solved target's best route.
        executor: where targets are planned: ``process`` (local processes, the default),
            ``ray`` or ``inprocess``; results are appended here, by this process.
        address: the Ray cluster of the ``ray`` executor (``None``: a local one).

    Returns:
        The summary (what ``summary.md`` shows).

    Raises:
        ValueError: ``out`` holds results made with other search settings, model, model
            parameters (e.g. ``max_templates``), stock, reference routes or round-trip model;
            ``round_trip`` is not a forward reaction model.
    """
    with RunFolder(out) as folder:  # one process per folder: a second one is refused
        m = model if isinstance(model, SingleStepModel) else load_model(model, model_params)
        config: dict[str, Any] = {
            "benchmark": "planning",
            "model": model.name if isinstance(model, SingleStepModel) else str(model),
            "stock": stock.name if isinstance(stock, Stock) else str(stock),
            "search": settings.to_dict(),
            "model_params": m.params,
            "model_digest": m.digest(),
        }
        if settings.value_model is not None:
            config["value_digest"] = value_digest(settings.value_model)
        if settings.reaction_filter is not None:
            config["filter_digest"] = filter_digest(settings.reaction_filter)
        fields = list(RESULT_FIELDS)
        if references is not None:
            config["reference_digest"] = references_digest(references)
            fields += REFERENCE_FIELDS
        check = load_reaction_filter(round_trip) if round_trip is not None else None
        if check is not None:
            config.update(
                round_trip=str(round_trip),
                round_trip_digest=check.digest(),
                round_trip_k=check.top_k,
            )
            fields += ROUND_TRIP_FIELDS
        folder.check_settings(
            "config.json",
            config,
            holds=f"{out} holds planning results",
            hint="use another --out folder, or the same settings to resume",
            keys=[*config, *(k for k in QUALITY_SETTINGS if k not in config)],
            # folders made before the digests were recorded are known by the model's name or path
            if_recorded=DIGESTS,
        )
        record = dict(
            config,
            targets=source,
            n_targets=len(targets),
            jobs=jobs,
            executor=executor,
            cpu_count=os.cpu_count(),
            versions=versions("syntheseus", "rdchiral"),
        )
        if references is not None:
            record["n_reference_routes"] = len(references)
        folder.write_settings("config.json", record)
        (out / "targets.txt").write_text("".join(f"{t}\n" for t in targets))

        results_path = out / "results.csv"
        done = {row["target"] for row in read_csv(results_path, missing_ok=True)}
        todo = [t for t in targets if t not in done]
        if done:
            log.info(
                "resuming: %d of %d targets already planned", len(targets) - len(todo), len(targets)
            )
        with open_append(out / "routes.jsonl") as routes_fh:

            def append(result: PlanResult) -> None:
                row = result.row()
                if references is not None:
                    row.update(_reference_cells(result, references))
                if check is not None:
                    row.update(_round_trip_cells(result, check.forward, check.top_k))
                append_csv(results_path, fields, row)
                if result.routes:
                    line = {"target": result.target, "routes": [r.to_dict() for r in result.routes]}
                    routes_fh.write(json.dumps(line) + "\n")
                    routes_fh.flush()

            if todo:
                plan_many(
                    todo,
                    # workers load a plain name or folder themselves, else inherit ``m``
                    m
                    if runs_here(executor, jobs, len(todo)) or model is m or model_params
                    else model,
                    stock,
                    settings,
                    jobs=jobs,
                    executor=executor,
                    address=address,
                    progress=progress,
                    on_result=append,
                )
        wanted = set(targets)
        rows = [r for r in read_csv(results_path, missing_ok=True) if r["target"] in wanted]
        summary = summarise(rows, settings.top_k)
        write_summary(out / "summary.md", summary, record)
        return summary


def _reference_cells(result: PlanResult, references: Mapping[str, Route]) -> dict[str, Any]:
    """``has_reference`` and ``route_rank`` (blank: the reference is not among the routes)."""
    reference = references.get(result.canonical or "")
    if reference is None:
        return {"has_reference": 0, "route_rank": ""}
    rank = route_rank(result.routes, reference)
    return {"has_reference": 1, "route_rank": "" if rank is None else rank}


def _round_trip_cells(result: PlanResult, forward: SingleStepModel, k: int) -> dict[str, Any]:
    """The round trip of the best makeable route's steps (blank without one, or for a bought
    target)."""
    best = result.best
    if not result.solved or best is None or best.n_reactions == 0:
        return {}
    passed = route_round_trip(best, forward, k)
    return {
        "round_trip_passed": sum(passed),
        "round_trip_validity": round(sum(passed) / len(passed), 4),
    }


def summarise(rows: Sequence[dict[str, str]], top_k: int | None = None) -> dict[str, Any]:
    """Solved rate and means over solved targets, from ``results.csv`` rows; route accuracy
    and round-trip validity when the rows have their columns. ``top_k``: the routes kept per
    target (route accuracy beyond it is not reported)."""
    solved = [r for r in rows if r["solved"] == "1"]
    errors = sum(1 for r in rows if r["error"])

    def mean(key: str) -> float | None:
        values = [float(r[key]) for r in solved if r[key] != ""]
        return statistics.fmean(values) if values else None

    def median(key: str) -> float | None:
        values = [float(r[key]) for r in solved if r[key] != ""]
        return statistics.median(values) if values else None

    out: dict[str, Any] = {
        "n_targets": len(rows),
        "n_solved": len(solved),
        "solved_rate": len(solved) / len(rows) if rows else 0.0,
        # routes only through Bloom-filter leaves (tables made before the column lack it)
        "n_unverified": sum(1 for r in rows if r.get("unverified") == "1"),
        "mean_calls_solved": mean("calls"),
        "mean_seconds_solved": mean("seconds"),
        "mean_first_solution_calls": mean("first_solution_calls"),
        "median_first_solution_calls": median("first_solution_calls"),
        "mean_first_solution_s": mean("first_solution_s"),
        "mean_route_length": mean("route_length"),
        "mean_seconds_all": (statistics.fmean(float(r["seconds"]) for r in rows) if rows else None),
        "model_share": _share(rows, "model_s"),
        "adapter_share": _share(rows, "adapter_s"),
        "n_errors": errors,
        "solved_within": {
            budget: sum(1 for r in solved if float(r["first_solution_calls"] or "inf") <= budget)
            for budget in BUDGETS
        },
    }
    if rows and "route_rank" in rows[0]:
        ranks = [
            int(r["route_rank"]) if r["route_rank"] else None
            for r in rows
            if r["has_reference"] == "1"
        ]
        ks = [k for k in ROUTE_TOP_KS if top_k is None or k <= top_k]
        out["n_with_reference"] = len(ranks)
        out["route_accuracy"] = top_k_accuracy(ranks, ks) if ranks else {}
        out["route_top_k_kept"] = top_k
    if rows and "round_trip_validity" in rows[0]:
        checked = [r for r in rows if r["round_trip_validity"] != ""]
        out["n_round_trip"] = len(checked)
        out["mean_round_trip_validity"] = (
            statistics.fmean(float(r["round_trip_validity"]) for r in checked) if checked else None
        )
        steps = sum(int(r["n_reactions"]) for r in checked)
        out["round_trip_step_share"] = (
            sum(int(r["round_trip_passed"]) for r in checked) / steps if steps else None
        )
    return out


def _share(rows: Sequence[dict[str, str]], key: str) -> float | None:
    """``Σ key / Σ seconds`` over the rows that have ``key`` (older tables lack it)."""
    timed = [r for r in rows if r.get(key, "") != ""]
    total = sum(float(r["seconds"]) for r in timed)
    return sum(float(r[key]) for r in timed) / total if total > 0 else None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "–" if value is None else format(value, fmt)


def write_summary(path: Path, summary: dict[str, Any], config: dict[str, Any]) -> None:
    """Write ``summary.md``: the headline numbers and the configuration."""
    search = config["search"]
    lines = [
        f"# Planning benchmark: {config['model']} + {search['algorithm']}, stock {config['stock']}",
        "",
        f"Targets: {config.get('targets') or '?'} ({summary['n_targets']} planned); budget "
        f"{search['max_calls']} single-step calls"
        + (f", {search['time_limit_s']} s" if search["time_limit_s"] else "")
        + (
            "; search stops at the first solution"
            if search["stop_on_first_solution"]
            else "; search spends the whole budget"
        )
        + ".",
        "",
        markdown_table(("metric", "value"), _summary_rows(summary, search)).rstrip("\n"),
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(config, indent=2),
        "```",
    ]
    write_text(path, "\n".join(lines) + "\n")


def _summary_rows(summary: dict[str, Any], search: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (metric, value) rows of ``summary.md``."""
    n = summary["n_targets"]
    rows: list[tuple[str, Any]] = [
        (
            "solved (makeable: every starting material in an exact stock)",
            f"{summary['n_solved']} / {n} ({100 * summary['solved_rate']:.1f} %)",
        ),
        (
            "unverified (routes only through Bloom-filter leaves; not solved)",
            summary["n_unverified"],
        ),
        ("mean calls per solved target", _num(summary["mean_calls_solved"])),
        ("mean seconds per solved target", _num(summary["mean_seconds_solved"], ".2f")),
        ("mean calls to first solution", _num(summary["mean_first_solution_calls"])),
        ("median calls to first solution", _num(summary["median_first_solution_calls"])),
        ("mean seconds to first solution", _num(summary["mean_first_solution_s"], ".2f")),
        ("mean route length (best route, solved)", _num(summary["mean_route_length"], ".2f")),
        ("mean seconds per target (all)", _num(summary["mean_seconds_all"], ".2f")),
        ("share of time in the single-step model", _pct(summary.get("model_share"))),
        ("share of time in makeable's syntheseus adapter", _pct(summary.get("adapter_share"))),
        ("targets with errors", summary["n_errors"]),
    ]
    rows += [
        (f"solved within {budget} calls", f"{k} ({_pct(k / n)})")
        for budget, k in summary["solved_within"].items()
        if budget < search["max_calls"] and n
    ]
    if "route_accuracy" in summary:
        n_ref = summary["n_with_reference"]
        rows.append(("targets with a reference route", f"{n_ref} / {n}"))
        kept = summary["route_top_k_kept"]
        for k in ROUTE_TOP_KS:
            share = summary["route_accuracy"].get(k)
            name = f"top-{k} route accuracy (reference route among the first {k})"
            if share is not None:
                rows.append((name, f"{round(share * n_ref)} / {n_ref} ({_pct(share)})"))
            elif n_ref:
                rows.append((name, f"– (the run keeps {kept} route(s) per target: --top-k)"))
    if "mean_round_trip_validity" in summary:
        rows += [
            (
                "mean round-trip validity (best route's steps the forward model gives back)",
                f"{_pct(summary['mean_round_trip_validity'])} over {summary['n_round_trip']} best "
                "routes",
            ),
            ("round-trip share of all those steps", _pct(summary["round_trip_step_share"])),
        ]
    return rows
