"""SAFE strings (fragments joined by ring-closure digits), prompted sampling of a SAFE model,
and the fragment vocabulary of ``fragment_rag``."""

from __future__ import annotations

import gzip
import random
from importlib import resources

import pytest
from rdkit import Chem

from makeable.chem import safe

CASES = {
    # an ether and an amide: BRICS cuts both sides of the O, the C=O and the N (6 pieces)
    "CCOc1ccc(C(=O)NC2CC2)cc1": 6,
    # a biaryl bond between two aromatic atoms: written "-" so the closure is a single bond
    "c1ccc(-c2ccncc2)cc1": 2,
    # stereocentres next to a cut
    "C[C@H](N)C(=O)OC[C@@H]1CCCO1": 4,
    # no BRICS bond: one fragment, the SMILES itself
    "c1ccccc1": 1,
}


def canon(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


@pytest.mark.parametrize("smiles", CASES)
def test_a_safe_string_gives_back_its_molecule_in_any_fragment_order(smiles: str) -> None:
    encoded = safe.encode(smiles)
    assert encoded is not None and encoded.count(".") + 1 == CASES[smiles]
    assert safe.decode(encoded) == canon(smiles)
    for seed in range(5):
        shuffled = safe.encode(smiles, random.Random(seed))
        assert shuffled is not None and safe.decode(shuffled) == canon(smiles)
        # a SAFE string is a SMILES string: RDKit reads it as the molecule
        assert canon(shuffled) == canon(smiles)


def test_the_biaryl_bond_is_written_single() -> None:
    # a ring closure between two aromatic atoms could be read as an aromatic bond: "-" says
    # single on both sides
    assert safe.encode("c1ccc(-c2ccncc2)cc1") == "c1ccc-2cc1.c1cc-2ccn1"


def test_fragments_carry_numbered_attachment_points() -> None:
    frags = safe.fragments("CCOc1ccc(C(=O)NC2CC2)cc1")
    assert sorted(safe.attachments(f) for f in frags) == [1, 1, 2, 2, 2, 2]
    assert all("*" in f for f in frags)
    # fragments joined on equal numbers, in any order, are the molecule again
    joined = safe.join(list(reversed(frags)))
    assert joined is not None and safe.decode(joined) == canon("CCOc1ccc(C(=O)NC2CC2)cc1")


def test_join_refuses_open_or_triple_points_unless_asked() -> None:
    assert safe.join(["[1*]CC"]) is None
    prompt = safe.join(["[1*]CC"], open_ok=True)
    assert prompt == "CC1"  # an open digit: a prompt for the model
    assert safe.decode(prompt + ".C1") == "CCC"
    assert safe.join(["[1*]C", "[1*]N", "[1*]O"]) is None
    assert safe.join(["not smiles"]) is None


def test_decode_refuses_what_is_not_one_molecule() -> None:
    assert safe.decode("CC1.CCC") is None  # an open digit
    assert safe.decode("CC.CC") is None  # two molecules
    assert safe.decode("") is None
    assert safe.encode("not smiles") is None and safe.fragments("not smiles") == []


def test_zinc_molecules_round_trip() -> None:
    """Every shipped ZINC250k sample molecule comes back from its SAFE string (a molecule whose
    pieces would lose a double bond's stereo is written whole), most of them in pieces."""
    path = resources.files("makeable.resources").joinpath("zinc250k_sample.smi.gz")
    with gzip.open(str(path), "rt") as fh:
        smiles = [line.split()[0] for line in fh][:300]
    rng = random.Random(0)
    encoded = [safe.encode(s, rng) for s in smiles]
    assert all(
        e is not None and safe.decode(e) == canon(s) for s, e in zip(smiles, encoded, strict=True)
    )
    assert sum("." in str(e) for e in encoded) > 0.9 * len(smiles)


def test_a_safe_model_completes_its_prompts(one_thread: None) -> None:
    import torch

    from makeable.models.smiles_lm.io import load_model
    from tests.lm_toys import tiny_prior

    model = load_model(tiny_prior("safe"))
    assert model.notation == "safe"
    prompt = "NCCCCCC1."
    ids = model.tokenizer.encode(prompt, add_special=False)
    g = torch.Generator().manual_seed(0)
    tokens, ended = model.sample_tokens(20, 40, g, prompts=[ids] * 10 + [[]] * 10)
    texts = model.decode_batch(tokens, ended)
    assert all(
        t.startswith(prompt) for t, e in zip(texts[:10], ended[:10].tolist(), strict=True) if e
    )
    molecules = model.molecules(texts)
    # the completions hold the prompt's fragment
    grown = [m for m in molecules[:10] if m]
    assert grown and all(
        Chem.MolFromSmiles(m).HasSubstructMatch(Chem.MolFromSmiles("NCCCCCC")) for m in grown
    )
    with pytest.raises(ValueError, match="prompts"):
        model.sample_tokens(3, 10, g, prompts=[ids])


def test_the_vocabulary_ranks_fragments_by_their_molecules_scores() -> None:
    from makeable.optimizers.fragment_rag import fragment_vocabulary, prompt

    population = {"CCOCC": 1.0, "CCOCCN": 0.5, "NCCOC": 0.1}
    arms, linkers = fragment_vocabulary(population, 10)
    # [1*]CC is in the 1.0 and 0.5 molecules (mean 0.75), [1*]CCN in the 0.5 one only
    assert arms.index("[1*]CC") < arms.index("[1*]CCN")
    assert all(safe.attachments(a) == 1 for a in arms)
    assert all(safe.attachments(x) == 2 for x in linkers)
    assert fragment_vocabulary(population, 1)[0] == arms[:1]
    # [1*]CCC is in a 0.9 and a 0.1 molecule, [1*]CCN in a 0.6 one: the mean puts [1*]CCN
    # first, the best molecule (f-RAG's ranking) [1*]CCC
    spread = {"CCCOCCC": 0.9, "CCCOC": 0.1, "NCCOCCN": 0.6}
    assert fragment_vocabulary(spread, 2, "mean")[0] == ["[1*]CCN", "[1*]CCC"]
    assert fragment_vocabulary(spread, 2, "max")[0] == ["[1*]CCC", "[1*]CCN"]
    assert prompt(["[1*]CC"]) == "CC1."
    two = prompt(["[1*]CC", "[1*]CCN"])
    assert two is not None and two.count(".") == 2 and safe.decode(two[:-1]) is None


@pytest.mark.parametrize(
    "arm",
    [
        "[1*]C(=O)c1ccccc1",  # a branch, then the chain
        "[1*]c1ccc2c(c1)NC(=O)[C@@H]1CCCCN21",  # the attachment atom opens a ring
        "[1*]N1CCOCC1",
        "[1*]C(C)(C)C",  # branches only
        "[1*]O",  # one atom
        "[1*]=CC",  # a double cut bond
        "[1*]C1=CC(=O)N(C)C1=O",
    ],
)
def test_an_arm_prefix_is_continued_at_the_attachment_atom(arm: str) -> None:
    prefix = safe.arm_prefix(arm)
    assert prefix is not None
    joined = Chem.MolFromSmiles(prefix + "N")
    assert joined is not None
    # what the model writes next sits where the cut bond was: [1*] becomes that atom
    want = Chem.MolFromSmiles(arm.replace("[1*]", "N"))
    assert Chem.MolToSmiles(joined) == Chem.MolToSmiles(want)


def test_arm_prefix_and_extend_arm_refuse_what_they_cannot_use() -> None:
    assert safe.arm_prefix("CCO") is None  # no attachment point
    assert safe.arm_prefix("[1*]CC[2*]") is None  # a linker
    assert safe.arm_prefix("not a molecule") is None
    longer = safe.extend_arm("[1*]C(=O)c1ccccc1", "[1*]N1CCN([2*])CC1")
    assert longer == Chem.MolToSmiles(Chem.MolFromSmiles("[1*]N1CCN(C(=O)c2ccccc2)CC1"))
    assert safe.extend_arm("[1*]C(=O)c1ccccc1", "[1*]N1CCOCC1") is None  # not a linker
    assert safe.extend_arm("[1*]C", "[1*]=C[2*]") is None  # the joined bond's ends disagree


def test_sampling_can_keep_every_ring_digit_closed(one_thread: None) -> None:
    import re

    import torch

    from makeable.models.smiles_lm.io import load_model
    from tests.lm_toys import tiny_prior

    model = load_model(tiny_prior("safe"))
    digits = [model.tokenizer.itos[i] for i in model.ring_digit_ids]
    assert digits and all(re.fullmatch(r"%\d\d|\d", d) for d in digits)
    g = torch.Generator().manual_seed(0)
    tokens, ended = model.sample_tokens(200, 40, g, close_rings=True)
    texts = [t for t, e in zip(model.decode_batch(tokens, ended), ended.tolist(), strict=True) if e]
    assert texts
    # every string that ended holds each digit an even number of times: nothing left open
    for text in texts:
        tokens_of = re.findall(r"%\d\d|\d", text)
        assert all(tokens_of.count(d) % 2 == 0 for d in set(tokens_of)), text


def test_fragment_rag_grows_retrieved_arms_with_a_smiles_prior(tmp_path) -> None:
    from makeable.optimizers import get_optimizer
    from tests.lm_toys import calls_table, design, tiny_prior

    params = {"prior": tiny_prior("smiles"), "population_size": 16, "lm_samples": 16}
    params |= {"ga_offspring": 0, "vocab_size": 8, "linker_share": 0.5}
    _, result = design("fragment_rag", params, 120, tmp_path / "r")
    assert result.metrics["n_calls"] == 120 == len(calls_table(tmp_path / "r"))
    # what the model writes holds the retrieved arm, joined at its attachment atom
    import torch

    from makeable.models.smiles_lm.io import load_model
    from makeable.optimizers.base import DesignContext

    rag = get_optimizer("fragment_rag", lm_samples=24, linker_share=0.0)
    model = load_model(tiny_prior("smiles"))
    written = rag._write(model, ["[1*]NCNC"], [], DesignContext(0, []), torch.Generator())
    assert written
    assert all(Chem.MolFromSmiles(m).HasSubstructMatch(Chem.MolFromSmiles("NCNC")) for m in written)
    with pytest.raises(ValueError, match="nothing to propose"):
        get_optimizer("fragment_rag", lm_samples=0, ga_offspring=0)


def test_prior_train_on_safe_strings(tmp_path, one_thread: None) -> None:
    from makeable.models.smiles_lm.io import load_model
    from makeable.models.smiles_lm.train import TrainConfig, train_prior
    from tests.lm_toys import toy_smiles

    data = tmp_path / "toy.smi"
    data.write_text("\n".join(toy_smiles(300)) + "\n")
    config = TrainConfig(
        data=str(data),
        epochs=1,
        batch_size=64,
        embedding_dim=8,
        hidden_size=16,
        n_layers=1,
        n_eval_samples=10,
        notation="safe",
    )
    best = train_prior(config, tmp_path / "run", progress=False)
    assert load_model(best).notation == "safe"
    with gzip.open(tmp_path / "run" / "safe_strings.txt.gz", "rt") as fh:
        strings = fh.read().split()
    assert len(strings) == 300 and sum("." in s for s in strings) > 100
    with pytest.raises(ValueError, match="notation"):
        TrainConfig(notation="selfies")
