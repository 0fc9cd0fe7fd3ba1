"""``makeable score``: score a SMILES file with one or more objectives."""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from makeable.chem.molecule import too_large
from makeable.cli.flags import add_out
from makeable.objectives import get_objective
from makeable.results_csv import open_text

CHUNK_LINES = 1_000
"""Lines scored at a time, their rows written before the next are read: memory stays flat
however long the input (a parsed molecule takes ~30 KiB)."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="score molecules with objectives",
        description="Score every line of a SMILES file. A line is 'SMILES [name]': the SMILES "
        "is the text before the first space or tab, and it is what the 'smiles' column shows. "
        "Lines end at \\n or \\r\\n only; gzip input is read as is. Writes one column per "
        "objective, one row per input line, in input order; an invalid, empty or too large "
        "line (over 1,000 characters or 150 heavy atoms) scores 0 and is marked in the 'valid' "
        "column.",
    )
    p.add_argument("input", help="SMILES file, one molecule per line ('-' for standard input)")
    p.add_argument(
        "--objective", action="append", required=True, help="objective name (repeatable)"
    )
    add_out(p, "CSV to write ('-' for standard output)")
    p.set_defaults(func=run)


def smiles_field(line: str) -> str:
    """The SMILES of one input line ``SMILES [name]``: the text before the first space or tab
    (RDKit's separators), surrounding whitespace aside; ``''`` for a blank line."""
    return line.strip().split(" ", 1)[0].split("\t", 1)[0].strip()


def read_lines(source: str) -> list[str]:
    """The SMILES field of every input line, in order (see :func:`iter_lines`)."""
    return list(iter_lines(source))


def iter_lines(source: str) -> Iterator[str]:
    """The SMILES field of each input line, in order (see :func:`smiles_field`), read as
    needed: ``'-'`` is standard input, gzip is recognised by its magic bytes.

    Raises:
        ValueError: the input is not UTF-8 text, or not readable (a broken gzip file).
    """
    name = "standard input" if source == "-" else repr(source)
    try:
        with open_text(source, encoding="utf-8-sig", newline="\n") as fh:
            for line in fh:
                yield smiles_field(line)
    except UnicodeDecodeError as exc:
        raise ValueError(f"input {name} is not UTF-8 text (nor gzip): {exc.reason}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot read input {name}: {exc}") from None


def _check_paths(args: argparse.Namespace) -> None:
    if args.input != "-":
        if Path(args.input).is_dir():
            raise ValueError(f"input {args.input!r} is a folder, not a SMILES file")
        if not Path(args.input).is_file():
            raise FileNotFoundError(f"input file {args.input!r} does not exist")
    if args.out != "-":
        if Path(args.out).is_dir():
            raise ValueError(f"--out {args.out!r} is a folder: give the CSV file to write")
        if not Path(args.out).parent.is_dir():
            raise FileNotFoundError(
                f"--out {args.out!r}: folder {str(Path(args.out).parent)!r} does not exist"
            )


@dataclass
class _Tally:
    """What a run of :func:`run` has done so far (lines scored and written)."""

    lines: int = 0
    bad: int = 0
    large: int = 0
    first_large: str = ""
    saved_bytes: int = 0  # of OUT's temporary file: the header and every complete chunk


def run(args: argparse.Namespace) -> int:
    _check_paths(args)
    out = None if args.out == "-" else Path(args.out)
    tmp = out.with_name(f".{out.name}.tmp") if out else None  # OUT is replaced once complete
    tally = _Tally()
    try:
        if tmp is None:
            _score(args, sys.stdout, tally)
        else:
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                _score(args, fh, tally)
            os.replace(tmp, cast(Path, out))
    except KeyboardInterrupt:
        if tally.lines == 0:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            saved = "nothing was scored" + (f"; {out} is unchanged" if out else "")
        elif tmp is None:
            saved = f"the scores of the first {tally.lines} lines were written"
        else:
            with tmp.open("r+b") as fh_bytes:
                fh_bytes.truncate(tally.saved_bytes)  # a chunk cut off while written
            partial = tmp.with_name(f"{cast(Path, out).name}.partial")
            os.replace(tmp, partial)
            saved = (
                f"the scores of the first {tally.lines} lines are in {partial}; {out} is unchanged"
            )
        print(f"\ninterrupted: {saved}", file=sys.stderr)
        return 130
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    if tally.bad:
        large = f"; {tally.large} too large ({tally.first_large})" if tally.large else ""
        print(
            f"{tally.bad} of {tally.lines} lines were invalid or empty (scored 0){large}",
            file=sys.stderr,
        )
    return 0


def _score(args: argparse.Namespace, fh: IO[str], tally: _Tally) -> None:
    """Score the input chunk by chunk, writing each chunk's rows before reading the next."""
    objectives = [get_objective(name) for name in args.objective]
    _write(fh, [["smiles", *args.objective, "valid"]], tally)
    lines = iter_lines(args.input)
    while chunk := list(itertools.islice(lines, CHUNK_LINES)):
        scores = [obj(chunk) for obj in objectives]
        rows = []
        for i, smi in enumerate(chunk):
            valid = all(bool(s.valid[i]) for s in scores)
            rows.append([smi, *(repr(float(s.values[i])) for s in scores), int(valid)])
            if not valid:
                tally.bad += 1
                reason = too_large(smi)
                if reason:
                    tally.large += 1
                    tally.first_large = tally.first_large or f"line {tally.lines + i + 1}: {reason}"
        _write(fh, rows, tally)
        tally.lines += len(chunk)


def _write(fh: IO[str], rows: list[list[Any]], tally: _Tally) -> None:
    """Write CSV rows (lines ending in ``\\n``) and flush. A field holding a lone ``\\r`` (a
    line may) is quoted: csv by itself quotes only the line terminator's characters."""
    plain = csv.writer(fh, lineterminator="\n")
    quoted = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        (quoted if "\r" in str(row[0]) else plain).writerow(row)
    fh.flush()
    if fh is not sys.stdout:
        tally.saved_bytes = fh.tell()
