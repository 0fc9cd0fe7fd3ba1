"""``makeable bench guacamol | plogp | constrained-plogp``: design benchmarks from design runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from makeable.cli.flags import (
    add_executor,
    add_no_progress,
    add_out,
    add_seed,
    add_seeds,
    executor_args,
)
from makeable.cli.params import parse_params


def add_parsers(bsub: Any) -> None:
    """Add the design benchmarks to ``makeable bench``'s subcommands (``bsub``)."""
    g = bsub.add_parser(
        "guacamol",
        help="GuacaMol goal-directed v2: 20 tasks, GuacaMol's top-k scores under a call budget",
        description="Runs every task and seed as a resumable design run under OUT/runs/, scores "
        "each run as GuacaMol scores a model's molecules, then writes OUT/results.csv and "
        "OUT/summary.md (sum over the tasks beside the published sums).",
    )
    g.add_argument("--optimizer", required=True)
    add_seeds(g)
    g.add_argument("--budget", type=int, default=10000, help="oracle calls per run")
    g.add_argument("--tasks", nargs="+", help="subset of the 20 tasks (default: all)")
    g.add_argument("--param", action="append", metavar="KEY=VALUE", help="optimizer parameter")
    g.add_argument("--jobs", type=int, default=1, help="runs in parallel (workers)")
    add_executor(g, "runs")
    add_out(g, "benchmark folder (created, or resumed): runs/, results.csv, summary.md")
    add_no_progress(g)
    g.set_defaults(func=run_guacamol)

    p = bsub.add_parser(
        "plogp",
        help="penalized logP, unconstrained, SMILES of at most 81 characters (GEGL protocol)",
        description="One resumable design run per seed under OUT/runs/; molecules whose "
        "stereo-free canonical SMILES is longer than --max-len are invalid and not counted.",
    )
    p.add_argument("--optimizer", required=True)
    add_seeds(p)
    p.add_argument("--budget", type=int, default=10000, help="oracle calls per run")
    p.add_argument("--max-len", type=int, default=81, help="most SMILES characters (81)")
    _add_floor(p)
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="optimizer parameter")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (workers)")
    add_executor(p, "runs")
    add_out(p, "benchmark folder (created, or resumed): runs/, results.csv, summary.md")
    add_no_progress(p)
    p.set_defaults(func=run_plogp)

    c = bsub.add_parser(
        "constrained-plogp",
        help="similarity-constrained penalized logP on 800 ZINC molecules (JT-VAE protocol)",
        description="For each start molecule and threshold, a resumable design run from the "
        "start molecule; pairs already in OUT/results.csv are skipped. The molecules default "
        "to $MAKEABLE_DATA/molecules/gegl/logp_800.txt.",
    )
    c.add_argument("--optimizer", required=True)
    c.add_argument("--thresholds", type=float, nargs="+", default=[0.4, 0.6])
    c.add_argument("--budget", type=int, default=1000, help="oracle calls per molecule")
    c.add_argument("--limit", type=int, help="only the first K molecules")
    c.add_argument("--molecules", help="SMILES file of start molecules (overrides the default)")
    add_seed(c)
    c.add_argument(
        "--fingerprint",
        choices=["ecfp4", "morgan2048"],
        default="ecfp4",
        help="similarity fingerprint: unfolded Morgan counts r=2 as JT-VAE/GEGL (ecfp4), or "
        "2048-bit Morgan r=2",
    )
    _add_floor(c)
    c.add_argument("--param", action="append", metavar="KEY=VALUE", help="optimizer parameter")
    c.add_argument("--jobs", type=int, default=1, help="runs in parallel (workers)")
    add_executor(c, "runs")
    add_out(c, "benchmark folder (created, or resumed): runs/, results.csv, summary.md")
    add_no_progress(c)
    c.set_defaults(func=run_constrained)


def _add_floor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--floor",
        type=float,
        help="clamp the scores the optimizer sees at this value (default: none)",
    )


def run_guacamol(args: argparse.Namespace) -> int:
    from makeable.bench.guacamol import run_guacamol

    run_guacamol(
        args.optimizer,
        args.seeds,
        args.budget,
        Path(args.out),
        tasks=args.tasks,
        jobs=args.jobs,
        **executor_args(args),
        optimizer_params=parse_params(args.param),
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def run_plogp(args: argparse.Namespace) -> int:
    from makeable.bench.plogp import run_plogp

    run_plogp(
        args.optimizer,
        args.seeds,
        args.budget,
        Path(args.out),
        max_len=args.max_len,
        floor=args.floor,
        jobs=args.jobs,
        **executor_args(args),
        optimizer_params=parse_params(args.param),
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def run_constrained(args: argparse.Namespace) -> int:
    from makeable.bench.plogp import run_constrained

    run_constrained(
        args.optimizer,
        args.budget,
        Path(args.out),
        thresholds=args.thresholds,
        molecules=Path(args.molecules) if args.molecules else None,
        limit=args.limit,
        seed=args.seed,
        fingerprint=args.fingerprint,
        floor=args.floor,
        jobs=args.jobs,
        **executor_args(args),
        optimizer_params=parse_params(args.param),
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0
