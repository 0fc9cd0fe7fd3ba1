"""SMILES language model: tokenizer round trip, safe save/load, learning, training resume."""

from __future__ import annotations

import json
import random

import pytest
import torch

from makeable.chem.smiles_tokens import SmilesTokenizer, TokenizeError, split_smiles
from makeable.models.smiles_lm.io import (
    PriorNotFoundError,
    clone_model,
    load_model,
    load_prior,
    save_model,
)
from makeable.models.smiles_lm.lstm import SmilesLSTM
from tests.conftest import ZINC_FEW
from tests.lm_toys import toy_smiles

TRICKY = [
    *ZINC_FEW,
    "Clc1ccc(Br)cc1[nH+]",
    "C[C@H](N)C(=O)O",
    "F/C=C/F",
    "F/C=C\\Cl",
    "c1ccc2c(c1)[nH]c1ccccc12",
    "C1CC2CC3CC4CC5CC6CC7CC8CC9CC%10CC%11CC1C2C3C4C5C6C7C8C9%10%11",
    "[Na+].[Cl-]",
    "O=S(=O)([O-])c1ccccc1",
    "[2H]C([2H])([2H])O",
    "C#N",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_split_smiles_atom_level_tokens():
    assert split_smiles("Clc1ccc(Br)[nH]1") == [
        "Cl", "c", "1", "c", "c", "c", "(", "Br", ")", "[nH]", "1",
    ]  # fmt: skip
    assert split_smiles("C%10CC%10") == ["C", "%10", "C", "C", "%10"]
    assert split_smiles("[C@@H](F)/C=C\\O") == [
        "[C@@H]", "(", "F", ")", "/", "C", "=", "C", "\\", "O",
    ]  # fmt: skip


@pytest.mark.parametrize("smiles", TRICKY)
def test_round_trip(smiles):
    tokenizer = SmilesTokenizer.build(TRICKY)
    ids = tokenizer.encode(smiles)
    assert ids[0] == tokenizer.bos_id and ids[-1] == tokenizer.eos_id
    assert tokenizer.unk_id not in ids
    assert tokenizer.decode(ids) == smiles


def test_unknown_tokens_and_characters():
    tokenizer = SmilesTokenizer.build(["CCO"])
    assert tokenizer.decode(tokenizer.encode("CCN")) == "CC?"
    assert not tokenizer.covers("CCN") and tokenizer.covers("OCC")
    with pytest.raises(TokenizeError):
        split_smiles("CC€")


def test_vocabulary_json_round_trip(tmp_path):
    tokenizer = SmilesTokenizer.build(TRICKY)
    tokenizer.save(tmp_path / "vocab.json")
    data = json.loads((tmp_path / "vocab.json").read_text())
    assert data["tokens"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert SmilesTokenizer.load(tmp_path / "vocab.json") == tokenizer
    assert SmilesTokenizer.build(reversed(TRICKY)) == tokenizer  # ids do not depend on order


def _tiny(tokenizer: SmilesTokenizer, seed: int = 0, dropout: float = 0.1) -> SmilesLSTM:
    torch.manual_seed(seed)
    return SmilesLSTM(tokenizer, embedding_dim=8, hidden_size=16, n_layers=2, dropout=dropout)


def test_save_load_gives_the_same_model(tmp_path):
    model = _tiny(SmilesTokenizer.build(TRICKY))
    folder = save_model(model, tmp_path / "m", {"note": "test"})
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "model.safetensors", "vocab.json",
    ]  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    assert config["class"] == "SmilesLSTM" and config["args"]["hidden_size"] == 16
    loaded = load_model(folder)
    batch = model.encode_batch(TRICKY)
    model.eval()
    assert torch.equal(model.log_likelihood(batch), loaded.log_likelihood(batch))
    a = model.sample(20, 30, torch.Generator().manual_seed(3))
    b = loaded.sample(20, 30, torch.Generator().manual_seed(3))
    assert a == b
    assert load_prior(folder).config() == model.config()
    copy = clone_model(model)
    assert torch.equal(copy.log_likelihood(batch), model.log_likelihood(batch))


def test_damaged_model_folder_is_a_one_line_error(tmp_path):
    folder = save_model(_tiny(SmilesTokenizer.build(TRICKY)), tmp_path / "m")
    weights = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="model.safetensors is not a readable safetensors file"):
        load_model(folder)
    other = save_model(_tiny(SmilesTokenizer.build(["CCO"])), tmp_path / "other")
    (folder / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="model.safetensors does not fit"):
        load_model(folder)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        load_model(folder)


