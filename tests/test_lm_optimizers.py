"""GEGL, REINVENT, SMILES-LSTM hill climbing, Genetic GFN and fragment RAG on a toy objective
with a tiny prior: each learns, spends its budget exactly, and resumes after an interrupt into
the same calls as an uninterrupted run with the same seed (so two runs with one seed make the
same calls)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from tests.lm_toys import calls_table, design, interrupted_then_resumed

BUDGET = 400
CASES = {
    "gegl": {
        "apprentice_samples": 64,
        "expert_samples": 64,
        "queue_size": 64,
        "imitation_steps": 4,
        "imitation_batch_size": 32,
        "mutation_rate": 0.1,
    },
    "reinvent": {"batch_size": 32, "lr": 2e-3, "experience_replay": 8, "memory_size": 32},
    "lstm-hc": {"mols_to_sample": 96, "keep_top": 48, "optimize_batch_size": 32},
    "genetic_gfn": {"batch_size": 32, "lr": 2e-3, "memory_size": 64, "replay_batch_size": 16},
    "fragment_rag": {
        "population_size": 32,
        "lm_samples": 32,
        "ga_offspring": 16,
        "vocab_size": 10,
        "finetune_steps": 2,
        "finetune_lr": 1e-3,
    },
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def whole_runs(tmp_path_factory):
    """One uninterrupted run per optimizer (shared by the tests below)."""
    runs = {}
    for name, params in CASES.items():
        out = tmp_path_factory.mktemp(name.replace("-", "_")) / "whole"
        runs[name] = (*design(name, params, BUDGET, out), out)
    return runs


@pytest.mark.parametrize("name", CASES)
def test_budget_is_spent_exactly(whole_runs, name):
    _, result, out = whole_runs[name]
    assert result.metrics["n_calls"] == BUDGET
    assert len(calls_table(out)) == BUDGET


@pytest.mark.parametrize("name", CASES)
def test_learns_the_toy_objective(whole_runs, name):
    """The nitrogen share of the last calls clearly beats that of the first ones."""
    _, _, out = whole_runs[name]
    scores = np.array([row[2] for row in calls_table(out)])
    first, last = scores[:100].mean(), scores[-100:].mean()
    assert last > first + 0.05, (first, last)


@pytest.mark.parametrize("name", CASES)
def test_round_events_feed_the_report(whole_runs, name):
    _, _, out = whole_runs[name]
    report = (out / "report.html").read_text()
    assert "Best kept molecules over rounds" in report
    # the header counts the rounds the optimizer logged
    rounds = re.search(rf"of a budget of {BUDGET}; (\d+) rounds", report)
    assert rounds is not None and int(rounds.group(1)) > 0


@pytest.mark.parametrize("name", CASES)
def test_interrupt_then_resume_equals_uninterrupted_run(whole_runs, tmp_path, name):
    config, whole, out = whole_runs[name]
    resumed = interrupted_then_resumed(config, tmp_path / "cut", stop_at=BUDGET // 2)
    assert calls_table(tmp_path / "cut") == calls_table(out)
    assert resumed.metrics["auc_top10"] == whole.metrics["auc_top10"]


@pytest.mark.parametrize("name", ["gegl", "reinvent", "genetic_gfn", "lstm-hc", "fragment_rag"])
def test_resume_from_a_checkpoint_equals_uninterrupted_run(whole_runs, tmp_path, monkeypatch, name):
    """With a checkpoint after every step, the resumed run restores the last one instead of
    recomputing its steps, and still makes exactly the uninterrupted run's calls and events."""
    from makeable.optimizers import checkpoint
    from makeable.oracle.store import RunStore

    monkeypatch.setattr(checkpoint, "EVERY_S", 0.0)
    config, whole, out = whole_runs[name]
    cut = tmp_path / "cut"
    resumed = interrupted_then_resumed(config, cut, stop_at=BUDGET // 2)
    assert calls_table(cut) == calls_table(out)
    assert resumed.metrics["auc_top10"] == whole.metrics["auc_top10"]
    with RunStore(cut / "run.db") as store, RunStore(out / "run.db") as reference:
        sessions = store.get_meta("sessions")
        assert [e[:2] for e in store.events("round")] == [e[:2] for e in reference.events("round")]
        assert [e[2]["round"] for e in store.events("round")] == [
            e[2]["round"] for e in reference.events("round")
        ]
    # the second session started from a checkpoint (a step before the cut), not from call 0
    assert 0 < sessions[-1]["from_checkpoint"] <= sessions[-1]["resumed_from"]
    assert not (cut / "checkpoint").exists()  # removed once the optimizer is done


def test_a_damaged_checkpoint_is_not_used(whole_runs, tmp_path, monkeypatch, caplog):
    from makeable.optimizers import checkpoint
    from makeable.runs.design import run_design
    from tests.lm_toys import interrupted

    monkeypatch.setattr(checkpoint, "EVERY_S", 0.0)
    config, _, out = whole_runs["genetic_gfn"]
    cut = tmp_path / "cut"
    interrupted(config, cut, stop_at=BUDGET // 2)
    tensors = cut / "checkpoint" / "state.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:-8] + b"00000000")
    result = run_design(config, cut, progress=False)
    assert "checkpoint not used" in caplog.text
    assert calls_table(cut) == calls_table(out) and result.metrics["n_calls"] == BUDGET


def test_priority_queue_keeps_the_best():
    from makeable.optimizers.gegl import PriorityQueue

    queue = PriorityQueue(3)
    queue.add(["A", "B", "C", "D"], [0.1, 0.9, 0.5, 0.7])
    queue.add(["E", "B"], [0.6, 0.9])
    assert queue.scores == {"B": 0.9, "D": 0.7, "E": 0.6}


def test_gegl_admits_only_what_the_apprentice_can_emit():
    from makeable.models.smiles_lm.io import load_model
    from makeable.objectives import get_objective
    from makeable.optimizers.gegl import admissible
    from makeable.oracle import Oracle
    from tests.lm_toys import TOY_OBJECTIVE, tiny_prior

    model = load_model(tiny_prior())
    oracle = Oracle(get_objective(TOY_OBJECTIVE), budget=10)
    smiles = ["OCC", "CCO", "", "C1CC", "CCS", "C" * 12, "CCN"]  # S: not in the toy vocabulary
    assert admissible(oracle, model, smiles, max_len=10) == ["CCO", "CCN"]
    assert oracle.n_calls == 0


def test_rounds_section():
    from makeable.runs.rounds_report import rounds_section

    assert rounds_section([(5, "generation", {"best": 1.0})]) == ""
    events = [
        (10 * i, "round", {"round": i, "best": [["CCO", 0.1 * i]], "kept": i}) for i in range(1, 60)
    ]
    section = rounds_section(events, max_rows=10)
    assert section.count("<tr>") == 11 and "round 59" in section


def test_gegl_init_pool_seeds_its_queues_with_the_pool(tmp_path):
    """``init_pool=N`` scores the pool's first N molecules before sampling (the paper's
    constrained runs seed the queues with the start molecule); without it GEGL ignores the
    pool."""
    from makeable.chem.molecule import canonical_smiles
    from makeable.optimizers import get_optimizer
    from tests.lm_toys import toy_smiles

    pool = {canonical_smiles(s) for s in toy_smiles(50, seed=1)[:3]}
    _, result = design("gegl", {**CASES["gegl"], "init_pool": 3}, 150, tmp_path / "r")
    calls = calls_table(tmp_path / "r")
    assert {row[1] for row in calls[:3]} == pool and result.metrics["n_calls"] == 150
    design("gegl", CASES["gegl"], 20, tmp_path / "plain")
    assert not pool & {row[1] for row in calls_table(tmp_path / "plain")[:3]}
    with pytest.raises(ValueError, match="init_pool"):
        get_optimizer("gegl", init_pool=-1)


def test_reinvent_regulariser_is_finite_for_certain_sequences():
    """A sequence of probability 1 (log p == 0) once made REINVENT's -1/log p term infinite
    and its weights NaN; the capped term is finite there and unchanged elsewhere."""
    from makeable.optimizers.reinvent import likelihood_regulariser

    normal = torch.tensor([-20.0, -35.5, -4.0])
    assert likelihood_regulariser(normal).item() == pytest.approx((1 / normal.abs()).mean().item())
    certain = torch.tensor([-20.0, 0.0], requires_grad=True)
    value = likelihood_regulariser(certain)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(certain.grad).all()


def test_rank_weights_favour_the_best_and_break_ties_by_order():
    from makeable.models.toolkit import rank_weights

    probs = rank_weights([0.2, 0.9, 0.5, 0.5], rank_coefficient=0.25)
    # ranks 3, 0, 1, 2 (the tie in input order); weights 1 / (0.25 * 4 + rank)
    expected = np.array([1 / 4, 1 / 1, 1 / 2, 1 / 3])
    assert probs == pytest.approx(expected / expected.sum())
    with pytest.raises(ValueError, match="rank_coefficient"):
        rank_weights([0.1], 0)
    with pytest.raises(ValueError, match="no scores"):
        rank_weights([], 0.01)


@pytest.mark.parametrize("name", ["reinvent", "genetic_gfn", "gegl"])
def test_bf16_updates_learn_and_resume_into_the_same_calls(tmp_path, name):
    """``bf16=true`` (bfloat16 autocast in the model updates) is deterministic too: an
    interrupted run resumes into the calls of an uninterrupted one."""
    params = {**CASES[name], "bf16": True}
    config, whole = design(name, params, 200, tmp_path / "whole")
    assert whole.metrics["n_calls"] == 200
    interrupted_then_resumed(config, tmp_path / "cut", stop_at=100)
    assert calls_table(tmp_path / "cut") == calls_table(tmp_path / "whole")
    from makeable.optimizers import get_optimizer

    with pytest.raises(ValueError, match="bf16 must be true or false"):
        get_optimizer(name, bf16="yes")


def test_bf16_autocast_runs_in_float32_on_a_cpu_without_bfloat16(monkeypatch, caplog):
    """On a CPU without bfloat16 kernels oneDNN has no bfloat16 LSTM: ``bf16`` is then ignored
    with a warning (the run goes on in float32), never a crash; with the kernels, the LSTM runs in
    bfloat16."""
    from makeable.models import toolkit

    lstm = torch.nn.LSTM(8, 8, batch_first=True)
    x = torch.randn(2, 3, 8)
    monkeypatch.setattr(toolkit, "cpu_has_bf16", lambda: False)
    toolkit._warn_no_bf16.cache_clear()
    with caplog.at_level("WARNING"), toolkit.bf16_autocast("cpu", True):
        out, _ = lstm(x)
    assert out.dtype == torch.float32
    assert "no bfloat16 kernels" in caplog.text
    with toolkit.bf16_autocast("cpu", False):
        assert not torch.is_autocast_enabled("cpu")
    monkeypatch.setattr(toolkit, "cpu_has_bf16", lambda: True)
    with toolkit.bf16_autocast("cpu", True):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


class _Calls:
    """An oracle stand-in: a call count and the mean of the 100 best scores."""

    def __init__(self) -> None:
        self.n_calls, self.mean = 0, 0.0

    def top_mean(self, k: int) -> float:
        return self.mean


def test_top_mean_patience_counts_only_rounds_without_gain_after_min_calls():
    from makeable.optimizers.base import TopMeanPatience

    oracle = _Calls()
    early = TopMeanPatience(patience=2, min_calls=100, tolerance=1e-3)
    early.start(oracle)
    for n_calls, mean in ((50, 0.1), (80, 0.1), (90, 0.1)):  # before min_calls: never
        oracle.n_calls, oracle.mean = n_calls, mean
        assert not early.stalled(oracle)
    oracle.n_calls, oracle.mean = 150, 0.5
    assert not early.stalled(oracle)  # gained against 0
    oracle.n_calls, oracle.mean = 200, 0.5004
    assert not early.stalled(oracle)  # one round under the tolerance
    oracle.n_calls, oracle.mean = 250, 0.6
    assert not early.stalled(oracle)  # a gain resets the count
    for n_calls in (300, 350):
        oracle.n_calls = n_calls
        stopped = early.stalled(oracle)
    assert stopped  # two rounds in a row without a gain
    off = TopMeanPatience(patience=0, min_calls=0, tolerance=1.0)
    assert not any(off.stalled(oracle) for _ in range(10))


def test_reinvent_patience_is_checked():
    from makeable.optimizers import get_optimizer

    assert get_optimizer("reinvent").patience == 0  # the tables' protocol: no early stop
    assert get_optimizer("reinvent", patience=5).patience == 5
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        get_optimizer("reinvent", patience=-1)
