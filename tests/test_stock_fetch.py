"""User catalogues: `makeable data fetch-stock` against a local HTTP server (never the internet),
then the name found by load_stock, `--stock`, and `makeable list stocks`."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import socket
from pathlib import Path

import pytest

from makeable.data import stocks
from makeable.data.catalogue import convert_catalogue, fetch_stock
from makeable.data.download import ChecksumError, DownloadError
from makeable.data.stocks import STOCKS, load_stock, user_stock_dir
from makeable.registry import UnknownNameError

CSV = (
    "id,SMILES,Price\n"
    "a,OCC,12.5\n"
    "b,CCO,10\n"  # ethanol again, cheaper: merged, the lower price kept
    "c,c1ccccc1O,\n"  # no price
    "d,not_a_smiles,3\n"  # counted, skipped
    'e,CC(=O)O,"n/a"\n'  # an unreadable price: kept without one
    "f,CC(=O)Cl,7.25\n"
)
SMI = (
    "# a comment\n"
    "OCC\tZINC1\n"
    "c1ccc(Br)cc1 ZINC2\n"
    "C1CC\tbroken\n"
    "\n"
    "CCO ZINC3\n"
    "LFQSCWFLJHTTHZ-UHFFFAOYSA-N\n"  # ethanol's InChIKey: kept as a key
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user cache, and the stock caches emptied around the test."""
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path / "cache"))
    stocks._load_user_file.cache_clear()
    yield tmp_path / "cache"
    stocks._load_user_file.cache_clear()


