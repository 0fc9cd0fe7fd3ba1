"""Property tables: a CSV (or TSV, ``.gz`` allowed) with a SMILES column and target columns.

:func:`read_table` keeps every usable row and reports the others with their line numbers
(invalid SMILES, every target missing, a value that is not a number, a class label that is not
0/1) instead of failing; a missing value in one target of several is kept as missing
(multi-task training masks it).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from makeable.chem.molecule import parse_smiles, quiet_rdkit

TASKS = ("regression", "classification")
SHIPPED_TABLES = {"esol": "properties/esol.csv"}
"""Tables that ship with the package, by name (``makeable predict train esol``): ESOL aqueous
solubility, 1,128 molecules, column ``solubility`` (resources/properties/NOTICE.md)."""


def table_path(name_or_path: str | Path) -> Path:
    """The file of a shipped table name, else the path itself."""
    name = str(name_or_path)
    if name in SHIPPED_TABLES and not Path(name).is_file():
        from importlib import resources

        return Path(str(resources.files("makeable") / "resources" / SHIPPED_TABLES[name]))
    return Path(name_or_path)


MISSING = {"", "na", "nan", "none", "null"}


class TableError(ValueError):
    """A property table cannot be used (missing file or column, no usable row)."""


@dataclass
class PropertyTable:
    """The usable rows of a property table.

    Attributes:
        smiles: the SMILES as written.
        mols: the parsed molecules.
        y: ``(n, n_targets)`` float64, NaN where a value is missing.
        targets: the target column names.
        skipped: ``(line, reason)`` of every row left out (line 1 is the header).
    """

    smiles: list[str]
    mols: list[object]
    y: np.ndarray
    targets: list[str]
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.smiles)

    def subset(self, index: Sequence[int] | np.ndarray) -> PropertyTable:
        idx = [int(i) for i in index]
        return PropertyTable(
            [self.smiles[i] for i in idx], [self.mols[i] for i in idx], self.y[idx], self.targets
        )


def delimiter_of(header: str) -> str:
    """The field delimiter of a table, from its header line: a tab if it has more tabs than
    commas, else a comma."""
    return "\t" if header.count("\t") > header.count(",") else ","


def open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed by the caller


def read_table(
    path: str | Path,
    smiles_col: str = "smiles",
    targets: Sequence[str] | None = None,
    task: str = "regression",
) -> PropertyTable:
    """Read a property table.

    Args:
        path: CSV or TSV file (delimiter sniffed from the header; ``.gz`` allowed), or the
            name of a shipped table (:data:`SHIPPED_TABLES`).
        smiles_col: the SMILES column.
        targets: target columns (default: every column but the SMILES one).
        task: ``regression`` or ``classification`` (labels 0/1).

    Raises:
        TableError: no such file, a missing column, or no usable row.
    """
    path = table_path(path)
    if task not in TASKS:
        raise TableError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    if not path.is_file():
        raise TableError(f"property table not found: {path}")
    try:
        with open_text(path) as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise TableError(f"cannot read {path} as a text table: {exc}") from None
    header_line = text.split("\n", 1)[0]
    delimiter = delimiter_of(header_line)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise TableError(f"{path} is empty")
    header = [h.strip() for h in header]
    if smiles_col not in header:
        raise TableError(f"{path} has no column {smiles_col!r}; its columns: {', '.join(header)}")
    targets = list(targets) if targets else [h for h in header if h != smiles_col]
    missing = [t for t in targets if t not in header]
    if missing or not targets:
        raise TableError(
            f"{path} has no target column(s) {', '.join(missing) or '(none given)'}; its "
            f"columns: {', '.join(header)}"
        )
    s_at, t_at = header.index(smiles_col), [header.index(t) for t in targets]
    smiles, mols, rows, skipped = [], [], [], []
    with quiet_rdkit():
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) <= max([s_at, *t_at]):
                skipped.append((line, f"{len(row)} fields, expected {len(header)}"))
                continue
            smi = row[s_at].strip()
            mol = parse_smiles(smi, limit_size=True) if smi else None
            if mol is None:
                skipped.append((line, f"invalid SMILES {smi[:60]!r}"))
                continue
            values, problem = [], None
            for name, at in zip(targets, t_at, strict=True):
                raw = row[at].strip()
                if raw.lower() in MISSING:
                    values.append(math.nan)
                    continue
                try:
                    value = float(raw)
                except ValueError:
                    problem = f"{name}: {raw[:30]!r} is not a number"
                    break
                if not math.isfinite(value):
                    problem = f"{name}: {raw!r} is not a finite number"
                    break
                if task == "classification" and value not in (0.0, 1.0):
                    problem = f"{name}: {raw!r} is not a class label 0 or 1"
                    break
                values.append(value)
            if problem is None and all(math.isnan(v) for v in values):
                problem = "no target value"
            if problem is not None:
                skipped.append((line, problem))
                continue
            smiles.append(smi)
            mols.append(mol)
            rows.append(values)
    if not rows:
        first = f" (line {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise TableError(f"{path}: no usable row{first}")
    return PropertyTable(smiles, mols, np.array(rows, dtype=np.float64), targets, skipped)
