"""The sequence active-learning loop: exact accounting, resume, every optimizer, CLI, bench."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest

from makeable.cli.main import main
from makeable.oracle.oracle import Oracle
from makeable.runs.config import ConfigError
from makeable.sequences.design import SequenceDesignConfig, run_sequence_design

# Small settings so that a round takes well under a second.
FAST_GFN = {"n_steps": 8, "n_final": 64, "batch": 16, "offline_batch": 16, "hidden": 16}
FAST_PROXY = {"n_steps": 10, "n_models": 2}
FAST = {
    "delta_cs": FAST_GFN,
    "gfn_al": FAST_GFN,
    "adalead": {"model_queries": 200},
    "mutation": {},
}
TASK = "ehrlich_l32_c4_k4"  # needs no data files


pytestmark = pytest.mark.usefixtures("one_thread")


def config(optimizer: str = "delta_cs", rounds: int = 3, batch: int = 8, seed: int = 0, **kw):
    return SequenceDesignConfig(
        task=kw.pop("task", TASK),
        optimizer=optimizer,
        rounds=rounds,
        batch=batch,
        seed=seed,
        optimizer_params=FAST[optimizer],
        proxy_params=FAST_PROXY,
        **kw,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def calls_table(run_dir: Path) -> list[tuple]:
    db = sqlite3.connect(run_dir / "run.db")
    try:
        return db.execute("SELECT idx, smiles, score, valid FROM calls ORDER BY idx").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("optimizer", ["delta_cs", "gfn_al", "adalead", "mutation"])
def test_every_optimizer_spends_exactly_rounds_times_batch(tmp_path, optimizer):
    result = run_sequence_design(config(optimizer), tmp_path / "run")
    calls = calls_table(tmp_path / "run")
    assert len(calls) == 3 * 8
    assert len({c[1] for c in calls}) == len(calls)
    assert [r["round"] for r in result.rounds] == [0, 1, 2, 3]
    assert [r["n_calls"] for r in result.rounds] == [0, 8, 16, 24]
    assert result.rounds[-1]["max"] >= result.rounds[0]["max"]
    for name in ("run.db", "config.yaml", "versions.json", "results.csv", "top.csv"):
        assert (tmp_path / "run" / name).is_file()
    assert "Rounds" in (tmp_path / "run" / "report.html").read_text()


def test_round_events_and_results_csv(tmp_path):
    from makeable.oracle.store import RunStore

    run_sequence_design(config(), tmp_path / "run")
    store = RunStore(tmp_path / "run" / "run.db")
    events = store.events("round")
    store.close()
    assert [payload["round"] for _, _, payload in events] == [0, 1, 2, 3]
    keys = {"round", "max", "median_top128", "diversity", "novelty"}
    assert all(keys <= set(payload) for _, _, payload in events)
    rows = read_csv(tmp_path / "run" / "results.csv")
    assert [int(r["round"]) for r in rows] == [0, 1, 2, 3]
    assert float(rows[0]["novelty"]) == 0.0  # round 0 is the starting set itself


def test_repeats_and_starting_set_are_never_proposed(tmp_path):
    result = run_sequence_design(config("mutation", rounds=2, batch=16), tmp_path / "run")
    from makeable.sequences import get_task

    start, _ = get_task(TASK).initial_data()
    proposed = [c[1] for c in calls_table(tmp_path / "run")]
    assert not set(proposed) & set(start)
    assert result.rounds[-1]["n_calls"] == 32


def test_same_seed_same_calls_and_seed_matters(tmp_path):
    run_sequence_design(config(rounds=2, seed=4), tmp_path / "a")
    run_sequence_design(config(rounds=2, seed=4), tmp_path / "b")
    run_sequence_design(config(rounds=2, seed=5), tmp_path / "c")
    assert calls_table(tmp_path / "a") == calls_table(tmp_path / "b")
    assert calls_table(tmp_path / "a") != calls_table(tmp_path / "c")


def test_resume_after_interruption_gives_the_same_calls(tmp_path, monkeypatch):
    cfg = config(rounds=4)
    run_sequence_design(cfg, tmp_path / "whole")

    original = Oracle.evaluate
    seen = {"n": 0}

    def interrupted(self, seqs):
        seen["n"] += 1
        if seen["n"] == 3:  # killed while scoring round 3
            raise KeyboardInterrupt
        return original(self, seqs)

    monkeypatch.setattr(Oracle, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sequence_design(cfg, tmp_path / "cut")
    assert len(calls_table(tmp_path / "cut")) == 16
    monkeypatch.setattr(Oracle, "evaluate", original)

    result = run_sequence_design(cfg, tmp_path / "cut")
    assert calls_table(tmp_path / "cut") == calls_table(tmp_path / "whole")
    assert [r["round"] for r in result.rounds] == [0, 1, 2, 3, 4]

    # a finished run is not redone
    again = run_sequence_design(cfg, tmp_path / "cut")
    assert again.rounds == result.rounds


def test_different_config_in_same_folder_is_refused(tmp_path):
    run_sequence_design(config(rounds=1), tmp_path / "r")
    with pytest.raises(ConfigError, match="different run"):
        run_sequence_design(config(rounds=1, seed=9), tmp_path / "r")


def test_resume_refuses_changed_optimizer_defaults(tmp_path):
    """A run made with other effective optimizer parameters (a changed default) is not resumed."""
    from makeable.oracle.store import ParamsChangedError, RunStore

    run_sequence_design(config("mutation", rounds=1), tmp_path / "run")
    with RunStore(tmp_path / "run" / "run.db") as store:
        params = store.get_meta("optimizer_params")
        assert params  # defaults are recorded, not only the given ones
        key = sorted(params)[0]
        store.set_meta("optimizer_params", {**params, key: "changed"})
    with pytest.raises(ParamsChangedError, match=key):
        run_sequence_design(config("mutation", rounds=1), tmp_path / "run")


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="proxy parameter"):
        SequenceDesignConfig(task=TASK, proxy_params={"kapa": 1})
    with pytest.raises(TypeError, match="unknown parameter"):
        run_sequence_design(
            SequenceDesignConfig(task=TASK, optimizer_params={"deltaa": 0.1}), tmp_path / "run"
        )
    with pytest.raises(ConfigError, match="rounds"):
        SequenceDesignConfig(task=TASK, rounds=-1)
    with pytest.raises(ConfigError, match="budget 100 is not a whole number of rounds"):
        SequenceDesignConfig(task=TASK, budget=100, batch=32)
    with pytest.raises(ConfigError, match="not rounds x batch"):
        SequenceDesignConfig(task=TASK, budget=256, rounds=3, batch=32)


def test_the_budget_or_the_rounds_say_the_same():
    """One budget word: --budget N is N oracle calls, rounds x batch; an old config (rounds only)
    has the same identity as the same run given by its budget, so old folders resume."""
    by_rounds = SequenceDesignConfig.from_dict({"task": TASK, "rounds": 3, "batch": 32})
    by_budget = SequenceDesignConfig(task=TASK, budget=96, batch=32)
    assert (by_budget.rounds, by_rounds.budget) == (3, 96)
    assert by_rounds.identity() == by_budget.identity()
    assert SequenceDesignConfig(task=TASK).budget == 10 * 128  # the δ-CS default


@pytest.mark.parametrize(
    ("field", "value"),
    [("batch", True), ("rounds", 2.5), ("n_threads", False), ("seed", True), ("task_params", 3)],
)
def test_config_refuses_bools_and_wrong_types(field, value):
    with pytest.raises(ConfigError, match=field):
        SequenceDesignConfig(**{"task": TASK, field: value})


def test_more_new_sequences_than_the_task_has_is_refused_at_once(data_dir, tmp_path, capsys):
    """tfbind8 has 4^8 = 65,536 sequences, half of them in the starting set: a batch of 100,000
    (which hung, looking for sequences that do not exist) or 10 rounds of 4,000 are refused
    before any work, in one line."""
    out = tmp_path / "run"
    base = ["seq", "design", "--task", "tfbind8", "--optimizer", "mutation", "--out", str(out)]
    for extra, asked in (
        (["--batch", "100000", "--rounds", "1"], "100,000"),
        (["--batch", "4000"], "40,000"),
    ):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert f"= {asked} new sequences, but tfbind8 has only 32,768 outside its starting" in err
        assert "Traceback" not in err and not out.exists()


def test_cli_delta_cs_on_tfbind8(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["seq", "design", "--task", "tfbind8", "--optimizer", "delta_cs", "--rounds", "2",
            "--batch", "16", "--seed", "0", "--out", str(out)]  # fmt: skip
    for key, value in {**FAST_GFN, "n_final": 256}.items():
        args += ["--param", f"{key}={value}"]
    for key, value in FAST_PROXY.items():
        args += ["--proxy-param", f"{key}={value}"]
    assert main(args) == 0
    assert '"n_calls": 32' in capsys.readouterr().out
    calls = calls_table(out)
    assert len(calls) == 32 and all(c[3] == 1 for c in calls)
    rows = read_csv(out / "results.csv")
    assert float(rows[-1]["max"]) >= float(rows[0]["max"]) > 0.43


def test_cli_errors(tmp_path, capsys):
    assert main(["seq", "design", "--task", "nope", "--out", str(tmp_path / "r")]) == 2
    assert "unknown sequence task 'nope'" in capsys.readouterr().err
    assert main(["seq", "score", "--task", TASK, "ABC"]) == 2
    assert "length 3" in capsys.readouterr().err


def test_bench_seq_writes_results(tmp_path, capsys):
    out = tmp_path / "bench"
    args = ["bench", "seq", "--tasks", TASK, "--optimizers", "mutation", "adalead",
            "--seeds", "0", "1", "--rounds", "1", "--batch", "8", "--out", str(out),
            "--proxy-param", "n_steps=10"]  # fmt: skip
    assert main(args) == 0
    rows = read_csv(out / "results.csv")
    assert list(rows[0])[:8] == ["task", "optimizer", "seed", "round", "max", "median_top128",
                                 "diversity", "novelty"]  # fmt: skip
    assert len(rows) == 2 * 2 * 2  # optimizers x seeds x (rounds + starting set)
    assert "| ehrlich_l32_c4_k4 | mutation | 2 |" in (out / "summary.md").read_text()


def test_bench_seq_goes_on_after_a_failing_run(tmp_path, monkeypatch, capsys):
    """A run that raises is reported (exit 2) after the other runs finished and were written."""
    import makeable.bench.sequences as seq_bench

    original = seq_bench._run_job

    def failing_seed_0(job):
        if job.seed == 0:
            raise RuntimeError("boom")
        return original(job)

    monkeypatch.setattr(seq_bench, "_run_job", failing_seed_0)
    out = tmp_path / "bench"
    args = ["bench", "seq", "--tasks", TASK, "--optimizers", "mutation", "--seeds", "0", "1",
            "--rounds", "1", "--batch", "8", "--out", str(out)]  # fmt: skip
    assert main(args) == 2
    assert "1 of 2 run(s) failed" in capsys.readouterr().err
    assert {row["seed"] for row in read_csv(out / "results.csv")} == {"1"}