def _serve(root: Path, name: str, payload: bytes) -> str:
    (root / name).write_bytes(payload)
    return hashlib.sha256(payload).hexdigest()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fetch_csv_with_prices(cache: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    sha = _serve(root, "catalogue.csv", CSV.encode())
    info = fetch_stock(f"{base}/catalogue.csv", sha, "mine")
    assert info["format"] == "csv" and info["molecule_column"] == "SMILES"
    assert (info["lines"], info["molecules"], info["invalid"], info["duplicates"]) == (6, 4, 1, 1)
    assert info["priced"] == 2 and info["bad_prices"] == 1
    assert info["invalid_examples"] == [[5, "not_a_smiles"]]
    stock = load_stock("mine")
    assert stock.exact and stock.name == "mine"
    assert stock.molecules() == ["CC(=O)Cl", "CC(=O)O", "CCO", "Oc1ccccc1"]
    assert stock.price("OCC") == 10.0 and stock.price("ClC(C)=O") == 7.25
    assert stock.price("CC(=O)O") is None and stock.price("Oc1ccccc1") is None
    assert stock.status("c1ccccc1O") == "verified" and "CCN" not in stock
    with gzip.open(cache / "stocks" / "mine.csv.gz", "rt") as fh:
        assert fh.readline() == "smiles,price\n"
    record = json.loads((cache / "stocks" / "mine.json").read_text())
    assert record["url"] == f"{base}/catalogue.csv" and record["sha256"] == sha
    assert record["fetched"][:2] == "20" and record["molecules"] == 4 and "rdkit" in record
    assert "mine" in STOCKS and "mine" in STOCKS.names() and not STOCKS.builtin("mine")
    assert "OCC" in load_stock("building_blocks+mine")  # joins like any named stock


def test_fetch_smi_gz(cache: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    sha = _serve(root, "blocks.smi.gz", gzip.compress(SMI.encode()))
    info = fetch_stock(f"{base}/blocks.smi.gz", sha, "blocks-2")
    assert info["format"] == "lines" and info["price_column"] is None
    assert (info["lines"], info["molecules"], info["invalid"], info["duplicates"]) == (5, 3, 1, 1)
    stock = load_stock("blocks-2")
    assert stock.molecules() == ["Brc1ccccc1", "CCO"] and not stock.has_prices
    assert stock.kind == "mixed" and "LFQSCWFLJHTTHZ-UHFFFAOYSA-N" in stock
    with gzip.open(cache / "stocks" / "blocks-2.csv.gz", "rt") as fh:
        assert fh.readline() == "smiles\n"


def test_local_path_and_file_url(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "catalogue.tsv"
    payload = b"SMILES\tcost\nOCC\t1.5\nc1ccccc1\t2\n"
    path.write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    info = fetch_stock(str(path), sha, "local", price_column="COST")
    assert info["format"] == "tsv" and info["url"] == path.resolve().as_uri()
    assert load_stock("local").price("CCO") == 1.5
    info = fetch_stock(path.as_uri(), f"sha256:{sha.upper()}", "local")  # replaced
    assert info["priced"] == 0  # no `price` column without --price-column
    assert not load_stock("local").has_prices  # the new file, not the cached stock


def test_wrong_sha256_leaves_nothing(cache: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    _serve(root, "catalogue.csv", CSV.encode())
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        fetch_stock(f"{base}/catalogue.csv", "0" * 64, "mine")
    assert not user_stock_dir().exists() or not list(user_stock_dir().iterdir())
    assert "mine" not in STOCKS
    with pytest.raises(UnknownNameError, match="unknown stock 'mine'"):
        load_stock("mine")


def test_unreachable_url_is_one_clear_error(cache: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/x.csv"
    with pytest.raises(DownloadError, match=r"cannot download http://127\.0\.0\.1:\d+/x\.csv"):
        fetch_stock(url, "0" * 64, "mine")
    assert not user_stock_dir().exists()
    with pytest.raises(DownloadError, match="No such file"):
        fetch_stock(str(cache.parent / "missing.csv"), "0" * 64, "mine")


def test_cli_errors_are_one_line(
    cache: Path, http_root: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main

    root, base = http_root
    _serve(root, "catalogue.csv", CSV.encode())
    url = f"http://127.0.0.1:{_closed_port()}/zinc.txt.gz"
    runs = [
        ["data", "fetch", "zinc250k", "--url", url],  # the existing fetch, offline
        ["data", "fetch-stock", url, "--sha256", "0" * 64, "--name", "mine"],
        ["data", "fetch-stock", f"{base}/catalogue.csv", "--sha256", "0" * 64, "--name", "mine"],
        ["data", "fetch-stock", f"{base}/catalogue.csv", "--sha256", "abc", "--name", "mine"],
        ["data", "fetch-stock", f"{base}/x.csv", "--sha256", "0" * 64, "--name", "a/b"],
        ["data", "fetch-stock", f"{base}/x.csv", "--sha256", "0" * 64, "--name", "zinc_instock"],
    ]
    expected = [
        "cannot download",
        "cannot download",
        "sha256 mismatch",
        "is not a sha256",
        "use letters, digits",
        "a stock of makeable itself",
    ]
    for args, message in zip(runs, expected, strict=True):
        assert main(args) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("make")]
        assert len(err) == 1 and err[0].startswith("makeable: error: ") and message in err[0]
    assert not (cache / "stocks").exists()


def test_table_without_molecule_column(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "catalogue.csv"
    payload = b"name,structure\nethanol,CCO\n"
    path.write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    with pytest.raises(ValueError, match=r"no column 'smiles or inchikey'.*name, structure"):
        fetch_stock(str(path), sha, "mine")
    assert not (cache / "stocks").exists()
    assert fetch_stock(str(path), sha, "mine", smiles_column="Structure")["molecules"] == 1
    garbage = tmp_path / "garbage.smi"
    garbage.write_bytes(b"C1CC\nnot_a_smiles\n")
    sha = hashlib.sha256(garbage.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="none of its 2 molecule lines"):
        fetch_stock(str(garbage), sha, "garbage")
    assert sorted(p.name for p in (cache / "stocks").iterdir()) == ["mine.csv.gz", "mine.json"]


def test_conversion_logs_progress(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "many.smi"
    src.write_text("".join(f"{'C' * (i % 7 + 1)}O\n" for i in range(50)))
    with caplog.at_level(logging.INFO, logger="makeable.data.catalogue"):
        counts = convert_catalogue(src, tmp_path / "out.csv.gz", progress_every=20)
    assert counts.molecules == 7 and counts.duplicates == 43
    assert sum("lines read" in r.getMessage() for r in caplog.records) == 2


def test_other_rdkit_reads_the_stock_again(cache: Path, tmp_path: Path) -> None:
    """The file is trusted as canonical only when written by the RDKit in use."""
    path = tmp_path / "c.smi"
    path.write_bytes(b"OCC\n")
    fetch_stock(str(path), hashlib.sha256(b"OCC\n").hexdigest(), "mine")
    record = cache / "stocks" / "mine.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "rdkit": "2000.01.1"}))
    stocks._load_user_file.cache_clear()
    assert "C(C)O" in load_stock("mine")
    record.unlink()  # a catalogue copied in by hand: still a stock, described as such
    assert "no record" in stocks.stock_about("mine") and "CCO" in load_stock("mine")


def test_list_stocks_and_retro_plan_find_it(
    cache: Path, http_root: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main
    from tests.test_retro_planning import STOCK, TARGET, PlanningToy

    root, base = http_root
    payload = ("smiles,price\n" + "".join(f"{s},{i + 1}\n" for i, s in enumerate(STOCK))).encode()
    sha = _serve(root, "toy.csv", payload)
    args = ["data", "fetch-stock", f"{base}/toy.csv", "--sha256", sha, "--name", "toy"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "toy: 4 molecules (4 priced) from 4 lines; 0 invalid lines skipped" in out
    assert main(["list", "stocks"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("toy ") and f"user catalogue from {base}/toy.csv" in line for line in listed
    )
    model = PlanningToy().save(tmp_path / "toy_model")
    plan = ["retro", "plan", TARGET, "--stock", "toy", "--model", str(model), "--max-calls", "20"]
    assert main([*plan, "--no-progress"]) == 0
    assert ": makeable" in capsys.readouterr().out
