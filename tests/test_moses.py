"""The MOSES metrics on tiny hand-computable sets, ChemNet/FCD, and `makeable bench moses`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from makeable.cli.main import main
from makeable.generative import chemnet as cn
from makeable.generative import metrics as m

GEN = ["CCO", "C1CC", "xyz", "c1ccccc1", "CCO"]


def mols(smiles: list[str]) -> list[Chem.Mol]:
    return [m.get_mol(s) for s in smiles]


def test_validity_uniqueness_novelty_by_hand():
    assert m.fraction_valid(GEN) == pytest.approx(3 / 5)  # unclosed ring and "xyz" invalid
    valid = m.remove_invalid(GEN)
    assert valid == ["CCO", "c1ccccc1", "CCO"]
    assert m.fraction_unique(valid) == pytest.approx(2 / 3)
    assert m.fraction_unique(valid, 2) == 1.0
    assert m.fraction_unique(valid, 1000) == pytest.approx(2 / 3)  # fewer than k: all of them
    assert m.novelty(valid, {"CCO"}) == 0.5  # distinct {CCO, benzene}, one in train
    with pytest.raises(ValueError):
        m.fraction_valid([])


def test_tanimoto_aggregates_by_hand():
    ref = np.array([[1, 1, 0, 0]], dtype=np.uint8)
    gen = np.array([[1, 0, 0, 0], [0, 0, 1, 1]], dtype=np.uint8)
    assert m.snn(ref, gen) == pytest.approx((1 / 2 + 0) / 2)
    disjoint = np.array([[1, 0], [0, 1]], dtype=np.uint8)
    assert m.internal_diversity(disjoint) == pytest.approx(0.5)  # T = identity: row means 1/2
    assert m.internal_diversity(disjoint, p=2) == pytest.approx(1 - math.sqrt(0.5))
    empty = np.zeros((2, 4), dtype=np.uint8)
    assert m.internal_diversity(empty) == 0.0  # two empty vectors count as identical


def test_intdiv_snn_of_real_molecules():
    same = m.fingerprints(mols(["CC(=O)Nc1ccc(O)cc1", "CC(=O)Nc1ccc(O)cc1"]))
    assert same.shape == (2, 1024) and same.dtype == np.uint8
    assert m.internal_diversity(same) == pytest.approx(0.0)
    fps = m.fingerprints(mols(["CCO", "c1ccccc1Cl", "CCN(CC)CC"]))
    assert m.snn(fps, fps) == pytest.approx(1.0)
    assert 0 < m.internal_diversity(fps) < 1


def test_cosine_fragments_and_scaffolds():
    assert m.cos_similarity({"a": 1, "b": 1}, {"a": 1}) == pytest.approx(1 / math.sqrt(2))
    assert math.isnan(m.cos_similarity({}, {"a": 1}))
    ms = mols(["CCOC(=O)c1ccccc1", "O=C(Nc1ccccc1)c1ccc2ccccc2c1", "c1ccccc1"])
    frag = m.compute_fragments(ms)
    assert m.cos_similarity(frag, frag) == pytest.approx(1.0)
    assert "c1ccccc1" in frag  # benzene itself has no BRICS bond
    scaf = m.compute_scaffolds(ms)
    # one ring is below MOSES's two-ring minimum: only the naphthyl amide's scaffold counts
    assert scaf == {"O=C(Nc1ccccc1)c1ccc2ccccc2c1": 1}
    assert m.cos_similarity(scaf, scaf) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("smiles", "passes"),
    [
        ("CC(=O)Nc1ccc(O)cc1", True),
        ("CC[N+](C)(C)C", False),  # a charge
        ("CP(C)C", False),  # phosphorus is not allowed
        ("C1CCCCCCC1", False),  # an 8-membered ring
        ("ClCc1ccccc1", False),  # MCF: a CH2 halide
        ("S=C1SC(=Cc2ccccc2)C(=O)N1", False),  # PAINS: ene_rhod
    ],
)
def test_moses_filters(smiles, passes):
    assert m.mol_passes_filters(m.get_mol(smiles)) is passes


def test_filters_set_and_share():
    assert len(m.moses_filters()) == 22 + 480
    assert m.fraction_passes_filters(mols(["CCO", "CC[N+](C)(C)C"])) == 0.5


def test_one_hot_reads_two_letter_symbols():
    x = cn.one_hot("ClCBr")
    assert x.shape == (cn.PAD_LEN, 35)
    picked = [cn.VOCAB[i] for i in x[:4].argmax(1)]
    assert picked == ["Cl", "C", "Br", "."]
    assert x[4:].sum() == 0
    assert cn.VOCAB[cn.one_hot("[Na+]")[2].argmax()] == "X"  # "a" is not a ChemNet symbol


def test_frechet_distance_by_hand():
    # 1-D: (0 - 2)^2 + 1 + 4 - 2 sqrt(1 * 4) = 5
    assert cn.frechet_distance([0.0], [[1.0]], [2.0], [[4.0]]) == pytest.approx(5.0)
    a = np.diag([1.0, 2.0])
    assert cn.frechet_distance([0, 0], a, [0, 0], a) == pytest.approx(0.0, abs=1e-12)


def test_chemnet_weights_are_safetensors_and_match_fcd_torch():
    path = cn.weights_path()
    assert path.read_bytes()[8:9] == b"{"  # safetensors: 8-byte length, then a JSON header
    shipped = {p.suffix for p in path.parent.iterdir()}
    assert not shipped & {".pt", ".pkl", ".pickle", ".pth"}
    model = cn.load_chemnet()
    acts = cn.chemnet_activations(
        [
            "CC1C2CCC(C2)C1CN(CCO)C(=O)c1ccc(Cl)cc1",
            "COc1ccc(-c2cc(=O)c3c(O)c(OC)c(OC)cc3o2)cc1O",
        ],
        model,
    )
    # fcd_torch 1.0.7's activations for the first two MOSES test molecules
    expected = [
        [-0.09534396, 0.00581076, -0.08196947, 0.07535731],
        [-0.42407277, 0.04209966, -0.03509141, 0.19191499],
    ]
    np.testing.assert_allclose(acts[:, :4], expected, atol=1e-5)


def test_chemnet_refuses_other_files(tmp_path):
    import torch
    from safetensors.torch import save_file

    bad = tmp_path / "x.safetensors"
    save_file({"w": torch.zeros(2)}, str(bad), metadata={"format": "other"})
    with pytest.raises(ValueError, match="not a ChemNet weights file"):
        cn.load_chemnet(bad)


def test_fcd_self_zero_and_different_positive():
    model = cn.load_chemnet()
    a = ["CCO", "c1ccccc1Cl", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1"] * 3
    b = ["CCCCCCCC", "c1ccncc1Br", "OCC(O)CO", "FC(F)(F)c1ccccc1", "C1CCNCC1"] * 3
    mu_a, s_a = cn.gaussian_fit(cn.chemnet_activations(a, model))
    mu_b, s_b = cn.gaussian_fit(cn.chemnet_activations(b, model))
    assert cn.frechet_distance(mu_a, s_a, mu_a, s_a) == pytest.approx(0.0, abs=1e-3)
    assert cn.frechet_distance(mu_a, s_a, mu_b, s_b) > 1.0
    with pytest.raises(ValueError):
        cn.chemnet_activations(["not a smiles"], model)


def test_bench_moses_missing_data_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    assert main(["bench", "moses", "--n", "10", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "MAKEABLE_DATA" in err
    code = main(["bench", "moses", "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "molecules/moses/train.csv.gz" in err


def test_bench_moses_on_a_samples_file(tmp_path: Path, data_dir: Path):
    samples = tmp_path / "gen.smi"
    samples.write_text("CCO\nc1ccccc1Cl\nnot_smiles\nCC(=O)Nc1ccc(O)cc1\nCCN(CC)CC\n")
    out = tmp_path / "bench"
    args = ["bench", "moses", "--samples", str(samples), "--model", "toy", "--n", "5"]
    args += ["--reference-limit", "40", "--data", str(data_dir), "--out", str(out)]
    assert main([*args, "--no-progress"]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[0].startswith("model,seed,n,valid")
    assert rows[1].startswith("toy (samples),0,5,0.8,")
    assert main([*args, "--no-progress"]) == 0  # a rerun replaces its row
    assert len((out / "results.csv").read_text().splitlines()) == 2
    assert (out / "summary.md").is_file()
    assert (out / "runs" / "toy_n5_seed0" / "metrics.json").is_file()
