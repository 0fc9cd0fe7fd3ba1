"""Result files of a run: the top molecules as CSV and SDF, with properties and alerts."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rdkit import Chem

from makeable.chem.descriptors import basic_properties
from makeable.chem.filters import alerts
from makeable.oracle.store import CallRecord

ALERT_SETS = ("basic", "pains", "brenk")
"""The filter sets whose alerts the result files and the report show for each molecule."""


def molecule_notes(smiles: str) -> dict[str, Any]:
    """What ``top.csv`` adds to a molecule's score: :func:`basic_properties` (rounded) and
    ``alerts``, the :data:`ALERT_SETS` rules it triggers (``set: rule`` joined by ``; ``)."""
    props: dict[str, Any] = {k: round(v, 3) for k, v in basic_properties(smiles).items()}
    props["alerts"] = "; ".join(str(a) for a in alerts(smiles, ALERT_SETS))
    return props


def write_top_molecules(out: Path, records: Sequence[CallRecord]) -> None:
    """Write ``top.csv`` (rank, smiles, score, call, then :func:`molecule_notes`) and
    ``top.sdf`` (same fields as properties)."""
    notes = [molecule_notes(r.smiles) for r in records]
    columns = list(notes[0]) if notes else []
    with open(out / "top.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "smiles", "score", "call", *columns])
        for rank, (r, note) in enumerate(zip(records, notes, strict=True), 1):
            writer.writerow([rank, r.smiles, repr(r.score), r.idx, *note.values()])
    with Chem.SDWriter(str(out / "top.sdf")) as writer:
        for rank, (r, note) in enumerate(zip(records, notes, strict=True), 1):
            mol = Chem.MolFromSmiles(r.smiles)
            if mol is None:
                continue
            mol.SetProp("_Name", f"rank {rank}")
            mol.SetProp("smiles", r.smiles)
            mol.SetDoubleProp("score", r.score)
            mol.SetIntProp("call", r.idx)
            for key, value in note.items():
                mol.SetProp(key, str(value))
            writer.write(mol)
