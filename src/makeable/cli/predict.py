"""``makeable predict``: train a property predictor on your own table, evaluate it, score
molecules with it (and use it as ``--objective predictor:DIR``)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

from makeable.cli.flags import add_no_progress, add_out, add_seed, add_threads, at_least_one
from makeable.cli.paths import output_file
from makeable.predict import DOMAIN_SIMILARITY

TASKS = ("regression", "classification")
SPLITS = ("random", "scaffold")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="property predictors trained on your data (message passing, ensembles)",
        description="Train a directed message-passing network ensemble (chemprop's class) on a "
        "CSV of SMILES and measured values, evaluate it, score molecules with a mean and an "
        "uncertainty per target; use it in design as --objective predictor:DIR[:TARGET].",
    )
    psub = p.add_subparsers(dest="predict_command", required=True, metavar="ACTION")

    t = psub.add_parser(
        "train",
        help="train an ensemble on a CSV; prints the held-out test metrics",
        description="Rows with an invalid SMILES or no usable value are skipped and listed "
        "(line numbers) in OUT/skipped.csv. Writes config.json, model_<i>.safetensors, "
        "metrics.json, split.json and versions.json into OUT. Training uses one torch thread "
        "unless --threads says otherwise (small graphs: one thread is fastest).",
    )
    t.add_argument(
        "data", help="CSV or TSV with a header (.gz allowed), or esol (a shipped example table)"
    )
    _add_columns(t)
    t.add_argument("--task", choices=TASKS, default="regression", help="default regression")
    t.add_argument(
        "--split", choices=SPLITS, default="random", help="80/10/10 split (default random)"
    )
    add_seed(t, draws="the split and the initial weights")
    t.add_argument(
        "--ensemble", type=at_least_one, default=3, help="models (default 3; 2+ give uncertainty)"
    )
    t.add_argument("--epochs", type=at_least_one, default=50, help="epochs per model (50)")
    t.add_argument("--batch-size", type=at_least_one, default=50, help="molecules per step (50)")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (1e-3)")
    t.add_argument("--hidden", type=at_least_one, default=300, help="message width (300)")
    t.add_argument("--depth", type=at_least_one, default=3, help="message-passing steps (3)")
    t.add_argument("--dropout", type=float, default=0.0, help="dropout (0)")
    t.add_argument(
        "--aggregation",
        choices=["norm", "mean", "sum"],
        default="norm",
        help="atoms to molecule: norm (sum / 100, chemprop v2's default), mean or sum",
    )
    t.add_argument(
        "--encoder",
        choices=["graph", "graph+smiles"],
        default="graph",
        help="graph: the D-MPNN (default); graph+smiles: with a SMILES BiLSTM beside it "
        "(GraSeq's idea of learning both views jointly)",
    )
    transfer = t.add_argument_group(
        "scarce data",
        "start from predictors trained on other (larger) tasks: a mixture of experts, or "
        "fine-tuning one of them",
    )
    transfer.add_argument(
        "--experts",
        nargs="+",
        metavar="DIR",
        help="predictor folders: train a mixture of their encoders (a gate and a new head)",
    )
    transfer.add_argument(
        "--fine-tune-experts", action="store_true", help="train the experts too (default frozen)"
    )
    transfer.add_argument(
        "--init-from", metavar="DIR", help="start from this predictor's encoder (transfer)"
    )
    add_out(t, "predictor folder (created; an existing model is replaced)")
    add_no_progress(t)
    add_threads(t)
    t.set_defaults(func=run_train)

    e = psub.add_parser("eval", help="metrics of a predictor on a table with known values")
    e.add_argument("data", help="CSV or TSV with the predictor's target columns")
    e.add_argument("--model", required=True, help="predictor folder")
    e.add_argument("--smiles-col", default="smiles", help="SMILES column (default smiles)")
    e.add_argument("--json", help="also write the metrics to this JSON file")
    e.set_defaults(func=run_eval)

    s = psub.add_parser(
        "score",
        help="predict for every row of a CSV (or SMILES file), in order",
        description="Writes the input rows in order with one column per target (named as the "
        "target) and its uncertainty beside it (TARGET_std), and the Tanimoto similarity of the "
        "nearest training molecule (similarity_to_training: low means the prediction is an "
        "extrapolation); a row with an invalid SMILES gets empty values and an error column.",
    )
    s.add_argument("data", help="CSV/TSV with a SMILES column, or a SMILES file (one a line)")
    s.add_argument("--model", required=True, help="predictor folder")
    s.add_argument("--smiles-col", default="smiles", help="SMILES column (default smiles)")
    add_out(s, "output CSV ('-': standard output)")
    s.add_argument(
        "--html", metavar="FILE",
        help="also write a page with each molecule drawn, its predictions ± std and its "
        "similarity to the training molecules (the first 500 rows)",
    )  # fmt: skip
    s.set_defaults(func=run_score)


def _add_columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smiles-col", default="smiles", help="SMILES column (default smiles)")
    p.add_argument(
        "--target",
        nargs="+",
        metavar="T",
        help="target column(s); several train one multi-task model (default: every other column)",
    )


def run_train(args: argparse.Namespace) -> int:
    from makeable.predict.data import read_table
    from makeable.predict.mpnn import NetworkSettings
    from makeable.predict.train import TrainSettings, train_predictor

    network = NetworkSettings(
        hidden=args.hidden,
        depth=args.depth,
        dropout=args.dropout,
        encoder=args.encoder,
        aggregation=args.aggregation,
    )
    settings = TrainSettings(
        task=args.task,
        split=args.split,
        seed=args.seed,
        ensemble=args.ensemble,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        network=network,
        threads=args.threads or 1,
        experts=tuple(args.experts or ()),
        fine_tune_experts=args.fine_tune_experts,
        init_from=args.init_from,
    )
    table = read_table(args.data, args.smiles_col, args.target, args.task)
    if table.skipped:
        line, why = table.skipped[0]
        print(
            f"skipped {len(table.skipped)} of {len(table) + len(table.skipped)} rows (first: "
            f"line {line}, {why}); all in {Path(args.out) / 'skipped.csv'}",
            file=sys.stderr,
        )
    source = {"path": Path(args.data).name, "smiles_col": args.smiles_col}
    metrics = train_predictor(table, args.out, settings, not args.no_progress, source)
    print(json.dumps(metrics["test"], indent=2))
    print(
        f"saved to {args.out} ({metrics['n_train']} train / {metrics['n_val']} val / "
        f"{metrics['n_test']} test molecules, {metrics['train_s']} s); use it with "
        f"--objective predictor:{args.out}"
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from makeable.predict.data import read_table
    from makeable.predict.model import load_predictor
    from makeable.predict.train import target_metrics

    predictor = load_predictor(args.model)
    table = read_table(args.data, args.smiles_col, predictor.targets, predictor.task)
    mean, std = predictor.predict_mols(table.mols)
    out: dict[str, Any] = {"n": len(table), "n_skipped": len(table.skipped)}
    out.update(target_metrics(predictor.task, predictor.targets, table.y, mean, std))
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


def _read_rows(path: Path, smiles_col: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a CSV/TSV with ``smiles_col``, or of a SMILES file."""
    from makeable.data.molecules import read_smiles_file
    from makeable.predict.data import delimiter_of, open_text

    if not path.is_file():
        raise FileNotFoundError(f"input not found: {path}")
    with open_text(path) as fh:
        first = fh.readline()
    delimiter = delimiter_of(first)
    header = [h.strip() for h in first.rstrip("\r\n").split(delimiter)]
    if smiles_col in header:
        with open_text(path) as fh:
            rows = list(csv.DictReader(fh, delimiter=delimiter))
        return header, rows
    return [smiles_col], [{smiles_col: s} for s in read_smiles_file(path)]


