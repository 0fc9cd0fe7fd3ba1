"""``makeable bench``: benchmark commands (results go to a folder, then docs/benchmarks/)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from makeable.bench.properties import GRASEQ, MOLECULENET
from makeable.cli.bench_design import add_parsers as add_design_bench_parsers
from makeable.cli.conformers import add_bench_parser as add_conformers_bench_parser
from makeable.cli.flags import (
    add_executor,
    add_no_progress,
    add_out,
    add_seeds,
    at_least_one,
    executor_args,
)
from makeable.cli.moses import add_bench_parser as add_moses_bench_parser
from makeable.cli.params import parse_params
from makeable.cli.plan import add_bench_parser as add_planning_bench_parser
from makeable.cli.retro import add_bench_parser as add_retro_bench_parser
from makeable.cli.seq import add_bench_parser as add_seq_bench_parser
from makeable.cli.vae import add_bench_parser as add_vae_bench_parser
from makeable.data.stocks import DEFAULT_STOCK
from makeable.predict import DOMAIN_SIMILARITY
from makeable.synthesis import LABEL_MODEL
from makeable.synthesis import MODES as SYNTHESIS_MODES


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="run a published benchmark protocol")
    bsub = p.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    pmo = bsub.add_parser(
        "pmo",
        help="PMO: 23 oracles, AUC top-10 under a call budget",
        description="Runs every task and seed as a resumable design run under OUT/runs/, then "
        "writes OUT/results.csv and OUT/summary.md.",
    )
    _add_pmo_args(pmo)
    pmo.add_argument(
        "--runs-from",
        metavar="DIR",
        help="a `bench makeable` (or `bench pmo`) folder: its finished runs of the same "
        "optimizer, settings and budget are copied into OUT and not run again",
    )
    pmo.set_defaults(func=run_pmo)
    mk = bsub.add_parser(
        "makeable",
        help="makeable PMO: the 23 PMO tasks, AUC top-10 and the verified makeable share",
        description="Runs every task and seed as a resumable design run under OUT/runs/, then "
        f"judges the 100 best molecules of each run (Retro*, {LABEL_MODEL}, stock "
        f"{DEFAULT_STOCK}, 50 calls) and writes OUT/results.csv (auc_top10, "
        "makeable_top10_share, makeable_top100_share, makeable_auc_top10) and OUT/summary.md.",
    )
    _add_pmo_args(mk)
    mk.add_argument("--synthesis", choices=SYNTHESIS_MODES, default="none")
    mk.add_argument(
        "--synthesis-param", action="append", metavar="KEY=VALUE", help="synthesis setting"
    )
    mk.add_argument(
        "--runs-from",
        metavar="DIR",
        help="a `bench pmo` (or `bench makeable`) folder: its finished runs of the same "
        "optimizer, settings and budget are copied into OUT and only judged, not run again",
    )
    mk.set_defaults(func=run_makeable)
    add_design_bench_parsers(bsub)
    add_seq_bench_parser(bsub)
    add_retro_bench_parser(bsub)
    add_planning_bench_parser(bsub)
    add_conformers_bench_parser(bsub)
    add_moses_bench_parser(bsub)
    add_vae_bench_parser(bsub)

    props = bsub.add_parser(
        "properties",
        help="property prediction: MoleculeNet sets x splits x seeds (RMSE / ROC-AUC)",
        description="Trains a predictor (makeable predict train's defaults unless given) per "
        "set, split, seed and encoder under OUT/runs/ (resumable), then writes "
        "OUT/results.csv and OUT/summary.md. Needs MAKEABLE_DATA (properties/moleculenet/, "
        "properties/graseq/).",
    )
    props.add_argument(
        "--sets",
        nargs="+",
        default=list(MOLECULENET),
        metavar="SET",
        help=f"MoleculeNet: {' '.join(MOLECULENET)} (the default: all of them); GraSeq's own "
        f"train/test files, run on that split only: {' '.join(GRASEQ)}",
    )
    props.add_argument(
        "--splits", nargs="+", choices=["random", "scaffold"], default=["random", "scaffold"]
    )
    props.add_argument(
        "--encoders",
        nargs="+",
        choices=["graph", "graph+smiles"],
        default=["graph"],
        help="one predictor per encoder on the same split: graph (the D-MPNN, default), "
        "graph+smiles (D-MPNN and SMILES BiLSTM side by side, after GraSeq)",
    )
    add_seeds(props, default=(0, 1, 2, 3, 4))
    props.add_argument("--ensemble", type=at_least_one, default=1, help="models per run (1)")
    props.add_argument("--epochs", type=at_least_one, default=50, help="epochs (50)")
    props.add_argument("--jobs", type=at_least_one, default=1, help="runs in parallel")
    add_executor(props, "runs")
    props.add_argument(
        "--chemprop",
        metavar="EXE",
        help="also train chemprop v2 (its `chemprop` command, installed apart) on each run's "
        "rows and split, for a side-by-side table",
    )
    add_out(props, "benchmark folder (created, or resumed): runs/, results.csv, summary.md")
    add_no_progress(props)
    props.set_defaults(func=run_properties)

    proxy = bsub.add_parser(
        "proxy",
        help="proxy hacking: design against a learned predictor, judge with the true oracle",
        description="For each oracle (drd2, jnk3, gsk3b) and size N: label N ZINC250k "
        "molecules with the oracle, train a predictor, run each optimizer against it (plain; "
        "conservative: mean - K std; domain: conservative, and 0 for molecules less similar "
        "than --min-similarity to every training molecule) and against the true oracle, and "
        "score the runs' best molecules with the true oracle. Resumable; OUT/results.csv and "
        "OUT/summary.md.",
    )
    proxy.add_argument("--oracles", nargs="+", default=["drd2", "jnk3", "gsk3b"])
    proxy.add_argument(
        "--sizes", nargs="+", type=at_least_one, default=[1000, 5000], help="training sets"
    )
    proxy.add_argument("--optimizers", nargs="+", default=["graph_ga", "reinvent", "gegl"])
    proxy.add_argument(
        "--variants", nargs="+", default=["plain", "conservative", "domain", "true"],
        choices=["plain", "conservative", "domain", "true"],
    )  # fmt: skip
    add_seeds(proxy)
    proxy.add_argument("--budget", type=at_least_one, default=10000, help="calls per run")
    proxy.add_argument("--conservative", type=float, default=1.0, help="K in mean - K std (1)")
    proxy.add_argument(
        "--min-similarity", type=float, default=DOMAIN_SIMILARITY,
        help="the domain variant's least Tanimoto similarity to a training molecule "
        f"({DOMAIN_SIMILARITY})",
    )  # fmt: skip
    proxy.add_argument(
        "--proxy-epochs", type=at_least_one, default=50, help="predictor epochs (50)"
    )
    proxy.add_argument("--jobs", type=at_least_one, default=1, help="runs in parallel")
    add_executor(proxy, "runs")
    add_out(proxy, "benchmark folder (created, or resumed): proxies/, runs/, results.csv")
    add_no_progress(proxy)
    proxy.set_defaults(func=run_proxy)

    scarce = bsub.add_parser(
        "scarce",
        help="scarce data: mixture of experts vs pairwise transfer vs scratch, by size",
        description="Trains experts on the source sets (all of each), then the target at each "
        "training-set size with every method, on one split per seed. Resumable; "
        "OUT/results.csv and OUT/summary.md. Needs MAKEABLE_DATA.",
    )
    scarce.add_argument("--target", default="freesolv", help="target set (default freesolv)")
    scarce.add_argument(
        "--sources", nargs="+", default=["esol", "lipo"], help="source sets (esol lipo)"
    )
    scarce.add_argument(
        "--sizes", nargs="+", type=at_least_one, default=[50, 100, 200, 400],
        help="training rows of the target (50 100 200 400)",
    )  # fmt: skip
    add_seeds(scarce)
    scarce.add_argument(
        "--epochs", type=at_least_one, default=200,
        help="epochs (200: at 50 rows an epoch is one step, and 50 epochs left every method "
        "under-fitted)",
    )  # fmt: skip
    scarce.add_argument("--split", choices=["random", "scaffold"], default="random")
    add_out(scarce, "benchmark folder (created, or resumed)")
    add_no_progress(scarce)
    scarce.set_defaults(func=run_scarce)

    _add_scaling_parser(bsub)

    table = bsub.add_parser(
        "pmo-table",
        help="side-by-side PMO table from results.csv files (for docs/benchmarks/pmo.md)",
    )
    table.add_argument("results", nargs="+", metavar="NAME=CSV", help="optimizer=results.csv")
    table.set_defaults(func=pmo_table)

    glance = bsub.add_parser(
        "makeable-table",
        help="one row per optimizer from makeable-bench results.csv files (makeable.md)",
        description="Sums over each optimizer's tasks of the per-task means over seeds: AUC "
        "top-10, makeable shares, makeable AUC top-10; with --reference, that optimizer's sum "
        "AUC top-10 over the same tasks.",
    )
    glance.add_argument("results", nargs="+", metavar="NAME=CSV", help="optimizer=results.csv")
    glance.add_argument("--reference", metavar="NAME", help="a NAME to compare every row with")
    glance.set_defaults(func=makeable_table)


def _add_scaling_parser(bsub: Any) -> None:
    from makeable.oracle.executor import ADDRESS_HELP, EXECUTOR_KINDS

    p = bsub.add_parser(
        "scaling",
        help="oracle throughput by executor and workers (a slow test objective, sleepy_qed)",
        description="Scores a fixed list of ZINC250k molecules through the oracle with "
        "sleepy_qed (QED after --delay seconds per molecule) in batches of --batch, for each "
        "executor (inprocess once; process and ray with each --workers count), then the "
        "overhead per batch with no delay. Writes OUT/results.csv, OUT/summary.md, "
        "OUT/bench.yaml (settings, cores, load) and OUT/versions.json.",
    )
    p.add_argument("--workers", type=at_least_one, nargs="+", default=[1, 2, 8], help="(1 2 8)")
    p.add_argument("--executors", nargs="+", choices=EXECUTOR_KINDS, default=list(EXECUTOR_KINDS))
    p.add_argument("--delay", type=float, default=0.02, help="seconds per molecule (0.02)")
    p.add_argument(
        "--molecules", type=at_least_one, default=400, help="molecules scored per setting (400)"
    )
    p.add_argument("--batch", type=at_least_one, default=100, help="molecules per batch (100)")
    p.add_argument(
        "--overhead-batches", type=at_least_one, default=20, help="batches, no delay (20)"
    )
    p.add_argument(
        "--overhead-batch", type=at_least_one, default=8, help="molecules per such batch (8)"
    )
    p.add_argument("--address", metavar="ADDRESS", help=ADDRESS_HELP)
    add_out(p, "benchmark folder: results.csv, summary.md, bench.yaml, versions.json")
    p.set_defaults(func=run_scaling)


def run_scaling(args: argparse.Namespace) -> int:
    from makeable.bench.scaling import run_scaling

    run_scaling(
        Path(args.out),
        workers=args.workers,
        executors=args.executors,
        delay=args.delay,
        molecules=args.molecules,
        batch=args.batch,
        overhead_batches=args.overhead_batches,
        overhead_batch=args.overhead_batch,
        address=args.address,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def _add_pmo_args(p: argparse.ArgumentParser) -> None:
    """The flags every PMO-task benchmark takes."""
    p.add_argument("--optimizer", required=True)
    add_seeds(p)
    p.add_argument("--budget", type=int, default=10000)
    p.add_argument("--tasks", nargs="+", help="subset of the 23 tasks (default: all)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="optimizer parameter")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (workers)")
    add_executor(p, "runs")
    add_out(p, "benchmark folder (created, or resumed): runs/, results.csv, summary.md")
    add_no_progress(p)


def run_pmo(args: argparse.Namespace) -> int:
    from makeable.bench.pmo import PMO_TASKS, run_pmo

    run_pmo(
        args.optimizer,
        args.seeds,
        args.budget,
        Path(args.out),
        tasks=args.tasks or PMO_TASKS,
        jobs=args.jobs,
        **executor_args(args),
        optimizer_params=parse_params(args.param),
        progress=not args.no_progress,
        runs_from=Path(args.runs_from) if args.runs_from else None,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def run_makeable(args: argparse.Namespace) -> int:
    from makeable.bench.makeable import run_makeable_pmo
    from makeable.bench.pmo import PMO_TASKS

    run_makeable_pmo(
        args.optimizer,
        args.seeds,
        args.budget,
        Path(args.out),
        tasks=args.tasks or PMO_TASKS,
        jobs=args.jobs,
        **executor_args(args),
        optimizer_params=parse_params(args.param),
        synthesis=args.synthesis,
        synthesis_params=parse_params(args.synthesis_param),
        progress=not args.no_progress,
        runs_from=Path(args.runs_from) if args.runs_from else None,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def run_properties(args: argparse.Namespace) -> int:
    from makeable.bench.properties import run_properties
    from makeable.predict.train import TrainSettings

    settings = TrainSettings(ensemble=args.ensemble, epochs=args.epochs)
    run_properties(
        args.sets,
        args.splits,
        args.seeds,
        Path(args.out),
        settings,
        jobs=args.jobs,
        **executor_args(args),
        progress=not args.no_progress,
        chemprop=args.chemprop,
        encoders=args.encoders,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def run_proxy(args: argparse.Namespace) -> int:
    from makeable.bench.proxy import run_proxy
    from makeable.predict.train import TrainSettings

    run_proxy(
        args.oracles,
        args.sizes,
        args.optimizers,
        args.seeds,
        Path(args.out),
        budget=args.budget,
        conservative=args.conservative,
        min_similarity=args.min_similarity,
        variants=args.variants,
        proxy_settings=TrainSettings(epochs=args.proxy_epochs),
        jobs=args.jobs,
        **executor_args(args),
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def run_scarce(args: argparse.Namespace) -> int:
    from makeable.bench.scarce import run_scarce
    from makeable.predict.train import TrainSettings

    run_scarce(
        args.target,
        args.sources,
        args.sizes,
        args.seeds,
        Path(args.out),
        TrainSettings(ensemble=1, epochs=args.epochs),
        split=args.split,
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0


def _named_csvs(items: list[str], columns: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """``NAME=CSV`` arguments read into rows; each file must have ``columns``."""
    from makeable.results_csv import read_csv

    results = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=CSV, got {item!r}")
        rows = read_csv(Path(path))
        missing = [c for c in columns if rows and c not in rows[0]]
        if missing:
            raise ValueError(f"{path} has no column {', '.join(missing)}: not a results.csv")
        results[name] = rows
    return results


def makeable_table(args: argparse.Namespace) -> int:
    from makeable.bench.makeable import METRIC_KEYS, glance_markdown

    results = _named_csvs(args.results, ("task", "seed", *METRIC_KEYS))
    print(glance_markdown(results, args.reference), end="")
    return 0


def pmo_table(args: argparse.Namespace) -> int:
    from makeable.bench.pmo import comparison_markdown

    print(comparison_markdown(_named_csvs(args.results, ("task", "seed", "auc_top10"))), end="")
    return 0
