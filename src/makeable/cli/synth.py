"""``makeable synth``: label molecules with the planner, train and use the learned
synthesizability score ``synth_score``."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from makeable.cli.flags import (
    add_executor,
    add_no_progress,
    add_out,
    add_seed,
    add_threads,
    at_least_one,
    executor_args,
)
from makeable.data.stocks import DEFAULT_STOCK
from makeable.synthesis import LABEL_MODEL


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="learned synthesizability: label molecules with the planner, train, score",
        description="A fast classifier of the planner's verdicts (RAscore-style), used as the "
        "objective synth_score.",
    )
    ssub = p.add_subparsers(dest="synth_command", required=True, metavar="ACTION")

    label = ssub.add_parser(
        "label",
        help="plan molecules and append one label row each to OUT/labels.csv",
        description=f"Plans each molecule with Retro*, the shipped {LABEL_MODEL} (50 templates "
        f"per call) and the shipped stock {DEFAULT_STOCK}, stopping at the first solution, and "
        "appends its verdict to OUT/labels.csv as it finishes. The molecules are shuffled with "
        "--seed (a larger --limit with the same seed extends the same order). Running the same "
        "command again resumes: labelled molecules are skipped; other settings are refused.",
    )
    label.add_argument("molecules", help="SMILES file, one a line (first field; .gz allowed)")
    add_out(label, "labelling folder (created, or resumed)")
    label.add_argument(
        "--budget",
        "--max-calls",
        dest="max_calls",
        type=at_least_one,
        default=50,
        metavar="N",
        help="single-step model calls per molecule (50)",
    )
    label.add_argument("--jobs", type=at_least_one, default=1, help="planning workers (1)")
    add_executor(label, "molecules")
    label.add_argument("--limit", type=at_least_one, help="label the first N after shuffling")
    add_seed(label, draws="the shuffle")
    add_no_progress(label)
    add_threads(label)
    label.set_defaults(func=run_label)

    train = ssub.add_parser(
        "train",
        help="train the classifier on a labelling folder; write the model and metrics.json",
        description="Splits the labelled molecules (validation and test 10 %% each), trains an "
        "MLP on Morgan count fingerprints (--model mlp) or a D-MPNN (--model mpnn), keeping "
        "the epoch best on validation, saves the model to --out (safetensors + config.json) and "
        "the held-out test ROC-AUC, PR-AUC, set sizes and class balance to OUT/metrics.json.",
    )
    train.add_argument("labels", help="labelling folder (from `makeable synth label`)")
    add_out(train, "model folder (created; files replaced)")
    train.add_argument("--split", choices=("scaffold", "random"), default="scaffold")
    train.add_argument(
        "--model",
        choices=("mlp", "mpnn"),
        default="mlp",
        help="mlp: fingerprints, scored in numpy (default); mpnn: a message-passing network, "
        "better ranking, needs torch at score time",
    )
    train.add_argument(
        "--hidden",
        help="mlp: hidden layer sizes, comma-separated (64); mpnn: the width (128)",
    )
    train.add_argument(
        "--epochs",
        type=at_least_one,
        help="mlp: most epochs, early stopping (200); mpnn: epochs (40)",
    )
    train.add_argument(
        "--ensemble",
        type=at_least_one,
        help="mpnn: networks averaged (3); mlp: 1",
    )
    add_seed(train, draws="the split and the training")
    add_no_progress(train)
    add_threads(train)
    train.set_defaults(func=run_train)

    score = ssub.add_parser(
        "score",
        help="P(solved) for each line of a SMILES file",
        description="Writes smiles,synth_score,valid per input line (an invalid line scores 0).",
    )
    score.add_argument("input", help="SMILES file, one a line ('-' for standard input)")
    score.add_argument("--model", help="model folder (default: the shipped model)")
    add_out(score, "CSV to write ('-': standard output, the default)", required=False, default="-")
    score.set_defaults(func=run_score)


def run_label(args: argparse.Namespace) -> int:
    import dataclasses

    from makeable.synthesis.labels import (
        LABEL_SETTINGS,
        label_molecules,
        read_molecules,
        sample_molecules,
    )

    smiles = sample_molecules(read_molecules(args.molecules), args.limit, args.seed)
    settings = dataclasses.replace(LABEL_SETTINGS, max_calls=args.max_calls)
    summary = label_molecules(
        smiles,
        args.out,
        settings,
        args.jobs,
        progress=not args.no_progress,
        **executor_args(args),
    )
    n = summary["n_labelled"]
    print(
        f"{n} of {len(smiles)} molecules labelled in {args.out}/labels.csv "
        f"({summary['n_planned']} planned now): {summary['n_solved']} solved "
        f"({100 * summary['n_solved'] / max(1, n):.1f} %), {summary['n_errors']} errors, "
        f"{summary['mean_seconds'] or 0:.2f} s of search per molecule"
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    from makeable.synthesis.train import TrainSettings, train_synth_model

    mlp = args.model == "mlp"
    text = args.hidden or ("64" if mlp else "128")
    try:
        hidden = tuple(int(h) for h in text.split(","))
    except ValueError:
        raise ValueError(f"--hidden takes sizes like 64 or 128,32, not {text!r}") from None
    settings = TrainSettings(
        split=args.split,
        model=args.model,
        hidden=hidden,
        max_epochs=args.epochs or (200 if mlp else 40),
        ensemble=args.ensemble or (1 if mlp else 3),
        seed=args.seed,
    )
    metrics = train_synth_model(args.labels, args.out, settings, progress=not args.no_progress)
    shown = {k: v for k, v in metrics.items() if k not in ("val_roc_auc_by_epoch", "settings")}
    print(json.dumps(shown, indent=2))
    return 0


def run_score(args: argparse.Namespace) -> int:
    from makeable.cli.score import read_lines
    from makeable.objectives.synthesizability import SynthScore

    if args.input != "-" and not Path(args.input).is_file():
        raise FileNotFoundError(f"input file {args.input!r} does not exist")
    objective = SynthScore(args.model)  # a bad model folder fails here, in one line
    smiles = read_lines(args.input)
    scores = objective(smiles)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["smiles", "synth_score", "valid"])
    for smi, value, valid in zip(smiles, scores.values, scores.valid, strict=True):
        writer.writerow([smi, f"{value:.6f}", int(valid)])
    if args.out == "-":
        sys.stdout.write(buffer.getvalue())
    else:
        Path(args.out).write_text(buffer.getvalue())
    return 0
