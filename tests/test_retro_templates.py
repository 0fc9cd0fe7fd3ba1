"""Template extraction and application (rdchiral): round trips on USPTO reactions."""

from __future__ import annotations

from pathlib import Path

import pytest

from makeable.chem.reaction import Reaction
from makeable.retro.single_step.metrics import exact_match
from makeable.retro.single_step.templates import (
    apply_template,
    apply_templates,
    compile_template,
    extract_template,
)
from tests.retro_toys import MAPPED


@pytest.mark.parametrize("mapped", MAPPED)
def test_extracted_template_gives_the_recorded_reactants_back(mapped: str) -> None:
    reaction = Reaction.from_smiles(mapped)
    template = extract_template(reaction)
    assert template is not None and ">>" in template
    outcomes = apply_template(template, reaction.product.smiles)
    assert any(exact_match(o, reaction.reactants) for o in outcomes), (template, outcomes)


def test_stereo_survives_the_round_trip() -> None:
    reaction = Reaction.from_smiles(MAPPED[5])
    assert "@" in reaction.product.smiles
    template = extract_template(MAPPED[5])
    assert template is not None and "@" in template
    outcomes = apply_template(template, reaction.product.smiles)
    assert any(exact_match(o, reaction.reactants) for o in outcomes)


def test_non_matching_template_and_bad_input() -> None:
    template = extract_template(MAPPED[3])  # Boc deprotection
    assert template is not None
    assert apply_template(template, "c1ccccc1") == []
    assert extract_template("CCO") is None  # not a reaction
    assert extract_template("CCO>>CCO") is None  # unmapped: nothing changes
    with pytest.raises(ValueError):
        compile_template("not a template")
    assert compile_template(template) is compile_template(template)  # cached


def test_apply_templates_in_order() -> None:
    templates = [extract_template(m) for m in MAPPED[:4]]
    product = Reaction.from_smiles(MAPPED[3]).product.smiles
    found = apply_templates([t for t in templates if t], product)
    assert [i for i, _ in found] == [3]


def test_mhn_training_templates_apply(data_dir: Path) -> None:
    from makeable.retro.single_step.data import load_uspto50k

    train = load_uspto50k("train", limit=20)
    assert all(r.metadata["template"] for r in train)
    hits = sum(
        any(
            exact_match(o, r.reactants)
            for o in apply_template(r.metadata["template"], r.product.smiles)
        )
        for r in train
    )
    assert hits >= 19


def test_several_outcomes_come_in_the_same_order_in_every_process():
    """rdchiral returns a template's outcomes from a set (hash order, drawn per process); they
    share one probability, so their order broke ties in planning. apply_template sorts them."""
    import os
    import subprocess
    import sys

    code = (
        "from makeable.retro.single_step.templates import apply_template;"
        "print(apply_template('[C:1](=[O:2])-[NH;D2;+0:3]-[c:4]>>O-[C:1]=[O:2].[NH2;D1;+0:3]"
        "-[c:4]', 'CC(=O)Nc1ccc(NC(=O)CC)cc1'))"
    )
    outputs = set()
    for seed in ("0", "1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert outputs.pop().strip() == (
        "[('CC(=O)Nc1ccc(N)cc1', 'CCC(=O)O'), ('CC(=O)O', 'CCC(=O)Nc1ccc(N)cc1')]"
    )


def test_listed_atoms_give_rdchirals_own_outcomes_and_are_restored() -> None:
    """Template application lists a molecule's atoms and bonds instead of RDKit's slow
    sequence object and skips rdchiral's own SMILES round trip of each outcome; every template
    of the toy reactions, applied to every toy product, gives the same outcomes as plain
    rdchiral, and RDKit's iteration and rdchiral's canonicalisation are back afterwards."""
    import rdchiral.main
    from rdchiral.main import rdchiralRun
    from rdkit.Chem import rdchem

    from makeable.retro.single_step.templates import canonical_outcome, prepare_product

    own = rdchem.Mol.GetAtoms
    templates = [t for t in (extract_template(m) for m in MAPPED) if t is not None]
    products = [Reaction.from_smiles(m).product.smiles for m in MAPPED]
    for template in templates:
        rxn = compile_template(template)
        for product in products:
            prod = prepare_product(product)
            listed = apply_template(rxn, prod)
            plain = {
                canonical_outcome(o) for o in rdchiralRun(rxn, prod, combine_enantiomers=False)
            }
            assert listed == sorted(o for o in plain if o is not None)
    assert rdchem.Mol.GetAtoms is own
    assert rdchiral.main.canonicalize_outcome_smiles("OCC.C") == "C.CCO"
    from rdkit import Chem

    assert not isinstance(Chem.MolFromSmiles("CCO").GetAtoms(), list)
