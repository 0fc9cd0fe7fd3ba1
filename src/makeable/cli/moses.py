"""``makeable bench moses``: the MOSES distribution-learning benchmark."""

from __future__ import annotations

import argparse
from typing import Any

from makeable.cli.flags import (
    add_device,
    add_no_progress,
    add_out,
    add_seed,
    add_threads,
    at_least_one,
)


def add_bench_parser(bench_sub: Any) -> None:
    """Add ``makeable bench moses`` to the ``bench`` subcommand's subparsers."""
    p = bench_sub.add_parser(
        "moses",
        help="MOSES distribution learning: validity, uniqueness, novelty, IntDiv, filters, "
        "FCD, SNN, Frag, Scaf vs the test and scaffold-test sets",
        description="Samples N SMILES from a generative model (or reads --samples FILE) and "
        "computes the MOSES metrics as molsets 0.3.1 defines them against the full MOSES test "
        "and scaffold-test sets; appends a row to OUT/results.csv, writes OUT/summary.md and "
        "OUT/runs/LABEL/ (samples, metrics, config, versions). Needs the MOSES files: "
        "--data DATA_FOLDER or $MAKEABLE_DATA (molecules/moses/{train,test,test_scaffolds}"
        ".csv.gz).",
    )
    p.add_argument(
        "--model",
        default="zinc250k_lstm",
        help="shipped SMILES LSTM prior or model folder to sample from (default zinc250k_lstm); "
        "with --samples, the name the row gets",
    )
    p.add_argument("--n", type=at_least_one, default=30000, help="molecules (default 30000)")
    add_seed(p)
    p.add_argument("--samples", metavar="FILE", help="score these SMILES (one a line, or a CSV "
                   "with a SMILES column; the first --n) instead of sampling")  # fmt: skip
    p.add_argument("--max-len", type=at_least_one, default=100, help="tokens per sample (100)")
    p.add_argument("--data", metavar="DIR", help="data folder (default: $MAKEABLE_DATA)")
    p.add_argument(
        "--reference-limit",
        type=at_least_one,
        metavar="N",
        help="only the first N molecules of each reference set, statistics computed "
        "(quick checks; not comparable with MOSES's numbers)",
    )
    p.add_argument(
        "--recompute-reference",
        action="store_true",
        help="compute the FCD/Frag/Scaf reference statistics from the files instead of using "
        "MOSES's precomputed ones (slow on a CPU: ChemNet over 352k molecules)",
    )
    add_device(p)
    add_threads(p)
    add_no_progress(p)
    add_out(p, "benchmark folder: results.csv, summary.md, runs/")
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from makeable.bench.moses import MosesSettings, run_moses

    settings = MosesSettings(
        model=args.model,
        n=args.n,
        seed=args.seed,
        samples=args.samples,
        max_len=args.max_len,
        reference_limit=args.reference_limit,
        recompute_reference=args.recompute_reference,
        device=args.device,
    )
    metrics = run_moses(settings, args.out, data=args.data, progress=not args.no_progress)
    row = metrics["row"]
    print(" ".join(f"{k}={v}" for k, v in row.items() if k not in ("reference_limit",)))
    print(f"wrote {args.out}/results.csv and {args.out}/summary.md")
    return 0
