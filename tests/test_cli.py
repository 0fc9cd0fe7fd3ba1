"""The console script: score, list, design errors."""

from __future__ import annotations

import csv

import pytest

from makeable.cli.main import main


def test_score_writes_one_row_per_line_in_order(tmp_path, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO\n\nnot_a_smiles\nc1ccccc1 benzene\n")
    out = tmp_path / "out.csv"
    assert (
        main(["score", str(src), "--objective", "qed", "--objective", "sa", "--out", str(out)]) == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert [r["smiles"] for r in rows] == ["CCO", "", "not_a_smiles", "c1ccccc1"]
    assert list(rows[0]) == ["smiles", "qed", "sa", "valid"]
    assert [r["valid"] for r in rows] == ["1", "0", "0", "1"]
    assert float(rows[1]["qed"]) == 0.0 and float(rows[2]["sa"]) == 0.0
    assert float(rows[0]["qed"]) > 0
    assert "2 of 4 lines were invalid" in capsys.readouterr().err


def test_score_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nope.smi"), "--objective", "qed", "--out", "x.csv"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unknown_objective_is_a_clear_error(tmp_path, capsys):
    args = ["design", "--objective", "qeed", "--budget", "10", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown objective 'qeed'" in err and "qed" in err


def test_list_objectives_has_all_pmo_tasks(capsys):
    from makeable.bench.pmo import PMO_TASKS

    assert main(["list", "objectives"]) == 0
    names = capsys.readouterr().out.split()
    assert set(PMO_TASKS) <= set(names)
    assert {"logp", "sa", "crippen_logp"} <= set(names)


def test_design_from_yaml_config(tmp_path, monkeypatch):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    cfg = tmp_path / "run.yaml"
    cfg.write_text("objective: qed\noptimizer: screening\nbudget: 120\nseed: 4\n")
    assert (
        main(["design", "--config", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    )
    assert (tmp_path / "r" / "report.html").exists()


@pytest.mark.parametrize("bad", ["--budget=0", "--param=population_size"])
def test_bad_flags(tmp_path, bad, capsys):
    args = ["design", "--objective", "qed", bad, "--out", str(tmp_path / "r")]
    assert main(args) == 2
