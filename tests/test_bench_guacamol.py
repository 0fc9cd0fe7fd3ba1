"""The GuacaMol benchmark: task table, GuacaMol's top-k score, new objectives, a tiny run."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from makeable.bench.guacamol import (
    GUACAMOL_TASKS,
    TASKS_BY_NAME,
    guacamol_score,
    run_guacamol,
    score_run,
)
from makeable.cli.bench_design import add_parsers
from makeable.objectives import get_objective, objective_names
from makeable.objectives.guacamol import ARIPIPRAZOLE
from makeable.oracle.store import CallRecord, RunStore
from makeable.registry import UnknownNameError


def run_cli(argv: list[str]) -> int:
    """``makeable bench ...`` with only the design benchmarks wired in."""
    parser = argparse.ArgumentParser(prog="makeable bench")
    add_parsers(parser.add_subparsers(dest="bench", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_guacamol_score_top_k_means():
    # top-1, top-10, top-100 means of [1.0, 0.5, 0.2], the missing molecules counted as 0
    score, top = guacamol_score([0.2, 1.0, 0.5], [(1, 1.0), (10, 1.0), (100, 1.0)])
    assert top == pytest.approx({1: 1.0, 10: 0.17, 100: 0.017})
    assert score == pytest.approx((1.0 + 0.17 + 0.017) / 3)
    assert guacamol_score([0.3, 0.9], [(1, 1.0)])[0] == pytest.approx(0.9)
    # weights: a weighted mean of the contributions
    assert guacamol_score([1.0, 0.0], [(1, 2.0), (2, 1.0)])[0] == pytest.approx(2.5 / 3)
    # fewer molecules than k: padded with zeros (159 isomers asked, 3 perfect ones found)
    assert guacamol_score([1.0, 1.0, 1.0], [(159, 1.0)])[0] == pytest.approx(3 / 159)
    assert guacamol_score([], [(1, 1.0), (10, 1.0)])[0] == 0.0
    with pytest.raises(ValueError):
        guacamol_score([1.0], [])


def test_task_table_matches_guacamol_v2():
    assert len(GUACAMOL_TASKS) == 20
    assert len(TASKS_BY_NAME) == 20
    names = set(objective_names())
    assert all(t.objective in names for t in GUACAMOL_TASKS)
    counts = {t.name: tuple(k for k, _ in t.contributions) for t in GUACAMOL_TASKS}
    assert all(w == 1.0 for t in GUACAMOL_TASKS for _, w in t.contributions)
    assert counts["isomers_c11h24"] == (159,)
    assert counts["isomers_c9h10n2o2pf2cl"] == (250,)
    rediscovery = [n for n in counts if n.endswith("_rediscovery")]
    assert len(rediscovery) == 3 and all(counts[n] == (1,) for n in rediscovery)
    others = set(counts) - set(rediscovery) - {"isomers_c11h24", "isomers_c9h10n2o2pf2cl"}
    assert len(others) == 15 and all(counts[n] == (1, 10, 100) for n in others)
    assert [t.name for t in GUACAMOL_TASKS if t.starting_population] == ["ranolazine_mpo"]


def test_c11h24_isomer_scores():
    objective = get_objective("isomers_c11h24")
    isomers = ["CCCCCCCCCCC", "CC(C)CCCCCCCC", "CCC(C)(C)CCCCCC", "C[C@H](CC)CCCCCCC"]
    assert objective(isomers).values == pytest.approx([1.0] * 4)
    wrong = ["CCCCCCCCCC", "CCCCCCCCCCCC", "CCCCCCCCCCO", "C1CCCCCCCCCC1"]
    assert all(0.0 < v < 1.0 for v in objective(wrong).values)


def test_aripiprazole_similarity():
    objective = get_objective("aripiprazole_similarity")
    values = objective([ARIPIPRAZOLE, "CCO"]).values
    assert values[0] == pytest.approx(1.0)
    assert 0.0 <= values[1] < 0.2


def test_score_run_counts_stereoisomers_once(tmp_path):
    store = RunStore(tmp_path / "run.db")
    calls = [
        ("C[C@H](CC)CCCCCCC", 1.0, True),
        ("C[C@@H](CC)CCCCCCC", 1.0, True),  # the same molecule without stereochemistry
        ("CCCCCCCCCCC", 1.0, True),
        ("CCCCCCCCCC", 0.5, True),
        ("CCCCCCCCCCCCCC", 0.0, False),  # not valid: left out
    ]
    store.add_calls(CallRecord(i + 1, s, v, ok, 0.0) for i, (s, v, ok) in enumerate(calls))
    store.close()
    row = score_run(tmp_path, "isomers_c11h24")
    assert row["n_distinct"] == 3
    assert row["score"] == pytest.approx(2.5 / 159)
    assert row["best"] == 1.0
    assert row["top_x"] == f"top159={2.5 / 159:.4f}"


def test_bench_guacamol_tiny(tmp_path, monkeypatch):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    out = tmp_path / "bench"
    args = ["guacamol", "--optimizer", "graph_ga", "--seeds", "0", "--budget", "100"]
    args += ["--tasks", "isomers_c11h24", "ranolazine_mpo", "--out", str(out)]
    args += ["--param", "population_size=20", "--param", "offspring_size=20"]
    assert run_cli(args) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["task"], r["seed"]) for r in rows] == [
        ("isomers_c11h24", "0"), ("ranolazine_mpo", "0"),
    ]  # fmt: skip
    assert {"task", "seed", "score", "n_calls", "best", "best_smiles", "wall_s"} <= set(rows[0])
    assert all(0.0 <= float(r["score"]) <= float(r["best"]) <= 1.0 for r in rows)
    assert all(int(r["n_calls"]) <= 100 for r in rows)
    # ranolazine starts from GuacaMol's starting population: the pool file holds ranolazine
    pool = out / "runs" / "ranolazine_mpo_s0" / "pool.smi"
    assert pool.read_text().split() == [TASKS_BY_NAME["ranolazine_mpo"].starting_population[0]]
    summary = (out / "summary.md").read_text()
    assert "Sum over 2 tasks" in summary and "17.983" in summary and "budget 100" in summary
    assert (out / "bench.yaml").is_file() and (out / "versions.json").is_file()
    # a second invocation re-uses the finished runs (no new calls) and gives the same rows
    assert run_cli(args) == 0
    again = list(csv.DictReader((out / "results.csv").open()))
    assert [{**r, "wall_s": None} for r in again] == [{**r, "wall_s": None} for r in rows]


def test_bench_guacamol_rejects_unknown_names(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown task"):
        run_guacamol("graph_ga", [0], 10, tmp_path, tasks=["qed"])
    with pytest.raises(UnknownNameError, match="unknown optimizer"):
        run_guacamol("no_such_optimizer", [0], 10, tmp_path, tasks=["median1"])
