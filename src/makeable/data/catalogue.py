"""User catalogues: a building-block catalogue fetched once (sha256 verified) and kept as a
named exact stock.

``makeable data fetch-stock SOURCE --sha256 HEX --name NAME`` (:func:`fetch_stock`):

1. downloads ``SOURCE`` (a URL, or a local file as a ``file://`` URL or a plain path) with
   :func:`makeable.data.download.download`, which checks the sha256 before anything is kept;
2. converts it (:func:`convert_catalogue`): one SMILES or InChIKey a line (the first field), or
   a table (CSV, TSV or whitespace-separated, with a header naming a ``smiles`` or
   ``inchikey`` column, or the column given) with an optional price column; ``.gz`` allowed
   (recognised by its bytes). SMILES are canonicalised (RDKit), lines RDKit cannot read are
   counted and skipped, duplicates are merged keeping the lowest price;
3. writes ``<user cache>/stocks/NAME.csv.gz`` (``smiles[,price]``, sorted) and ``NAME.json``
   beside it (url, sha256, date, counts, RDKit version).

Then ``NAME`` is a stock like the shipped ones: ``--stock NAME``, ``--route-stock NAME``,
:func:`makeable.data.stocks.load_stock`, ``makeable list stocks``.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from makeable.chem.molecule import canonical_smiles
from makeable.data.download import RemoteFile, as_url, download
from makeable.data.stocks import INCHIKEY, STOCKS, USER_STOCK_NAME, user_stock_dir
from makeable.results_csv import open_text

log = logging.getLogger(__name__)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MOLECULE_COLUMNS = ("smiles", "inchikey")
"""The molecule column a table's header may name (any case), unless ``--smiles-column``."""
PRICE_COLUMN = "price"
"""The price column a table's header may name (any case), unless ``--price-column``."""


@dataclass
class CatalogueCounts:
    """What a conversion read and kept."""

    format: str = "lines"
    """``lines`` (one molecule a line, no header), ``csv``, ``tsv`` or ``table`` (whitespace)."""
    molecule_column: str | None = None
    price_column: str | None = None
    lines: int = 0
    """Lines that hold a molecule field (not the header, empty or ``#`` lines)."""
    molecules: int = 0
    """Distinct molecules kept."""
    invalid: int = 0
    """Lines whose molecule RDKit cannot read (or an empty molecule field): skipped."""
    duplicates: int = 0
    """Lines that repeat a molecule already read: merged, the lowest price kept."""
    priced: int = 0
    """Molecules kept with a price."""
    bad_prices: int = 0
    """Prices that are not a non-negative number: the molecule is kept without a price."""
    invalid_examples: list[tuple[int, str]] = field(default_factory=list)
    """The first few invalid lines (line number, molecule field)."""


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter), [])


def _column(header: list[str], wanted: tuple[str, ...]) -> int | None:
    lower = [h.strip().lower() for h in header]
    for name in wanted:
        if name.lower() in lower:
            return lower.index(name.lower())
    return None


