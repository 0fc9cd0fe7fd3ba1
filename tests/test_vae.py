"""SMILES VAE: the loss parts by hand, safe save/load, reconstruction, exact resume, the CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from makeable.chem.molecule import canonical_smiles
from makeable.chem.smiles_tokens import SmilesTokenizer
from makeable.cli.main import main
from makeable.generative.vae import (
    SmilesVAE,
    beta_at,
    kl_divergence,
    masked_mse,
    reconstruction_nll,
    vae_loss,
)
from makeable.generative.vae_data import read_table
from makeable.generative.vae_io import load_vae, save_vae, vae_path
from makeable.generative.vae_train import VAETrainConfig, train_vae
from tests.conftest import ZINC_FEW
from tests.lm_toys import toy_smiles
from tests.test_cli_bad_input import one_error

FEW = [canonical_smiles(s) or "" for s in [*ZINC_FEW, "CCO", "c1ccccc1O"]]
TINY = {"latent_dim": 8, "embedding_dim": 8, "encoder_hidden": 16, "decoder_hidden": 16}


pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(props: bool = False, seed: int = 0) -> SmilesVAE:
    torch.manual_seed(seed)
    heads = {"property_names": ["logp", "qed"], "property_means": [2.0, 0.5]} if props else {}
    if props:
        heads["property_stds"] = [1.5, 0.2]
    return SmilesVAE(SmilesTokenizer.build([*FEW, *toy_smiles(50)]), **TINY, **heads)


def _config(data: Path, **kw) -> VAETrainConfig:
    base = {
        "data": str(data), **TINY, "batch_size": 16, "beta_warmup": 4, "valid_fraction": 0.1,
        "checkpoint_every": 3, "eval_size": 6, "max_len": 60,
    }  # fmt: skip
    return VAETrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny VAE with logp/qed heads, trained 6 steps on toy chains (a model folder)."""
    root = tmp_path_factory.mktemp("vae")
    data = root / "toy.smi"
    data.write_text("\n".join(toy_smiles(80)) + "\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_vae(
            _config(data, properties=("logp", "qed")), root / "run", steps=6, progress=False
        )
    finally:
        torch.set_num_threads(threads)


# -- the loss --------------------------------------------------------------------------------
def test_kl_annealing_schedule():
    assert [beta_at(s, 0.5, 4) for s in range(6)] == [0.0, 0.125, 0.25, 0.375, 0.5, 0.5]
    assert beta_at(0, 0.3, 0) == 0.3  # no warm-up
    assert beta_at(10_000, 1.0, 10_000) == 1.0


def test_masked_property_loss_ignores_missing_labels():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[0.0, math.nan], [math.nan, 1.0]])
    # present: (1 - 0)^2 and (4 - 1)^2 -> (1 + 9) / 2
    assert float(masked_mse(pred, target)) == pytest.approx(5.0)
    assert float(masked_mse(pred, torch.full((2, 2), math.nan))) == 0.0
    pred.requires_grad_(True)
    masked_mse(pred, target).backward()
    assert pred.grad is not None
    assert pred.grad.tolist() == [[1.0, 0.0], [0.0, 3.0]]  # 2 * diff / 2 where labelled


def test_kl_and_free_bits_by_hand():
    mu = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    logvar = torch.zeros(2, 2)
    # per dimension 0.5 * (mu^2 + e^0 - 1 - 0): 0.5 and 0
    assert float(kl_divergence(mu, logvar)) == pytest.approx(0.5)
    assert float(kl_divergence(mu, logvar, free_bits=0.25)) == pytest.approx(0.75)
    tokens = torch.tensor([[1, 5, 2, 0]])
    logits = torch.zeros(1, 3, 7)  # uniform over 7 tokens; the <pad> target does not count
    assert float(reconstruction_nll(logits, tokens[:, 1:], 0)[0]) == pytest.approx(2 * math.log(7))


def test_loss_adds_the_weighted_parts():
    model = _tiny(props=True)
    tokens = model.token_batch(FEW[:3])
    props = torch.tensor([[1.0, math.nan], [2.0, 0.4], [math.nan, math.nan]])
    torch.manual_seed(1)
    parts = vae_loss(model, tokens, props, beta=0.5, property_weight=2.0)
    total = parts.recon + 0.5 * parts.kl + 2.0 * parts.property_mse
    assert float(parts.total.detach()) == pytest.approx(float(total), rel=1e-6)
    assert float(parts.property_mse) > 0


