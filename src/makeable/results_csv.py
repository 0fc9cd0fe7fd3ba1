"""Result tables as CSV: one reader, one writer and one appender for every benchmark.

Rows are dicts; the writer and the appender take the column order and write only those keys
(missing ones as empty cells). The appender writes the header when it creates the file, so a
benchmark can append a row per finished job and resume from the rows already there.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def read_csv(path: Path, *, missing_ok: bool = False) -> list[dict[str, str]]:
    """The rows of a CSV file with a header; ``[]`` for a missing file if ``missing_ok``."""
    if missing_ok and not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` under a header of ``columns``, replacing the file."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def append_csv(path: Path, columns: Sequence[str], row: Mapping[str, Any]) -> None:
    """Append one row (and the header first if the file is new), flushed when this returns.

    An existing file keeps its own header: the row is written under those columns (so a table
    begun by an older version, with fewer columns, stays aligned when a run resumes).
    """
    new = not path.is_file() or path.stat().st_size == 0
    if not new:
        with open(path, newline="") as fh:
            header: list[str] = next(csv.reader(fh), [])
        columns = header or list(columns)
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
