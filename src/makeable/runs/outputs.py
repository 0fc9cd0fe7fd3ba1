"""Result files of a run: the top molecules as CSV and SDF."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from rdkit import Chem

from makeable.oracle.store import CallRecord


def write_top_molecules(out: Path, records: Sequence[CallRecord]) -> None:
    """Write ``top.csv`` (rank, smiles, score, call) and ``top.sdf`` (same fields as properties)."""
    with open(out / "top.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "smiles", "score", "call"])
        for rank, r in enumerate(records, 1):
            writer.writerow([rank, r.smiles, repr(r.score), r.idx])
    with Chem.SDWriter(str(out / "top.sdf")) as writer:
        for rank, r in enumerate(records, 1):
            mol = Chem.MolFromSmiles(r.smiles)
            if mol is None:
                continue
            mol.SetProp("_Name", f"rank {rank}")
            mol.SetProp("smiles", r.smiles)
            mol.SetDoubleProp("score", r.score)
            mol.SetIntProp("call", r.idx)
            writer.write(mol)