# -- the model -------------------------------------------------------------------------------
def test_save_load_gives_identical_outputs(tmp_path):
    model = _tiny(props=True)
    folder = save_vae(model, tmp_path / "m", {"note": "test"})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["args"]["property_names"] == ["logp", "qed"] and config["training"]["note"]
    loaded = load_vae(folder)
    mu, logvar = model.encode(FEW)
    mu2, logvar2 = loaded.encode(FEW)
    assert torch.equal(mu, mu2) and torch.equal(logvar, logvar2)
    assert torch.equal(model.predict_properties(mu), loaded.predict_properties(mu))
    assert model.sample(30, seed=4) == loaded.sample(30, seed=4)
    assert model.decode(mu) == loaded.decode(mu)


def test_damaged_or_wrong_model_folder_is_a_one_line_error(tmp_path):
    folder = save_vae(_tiny(), tmp_path / "m")
    weights = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        load_vae(folder)
    other = save_vae(_tiny(props=True), tmp_path / "other")
    (folder / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="does not fit"):
        load_vae(folder)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        load_vae(folder)
    (folder / "config.json").write_text('{"class": "SmilesLSTM"}')
    with pytest.raises(ValueError, match="describes a SmilesLSTM, not a SMILES VAE"):
        load_vae(folder)
    with pytest.raises(ValueError, match="no SMILES VAE model folder"):
        load_vae(tmp_path / "missing")
    with pytest.raises(ValueError, match="no SMILES VAE ships with makeable yet"):
        vae_path(None)


def test_encode_names_what_it_cannot_encode():
    model = _tiny()
    with pytest.raises(ValueError) as info:
        model.encode(["CCO", "C1CC", "CC[Xe]", "C" * 101])
    message = str(info.value)
    assert "cannot encode 3 of 4 SMILES" in message and "\n" not in message
    assert "row 2 'C1CC' (RDKit cannot parse it)" in message
    assert "row 3 'CC[Xe]' (tokens [Xe] not in the vocabulary)" in message
    assert "row 4" in message and "(101 tokens, most 100)" in message
    mu, _ = model.encode(["OCC"])  # canonicalised first: the same latent as CCO
    assert torch.equal(mu, model.encode(["CCO"])[0])


def test_sampling_is_deterministic_for_a_seed():
    model = _tiny()
    a = model.sample(40, seed=3)
    assert a == model.sample(40, seed=3) and a != model.sample(40, seed=4)
    assert all(a) and len(a) == 40  # never an empty string
    assert model.sample(40, seed=3, greedy=True) == model.sample(40, seed=3, greedy=True)
    assert model.sample(40, seed=3, batch_size=7)  # several batches
    with pytest.raises(ValueError, match="temperature must be > 0"):
        model.sample(2, temperature=0.0)


def test_overfit_model_reconstructs_its_molecules():
    """Trained on six molecules, greedy decoding of each latent mean gives it back (all six
    from step 75 on)."""
    molecules = [
        canonical_smiles(s) or ""
        for s in ("CCO", "c1ccccc1O", "CC(=O)Nc1ccccc1", "CCN(CC)CC", "O=C1CCCCC1", ZINC_FEW[0])
    ]
    torch.manual_seed(0)
    sizes = {**TINY, "encoder_hidden": 32, "decoder_hidden": 32}
    model = SmilesVAE(SmilesTokenizer.build([*molecules, *toy_smiles(50)]), **sizes)
    tokens = model.token_batch(molecules)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    model.train()
    for _ in range(100):
        parts = vae_loss(model, tokens, None, beta=1e-3)
        optimizer.zero_grad()
        parts.total.backward()
        optimizer.step()
    mu, _ = model.encode(molecules)
    assert model.decode(mu) == molecules


