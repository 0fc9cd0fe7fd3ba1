"""``makeable seq``: biological sequence design (``seq design``, ``seq list``, ``seq score``)
and the ``makeable bench seq`` benchmark (:func:`add_bench_parser`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from makeable.cli.flags import (
    add_config_flags,
    add_executor,
    add_no_progress,
    add_out,
    add_seeds,
    executor_args,
)
from makeable.cli.flags import config_from_args as config_from
from makeable.cli.params import parse_params
from makeable.cli.paths import check_output_folder
from makeable.sequences.config import SequenceDesignConfig


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "seq",
        help="design biological sequences (TFBind8, RNA binding, AAV, Ehrlich)",
        description="Active-learning sequence design: a proxy ensemble, an optimizer proposing "
        "a batch per round, the task's oracle scoring it (rounds x batch calls).",
    )
    ssub = p.add_subparsers(dest="seq_command", required=True, metavar="SEQ_COMMAND")
    d = ssub.add_parser(
        "design",
        help="run an optimizer on a sequence task",
        description="Re-running the same command on the same --out resumes an interrupted run "
        "without losing or re-counting oracle calls.",
    )
    add_config_flags(d, SequenceDesignConfig)
    add_out(d, "run folder (created, or resumed)")
    add_no_progress(d)
    d.set_defaults(func=run_design)

    lst = ssub.add_parser("list", help="list sequence tasks and optimizers")
    lst.add_argument("what", choices=["tasks", "optimizers"])
    lst.set_defaults(func=run_list)

    sc = ssub.add_parser("score", help="score sequences with a task's oracle (no budget)")
    sc.add_argument("--task", required=True)
    sc.add_argument("sequences", nargs="+")
    sc.set_defaults(func=run_score)


def add_bench_parser(bsub: Any) -> None:
    """Add ``seq`` to ``makeable bench``'s subcommands."""
    p = bsub.add_parser(
        "seq",
        help="sequence design: tasks x optimizers x seeds (delta-CS protocol)",
        description="Runs every task, optimizer and seed as a resumable run under OUT/runs/, "
        "then writes OUT/results.csv (per round) and OUT/summary.md (last round).",
    )
    p.add_argument("--tasks", nargs="+", required=True)
    p.add_argument("--optimizers", nargs="+", required=True)
    add_seeds(p)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="optimizer parameter")
    p.add_argument("--proxy-param", action="append", metavar="KEY=VALUE", help="proxy parameter")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (workers)")
    add_executor(p, "runs")
    add_out(p, "benchmark folder (created, or resumed): runs/, results.csv, summary.md")
    add_no_progress(p)
    p.set_defaults(func=run_bench)


def config_from_args(args: argparse.Namespace) -> SequenceDesignConfig:
    return config_from(args, SequenceDesignConfig)


def run_design(args: argparse.Namespace) -> int:
    from makeable.sequences.design import run_sequence_design

    config = config_from_args(args)
    check_output_folder(args.out, "--out")
    result = run_sequence_design(config, args.out, progress=not args.no_progress)
    last = result.rounds[-1] if result.rounds else {}
    keys = ("round", "n_calls", "max", "median_top128", "diversity", "novelty")
    print(json.dumps({k: last.get(k) for k in keys}, indent=2))
    if result.top:
        print(f"best: {result.top[0][0]}  score {result.top[0][1]:.4f}")
    print(f"report: {result.out_dir / 'report.html'}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    if args.what == "tasks":
        from makeable.sequences.tasks import task_names

        names = task_names()
    else:
        from makeable.sequences.optimizers import SEQ_OPTIMIZERS

        names = SEQ_OPTIMIZERS.names()
    print("\n".join(names))
    return 0


def run_score(args: argparse.Namespace) -> int:
    from makeable.sequences.tasks import get_task

    task = get_task(args.task)
    for seq in args.sequences:
        task.validate(seq)  # a clear InvalidSequenceError (exit 2) before any scoring
    for seq, value in zip(args.sequences, task(args.sequences).values, strict=True):
        print(f"{seq}\t{value:.6f}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from makeable.bench.sequences import run_seq_bench

    run_seq_bench(
        args.tasks,
        args.optimizers,
        args.seeds,
        Path(args.out),
        rounds=args.rounds,
        batch=args.batch,
        jobs=args.jobs,
        **executor_args(args),
        optimizer_params=parse_params(args.param),
        proxy_params=parse_params(args.proxy_param),
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0
