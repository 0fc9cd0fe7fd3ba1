"""Penalized logP benchmarks: the length bound, the similarity constraint, tiny runs."""

from __future__ import annotations

import argparse
import csv

import pytest
from rdkit import Chem

from makeable.bench.plogp import (
    LengthBounded,
    SimilarityConstrained,
    logp_800_file,
    run_constrained,
)
from makeable.cli.bench_design import add_parsers
from makeable.objectives import get_objective
from makeable.oracle.oracle import Oracle
from makeable.runs.config import ConfigError

# Two of GEGL's 800 start molecules (resource/data/zinc/logp_800.txt, MIT).
STARTS = [
    "COc1cccc(C(=O)NC(=S)Nc2ccc3c4c(cccc24)CC3)c1",
    "O=C(NC(=S)Nc1ccc2c3c(cccc13)CC2)c1cccc2ccccc12",
]


def run_cli(argv: list[str]) -> int:
    """``makeable bench ...`` with only the design benchmarks wired in."""
    parser = argparse.ArgumentParser(prog="makeable bench")
    add_parsers(parser.add_subparsers(dest="bench", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_length_bound_invalidates_long_smiles_only():
    bounded, plogp = LengthBounded(max_len=81), get_objective("logp")
    short = ["C" * 81, "CCO", "c1ccccc1O"]
    assert bounded(short).values == pytest.approx(plogp(short).values)
    assert bounded(short).valid.all()
    result = bounded(["C" * 82, "not a smiles"])
    assert not result.valid.any() and (result.values == 0.0).all()
    assert bounded.reason("C" * 82) == (
        "too long: 82 > 81 characters (stereo-free canonical SMILES)"
    )
    assert bounded.reason("CCO") is None
    # the bound applies to the canonical SMILES without stereochemistry
    stereo = "C" * 60 + "[C@H](O)[C@H](O)[C@H](O)[C@H](O)C"
    assert len(Chem.MolToSmiles(Chem.MolFromSmiles(stereo))) > 81 >= bounded.length(stereo)
    assert bounded([stereo]).valid[0]
    # a molecule over the bound costs no oracle call
    oracle = Oracle(bounded, budget=5)
    assert oracle(["C" * 90, "CCO"]) == pytest.approx([0.0, plogp.score("CCO")])
    assert oracle.n_calls == 1


def test_floor_clamps_the_values():
    values = LengthBounded(floor=0.0)(["CCO", "C" * 40]).values
    assert values[0] == 0.0 and values[1] > 0.0  # penalized logP of ethanol is negative


def test_similarity_constraint():
    start, plogp = STARTS[0], get_objective("logp")
    objective = SimilarityConstrained(start, threshold=0.4)
    close = "COc1cccc(C(=O)NC(=S)Nc2ccc3c4c(cccc24)CC3)c1C"  # one methyl more
    result = objective([start, close, "CCO"])
    assert list(result.valid) == [True, True, False]  # ethanol is below the threshold
    assert result.values[0] == pytest.approx(0.0)  # the start improves on itself by 0
    assert result.values[1] == pytest.approx(plogp.score(close) - plogp.score(start))
    assert result.values[2] == 0.0
    sims = objective.similarity([Chem.MolFromSmiles(s) for s in (start, close, "CCO")])
    assert sims[0] == pytest.approx(1.0) and sims[1] >= 0.4 > sims[2]
    strict = SimilarityConstrained(start, threshold=float(sims[1]) + 0.01)
    assert not strict([close]).valid[0]
    bits = SimilarityConstrained(start, threshold=0.4, fingerprint="morgan2048")
    assert list(bits([start, "CCO"]).valid) == [True, False]
    with pytest.raises(ValueError, match="fingerprint"):
        SimilarityConstrained(start, threshold=0.4, fingerprint="ecfp6")


def test_bench_plogp_tiny(tmp_path, monkeypatch):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    out = tmp_path / "plogp"
    args = ["plogp", "--optimizer", "graph_ga", "--seeds", "0", "--budget", "100"]
    args += ["--out", str(out)]
    args += ["--param", "population_size=20", "--param", "offspring_size=20"]
    assert run_cli(args) == 0
    (row,) = list(csv.DictReader((out / "results.csv").open()))
    assert row["seed"] == "0" and int(row["n_calls"]) <= 100
    assert float(row["best"]) > 0 and 0 < int(row["length"]) <= 81
    assert row["best_smiles"] and float(row["best"]) >= float(row["second"])
    summary = (out / "summary.md").read_text()
    assert "31.40" in summary and "5.30" in summary and "7.98" in summary


def test_bench_constrained_tiny_and_resumable(tmp_path):
    molecules = tmp_path / "starts.smi"
    molecules.write_text("\n".join(STARTS) + "\n")
    out = tmp_path / "constrained"
    args = ["constrained-plogp", "--optimizer", "graph_ga", "--thresholds", "0.4"]
    args += ["--budget", "60", "--molecules", str(molecules), "--out", str(out)]
    args += ["--param", "population_size=10", "--param", "offspring_size=10"]
    assert run_cli(args) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["index"], r["threshold"]) for r in rows] == [("0", "0.4"), ("1", "0.4")]
    for row in rows:
        assert float(row["similarity"]) >= 0.4 and float(row["improvement"]) >= 0.0
        assert row["success"] == str(int(float(row["improvement"]) > 0))
        assert int(row["n_calls"]) <= 60
    assert "success" in (out / "summary.md").read_text()
    # a second invocation with another threshold runs only the missing pair
    args[args.index("0.4") + 1 : args.index("0.4") + 1] = ["0.6"]
    assert run_cli([*args, "--limit", "1"]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["index"], r["threshold"]) for r in rows] == [
        ("0", "0.4"), ("1", "0.4"), ("0", "0.6"),
    ]  # fmt: skip
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["m000_d0.4", "m000_d0.6", "m001_d0.4"]
    # other settings do not extend these results
    with pytest.raises(ConfigError, match="other settings"):
        run_constrained("graph_ga", 61, out, molecules=molecules)


def test_logp_800_missing_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MAKEABLE_DATA", str(tmp_path))
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="logp_800.*set MAKEABLE_DATA.*--molecules"):
        logp_800_file()


def test_logp_800_from_the_data_folder(data_dir):
    lines = logp_800_file().read_text().split()
    assert len(lines) == 800 and lines[0] == STARTS[0]
