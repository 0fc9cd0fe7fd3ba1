"""Stocks: SMILES and InChIKey files, canonical membership, named stocks, syntheseus adapter."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from makeable.chem.molecule import Molecule
from makeable.registry import UnknownNameError
from makeable.retro.stock import STOCKS, Stock, inchikey, load_stock

BOUGHT = ["CCO", "c1ccccc1O", "CC(=O)Cl", "N[C@@H](C)C(=O)O"]


def test_smiles_stock_membership_is_canonical(tmp_path: Path) -> None:
    path = tmp_path / "stock.smi"
    path.write_text("smiles\n# a comment\nOCC id1\nOc1ccccc1\n\nC1CC\nCC(Cl)=O\nC[C@H](N)C(O)=O\n")
    stock = Stock.from_file(path)
    assert stock.kind == "smiles" and len(stock) == 4 and stock.n_invalid == 1
    for smiles in BOUGHT + ["C(C)O", "[CH3][CH2][OH]"]:
        assert smiles in stock
    assert Molecule.from_smiles("OCC") in stock
    assert "CCN" not in stock and "C1CC" not in stock and "" not in stock and 42 not in stock
    assert "C[C@@H](N)C(=O)O" not in stock  # the other enantiomer
    assert stock.molecules() == sorted(Stock(BOUGHT).molecules())  # canonical, sorted
    assert stock.molecules() == sorted(stock.molecules()) and "CCO" in stock.molecules()


def test_inchikey_stock_membership(tmp_path: Path) -> None:
    keys = [inchikey(s) for s in BOUGHT]
    assert all(k and len(k) == 27 for k in keys)
    path = tmp_path / "stock.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(k for k in keys if k) + "\n")
    stock = Stock.from_file(path)
    assert stock.kind == "inchikey" and len(stock) == 4
    assert "OCC" in stock and "Oc1ccccc1" in stock and "CCN" not in stock
    assert keys[0] in stock  # a key itself is looked up as a key
    mixed = Stock(["CCN"], keys[:1])
    assert mixed.kind == "mixed" and "NCC" in mixed and "CCO" in mixed and "CCC" not in mixed
    assert stock.molecules() == [] and mixed.molecules() == ["CCN"]  # keys cannot be listed


def test_load_stock_names_files_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.smi"
    path.write_text("CCO\n")
    assert "OCC" in load_stock(path) and "OCC" in load_stock(str(path))
    stock = Stock(["CCO"])
    assert load_stock(stock) is stock
    assert "paroutes_n1" in STOCKS
    with pytest.raises(UnknownNameError, match="paroutes_n1"):
        load_stock("no_such_stock")
    with pytest.raises(FileNotFoundError, match="stock file not found"):
        load_stock(tmp_path / "missing.smi")
    empty = tmp_path / "empty.smi"
    empty.write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="no molecule"):
        Stock.from_file(empty)
    garbage = tmp_path / "garbage.smi"
    garbage.write_text("C1CC\nnot_a_smiles\n")  # lines, but no molecule RDKit can read
    with pytest.raises(ValueError, match="none of its 2 lines"):
        Stock.from_file(garbage)
    monkeypatch.setenv("MAKEABLE_DATA", str(tmp_path))
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="planning/paroutes/n1-stock.txt"):
        load_stock("paroutes_n1")


def test_syntheseus_inventory() -> None:
    pytest.importorskip("syntheseus")
    from syntheseus import Molecule as SynMolecule

    inventory = Stock(BOUGHT).to_syntheseus()
    assert inventory.is_purchasable(SynMolecule("OCC"))
    assert not inventory.is_purchasable(SynMolecule("CCN"))
    mol = SynMolecule("Oc1ccccc1")
    inventory.fill_metadata(mol)
    assert mol.metadata["is_purchasable"] is True


def test_paroutes_stocks(data_dir: Path) -> None:
    stock = load_stock("paroutes_n1_inchikey")
    assert stock.kind == "inchikey" and len(stock) > 13000
    assert "O=C(n1ccnc1)n1ccnc1" in stock  # carbonyldiimidazole, a leaf of the fixture routes
    assert "CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1" not in stock
