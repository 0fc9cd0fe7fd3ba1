"""``makeable design``: run an optimizer on an objective under an oracle budget."""

from __future__ import annotations

import argparse
import json
from typing import Any

from makeable.cli.flags import add_config_flags, add_no_progress, add_out, add_threads
from makeable.cli.flags import config_from_args as config_from
from makeable.cli.paths import check_output_folder
from makeable.runs.config import DesignConfig


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
    add_config_flags(p, DesignConfig)
    add_out(p, "run folder (created, or resumed)")
    add_no_progress(p)
    add_threads(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> DesignConfig:
    return config_from(args, DesignConfig)


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
