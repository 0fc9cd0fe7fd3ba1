"""The PMO benchmark command on a tiny budget: files, columns, resumability."""

from __future__ import annotations

import csv

import pytest

from makeable.cli.main import main


def test_bench_pmo_small(tmp_path, monkeypatch):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    out = tmp_path / "bench"
    args = ["bench", "pmo", "--optimizer", "screening", "--seeds", "0", "1", "--budget", "150"]
    args += ["--tasks", "qed", "median1", "--out", str(out)]
    assert main(args) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["task"], r["seed"]) for r in rows] == [
        ("qed", "0"), ("qed", "1"), ("median1", "0"), ("median1", "1"),
    ]  # fmt: skip
    needed = {"task", "seed", "auc_top10", "top1", "top10_mean", "n_calls", "wall_s", "oracle_s"}
    assert needed <= set(rows[0])
    assert all(r["n_calls"] == "150" for r in rows)
    assert all(0 < float(r["auc_top10"]) <= float(r["top10_mean"]) for r in rows)
    summary = (out / "summary.md").read_text()
    assert "Sum of mean AUC top-10 over 2 tasks" in summary
    # a second invocation re-uses the finished runs (no new oracle calls) and gives the same rows
    assert main(args) == 0
    assert (
        list(csv.DictReader((out / "results.csv").open()))[0]["auc_top10"] == rows[0]["auc_top10"]
    )
    # a row carried over without its run folder (another machine's results) stands: not rerun
    import shutil

    shutil.rmtree(out / "runs" / "median1_s1")
    text = (out / "results.csv").read_text().replace(f",{rows[3]['auc_top10']},", ",0.123,")
    (out / "results.csv").write_text(text)
    assert main(args) == 0
    again = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["task"], r["seed"]) for r in again] == [(r["task"], r["seed"]) for r in rows]
    assert again[3]["auc_top10"] == "0.123" and not (out / "runs" / "median1_s1").exists()
    assert again[0]["auc_top10"] == rows[0]["auc_top10"]


def test_bench_rejects_unknown_task(tmp_path, capsys):
    args = ["bench", "pmo", "--optimizer", "screening", "--tasks", "qedd", "--out", str(tmp_path)]
    assert main(args) == 2
    assert "unknown task" in capsys.readouterr().err


def test_a_failing_run_does_not_stop_the_others(tmp_path):
    """One run that raises is reported at the end; the runs after it still finish."""
    import pytest

    from makeable.bench.jobs import DesignJob, JobRun, JobsFailedError
    from makeable.runs.config import DesignConfig

    def job(objective: str, name: str) -> DesignJob:
        config = DesignConfig(objective=objective, optimizer="screening", budget=20)
        return DesignJob((("name", name),), tmp_path / name, config, (), lambda _: {})

    runs = JobRun([job("no_such_objective", "bad"), job("qed", "good")])
    rows = list(runs)
    assert rows == [{"name": "good"}] and (tmp_path / "good" / "metrics.json").is_file()
    assert len(runs.failures) == 1 and runs.failures[0][0] == tmp_path / "bad"
    with pytest.raises(JobsFailedError, match="1 of 2 run"):
        runs.raise_failures()


def test_sums_per_seed_count_only_complete_seeds():
    from makeable.bench.pmo import comparison_markdown, seed_sums

    rows = [
        {"task": "qed", "seed": "0", "auc_top10": "0.5"},
        {"task": "median1", "seed": "0", "auc_top10": "0.25"},
        {"task": "qed", "seed": "1", "auc_top10": "0.75"},  # seed 1 lacks median1
    ]
    assert seed_sums(rows) == {0: 0.75}
    table = comparison_markdown({"a": rows, "b": rows[:1]})
    assert "| sum per seed | 0.750 | 0.500 |" in table


def test_a_benchmark_folder_takes_one_process_at_a_time(tmp_path):
    """Two processes on one --out would both append rows: the second is refused at once."""
    from makeable.bench.pmo import run_pmo
    from makeable.run_folder import RunFolder, RunInUseError

    with RunFolder(tmp_path / "bench"), pytest.raises(RunInUseError, match="in use"):
        run_pmo("graph_ga", [0], 10, tmp_path / "bench", tasks=["qed"])
    assert not (tmp_path / "bench" / "runs").exists()  # nothing was started