# -- training --------------------------------------------------------------------------------
def test_training_resumes_exactly(tmp_path):
    """8 steps in one call and 4 + 4 in two calls (the second resumed) end with the same
    weights and the same log (across an epoch boundary: 4 batches an epoch)."""
    data = tmp_path / "toy.smi"
    data.write_text("\n".join(toy_smiles(70)) + "\n")
    config = _config(data)
    train_vae(config, tmp_path / "whole", steps=8, progress=False)
    train_vae(config, tmp_path / "cut", steps=4, progress=False)
    with pytest.raises(ValueError, match="pass --resume"):
        train_vae(config, tmp_path / "cut", steps=4, progress=False)
    train_vae(config, tmp_path / "cut", steps=4, resume=True, progress=False)
    a, b = load_vae(tmp_path / "whole"), load_vae(tmp_path / "cut")
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))

    def log(name: str) -> dict[str, dict[str, str]]:
        with open(tmp_path / name / "train_log.csv") as fh:
            return {
                r["step"]: {k: v for k, v in r.items() if k != "train_s"}
                for r in csv.DictReader(fh)
            }

    whole, cut = log("whole"), log("cut")
    assert list(whole) == ["3", "6", "8"] and list(cut) == ["3", "4", "6", "8"]
    assert all(whole[s] == cut[s] for s in whole)
    assert whole["8"]["epoch"] == "2.0" and whole["8"]["beta"] == "0.05"  # warmed up
    assert whole["8"]["train_property_mse"] == ""  # no heads
    with pytest.raises(ValueError, match="other settings"):
        train_vae(_config(data, lr=0.1), tmp_path / "cut", steps=1, resume=True, progress=False)


def test_properties_from_columns_or_computed(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("SMILES,logP,note\nCCO,-0.1,a\nc1ccccc1,,b\n")
    smiles, values, _ = read_table(str(table), ["logp", "qed"])
    assert smiles == ["CCO", "c1ccccc1"]
    assert values[0, 0] == -0.1 and math.isnan(values[1, 0])  # the column, any case
    assert values[:, 1] == pytest.approx([0.4068, 0.4427], abs=1e-3)  # qed computed
    with pytest.raises(ValueError, match="property 'mw' is no column"):
        read_table(str(table), ["mw"])
    table.write_text("smiles,logP\nCCO,high\n")
    with pytest.raises(ValueError, match="line 2, column logP: 'high' is not a number"):
        read_table(str(table), ["logP"])
    table.write_text("smiles\nCCO\nC1CC\n")
    with pytest.raises(ValueError, match="1 SMILES RDKit cannot parse: row 2 'C1CC'"):
        read_table(str(table), [])


def test_trained_folder_is_a_model_with_property_heads(trained):
    model = load_vae(trained)
    assert model.property_names == ["logp", "qed"]
    record = json.loads((trained / "config.json").read_text())["training"]
    assert record["step"] == 6 and record["n_train"] + record["n_valid"] == 80
    mu, _ = model.encode(toy_smiles(3, seed=5))
    assert model.predict_properties(mu).shape == (3, 2)
    assert (trained / "valid.csv.gz").is_file() and (trained / "versions.json").is_file()


# -- the command line ------------------------------------------------------------------------
def test_cli_sample_encode_decode(trained, tmp_path, capsys):
    out = tmp_path / "s.smi"
    assert main(["vae", "sample", "--n", "25", "--seed", "1", "--model", str(trained),
                 "--out", str(out)]) == 0  # fmt: skip
    lines = out.read_text().splitlines()
    assert len(lines) == 25 and all(lines)
    assert "molecules/s" in capsys.readouterr().out
    smi = tmp_path / "in.smi"
    smi.write_text("CCOCC\nCCN  name\n")
    npz = tmp_path / "z.npz"
    assert main(["vae", "encode", str(smi), "--model", str(trained), "--out", str(npz)]) == 0
    with np.load(npz, allow_pickle=False) as data:
        assert data["mu"].shape == (2, 8) and data["row"].tolist() == [1, 2]
        assert data["smiles"].tolist() == ["CCOCC", "CCN"]
        assert data["property_names"].tolist() == ["logp", "qed"]
    dec = tmp_path / "d.smi"
    assert main(["vae", "decode", str(npz), "--model", str(trained), "--out", str(dec)]) == 0
    assert len(dec.read_text().splitlines()) == 2


def test_cli_errors_are_one_line(trained, tmp_path, capsys):
    line = one_error(
        capsys, ["vae", "train", str(tmp_path / "nope.smi"), "--out", str(tmp_path / "t")]
    )
    assert "no such data file" in line and not (tmp_path / "t").exists()
    line = one_error(capsys, ["vae", "encode", str(tmp_path / "nope.smi"), "--model", str(trained),
                              "--out", str(tmp_path / "z.npz")])  # fmt: skip
    assert "no such file" in line
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    (bad / "model.safetensors").write_bytes(b"junk")
    line = one_error(
        capsys, ["vae", "sample", "--n", "3", "--model", str(bad), "--out", str(tmp_path / "s")]
    )
    assert "is not a SMILES VAE config" in line
    line = one_error(capsys, ["vae", "sample", "--n", "3", "--out", str(tmp_path / "s")])
    assert "no SMILES VAE ships with makeable yet" in line and "makeable vae train" in line
    smi = tmp_path / "bad.smi"
    smi.write_text("CCO\nnot a smiles\n")
    line = one_error(capsys, ["vae", "encode", str(smi), "--model", str(trained), "--out",
                              str(tmp_path / "z.npz")])  # fmt: skip
    assert "row 2 'not' (RDKit cannot parse it)" in line
    line = one_error(capsys, ["vae", "decode", str(smi), "--model", str(trained), "--out",
                              str(tmp_path / "d.smi")])  # fmt: skip
    assert "is not an .npz file" in line
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, z=np.zeros((2, 3)))
    line = one_error(capsys, ["vae", "decode", str(wrong), "--model", str(trained), "--out",
                              str(tmp_path / "d.smi")])  # fmt: skip
    assert "latent vectors must be (n, 8), got (2, 3)" in line