def test_sampling_respects_max_len_and_generator():
    model = _tiny(SmilesTokenizer.build(TRICKY))
    tokens, finished = model.sample_tokens(
        50, max_len=5, generator=torch.Generator().manual_seed(0)
    )
    assert tokens.shape[1] <= 7
    smiles = model.decode_batch(tokens, finished)
    assert all(len(split_smiles(s)) <= 5 for s in smiles)
    assert all(s == "" for s, f in zip(smiles, finished.tolist(), strict=True) if not f)


def test_missing_prior_is_a_clear_error(tmp_path):
    with pytest.raises(PriorNotFoundError, match="no prior 'nope'"):
        load_prior("nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PriorNotFoundError, match="lacks"):
        load_prior(tmp_path / "empty")


def test_tiny_lstm_learns_a_toy_language():
    from makeable.optimizers.lm_common import imitation_step

    data = toy_smiles(500)
    model = _tiny(SmilesTokenizer.build(data))
    held_out = model.encode_batch(toy_smiles(200, seed=9))
    model.eval()
    before = -model.log_likelihood(held_out).mean().item()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = random.Random(0)
    for _ in range(40):
        model.train()
        imitation_step(model, optimizer, rng.sample(data, 32))
    model.eval()
    after = -model.log_likelihood(held_out).mean().item()
    assert after < 0.6 * before, (before, after)


def test_imitation_step_weights_repeats_like_the_repeated_batch():
    """A batch with repeats gives the same loss and gradient as running every copy."""
    from makeable.optimizers.lm_common import imitation_step, token_batch

    data = toy_smiles(40)
    batch = [data[0], data[1], data[0], data[2], data[0], data[1]]
    model = _tiny(SmilesTokenizer.build(data), dropout=0.0)
    reference = clone_model(model)

    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = imitation_step(model, sgd, batch, clip=1e9)

    tokens = token_batch(reference, batch)
    n_tokens = (tokens[:, 1:] != reference.tokenizer.pad_id).sum()
    expected = -reference.log_likelihood(tokens).sum() / n_tokens
    expected.backward()
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.1 * p.grad
    assert loss == pytest.approx(float(expected.detach()), rel=1e-6)
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_training_resumes_exactly(tmp_path):
    """An interrupted training run, re-run on its folder, ends with the same weights."""
    import makeable.models.smiles_lm.train as train

    data = tmp_path / "toy.smi"
    data.write_text("\n".join(toy_smiles(300)) + "\n")
    config = train.TrainConfig(
        data=str(data), epochs=2, batch_size=32, embedding_dim=8, hidden_size=16, n_layers=1,
        checkpoint_every=5, n_eval_samples=10, lr_final_fraction=0.1, valid_fraction=0.1,
    )  # fmt: skip
    train.train_prior(config, tmp_path / "whole", progress=False)

    original = train.save_checkpoint

    def interrupt(folder, *args):
        original(folder, *args)
        if folder.name == "step_10":
            raise KeyboardInterrupt

    train.save_checkpoint = interrupt  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            train.train_prior(config, tmp_path / "cut", progress=False)
    finally:
        train.save_checkpoint = original  # type: ignore[assignment]
    train.train_prior(config, tmp_path / "cut", progress=False)
    a, b = load_model(tmp_path / "whole" / "final"), load_model(tmp_path / "cut" / "final")
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    log = [json.loads(line) for line in (tmp_path / "whole" / "train_log.jsonl").open()]
    assert log[-1]["step"] == 2 * 9 and log[-1]["valid_nll_per_mol"] < log[0]["valid_nll_per_mol"]


def test_training_refuses_other_settings_in_the_same_folder(tmp_path):
    import makeable.models.smiles_lm.train as train

    data = tmp_path / "toy.smi"
    data.write_text("\n".join(toy_smiles(100)) + "\n")
    base = {"data": str(data), "epochs": 1, "batch_size": 32, "hidden_size": 8, "n_layers": 1}
    train.train_prior(train.TrainConfig(**base, n_eval_samples=0), tmp_path / "t", progress=False)
    with pytest.raises(ValueError, match="other settings"):
        train.train_prior(train.TrainConfig(**base, lr=0.1), tmp_path / "t", progress=False)


def test_sample_metrics():
    from makeable.cli.prior import sample_metrics

    zinc_molecule = "CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1"  # canonical, in ZINC250k
    metrics = sample_metrics([zinc_molecule, "CCO", "OCC", "C1CC", ""])
    assert metrics["validity"] == pytest.approx(3 / 5)
    assert metrics["uniqueness"] == pytest.approx(2 / 3)
    assert metrics["novelty"] == pytest.approx(1 / 2)


def test_shipped_prior_loads_and_samples_valid_smiles() -> None:
    from makeable.chem.molecule import canonical_smiles

    model = load_prior()  # the shipped zinc250k_lstm
    assert model.config()["hidden_size"] == 256
    generator = torch.Generator().manual_seed(0)
    samples = model.sample(200, max_len=100, generator=generator)
    valid = [s for s in samples if canonical_smiles(s) is not None]
    # the prior measures 81.9 % valid on 10,000 samples (docs/benchmarks/prior.md)
    assert len(valid) >= 0.65 * len(samples)
    assert len(set(valid)) >= 0.95 * len(valid)


def test_sampling_never_emits_special_tokens():
    """Even a model that puts nearly all its mass on <pad>/<bos>/<unk> (as a model drifting
    during fine-tuning did) samples only SMILES tokens and <eos>."""
    model = _tiny(SmilesTokenizer.build(toy_smiles(50)))
    tok = model.tokenizer
    with torch.no_grad():
        model.head.bias[[tok.pad_id, tok.bos_id, tok.unk_id]] = 50.0
    tokens, _ = model.sample_tokens(64, max_len=20, generator=torch.Generator().manual_seed(0))
    body = tokens[:, 1:]
    assert tokens.shape[1] >= 2 and bool((tokens[:, 0] == tok.bos_id).all())
    assert not bool(((body == tok.bos_id) | (body == tok.unk_id)).any())
    # <pad> only ever follows the end of a sequence
    for row in body.tolist():
        if tok.pad_id in row:
            assert tok.eos_id in row[: row.index(tok.pad_id)]


def test_sampling_steps_give_the_networks_own_probabilities():
    """Sampling steps the LSTM cell by matrix products and drops rows that stopped; the
    log-probability of what it draws, accumulated step by step, equals the network's own
    (``log_likelihood``: the whole sequence through ``nn.LSTM``, in length groups)."""
    model = _tiny(SmilesTokenizer.build(TRICKY))
    model.eval()
    torch.manual_seed(0)
    for p in model.parameters():  # a peaked network, so sequences end at different lengths
        p.data.normal_(0.0, 0.5)
    generator = torch.Generator().manual_seed(1)
    tokens, finished = model.sample_tokens(70, max_len=12, generator=generator)
    stepped = torch.zeros(len(tokens))
    step = model._stepper(len(tokens))
    pad = model.tokenizer.pad_id
    with torch.no_grad():
        for t in range(tokens.shape[1] - 1):
            logp = torch.log_softmax(step(tokens[:, t : t + 1]), dim=-1)
            target = tokens[:, t + 1]
            stepped += torch.where(target != pad, logp.gather(1, target[:, None])[:, 0], 0.0)
        whole = model.log_likelihood(tokens)
    assert torch.allclose(stepped, whole, atol=1e-4)
    lengths = (tokens != pad).sum(dim=1)
    assert len(set(lengths.tolist())) > 1  # the length groups were exercised
    # rows dropped from the batch keep the others' state: the same logits as without dropping
    full, part, rows = model._stepper(len(tokens)), model._stepper(len(tokens)), [0, 5, 9]
    with torch.no_grad():
        full(tokens[:, :1]), part(tokens[:, :1])
        part.keep(torch.tensor(rows))
        assert torch.allclose(full(tokens[:, 1:2])[rows], part(tokens[rows, 1:2]), atol=1e-6)
