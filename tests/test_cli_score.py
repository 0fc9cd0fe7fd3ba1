"""``makeable score``: bad input gives one clear line, lines are read as written, chunks."""

from __future__ import annotations

import csv
import gzip
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from makeable.cli import score
from makeable.cli.main import main
from makeable.objectives.base import Objective


class Recorder(Objective):
    """Heavy atoms; remembers the size of every batch it scored."""

    name = "recorder"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        self.batches.append(len(mols))
        return np.array([m.GetNumHeavyAtoms() for m in mols], dtype=float)


class Interrupter(Objective):
    """Heavy atoms, until it meets nitrogen: then the user presses Ctrl-C."""

    name = "interrupter"

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        if any(a.GetSymbol() == "N" for m in mols for a in m.GetAtoms()):
            raise KeyboardInterrupt
        return np.array([m.GetNumHeavyAtoms() for m in mols], dtype=float)


RECORDER = Recorder()
INTERRUPTER = Interrupter()


def _score(src: Path | str, out: Path | str, *objectives: str) -> int:
    args = ["score", str(src), "--out", str(out)]
    for name in objectives or ("qed",):
        args += ["--objective", name]
    return main(args)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_out_folder_is_one_clear_line(tmp_path, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO\n")
    assert _score(src, tmp_path) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and len(err.strip().splitlines()) == 1


def test_input_folder_is_said_to_be_a_folder(tmp_path, capsys):
    assert _score(tmp_path, tmp_path / "out.csv") == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "does not exist" not in err
    assert not (tmp_path / "out.csv").exists()


def test_lines_end_at_newline_only(tmp_path):
    src = tmp_path / "in.smi"
    src.write_bytes("CC\fO\nCCO\u2028x\nC\rN\nCCN\r\nC\x0bC\n\n".encode())
    out = tmp_path / "out.csv"
    assert _score(src, out) == 0
    rows = _rows(out)
    assert [r["smiles"] for r in rows] == ["CC\fO", "CCO\u2028x", "C\rN", "CCN", "C\x0bC", ""]
    assert [r["valid"] for r in rows] == ["0", "0", "0", "1", "0", "0"]


@pytest.mark.parametrize("name", ["in.smi.gz", "in.smi"])  # found by its magic bytes
def test_gzip_input_is_read_as_is(tmp_path, name):
    text = "CCO ethanol\nnot_a_smiles\nc1ccccc1\n"
    (tmp_path / "plain.smi").write_text(text)
    (tmp_path / name).write_bytes(gzip.compress(text.encode()))
    assert _score(tmp_path / "plain.smi", tmp_path / "plain.csv") == 0
    assert _score(tmp_path / name, tmp_path / "gz.csv") == 0
    assert (tmp_path / "gz.csv").read_text() == (tmp_path / "plain.csv").read_text()


def test_gzip_on_standard_input(tmp_path, monkeypatch, capsys):
    data = gzip.compress(b"CCO\nc1ccccc1\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    assert _score("-", "-") == 0
    out = capsys.readouterr().out
    assert [r["smiles"] for r in csv.DictReader(io.StringIO(out))] == ["CCO", "c1ccccc1"]


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"CCO\n\xff\xfe\n", "not UTF-8"), (gzip.compress(b"CCO\n" * 1000)[:-30], "cannot read")],
)
def test_unreadable_input_is_one_clear_line_and_out_is_kept(tmp_path, capsys, data, says):
    src, out = tmp_path / "in.smi", tmp_path / "out.csv"
    src.write_bytes(data)
    out.write_text("precious\n")
    assert _score(src, out) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.smi", "out.csv"]


def test_the_smiles_column_is_the_whole_smiles_field(tmp_path):
    src = tmp_path / "in.smi"
    # the SMILES ends at the first space or tab; other whitespace is part of it
    src.write_text("CCO\tethanol\n  c1ccccc1 benzene ring\nCC\u00a0O name\nnot a smiles\n")
    out = tmp_path / "out.csv"
    assert _score(src, out) == 0
    rows = _rows(out)
    assert [r["smiles"] for r in rows] == ["CCO", "c1ccccc1", "CC\u00a0O", "not"]
    assert [r["valid"] for r in rows] == ["1", "1", "0", "0"]


def test_ctrl_c_saves_what_was_scored_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(score, "CHUNK_LINES", 2)
    src, out = tmp_path / "in.smi", tmp_path / "out.csv"
    src.write_text("CCO\nCC\nCCN\nC\n")
    assert _score(src, out, "tests.test_cli_score:INTERRUPTER") == 130
    err = capsys.readouterr().err
    assert "first 2 lines" in err and "saved" not in err
    assert not out.exists()
    partial = tmp_path / "out.csv.partial"
    assert [r["smiles"] for r in _rows(partial)] == ["CCO", "CC"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.smi", "out.csv.partial"]


def test_ctrl_c_before_any_score_says_nothing_was_scored(tmp_path, capsys):
    src, out = tmp_path / "in.smi", tmp_path / "out.csv"
    src.write_text("CCN\nCC\n")
    assert _score(src, out, "tests.test_cli_score:INTERRUPTER") == 130
    assert "nothing was scored" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.smi"]


def test_chunks_give_the_same_output_and_bound_memory(tmp_path, monkeypatch):
    lines = ["CCO", "", "not_a_smiles", "c1ccccc1 benzene", "C" * 200, "CCN", "CC(=O)O"] * 3
    src = tmp_path / "in.smi"
    src.write_text("\n".join(lines) + "\n")
    objectives = ("qed", "sa", "tests.test_cli_score:RECORDER")
    assert _score(src, tmp_path / "one.csv", *objectives) == 0
    assert RECORDER.batches[-1] == 12  # one chunk: the 12 valid lines at once
    monkeypatch.setattr(score, "CHUNK_LINES", 4)
    RECORDER.batches.clear()
    assert _score(src, tmp_path / "many.csv", *objectives) == 0
    assert len(RECORDER.batches) == 6 and max(RECORDER.batches) <= 4
    assert (tmp_path / "many.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert len(_rows(tmp_path / "many.csv")) == len(lines)


def test_too_large_molecules_are_invalid_and_reported(tmp_path, capsys):
    src, out = tmp_path / "in.smi", tmp_path / "out.csv"
    src.write_text(f"CCO\n{'C' * 151}\n{'C' * 5_000}\n{'C' * 150}\n")
    assert _score(src, out, "deco_hop", "tests.test_cli_score:RECORDER") == 0
    rows = _rows(out)
    assert [r["valid"] for r in rows] == ["1", "0", "0", "1"]
    assert (
        float(rows[1]["deco_hop"]) == 0.0
        and float(rows[3]["tests.test_cli_score:RECORDER"]) == 150.0
    )
    err = capsys.readouterr().err
    assert "2 of 4 lines were invalid" in err
    assert "2 too large (line 2: too large: 151 heavy atoms > 150)" in err