# -- property heads: targeting and the vae-heads benchmark ----------------------------------
def test_targeting_moves_the_heads_prediction_to_the_target():
    from makeable.generative.targeting import target_latents

    vae = _tiny(props=True)
    for target in (0.5, 4.0):
        z = target_latents(vae, "logp", target, n=40, seed=0, steps=300, lr=0.1, prior_weight=0)
        predicted = vae.predict_properties(z)[:, 0]
        assert float((predicted - target).abs().mean()) < 0.05
    start = torch.randn(40, 8, generator=torch.Generator().manual_seed(0))
    assert float((vae.predict_properties(start)[:, 0] - 4.0).abs().mean()) > 0.3
    with pytest.raises(ValueError, match="no 'sas' head"):
        target_latents(vae, "sas", 3.0, n=4, seed=0)


def test_targeted_metrics_by_hand():
    from rdkit import Chem
    from rdkit.Chem import Crippen

    from makeable.generative.targeting import property_function, targeted

    ethanol = Crippen.MolLogP(Chem.MolFromSmiles("CCO"))
    benzene = Crippen.MolLogP(Chem.MolFromSmiles("c1ccccc1"))
    result = targeted(["CCO", "OCC", "c1ccccc1", "C1C"], "logP", ethanol, tolerance=0.1)
    assert result.n == 4 and result.valid == 0.75 and result.unique == pytest.approx(2 / 3)
    assert result.mae == pytest.approx(abs(benzene - ethanol) / 3)
    assert result.within == pytest.approx(2 / 3)
    assert result.mean_value == pytest.approx((2 * ethanol + benzene) / 3)
    none = targeted(["C1C", ""], "qed", 0.5, tolerance=0.1)
    assert none.valid == 0 and math.isnan(none.mae) and none.within == 0
    with pytest.raises(ValueError, match="known are logP, qed, SAS"):
        property_function("tpsa")


def test_mean_and_95_interval_over_seeds():
    from makeable.bench.vae_heads import mean_ci

    mean, half = mean_ci([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6) and half == pytest.approx(4.303 * 0.1 / math.sqrt(3))
    assert math.isnan(mean_ci([0.4])[1]) and math.isnan(mean_ci([])[0])


def test_bench_vae_heads_compares_groups(trained, tmp_path, capsys):
    bare = tmp_path / "no_heads"
    save_vae(_tiny(), bare)
    out = tmp_path / "heads"
    argv = ["bench", "vae-heads", "--models", f"two={trained}", f"none={bare}",
            "--property", "logp", "--interpolative", "1.0", "--extrapolative", "6.0",
            "--n", "12", "--steps", "20", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [(r["label"], r["kind"], r["target"]) for r in rows] == [
        ("two", "prior", ""), ("two", "interpolative", "1.0"), ("two", "extrapolative", "6.0"),
        ("none", "prior", ""),
    ]  # fmt: skip
    assert rows[0]["heads"] == "logp+qed" and rows[3]["heads"] == "none"
    assert all(0 <= float(r["valid"]) <= 1 for r in rows)
    summary = (out / "summary.md").read_text()
    assert "| two | 1 | logp+qed | interpolative | 1.0 |" in summary
    assert "VAE property heads: logp" in capsys.readouterr().out
    line = one_error(capsys, [*argv[:3], f"none={bare}", *argv[5:]])
    assert "none of the models has a 'logp' head" in line
    line = one_error(capsys, [*argv[:3], str(tmp_path / "missing"), *argv[5:]])
    assert "no model folder" in line