def run_score(args: argparse.Namespace) -> int:
    from makeable.predict.model import load_predictor

    html = output_file(args.html, "--html") if args.html else None  # checked before the work
    predictor = load_predictor(args.model)
    header, rows = _read_rows(Path(args.data), args.smiles_col)
    from makeable.chem.molecule import parse_smiles, quiet_rdkit

    with quiet_rdkit():  # parsed once, for the predictions and the domain
        mols = [parse_smiles((r.get(args.smiles_col) or "").strip(), limit_size=True) for r in rows]
    prediction = predictor.predict_parsed(mols)
    columns = list(header)
    # a column named as the target, unless the input has one (its measured values are kept)
    names = [t if t not in header else f"{t}_predicted" for t in predictor.targets]
    for name, target in zip(names, predictor.targets, strict=True):
        columns += [name, f"{target}_std"]
    similarity: dict[int, float] = {}
    if predictor.has_domain:  # the applicability domain: the nearest training molecule
        columns.append("similarity_to_training")
        valid = [i for i, m in enumerate(mols) if m is not None]
        near = predictor.nearest_similarity([mols[i] for i in valid])
        similarity = dict(zip(valid, near.tolist(), strict=True))
    columns.append("error")
    for i, row in enumerate(rows):
        ok = bool(prediction.valid[i])
        if i in similarity:
            row["similarity_to_training"] = f"{similarity[i]:.3f}"
        for j, (name, target) in enumerate(zip(names, predictor.targets, strict=True)):
            mean, std = prediction.mean[i, j], prediction.std[i, j]
            row[name] = f"{mean:.6g}" if ok else ""
            row[f"{target}_std"] = f"{std:.6g}" if ok and not math.isnan(std) else ""
        row["error"] = "" if ok else "invalid SMILES"
    if html is not None:
        _write_score_page(html, args.model, rows, args.smiles_col, names, predictor.targets)
    if args.out == "-":
        writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        from makeable.results_csv import write_csv

        write_csv(Path(args.out), columns, rows)
        n_bad = int((~prediction.valid).sum())
        print(f"{args.out}: {len(rows)} rows scored ({n_bad} invalid SMILES)")
    return 0


