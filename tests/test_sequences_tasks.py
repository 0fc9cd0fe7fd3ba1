"""Sequence tasks: oracle values against staged data, Ehrlich functions, invalid sequences."""

from __future__ import annotations

import numpy as np
import pytest

from makeable.data import sequences as seqdata
from makeable.oracle.oracle import Oracle
from makeable.sequences import InvalidSequenceError, get_task, task_names
from makeable.sequences.ehrlich import Ehrlich


def test_registry_lists_every_task():
    names = task_names()
    assert {"tfbind8", "rna_a", "rna_b", "rna_c", "aav"} <= set(names)
    assert sum(n.startswith("ehrlich_") for n in names) >= 3


def test_tfbind8_lookups_equal_staged_scores(data_dir):
    x = np.load(data_dir / "sequences/tfbind8/tf_bind_8-x-0.npy")
    y = np.load(data_dir / "sequences/tfbind8/tf_bind_8-y-0.npy").reshape(-1)
    task = get_task("tfbind8")
    rows = [0, 1, 4242, 31337, 65535, len(x) - 1]
    seqs = seqdata.decode(x[rows], "ACGT")
    assert seqs[0] == "AAAAAAAA"
    np.testing.assert_allclose(task(seqs).values, y[rows].astype(np.float64))
    assert task.score("AAAAAAAA") == pytest.approx(0.5247495, abs=1e-7)


def test_tfbind8_starting_set_is_bottom_half(data_dir):
    seqs, y = get_task("tfbind8").initial_data()
    assert len(seqs) == 32898 and y.max() < 0.44
    np.testing.assert_allclose(get_task("tfbind8")(seqs[:50]).values, y[:50], atol=1e-7)


@pytest.mark.parametrize("name,k", [("rna_a", 1), ("rna_b", 2), ("rna_c", 3)])
def test_rna_energies_equal_staged_delta_cs_values(data_dir, name, k):
    x = np.load(data_dir / f"sequences/delta_cs/rna/RNA{k}_x.npy")
    y = np.load(data_dir / f"sequences/delta_cs/rna/RNA{k}_y.npy").reshape(-1)
    rows = np.r_[0:5, np.argsort(-y)[:3]]  # a few, including the best starting sequences
    seqs = seqdata.decode(x[rows], "UGCA")
    values = get_task(name)(seqs).values
    np.testing.assert_allclose(values, y[rows], atol=1e-6)
    assert values.max() > 0.1


def test_rna_raw_duplex_energy(data_dir):
    import RNA

    from makeable.sequences.rna import reverse_complement

    target = seqdata.rna_targets()[0]
    assert RNA.duplexfold(target, "AUGGGCCGGACCCC").energy == pytest.approx(-19.8)
    assert RNA.duplexfold(reverse_complement(target), target).energy == pytest.approx(-260.1)
    # FLEXS normalisation: -19.8 / (-260.1 * 14 / 100)
    assert get_task("rna_a").score("AUGGGCCGGACCCC") == pytest.approx(19.8 / 36.414, abs=1e-9)


def test_aav_wild_type_scores_half_and_start_set_below(data_dir):
    task = get_task("aav")
    assert task.length == 90 and task.wild_type.startswith("PSGTTTQSRL")
    assert task.score(task.wild_type) == pytest.approx(0.5)
    seqs, y = task.initial_data()
    assert len(seqs) == 15307 and y.min() > 0 and y.max() < 0.5


def test_ehrlich_optimum_scores_one():
    for name in ("ehrlich_l32_c4_k4", "ehrlich_l64_c4_k4", "ehrlich_l128_c8_k4"):
        task = get_task(name)
        best = task.optimal_solution()
        assert len(best) == task.length
        assert task.score(best) == 1.0


def test_ehrlich_matches_holo_bench_instance():
    """Seed 0 of f(v=32, L=32, c=4, k=4): motifs and spacings as pytorch-holo 0.0.5 draws them."""
    task = get_task("ehrlich_l32_c4_k4")
    assert task.motifs.tolist() == [[10, 17, 13, 30], [14, 21, 28, 13], [14, 28, 13, 16],
                                    [26, 6, 7, 24]]  # fmt: skip
    assert task.spacings.tolist() == [[2, 2, 1], [1, 3, 2], [2, 1, 3], [2, 2, 1]]


def test_ehrlich_infeasible_scores_zero_without_crash():
    task = Ehrlich(num_states=8, length=12, num_motifs=2, motif_length=3, seed=1)
    a, b = np.argwhere(task.transition_matrix == 0)[0]
    best = task.optimal_solution()
    bad = task.alphabet[a] + task.alphabet[b] + best[2:]
    assert not task.feasible(task.encode([bad]))[0]
    result = task([bad, best])
    assert result.values.tolist() == [0.0, 1.0]
    assert result.valid.tolist() == [True, True]


def test_ehrlich_quantization_levels():
    task = Ehrlich(num_states=8, length=16, num_motifs=1, motif_length=4, quantization=2, seed=2)
    best = task.encode([task.optimal_solution()])
    values = {float(task.motif_presence(best)[0, 0])}
    one_off = best.copy()
    one_off[0, 0] = (one_off[0, 0] + 1) % 8
    values.add(float(task.motif_presence(one_off)[0, 0]))
    assert values <= {0.0, 0.5, 1.0}


@pytest.mark.parametrize(
    "seq,message",
    [("ACGTACGX", "'X'"), ("ACGTACG", "length 7"), ("acgtacgt", "not in the alphabet")],
)
def test_invalid_sequence_is_a_clear_error(seq, message, data_dir):
    task = get_task("tfbind8")
    with pytest.raises(InvalidSequenceError, match=message):
        task.validate(seq)
    assert task.parse(seq) is None


def test_invalid_sequences_are_flagged_free_and_never_crash():
    task = get_task("ehrlich_l32_c4_k4")
    good = task.optimal_solution()
    oracle = Oracle(task, budget=10)
    result = oracle.evaluate([good + "A", "?" * 32, good, good])
    assert result.scores.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert result.valid.tolist() == [False, False, True, True]
    assert oracle.n_calls == 1


@pytest.mark.parametrize("name", ["tfbind8", "rna_a", "aav"])
def test_task_data_missing_is_a_clear_error(monkeypatch, name):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    with pytest.raises(seqdata.SequenceDataError, match="set MAKEABLE_DATA"):
        get_task(name)
