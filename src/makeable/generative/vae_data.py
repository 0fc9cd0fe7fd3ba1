"""The training data of a SMILES VAE: molecules and property labels, checked, canonicalised and
split once into the training folder.

Data: ``zinc250k`` (the full set, ``$MAKEABLE_DATA/molecules/zinc250k.smi.gz``), ``moses``
(``$MAKEABLE_DATA/molecules/moses/train.csv.gz``), a SMILES file (one a line, optional ``.gz``)
or a CSV file (``.csv`` or ``.csv.gz``) with a ``smiles`` column (any case) and optionally
property columns. Each property name is a column of the CSV (exact, else any case; an empty cell
is a missing label) or, when there is no such column, one of :data:`COMPUTED`, computed with
RDKit (:mod:`makeable.chem.descriptors`). Every SMILES must parse (one error line names those
that do not); the model learns their RDKit canonical SMILES, and those longer than ``max_len``
tokens are left out.
"""

from __future__ import annotations

import csv
import gzip
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from makeable.chem import descriptors
from makeable.chem.molecule import canonical_smiles, parse_smiles
from makeable.chem.smiles_tokens import TokenizeError, split_smiles
from makeable.models.smiles_lm.train import load_training_smiles
from makeable.results_csv import open_text
from makeable.settings import write_settings

log = logging.getLogger(__name__)

__all__ = ["COMPUTED", "prepare_split", "read_split", "read_table"]

COMPUTED: dict[str, Callable[[Any], float]] = {
    "logp": descriptors.crippen_logp,
    "qed": descriptors.qed,
    "sa": descriptors.sa_score,
}
"""Properties computed with RDKit when the data has no column of that name."""


def _number(text: str, where: str) -> float:
    if not text.strip():
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None


def _read_csv(path: Path, names: Sequence[str]) -> tuple[list[str], dict[str, list[float]]]:
    """The SMILES column and those of the named property columns present (the exact name,
    else the name in any case)."""
    with open_text(path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        smiles_col = next((c for c in header if c.lower() == "smiles"), None)
        if smiles_col is None:
            raise ValueError(f"{path}: no smiles column (columns: {', '.join(header)})")
        found = {}
        for name in names:
            match = [c for c in header if c == name] or [
                c for c in header if c.lower() == name.lower()
            ]
            if match:
                found[name] = match[0]
        smiles: list[str] = []
        values: dict[str, list[float]] = {name: [] for name in found}
        for line, row in enumerate(reader, start=2):
            smiles.append(row[smiles_col] or "")
            for name, col in found.items():
                values[name].append(_number(row[col] or "", f"{path} line {line}, column {col}"))
    return smiles, values


def read_table(
    data: str, properties: Sequence[str], progress: bool = False
) -> tuple[list[str], np.ndarray, str]:
    """The canonical SMILES of the data, their properties and a description of the source;
    ``progress``: a bar while properties are computed (SA for ZINC250k takes minutes).

    Returns:
        canonical SMILES, a ``(n, K)`` float64 array (``NaN``: missing label) and the source.

    Raises:
        FileNotFoundError: the data set or file is not available.
        ValueError: a property that is neither a column nor computable, a non-numeric cell,
            or SMILES RDKit cannot parse (one line naming up to five).
    """
    path = Path(data)
    columns: dict[str, list[float]] = {}
    if path.is_file() and path.name.lower().removesuffix(".gz").endswith(".csv"):
        raw, columns = _read_csv(path, properties)
        source = f"file {path.name}"
    else:
        raw, source = load_training_smiles(data)
    for name in properties:
        if name not in columns and name.lower() not in COMPUTED:
            raise ValueError(
                f"property {name!r} is no column of {source} and none makeable computes "
                f"({', '.join(COMPUTED)})"
            )
    canon = [canonical_smiles(s) for s in raw]
    bad = [
        f"row {i + 1} {s!r}" for i, (s, c) in enumerate(zip(raw, canon, strict=True)) if c is None
    ]
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"{source}: {len(bad)} SMILES RDKit cannot parse: {'; '.join(bad[:5])}{more}; "
            "fix or remove them"
        )
    smiles = [c for c in canon if c is not None]
    values = np.full((len(smiles), len(properties)), np.nan)
    for j, name in enumerate(properties):
        if name in columns:
            values[:, j] = columns[name]
        else:
            log.info("computing %s for %d molecules with RDKit", name, len(smiles))
            compute = COMPUTED[name.lower()]
            bar = tqdm(smiles, desc=name, unit="mol", disable=not progress, dynamic_ncols=True)
            values[:, j] = [compute(parse_smiles(s)) for s in bar]
    return smiles, values, source


def _write_split(
    path: Path, names: Sequence[str], smiles: Sequence[str], values: np.ndarray
) -> None:
    with gzip.open(path, "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["smiles", *names])
        for s, row in zip(smiles, values.tolist(), strict=True):
            writer.writerow([s, *("" if math.isnan(v) else repr(v) for v in row)])


def read_split(path: Path, names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The SMILES and the ``(n, K)`` float32 properties (``NaN``: missing) of a split file."""
    smiles, columns = _read_csv(path, names)
    values = np.array([columns[n] for n in names], dtype=np.float32)
    return smiles, values.T.reshape(len(smiles), len(names))


def prepare_split(
    out: Path,
    data: str,
    properties: Sequence[str],
    *,
    max_len: int,
    valid_fraction: float,
    valid_max: int,
    seed: int,
    progress: bool = False,
) -> None:
    """Read and check the data (:func:`read_table`), leave out SMILES longer than ``max_len``
    tokens, hold out ``valid_fraction`` of the rest (at most ``valid_max``; a seeded
    permutation) and write ``out/train.csv.gz``, ``out/valid.csv.gz`` (canonical SMILES and
    properties) and, last, ``out/data.json`` (the source and the counts).

    Raises:
        ValueError: bad data (see :func:`read_table`), or too few usable SMILES.
    """
    smiles, values, source = read_table(data, properties, progress)
    keep = []
    for i, s in enumerate(smiles):
        try:
            if len(split_smiles(s)) <= max_len:
                keep.append(i)
        except TokenizeError:
            continue
    if len(keep) < len(smiles):
        log.info(
            "left out %d SMILES (untokenizable or > %d tokens)", len(smiles) - len(keep), max_len
        )
    n_valid = min(valid_max, max(1, int(len(keep) * valid_fraction)))
    if len(keep) < n_valid + 2:
        raise ValueError(f"{source}: {len(keep)} usable SMILES, too few to train on")
    order = torch.randperm(len(keep), generator=torch.Generator().manual_seed(seed)).tolist()
    valid = [keep[i] for i in order[:n_valid]]
    train = [keep[i] for i in order[n_valid:]]
    for name, rows in (("train", train), ("valid", valid)):
        _write_split(out / f"{name}.csv.gz", properties, [smiles[i] for i in rows], values[rows])
    write_settings(
        out / "data.json",
        {
            "source": source,
            "n_read": len(smiles),
            "n_left_out": len(smiles) - len(keep),
            "n_train": len(train),
            "n_valid": len(valid),
        },
    )