HTML_ROWS = 500
"""Most molecules drawn by ``predict score --html``."""


def _write_score_page(
    path: Path,
    model: str,
    rows: list[dict[str, Any]],
    smiles_col: str,
    names: list[str],
    targets: list[str],
) -> None:
    """Molecule cards in input order: each target's prediction ± std, the similarity of the
    nearest training molecule (flagged below DOMAIN_SIMILARITY, 0.4), invalid rows named."""
    import html as html_lib

    from makeable.report import html_page, molecule_card, molecule_grid, write_text

    cards = []
    for i, row in enumerate(rows[:HTML_ROWS], 1):
        smiles = (row.get(smiles_col) or "").strip()
        if row.get("error"):
            cards.append(
                f'<div class="card"><div class="score">row {i}: {row["error"]}</div>'
                f'<div class="smi">{html_lib.escape(smiles)}</div></div>'
            )
            continue
        lines = []
        for name, target in zip(names, targets, strict=True):
            std = row.get(f"{target}_std")
            lines.append(f"{html_lib.escape(target)}: {row[name]}" + (f" ± {std}" if std else ""))
        near = row.get("similarity_to_training")
        if near:
            flag = (
                " (outside the domain: an extrapolation)" if float(near) < DOMAIN_SIMILARITY else ""
            )
            lines.append(f"nearest training molecule: {near}{flag}")
        cards.append(molecule_card(smiles, f"row {i}", lines))
    more = (
        f"<p>The first {HTML_ROWS} of {len(rows)} rows; all are in the CSV.</p>"
        if len(rows) > HTML_ROWS
        else ""
    )
    title = f"Predictions of {model}"
    body = [f"<h1>{html_lib.escape(title)}</h1>", more, molecule_grid(cards)]
    write_text(path, html_page(title, body))