def _rows(
    fh: IO[str],
    file_name: str,
    smiles_column: str | None,
    price_column: str | None,
    counts: CatalogueCounts,
) -> Iterator[tuple[int, str, str]]:
    """(line number, molecule field, price field) of every molecule line."""
    lines = (
        (n, line.rstrip("\r\n"))
        for n, line in enumerate(fh, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    )
    first = next(lines, None)
    if first is None:
        return
    lineno, line = first
    ext = file_name.lower().removesuffix(".gz").rsplit(".", 1)[-1]
    if ext in ("csv", "tsv", "tab"):
        delimiter: str | None = "," if ext == "csv" else "\t"
    else:
        delimiter = "\t" if "\t" in line else "," if "," in line else None
    header = _split(line, delimiter)
    mol_idx = _column(header, (smiles_column,) if smiles_column else MOLECULE_COLUMNS)
    if mol_idx is None:
        if smiles_column or price_column or ext in ("csv", "tsv", "tab"):
            wanted = smiles_column or " or ".join(MOLECULE_COLUMNS)
            raise ValueError(
                f"{file_name}: no column {wanted!r} in its header (found: "
                f"{', '.join(header) or 'nothing'}); name the molecule column with "
                "--smiles-column"
            )
        # one molecule a line, no header: the first line is a molecule too
        counts.format = "lines"
        yield lineno, line.split()[0], ""
        for lineno, line in lines:
            yield lineno, line.split()[0], ""
        return
    price_idx = _column(header, (price_column or PRICE_COLUMN,))
    if price_column and price_idx is None:
        raise ValueError(
            f"{file_name}: no column {price_column!r} in its header (found: {', '.join(header)})"
        )
    counts.format = {",": "csv", "\t": "tsv"}.get(delimiter or "", "table")
    counts.molecule_column = header[mol_idx].strip()
    counts.price_column = header[price_idx].strip() if price_idx is not None else None
    for lineno, line in lines:
        fields = _split(line, delimiter)
        mol = fields[mol_idx].strip() if mol_idx < len(fields) else ""
        price = fields[price_idx] if price_idx is not None and price_idx < len(fields) else ""
        yield lineno, mol, price.strip()


def _price(raw: str, counts: CatalogueCounts) -> float | None:
    if not raw:
        return None
    try:
        price = float(raw)
    except ValueError:
        price = -1.0
    if not math.isfinite(price) or price < 0:
        counts.bad_prices += 1
        return None
    return price


def convert_catalogue(
    src: Path,
    out: Path,
    *,
    smiles_column: str | None = None,
    price_column: str | None = None,
    file_name: str | None = None,
    progress_every: int = 100_000,
) -> CatalogueCounts:
    """Convert a catalogue file into the exact stock format (``smiles[,price]`` csv.gz).

    Args:
        src: the catalogue (see the module's description; gzip recognised by its bytes).
        out: the csv.gz to write (written whole, so a failure leaves no partial file there).
        smiles_column: the molecule column of a table (default: ``smiles`` or ``inchikey``).
        price_column: the price column (default: ``price`` when the header has one).
        file_name: the name that tells the format (``.csv``, ``.tsv``; default ``src``'s).
        progress_every: log a progress line every this many lines.

    Raises:
        ValueError: a named column is missing, or no line holds a valid molecule.
    """
    name = file_name or src.name
    counts = CatalogueCounts()
    best: dict[str, float | None] = {}
    with open_text(src, errors="replace", newline="") as fh:
        for lineno, mol, raw_price in _rows(fh, name, smiles_column, price_column, counts):
            counts.lines += 1
            if counts.lines % progress_every == 0:
                log.info(
                    "%s: %d lines read, %d molecules, %d invalid",
                    name,
                    counts.lines,
                    len(best),
                    counts.invalid,
                )
            key = mol if INCHIKEY.match(mol) else canonical_smiles(mol)
            if key is None:
                counts.invalid += 1
                if len(counts.invalid_examples) < 5:
                    counts.invalid_examples.append((lineno, mol[:100]))
                continue
            price = _price(raw_price, counts)
            if key in best:
                counts.duplicates += 1
                old = best[key]
                best[key] = price if old is None else old if price is None else min(old, price)
            else:
                best[key] = price
    if not best:
        raise ValueError(
            f"{name}: none of its {counts.lines} molecule lines is a valid SMILES or InChIKey"
            + ("" if counts.format != "lines" else " (a table? name its column: --smiles-column)")
        )
    counts.molecules = len(best)
    counts.priced = sum(p is not None for p in best.values())
    mol_header = "inchikey" if all(INCHIKEY.match(k) for k in best) else "smiles"
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", newline="") as fh_out:
        writer = csv.writer(fh_out, lineterminator="\n")
        if counts.priced:
            writer.writerow([mol_header, "price"])
            writer.writerows((k, "" if best[k] is None else repr(best[k])) for k in sorted(best))
        else:
            writer.writerow([mol_header])
            writer.writerows((k,) for k in sorted(best))
    log.info(
        "%s: %d molecules (%d priced) from %d lines; %d invalid, %d duplicates merged",
        name,
        counts.molecules,
        counts.priced,
        counts.lines,
        counts.invalid,
        counts.duplicates,
    )
    return counts


def _file_name(source: str) -> str:
    """The file name a source ends with (its format: ``.csv``, ``.tsv``, ``.gz``)."""
    return Path(unquote(urlparse(as_url(source)).path)).name or "catalogue"


def check_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` can be a user catalogue's name."""
    if not USER_STOCK_NAME.match(name):
        raise ValueError(
            f"stock name {name!r}: use letters, digits, '_' and '-' (starting with a letter "
            "or digit)"
        )
    if STOCKS.builtin(name):
        raise ValueError(f"{name!r} is a stock of makeable itself: choose another name")


def fetch_stock(
    source: str,
    sha256: str,
    name: str,
    *,
    smiles_column: str | None = None,
    price_column: str | None = None,
    timeout_s: float = 60,
) -> dict[str, Any]:
    """Download a catalogue, verify it, and keep it as the user stock ``name``.

    A catalogue already fetched under ``name`` is replaced (only once the new one is
    complete). Returns the record written beside it (``NAME.json``), with ``path``.

    Raises:
        ValueError: a bad name or sha256, a missing column, no valid molecule.
        makeable.data.download.ChecksumError: the file is not the one ``sha256`` names.
        makeable.data.download.DownloadError: the source cannot be read (offline, ...).
        Nothing is left behind by any of these.
    """
    from rdkit import rdBase

    from makeable import __version__

    check_name(name)
    digest = sha256.strip().lower().removeprefix("sha256:")
    if not SHA256.match(digest):
        raise ValueError(f"--sha256 {sha256!r} is not a sha256 (64 hexadecimal digits)")
    folder = user_stock_dir()
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    url = as_url(source)
    remote = RemoteFile(
        name=name,
        url=url,
        sha256=digest,
        relpath=f"stocks/{name}.csv.gz",
        licence="as its source states",
        source=url,
    )
    out = folder / f"{name}.csv.gz"
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=f".{name}.") as tmp_name:
            tmp = Path(tmp_name)
            raw = download(remote, tmp / "download", timeout_s=timeout_s)
            counts = convert_catalogue(
                raw,
                tmp / "stock.csv.gz",
                smiles_column=smiles_column,
                price_column=price_column,
                file_name=_file_name(source),
            )
            info: dict[str, Any] = {
                "name": name,
                "url": url,
                "sha256": digest,
                "fetched": datetime.now(UTC).isoformat(timespec="seconds"),
                **asdict(counts),
                "rdkit": rdBase.rdkitVersion,
                "makeable": __version__,
            }
            text = json.dumps(info, indent=2) + "\n"
            info = json.loads(text)  # returned as it is recorded
            (tmp / "info.json").write_text(text)
            if out.exists():
                log.info("replacing the user stock %s", name)
            os.replace(tmp / "stock.csv.gz", out)
            os.replace(tmp / "info.json", folder / f"{name}.json")
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty
        raise
    return {**info, "path": str(out)}
