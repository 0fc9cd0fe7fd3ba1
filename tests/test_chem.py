"""Descriptors and fingerprints of :mod:`makeable.chem`."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

from makeable.chem import descriptors, fingerprints

MOLS = [
    "CCO",
    "c1ccccc1C(=O)O",
    "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",
    "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",
    "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C",
    "C1CCCCCCCCCCC1",
    "[Na+].[Cl-]",
]
RING_CASES = [
    "CCO",
    "C1CCCCCCCCCCC1",  # macrocycle
    "c1ccc2ccccc2c1",  # fused
    "C1CC2CCC1CC2",  # bridged
    "C1CCC2(CC1)CCCCCCC2",  # spiro
    "C12C3C4C1C5C2C3C45",  # cage
    "C1=CC2=CC=CC=CC2=C1",  # azulene-like 5-7
    "C1CCC1.C1CCCCCCC1",  # two fragments
]


def _mol(smiles: str) -> Chem.Mol:
    mol = Chem.MolFromSmiles(smiles)
    assert mol is not None
    return mol


@pytest.mark.parametrize("smiles", MOLS)
def test_sa_score_in_range(smiles: str) -> None:
    assert 1.0 <= descriptors.sa_score(_mol(smiles)) <= 10.0


def test_sa_score_orders_simple_before_complex() -> None:
    simple = descriptors.sa_score(_mol("CCO"))
    complex_ = descriptors.sa_score(_mol(MOLS[3]))
    assert simple < complex_


def test_penalized_logp_known_value() -> None:
    # TDC 1.1.15 ``Oracle("logp")`` value for this ZINC molecule.
    mol = _mol("CCCSc1nc2sc(-c3ccccc3)cc2c(=O)n1C")
    assert descriptors.penalized_logp(mol) == pytest.approx(2.370124260993549, abs=1e-9)


def test_penalized_logp_penalises_large_rings() -> None:
    ring12 = _mol("C1CCCCCCCCCCC1")
    expected = (
        (descriptors.crippen_logp(ring12) - descriptors.LOGP_MEAN) / descriptors.LOGP_STD
        + (-descriptors.sa_score(ring12) - descriptors.SA_MEAN) / descriptors.SA_STD
        + (-6 - descriptors.CYCLE_MEAN) / descriptors.CYCLE_STD
    )
    assert descriptors.penalized_logp(ring12) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("smiles", RING_CASES)
def test_largest_cycle_matches_networkx(smiles: str) -> None:
    mol = _mol(smiles)
    basis = nx.cycle_basis(nx.Graph(Chem.GetAdjacencyMatrix(mol)))
    expected = max((len(c) for c in basis), default=0)
    assert descriptors.largest_cycle_basis_ring(mol) == expected


def test_qed_and_crippen() -> None:
    mol = _mol("CC(=O)Oc1ccccc1C(=O)O")
    assert 0.0 < descriptors.qed(mol) < 1.0
    assert descriptors.crippen_logp(mol) == pytest.approx(1.3101, abs=1e-3)


@pytest.mark.parametrize("kind", fingerprints.FP_KINDS)
def test_tanimoto_identical_is_one(kind: str) -> None:
    a = fingerprints.fingerprint(_mol(MOLS[2]), kind)
    b = fingerprints.fingerprint(_mol(MOLS[2]), kind)
    assert fingerprints.tanimoto(a, b) == 1.0


def test_bulk_tanimoto_matches_pairwise() -> None:
    fps = [fingerprints.morgan_counts(_mol(s)) for s in MOLS]
    bulk = fingerprints.bulk_tanimoto(fps[2], fps)
    assert bulk.shape == (len(MOLS),)
    assert bulk[2] == 1.0
    assert bulk.tolist() == [fingerprints.tanimoto(fps[2], f) for f in fps]
    assert fingerprints.bulk_tanimoto(fps[0], []).shape == (0,)


def test_unknown_fingerprint_kind() -> None:
    with pytest.raises(ValueError, match="unknown fingerprint kind"):
        fingerprints.fingerprint(_mol("CCO"), "maccs")


def test_morgan_bits() -> None:
    fp = fingerprints.morgan_bits(_mol(MOLS[1]))
    assert isinstance(fp, DataStructs.ExplicitBitVect)
    assert fp.GetNumBits() == 2048
    assert fingerprints.morgan_bits(_mol(MOLS[1]), n_bits=1024).GetNumBits() == 1024


def test_internal_diversity() -> None:
    same = [_mol("CCO")] * 4
    assert fingerprints.internal_diversity(same) == 0.0
    assert fingerprints.internal_diversity(["CCO"]) == 0.0
    a, b = fingerprints.morgan_bits(_mol(MOLS[1])), fingerprints.morgan_bits(_mol(MOLS[2]))
    assert fingerprints.internal_diversity([a, b]) == pytest.approx(
        1.0 - fingerprints.tanimoto(a, b)
    )
    mixed = fingerprints.internal_diversity([MOLS[1], _mol(MOLS[2]), a])
    sims = [fingerprints.tanimoto(a, b), 1.0, fingerprints.tanimoto(b, a)]
    assert mixed == pytest.approx(1.0 - float(np.mean(sims)))
    with pytest.raises(ValueError):
        fingerprints.internal_diversity(["not a smiles", "CCO"])


@pytest.mark.parametrize("smiles", [*MOLS, "NCCN.OCCO", "C", "OCC(O)CO", "NC(N)=[NH2+]"])
def test_pharmacophore_2d_is_rdkit_gobbi(smiles: str) -> None:
    mol = _mol(smiles)
    expected = Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)
    got = fingerprints.pharmacophore_2d(mol)
    assert got.GetNumBits() == expected.GetNumBits()
    assert list(got.GetOnBits()) == list(expected.GetOnBits())


def test_size_limit_for_scoring_and_prediction() -> None:
    from makeable.chem.molecule import (
        MAX_HEAVY_ATOMS,
        MAX_SMILES_LENGTH,
        canonical_smiles,
        parse_smiles,
        too_large,
    )

    huge = "C" * 2_000_000  # refused by its length, before RDKit parses it
    assert parse_smiles(huge, limit_size=True) is None
    assert too_large(huge) == f"too large: 2000000 characters > {MAX_SMILES_LENGTH}"
    chain = "C" * (MAX_HEAVY_ATOMS + 1)
    assert parse_smiles(chain) is not None and parse_smiles(chain, limit_size=True) is None
    assert canonical_smiles(chain, limit_size=True) is None
    assert too_large(chain) == f"too large: {MAX_HEAVY_ATOMS + 1} heavy atoms > {MAX_HEAVY_ATOMS}"
    assert canonical_smiles("C" * MAX_HEAVY_ATOMS, limit_size=True) == "C" * MAX_HEAVY_ATOMS
    padded = " " * 2 * MAX_SMILES_LENGTH + "CCO"  # surrounding whitespace does not count
    assert canonical_smiles(padded, limit_size=True) == "CCO" and too_large(padded) is None
    assert too_large("not a smiles") is None and too_large("CCO") is None
    for smiles in MOLS:  # drug-like molecules are far below both limits
        assert canonical_smiles(smiles, limit_size=True) == canonical_smiles(smiles)
