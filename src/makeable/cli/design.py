"""``makeable design``: run an optimizer on an objective under an oracle budget."""

from __future__ import annotations

import argparse
import json
from typing import Any

from makeable.cli.flags import add_no_progress, add_out, add_seed, add_threads
from makeable.cli.params import parse_params
from makeable.cli.paths import check_output_folder
from makeable.runs.config import ConfigError, DesignConfig
from makeable.synthesis import MODES as SYNTHESIS_MODES
from makeable.synthesis import PLANNING_MODEL


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "design",
        help="propose the best molecules for an objective under an oracle budget",
        description="Run an optimizer on an objective. Re-running the same command on the "
        "same --out resumes an interrupted run without losing or re-counting oracle calls. "
        "--threads sets this process's torch threads (route planning, --synthesis plan); the "
        "language-model optimizers pin their own count with the run (--param threads=N, "
        "default 1).",
    )
    p.add_argument("--config", help="YAML config (flags given on the command line override it)")
    p.add_argument("--objective", help="registered objective name or module:function")
    p.add_argument("--optimizer", help="registered optimizer (see `makeable list optimizers`)")
    p.add_argument("--budget", type=int, help="oracle calls allowed (unique valid molecules)")
    add_seed(p, default=None)
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="optimizer parameter")
    p.add_argument("--pool", help="initial molecules: 'zinc250k' (default) or a SMILES file")
    p.add_argument("--executor", choices=["inprocess", "process"], help="oracle scoring backend")
    p.add_argument("--workers", type=int, help="worker processes for --executor process")
    p.add_argument(
        "--filters",
        nargs="+",
        metavar="NAME",
        help="structural-alert filter sets (`makeable list filters`): a molecule failing one "
        "scores 0 and costs no oracle call, like an invalid SMILES (default: none)",
    )
    routes = p.add_argument_group(
        "synthesis routes",
        "after the run, plan routes for its best molecules (no oracle calls); writes "
        "OUT/routes/, adds the makeable share to metrics.json and the routes to report.html",
    )
    routes.add_argument(
        "--plan-routes", type=int, metavar="K", help="plan the top K molecules (default 0: off)"
    )
    routes.add_argument(
        "--route-stock",
        metavar="NAME|FILE",
        help="where routes may end: a named stock (default building_blocks, shipped), a file "
        "(SMILES/InChIKey a line, or CSV with smiles and price columns), or several joined "
        "by + (building_blocks+zinc_instock: Bloom-filter leaves stay unverified)",
    )
    routes.add_argument(
        "--route-model",
        metavar="NAME|DIR",
        help=f"single-step model: registered name or saved folder (default {PLANNING_MODEL})",
    )
    routes.add_argument(
        "--route-max-calls",
        type=int,
        metavar="N",
        help="single-step model calls per molecule (default 100, about a CPU-minute)",
    )
    routes.add_argument(
        "--route-jobs", type=int, metavar="J", help="worker processes for planning (default 1)"
    )
    synth = p.add_argument_group(
        "synthesizability in the loop",
        "combine the objective with a synthesis term the optimizer sees (oracle calls are "
        "counted as without it; planning calls are counted apart in metrics.json)",
    )
    synth.add_argument(
        "--synthesis",
        choices=SYNTHESIS_MODES,
        help="score: multiply by the learned synthesizability score (fast); plan: plan every "
        "molecule during the run, not makeable scores x penalty (default none)",
    )
    synth.add_argument(
        "--synthesis-param",
        action="append",
        metavar="KEY=VALUE",
        help="synthesis setting: weight, score (score mode); stock, model, max_calls (20), "
        "penalty (0), length_weight (0) (plan mode)",
    )
    add_out(p, "run folder (created, or resumed)")
    add_no_progress(p)
    add_threads(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> DesignConfig:
    data: dict[str, Any] = {}
    if args.config:
        data = DesignConfig.from_yaml(args.config).to_dict()
    flags = {
        "objective": args.objective,
        "optimizer": args.optimizer,
        "budget": args.budget,
        "seed": args.seed,
        "pool": args.pool,
        "executor": args.executor,
        "n_workers": args.workers,
        "filters": args.filters,
        "plan_routes": args.plan_routes,
        "route_stock": args.route_stock,
        "route_model": args.route_model,
        "route_max_calls": args.route_max_calls,
        "route_jobs": args.route_jobs,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.synthesis is not None:
        data["synthesis"] = args.synthesis
    if args.synthesis_param:
        data["synthesis_params"] = {
            **data.get("synthesis_params", {}),
            **parse_params(args.synthesis_param),
        }
    if args.param:
        data["optimizer_params"] = {**data.get("optimizer_params", {}), **parse_params(args.param)}
    if "objective" not in data:
        raise ConfigError("name an objective with --objective or in --config")
    return DesignConfig.from_dict(data)


def run(args: argparse.Namespace) -> int:
    from makeable.runs.design import run_design

    config = config_from_args(args)
    check_output_folder(args.out, "--out")
    result = run_design(config, args.out, progress=not args.no_progress)
    summary = {k: result.metrics[k] for k in ("n_calls", "auc_top10", "top1", "top10_mean")}
    print(json.dumps(summary, indent=2))
    print(f"best: {result.top[0][0]}  score {result.top[0][1]:.4f}" if result.top else "no calls")
    routes = result.metrics.get("routes")
    if routes:
        print(
            f"makeable: {routes['solved']} of the top {routes['k']} molecules "
            f"({100 * routes['share']:.0f} %) have a route whose every starting material is in "
            f"stock {routes['stock']}; routes: {result.out_dir / 'routes'}"
        )
        if routes.get("unverified"):
            print(
                f"unverified: {routes['unverified']} more have routes only through starting "
                "materials a Bloom filter alone accepts (not counted as makeable)"
            )
    print(f"report: {result.out_dir / 'report.html'}")
    return 0
