"""Stocks: SMILES and InChIKey files, canonical membership, named stocks, syntheseus adapter."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from makeable.chem.molecule import Molecule
from makeable.data.stocks import STOCKS, Stock, inchikey, load_stock
from makeable.registry import UnknownNameError

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

    from makeable.retro.planning.syntheseus_search import _syntheseus

    inventory = _syntheseus().StockInventory(Stock(BOUGHT))
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


# ---------------------------------------------------------------- verdicts and prices
def test_shipped_building_blocks_need_no_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from makeable.data import stocks

    monkeypatch.setenv("MAKEABLE_DATA", str(tmp_path))
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path))
    stocks._load_named.cache_clear()
    stock = load_stock("building_blocks")
    assert stock.exact and len(stock) == 23_575
    assert "Brc1ccccc1" in stock and stock.status("c1ccc(Br)cc1") == "verified"
    assert stock.status("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC[Si](C)(C)Cl") == "missing"
    assert stocks.DEFAULT_STOCK == "building_blocks"


def test_csv_stock_with_prices(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text("id,SMILES,price\na,OCC,12.5\nb,c1ccccc1O,\nc,CC(=O)O,3\n")
    stock = load_stock(path)
    assert len(stock) == 3 and stock.has_prices
    assert stock.price("CCO") == 12.5 and stock.price("Oc1ccccc1") is None
    assert stock.price("CC(O)=O") == 3.0 and stock.price("CCN") is None


def test_csv_stock_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("smiles,price\nCCO,1\nCCN,cheap\n")
    with pytest.raises(ValueError, match="line 3: price 'cheap'"):
        load_stock(bad)
    nomol = tmp_path / "nomol.csv"
    nomol.write_text("name,price\nethanol,1\n")
    with pytest.raises(ValueError, match="'smiles' or 'inchikey' column"):
        load_stock(nomol)


def test_union_status_and_price() -> None:
    from makeable.data.stocks import MISSING, UNVERIFIED, VERIFIED, StockUnion

    class Probable(Stock):
        exact = False

    priced = Stock(["CCO"], prices={"OCC": 2.0}, name="priced")
    union = StockUnion([priced, Probable(["CCN", "CCO"], name="maybe")])
    assert not union.exact and union.name == "priced+maybe"
    assert union.status("CCO") == VERIFIED  # an exact part holds it
    assert union.status("NCC") == UNVERIFIED  # only the probabilistic part
    assert union.status("CCC") == MISSING and "CCC" not in union
    assert union.price("CCO") == 2.0 and union.price("CCN") is None
    assert union.describe().count("exact") == 1


def test_plus_joins_named_stocks_and_files(tmp_path: Path) -> None:
    path = tmp_path / "mine.smi"
    path.write_text("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC[Si](C)(C)Cl\n")
    union = load_stock(f"building_blocks+{path}")
    assert union.exact and "Brc1ccccc1" in union
    assert union.status("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC[Si](C)(C)Cl") == "verified"


def test_route_checked_against_a_stock_marks_every_leaf() -> None:
    from makeable.data.stocks import StockUnion
    from makeable.retro.planning.routes import MolNode, ReactionNode, Route

    class Probable(Stock):
        exact = False

    leaves = (MolNode("CCO"), MolNode("CC(=O)O"), MolNode("CCCl"))
    route = Route(MolNode("CCOC(C)=O", reaction=ReactionNode("x>>y", leaves)))
    stock = StockUnion(
        [Stock(["CCO", "CC(=O)O"], prices={"CCO": 1.0, "CC(=O)O": 2.5}), Probable(["CCCl"])]
    )
    checked = route.checked(stock)
    assert [m.status for m in checked.leaves()] == ["verified", "verified", "unverified"]
    assert checked.solved and not checked.makeable and checked.price is None
    assert [m.smiles for m in checked.unverified_leaves()] == ["CCCl"]
    two = Route(MolNode("CCOC(C)=O", reaction=ReactionNode("x>>y", leaves[:2]))).checked(stock)
    assert two.makeable and two.price == 3.5
    again = Route.from_dict(two.to_dict())  # the verdict and prices survive the JSON form
    assert again.makeable and again.price == 3.5
    assert "[unverified" in checked.to_text()


def test_shipped_stock_is_rebuilt_from_the_data_folder(data_dir: Path, tmp_path: Path) -> None:
    import gzip

    from makeable.data.stocks import SHIPPED_FILES, build_building_blocks

    out = tmp_path / "bb.csv.gz"
    assert build_building_blocks(data_dir, out) == 23_575
    shipped = (
        Path(__file__).parents[1] / "src/makeable/resources" / SHIPPED_FILES["building_blocks"]
    )
    with gzip.open(out, "rt") as a, gzip.open(shipped, "rt") as b:
        assert a.read() == b.read()


def test_cli_list_stocks(capsys: pytest.CaptureFixture[str]) -> None:
    from makeable.cli.main import main

    assert main(["list", "stocks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == STOCKS.names()
    assert "probabilistic" in next(line for line in lines if line.startswith("zinc_instock"))
