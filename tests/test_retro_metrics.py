"""Reaction values and the USPTO-50k exact-match metric on hand-made cases."""

from __future__ import annotations

import pytest

from makeable.chem.molecule import Molecule
from makeable.chem.reaction import InvalidReactionError, Reaction
from makeable.retro.single_step.metrics import (
    exact_match,
    match_rank,
    reactant_key,
    top_k_accuracy,
)
from tests.retro_toys import MAPPED


def test_reaction_identity_ignores_maps_order_and_reagents() -> None:
    a = Reaction.from_smiles("[CH3:1][OH:2].[Na+].[Cl-]>>[CH3:1][O:2]C")
    b = Reaction.from_smiles("[Cl-].[Na+].OC>O>COC", id="x")
    assert a == b and hash(a) == hash(b)
    assert a.product == Molecule.from_smiles("COC")
    assert [m.smiles for m in a.reactants] == sorted(m.smiles for m in a.reactants)
    assert b.reagents == (Molecule("O"),) and b.metadata["id"] == "x"
    assert "mapped" in a.metadata and "mapped" not in b.metadata


def test_reaction_from_mapped_uspto() -> None:
    r = Reaction.from_smiles(MAPPED[0])
    assert r.smiles == "CCCc1ccccc1O.CI>>CCCc1ccccc1OC"


@pytest.mark.parametrize("bad", ["", "CCO", "C>>", ">>CC", "C1CC>>CC", "A>B>C>D", None])
def test_invalid_reaction_smiles_raise(bad: object) -> None:
    with pytest.raises(InvalidReactionError):
        Reaction.from_smiles(bad)  # type: ignore[arg-type]


def test_exact_match_is_order_free_and_ignores_atom_maps() -> None:
    ref = "CC(=O)Cl.NCc1ccccc1"
    assert exact_match("NCc1ccccc1.CC(=O)Cl", ref)
    assert exact_match(["C(c1ccccc1)N", "ClC(C)=O"], ref)
    assert exact_match("[CH3:1][C:2](=[O:3])Cl.[NH2:4][CH2:5]c1ccccc1", ref)
    assert exact_match([Molecule.from_smiles("CC(=O)Cl"), "NCc1ccccc1"], ref)
    assert not exact_match("CC(=O)Cl", ref)  # a missing reactant
    assert not exact_match("CC(=O)Cl.NCc1ccccc1.O", ref)  # an extra one
    assert not exact_match("CC(=O)Br.NCc1ccccc1", ref)


def test_exact_match_compares_sets_and_rejects_invalid() -> None:
    assert exact_match("CCO.CCO.CC(=O)O", "CC(=O)O.CCO")  # sets: a repeat counts once
    assert not exact_match("CCO.C1CC", "CCO")
    assert not exact_match("", "CCO")
    assert reactant_key("C1CC") is None


def test_stereo_policy() -> None:
    ref = "C[C@H](N)C(=O)O"
    assert exact_match("C[C@H](N)C(=O)O", ref)
    assert not exact_match("C[C@@H](N)C(=O)O", ref)  # wrong configuration: wrong
    assert not exact_match("CC(N)C(=O)O", ref)  # missing stereo: wrong
    assert exact_match("C[C@@H](N)C(=O)O", ref, stereo=False)
    assert exact_match("CC(N)C(=O)O", ref, stereo=False)
    assert not exact_match("C/C=C/C", "C/C=C\\C")
    assert exact_match("C/C=C/C", "C/C=C\\C", stereo=False)


def test_match_rank_and_top_k() -> None:
    ranked = ["CCO", "CC(=O)O.OCC", "CC(=O)O"]
    assert match_rank(ranked, "OCC.OC(C)=O") == 2
    assert match_rank(ranked, "CCN") is None
    acc = top_k_accuracy([1, 2, None, 5], ks=(1, 3, 5))
    assert acc == {1: 0.25, 3: 0.5, 5: 0.75}
    assert top_k_accuracy([], ks=(1,)) == {1: 0.0}
