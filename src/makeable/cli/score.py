"""``makeable score``: score a SMILES file with one or more objectives."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

from makeable.objectives import get_objective


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="score molecules with objectives",
        description="Score every line of a SMILES file (first field). Writes one column per "
        "objective, one row per input line, in input order; an invalid or empty line scores 0 "
        "and is marked in the 'valid' column.",
    )
    p.add_argument("input", help="SMILES file, one molecule per line ('-' for standard input)")
    p.add_argument(
        "--objective", action="append", required=True, help="objective name (repeatable)"
    )
    p.add_argument("--out", required=True, help="CSV to write ('-' for standard output)")
    p.set_defaults(func=run)


def read_lines(source: str) -> list[str]:
    """One entry per input line: the first whitespace-separated field, '' for a blank line."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    return [(line.split() or [""])[0] for line in text.splitlines()]


def run(args: argparse.Namespace) -> int:
    if not args.input == "-" and not Path(args.input).is_file():
        raise FileNotFoundError(f"input file {args.input!r} does not exist")
    objectives = [get_objective(name) for name in args.objective]
    smiles = read_lines(args.input)
    columns = [(name, obj(smiles)) for name, obj in zip(args.objective, objectives, strict=True)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["smiles", *args.objective, "valid"])
    for i, smi in enumerate(smiles):
        valid = all(bool(s.valid[i]) for _, s in columns)
        writer.writerow([smi, *(repr(float(s.values[i])) for _, s in columns), int(valid)])
    if args.out == "-":
        sys.stdout.write(buffer.getvalue())
    else:
        Path(args.out).write_text(buffer.getvalue())
    n_bad = sum(1 for i in range(len(smiles)) if not all(s.valid[i] for _, s in columns))
    if n_bad:
        print(f"{n_bad} of {len(smiles)} lines were invalid or empty (scored 0)", file=sys.stderr)
    return 0
