"""The budgeted oracle: exact counting, free repeats, invalid input, the run store."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from makeable.objectives.base import FunctionObjective
from makeable.oracle import Oracle, RunStore
from tests.conftest import ZINC_FEW


def test_repeats_cost_nothing(toy_objective):
    oracle = Oracle(toy_objective, budget=100)
    first = oracle(ZINC_FEW)
    assert oracle.n_calls == len(ZINC_FEW)
    again = oracle(ZINC_FEW + ZINC_FEW)
    assert oracle.n_calls == len(ZINC_FEW)
    assert np.array_equal(again[: len(ZINC_FEW)], first)


def test_non_canonical_repeat_is_the_same_molecule(toy_objective):
    oracle = Oracle(toy_objective, budget=10)
    oracle(["OCC", "CCO", "C(O)C"])
    assert oracle.n_calls == 1


def test_invalid_and_empty_smiles_score_zero_and_cost_nothing(toy_objective):
    oracle = Oracle(toy_objective, budget=10)
    result = oracle.evaluate(["", "not a smiles", "C1CC", "CCO", "   "])
    assert oracle.n_calls == 1
    assert list(result.valid) == [False, False, False, True, False]
    assert list(result.scores) == [0.0, 0.0, 0.0, 3.0, 0.0]
    assert result.smiles[:3] == [None, None, None]


def test_too_large_molecules_are_invalid_and_cost_nothing(toy_objective):
    from makeable.chem.molecule import MAX_HEAVY_ATOMS

    big = ["C" * (MAX_HEAVY_ATOMS + 1), "C" * 5_000, "C" * 2_000_000]
    assert not toy_objective(big).valid.any()
    oracle = Oracle(toy_objective, budget=10)
    result = oracle.evaluate([*big, "C" * MAX_HEAVY_ATOMS])
    assert oracle.n_calls == 1
    assert list(result.valid) == [False, False, False, True]
    assert list(result.scores) == [0.0, 0.0, 0.0, float(MAX_HEAVY_ATOMS)]


def test_budget_is_never_exceeded(toy_objective):
    oracle = Oracle(toy_objective, budget=3)
    result = oracle.evaluate(ZINC_FEW)
    assert oracle.n_calls == 3 and oracle.finished
    assert list(result.scored) == [True, True, True, False, False]
    assert list(result.scores[3:]) == [0.0, 0.0]
    oracle(["CCCCCC", "c1ccccc1"])
    assert oracle.n_calls == 3


@settings(max_examples=30, deadline=None)
@given(
    budget=st.integers(1, 12),
    batches=st.lists(
        st.lists(st.sampled_from(ZINC_FEW + ["C", "CC", "CCC", "CCO", "xx", ""]), max_size=8),
        max_size=6,
    ),
)
def test_budget_property(budget, batches):
    from makeable.objectives.base import FunctionObjective

    oracle = Oracle(FunctionObjective("len", len), budget=budget)
    seen = set()
    for batch in batches:
        oracle(batch)
        seen |= {oracle.canonical(s) for s in batch if oracle.canonical(s)}
        assert oracle.n_calls <= budget
    assert oracle.n_calls == min(budget, len(seen))


def test_store_records_every_counted_call(tmp_path, toy_objective):
    store = RunStore(tmp_path / "run.db")
    oracle = Oracle(toy_objective, budget=4, store=store)
    oracle(ZINC_FEW[:2] + ["bad"])
    oracle(ZINC_FEW)
    store.close()
    rows = (
        sqlite3.connect(tmp_path / "run.db")
        .execute("SELECT idx, smiles, score, valid FROM calls ORDER BY idx")
        .fetchall()
    )
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert [r[1] for r in rows] == oracle.history()[0]
    assert all(r[3] == 1 for r in rows)


def test_failing_objective_flags_only_the_bad_molecule():
    from makeable.objectives.base import FunctionObjective

    def picky(smiles: str) -> float:
        if "Cl" in smiles:
            raise RuntimeError("boom")
        return 1.0

    oracle = Oracle(FunctionObjective("picky", picky), budget=10)
    result = oracle.evaluate(ZINC_FEW)
    assert list(result.valid) == [True, True, True, True, False]
    assert oracle.n_calls == 5  # the objective ran on it: the call counts, scored 0


def test_resume_replays_record_without_rescoring(tmp_path, toy_objective):
    calls = []

    def counting(smiles: str) -> float:
        calls.append(smiles)
        return float(len(smiles))

    from makeable.objectives.base import FunctionObjective

    store = RunStore(tmp_path / "run.db")
    Oracle(FunctionObjective("c", counting), budget=10, store=store)(ZINC_FEW[:3])
    store.close()
    calls.clear()
    store = RunStore(tmp_path / "run.db")
    oracle = Oracle(FunctionObjective("c", counting), budget=10, store=store)
    oracle(ZINC_FEW)
    assert len(calls) == 2 and oracle.replayed == 3 and oracle.n_calls == 5
    assert store.n_calls() == 5


def test_only_an_unfinished_run_announces_a_replay(tmp_path, toy_objective, caplog):
    """Re-opening a finished run (to read its results) replays nothing, and says nothing."""
    import logging

    store = RunStore(tmp_path / "run.db")
    Oracle(toy_objective, budget=10, store=store)(ZINC_FEW[:3])
    with caplog.at_level(logging.INFO, logger="makeable.oracle.oracle"):
        Oracle(toy_objective, budget=10, store=store)
        assert "resuming: 3 recorded calls will be replayed" in caplog.text
        caplog.clear()
        store.mark_finished(10)
        assert store.finished(10) and not store.finished(20)
        Oracle(toy_objective, budget=10, store=store)
        assert "resuming" not in caplog.text
    store.close()


def test_resume_divergence_keeps_every_recorded_call(tmp_path, toy_objective):
    store = RunStore(tmp_path / "run.db")
    Oracle(toy_objective, budget=10, store=store)(ZINC_FEW[:3])
    store.close()
    store = RunStore(tmp_path / "run.db")
    oracle = Oracle(toy_objective, budget=10, store=store)
    oracle([ZINC_FEW[4], ZINC_FEW[0]])  # not the recorded order
    assert oracle.n_calls == 4
    assert store.n_calls() == 4
    assert sorted(r.idx for r in store.calls()) == [1, 2, 3, 4]


def test_process_executor_matches_inprocess(toy_objective):
    from makeable.oracle.executor import ProcessPoolExecutorBackend

    with ProcessPoolExecutorBackend(n_workers=2) as ex:
        a = Oracle(toy_objective, budget=10, executor=ex)(ZINC_FEW)
    b = Oracle(toy_objective, budget=10)(ZINC_FEW)
    assert np.array_equal(a, b)


_WORKER_STATE: dict[str, int] = {}


def _remember(offset: int) -> None:
    _WORKER_STATE["offset"] = offset


def _add_offset(x: int) -> int:
    return x + _WORKER_STATE["offset"]


@pytest.mark.parametrize("backend", ["inprocess", "process"])
def test_imap_unordered_yields_every_index_once(backend):
    from makeable.oracle.executor import InProcessExecutor, ProcessPoolExecutorBackend

    items = list(range(7))
    if backend == "process":  # the initializer runs in each worker before any item
        ex = ProcessPoolExecutorBackend(2, _remember, (100,))
        fn = _add_offset
    else:
        ex = InProcessExecutor()
        fn = lambda x: x + 100  # noqa: E731
    with ex:
        got = dict(ex.imap_unordered(fn, items))
    assert got == {i: i + 100 for i in items}


def test_a_run_folder_is_written_by_one_process_at_a_time(tmp_path):
    from makeable.oracle.store import RunInUseError

    with RunStore(tmp_path / "run.db", exclusive=True):
        with pytest.raises(RunInUseError, match="in use by another process"):
            RunStore(tmp_path / "run.db", exclusive=True)
        RunStore(tmp_path / "run.db").close()  # reading needs no lock
    with RunStore(tmp_path / "run.db", exclusive=True) as store:  # released on close
        assert store.n_calls() == 0


def test_design_refuses_a_run_folder_in_use(tmp_path, capsys):
    from makeable.cli.main import main

    out = tmp_path / "run"
    with RunStore(out / "run.db", exclusive=True):
        code = main(["design", "--objective", "qed", "--budget", "20", "--out", str(out)])
    assert code == 2 and "in use by another process" in capsys.readouterr().err
    assert main(["design", "--objective", "qed", "--budget", "20", "--out", str(out)]) == 0


def _raises(smiles: str) -> float:
    raise RuntimeError("the model file is missing")


def _text(smiles: str) -> str:
    return "high"


def _some_fail(smiles: str) -> float:
    if smiles == "CCO":
        raise RuntimeError("not this one")
    return 1.0


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (_raises, "the first failure: RuntimeError: the model file is missing"),
        (_text, "the first failure: TypeError: mine returned str 'high', not a number"),
        (lambda smiles: float("nan"), "the first failure: a non-finite score (nan)"),
    ],
)
def test_objective_failing_on_the_whole_first_batch_is_reported_with_why(fn, reason, caplog):
    """A run whose objective never scores used to finish with every metric 0 and no word."""
    oracle = Oracle(FunctionObjective("mine", fn), budget=20)
    with caplog.at_level("WARNING", logger="makeable.oracle.oracle"):
        oracle(ZINC_FEW)
        oracle(["CCO", "CCN"])  # warned once, after the first batch
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "objective mine failed on every molecule of the first batch (5)" in warnings[0]
    assert reason in warnings[0]
    assert oracle.n_calls == 7 and oracle.best_score() == 0.0  # counted, as before


def test_no_warning_when_some_molecule_scores(toy_objective, caplog):
    with caplog.at_level("WARNING", logger="makeable.oracle.oracle"):
        Oracle(toy_objective, budget=20)(ZINC_FEW)
        Oracle(FunctionObjective("some", _some_fail), budget=20)(["CCO", "CCN"])
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_scores_say_why_the_first_molecule_failed():
    scores = FunctionObjective("some", _some_fail)(["CCN", "not smiles", "CCO", "CCO"])
    assert list(scores.valid) == [True, False, False, False]
    assert scores.error == "RuntimeError: not this one"
    assert FunctionObjective("fine", lambda s: 1.0)(["CCO"]).error is None


def test_every_caller_builds_its_executor_one_way(monkeypatch, tmp_path, capsys):
    """make_executor: in-process runs the initializer here; --address is for Ray only; without
    Ray installed, --executor ray is one line naming the extra."""
    import sys

    from makeable.cli.main import main
    from makeable.oracle.executor import (
        ExecutorError,
        InProcessExecutor,
        make_executor,
        runs_here,
    )

    with make_executor("inprocess", 4, _remember, (5,)) as ex:
        assert isinstance(ex, InProcessExecutor) and ex.map(_add_offset, [1, 2]) == [6, 7]
    with pytest.raises(ExecutorError, match="is for the ray executor"):
        make_executor("process", 2, address="auto")
    assert runs_here("process", 1, 10) and runs_here("inprocess", 8, 10)
    assert not runs_here("process", 2, 10) and not runs_here("ray", 1, 1)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    with pytest.raises(ExecutorError, match=r'pip install "makeable\[ray\]"'):
        make_executor("ray", 2)
    args = ["design", "--objective", "qed", "--budget", "5", "--executor", "ray"]
    assert main([*args, "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "makeable[ray]"' in err and "Traceback" not in err
    args = ["bench", "pmo", "--optimizer", "screening", "--address", "auto"]
    assert main([*args, "--out", str(tmp_path / "b")]) == 2
    assert "--address auto is for --executor ray" in capsys.readouterr().err
