"""End-to-end design runs: outputs, determinism, resume after kill -9, Graph GA vs screening."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from makeable.runs.config import ConfigError, DesignConfig
from makeable.runs.design import run_design


@pytest.fixture(autouse=True)
def shipped_sample(monkeypatch, tmp_path):
    """Design tests use the shipped ZINC sample (fast, and the same on every machine)."""
    from makeable.data import molecules

    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path / "cache"))
    molecules.zinc250k.cache_clear()
    yield
    molecules.zinc250k.cache_clear()


def calls_table(run_dir: Path) -> list[tuple]:
    db = sqlite3.connect(run_dir / "run.db")
    try:
        return db.execute("SELECT idx, smiles, score, valid FROM calls ORDER BY idx").fetchall()
    finally:
        db.close()


def test_run_folder_contents(tmp_path):
    config = DesignConfig(objective="qed", optimizer="graph_ga", budget=300, seed=1, top_k=20)
    result = run_design(config, tmp_path / "run", progress=False)
    files = {p.name for p in (tmp_path / "run").iterdir()}
    expected = {"run.db", "config.yaml", "versions.json", "metrics.json", "top.csv", "top.sdf"}
    assert expected | {"report.html", "score_vs_calls.png"} <= files
    assert result.metrics["n_calls"] == 300
    assert len(calls_table(tmp_path / "run")) == 300
    assert (tmp_path / "run" / "top.csv").read_text().count("\n") == 21
    assert "<svg" in (tmp_path / "run" / "report.html").read_text()
    # re-opening the finished run rewrites its results but records no new session
    from makeable.oracle.store import RunStore

    with RunStore(tmp_path / "run" / "run.db") as store:
        sessions = store.get_meta("sessions")
    assert len(sessions) == 1 and sessions[0]["n_calls"] == 300
    assert run_design(config, tmp_path / "run", progress=False).metrics == result.metrics
    with RunStore(tmp_path / "run" / "run.db") as store:
        assert store.get_meta("sessions") == sessions


def test_same_seed_same_calls(tmp_path):
    config = DesignConfig(objective="qed", optimizer="graph_ga", budget=250, seed=3)
    run_design(config, tmp_path / "a", progress=False)
    run_design(config, tmp_path / "b", progress=False)
    assert calls_table(tmp_path / "a") == calls_table(tmp_path / "b")


def test_graph_ga_children_made_by_two_processes_give_the_same_calls(tmp_path):
    runs = {}
    for jobs in (1, 2):
        config = DesignConfig(
            objective="qed", optimizer="graph_ga", budget=250, seed=3,
            optimizer_params={"jobs": jobs},
        )  # fmt: skip
        run_design(config, tmp_path / str(jobs), progress=False)
        runs[jobs] = calls_table(tmp_path / str(jobs))
    assert len(runs[1]) == 250 and runs[1] == runs[2]


def test_neutral_pool_is_cached_on_disk(tmp_path, monkeypatch):
    from makeable.runs import design

    real = design.neutralize
    pool = ("CC[NH3+]", "CCO", "CC(=O)[O-]", "CCN")
    first = design.neutral_pool.__wrapped__(pool)  # past the in-memory cache
    assert first == ("CCN", "CCO", "CC(=O)O")
    (cached,) = (tmp_path / "cache" / "pools").glob("neutral_*.smi")

    def recomputed(smiles: str) -> str:
        raise AssertionError("the pool was neutralised again")

    monkeypatch.setattr(design, "neutralize", recomputed)
    assert design.neutral_pool.__wrapped__(pool) == first
    cached.write_text("CCCC\n")  # not a cache file of this pool: made again
    monkeypatch.setattr(design, "neutralize", real)
    assert design.neutral_pool.__wrapped__(pool) == first
    assert cached.read_text().splitlines()[1:] == list(first)


def test_different_config_in_same_folder_is_refused(tmp_path):
    run_design(DesignConfig(objective="qed", budget=150, seed=0), tmp_path / "r", progress=False)
    with pytest.raises(ConfigError, match="different run"):
        run_design(DesignConfig(objective="qed", budget=150, seed=1), tmp_path / "r")


def test_graph_ga_beats_screening(tmp_path):
    scores = {}
    for optimizer in ("graph_ga", "screening"):
        config = DesignConfig(objective="osimertinib_mpo", optimizer=optimizer, budget=600)
        scores[optimizer] = run_design(config, tmp_path / optimizer, progress=False).metrics
    assert scores["graph_ga"]["top10_mean"] > scores["screening"]["top10_mean"]
    assert scores["graph_ga"]["auc_top10"] > scores["screening"]["auc_top10"]


def _design_cmd(out: Path, budget: int) -> list[str]:
    return [
        sys.executable, "-m", "makeable.cli.main", "design", "--objective", "qed",
        "--optimizer", "graph_ga", "--budget", str(budget), "--seed", "7",
        "--out", str(out), "--no-progress",
    ]  # fmt: skip


def _n_calls(run_dir: Path) -> int:
    try:
        db = sqlite3.connect(run_dir / "run.db", timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_resume_after_kill_9_equals_uninterrupted_run(tmp_path):
    budget = 800
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("MAKEABLE_DATA", None)
    subprocess.run(_design_cmd(tmp_path / "whole", budget), env=env, check=True)

    proc = subprocess.Popen(_design_cmd(tmp_path / "cut", budget), env=env)
    deadline = time.time() + 120
    while _n_calls(tmp_path / "cut") < 300 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _n_calls(tmp_path / "cut")
    assert 0 < killed_at < budget

    subprocess.run(_design_cmd(tmp_path / "cut", budget), env=env, check=True)
    assert calls_table(tmp_path / "cut") == calls_table(tmp_path / "whole")


def test_ctrl_c_then_resume(tmp_path):
    """An interrupt mid-run keeps every counted call; the re-run finishes the same run."""
    from makeable.oracle import Oracle, RunStore

    config = DesignConfig(objective="qed", optimizer="graph_ga", budget=400, seed=2)
    whole = run_design(config, tmp_path / "whole", progress=False)

    original_score_new = Oracle._score_new

    def interrupt_late(self, new):
        original_score_new(self, new)
        if self.n_calls >= 200:
            raise KeyboardInterrupt

    Oracle._score_new = interrupt_late  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            run_design(config, tmp_path / "cut", progress=False)
    finally:
        Oracle._score_new = original_score_new  # type: ignore[method-assign]
    n_saved = RunStore(tmp_path / "cut" / "run.db").n_calls()
    assert 200 <= n_saved < 400
    resumed = run_design(config, tmp_path / "cut", progress=False)
    assert calls_table(tmp_path / "cut") == calls_table(tmp_path / "whole")
    assert resumed.metrics["auc_top10"] == whole.metrics["auc_top10"]


def test_resume_refuses_changed_effective_parameters(tmp_path):
    """A default that changed since the run was made must not be mixed into it silently."""
    from makeable.oracle.store import ParamsChangedError, RunStore
    from makeable.runs.config import DesignConfig
    from makeable.runs.design import run_design

    config = DesignConfig(objective="qed", optimizer="graph_ga", budget=30, seed=0)
    run_design(config, tmp_path / "run", progress=False)
    with RunStore(tmp_path / "run" / "run.db") as store:
        params = store.get_meta("optimizer_effective_params")
        assert params["mutation_rate"] > 0  # defaults are recorded, not only the given ones
        store.set_meta("optimizer_effective_params", {**params, "mutation_rate": 0.5})
    with pytest.raises(ParamsChangedError, match="mutation_rate"):
        run_design(config, tmp_path / "run", progress=False)
    # a parameter added to the optimizer after the run was made is not a change
    with RunStore(tmp_path / "run" / "run.db") as store:
        store.set_meta("optimizer_effective_params", {"population_size": 120})
    run_design(config, tmp_path / "run", progress=False)
    with RunStore(tmp_path / "run" / "run.db") as store:
        assert store.get_meta("optimizer_effective_params") == params
