"""Result files: CSV tables and JSON lines, one reader and one appender each for every job.

Rows are dicts; the writer and the appender take the column order and write only those keys
(missing ones as empty cells). The appender writes the header when it creates the file, so a
benchmark can append a row per finished job and resume from the rows already there. A row cut
off by a killed process (no line ending) is not read, and the next append replaces it, so the
job it records is simply done again. JSON-lines files (routes, plans, logs) follow the same rule:
:func:`read_jsonl` reads complete lines, :func:`open_append` drops a cut-off last line first.
Input files a user gives (SMILES lists, catalogues) are read through :func:`open_text`, which
takes gzip or plain text alike.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any, cast

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of every gzip file: input is recognised by them, not by its name."""


@contextmanager
def open_text(
    source: str | Path,
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    newline: str | None = None,
) -> Iterator[IO[str]]:
    """A text input file (``'-'``: standard input, which stays open), gunzipped when it starts
    with gzip's magic bytes; ``encoding``, ``errors`` and ``newline`` as for :func:`open`."""
    with ExitStack() as stack:
        if str(source) == "-":
            binary = cast(io.BufferedReader, sys.stdin.buffer)
        else:
            binary = stack.enter_context(open(source, "rb"))
        if binary.peek(2)[:2] == GZIP_MAGIC:
            binary = cast(io.BufferedReader, stack.enter_context(gzip.open(binary)))
        text = io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline=newline)
        try:
            yield text
        finally:
            text.detach()  # closing is the ExitStack's work; standard input stays open


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then a rename, so a
    reader never sees half a file (whole-file rewrites: final tables, settings)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_csv(path: Path, *, missing_ok: bool = False) -> list[dict[str, str]]:
    """The rows of a CSV file with a header; ``[]`` for a missing file if ``missing_ok``."""
    if missing_ok and not path.is_file():
        return []
    with open(path, newline="") as fh:
        text = fh.read()
    complete = text[: text.rfind("\n") + 1]
    if complete != text:
        log.warning("%s: ignoring a cut-off last row (an interrupted write)", path)
    return list(csv.DictReader(io.StringIO(complete, newline="")))


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
    if path.is_file():
        _drop_cut_off_line(path)
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


def read_jsonl(path: Path, *, missing_ok: bool = False) -> list[Any]:
    """The JSON values of a JSON-lines file, one a line; a cut-off last line (no line ending)
    and unreadable lines are skipped with a warning."""
    if missing_ok and not path.is_file():
        return []
    text = path.read_text()
    complete, rest = text[: text.rfind("\n") + 1], text[text.rfind("\n") + 1 :]
    out = []
    for n, line in enumerate(complete.splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("%s: skipping unreadable line %d", path, n)
    if rest.strip():
        if _is_json(rest):  # complete, only its line ending is missing (e.g. written by hand)
            out.append(json.loads(rest))
        else:
            log.warning("%s: ignoring a cut-off last line (an interrupted write)", path)
    return out


def open_append(path: Path) -> IO[str]:
    """``open(path, "a")`` after dropping a cut-off last line, so new lines start clean."""
    if path.is_file():
        _drop_cut_off_line(path, keep=_is_json)
    return open(path, "a")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _drop_cut_off_line(path: Path, keep: Callable[[str], bool] | None = None) -> None:
    """Truncate a last line that lacks its line ending (cut off by a killed process); one
    that ``keep`` accepts as complete gets its line ending instead."""
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        cut = data.rfind(b"\n") + 1
        if keep is not None and keep(data[cut:].decode(errors="replace")):
            fh.write(b"\n")
        else:
            fh.truncate(cut)
