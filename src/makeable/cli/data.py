"""``makeable data``: fetch data sets; ``makeable convert-oracles``: maintainers' conversion."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from makeable.cli.flags import add_out


def add_parser(sub: Any) -> None:
    p = sub.add_parser("data", help="download data sets (URL + sha256 verified)")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    f = dsub.add_parser("fetch", help="download a data set into the cache (or --dest)")
    f.add_argument("name", help="data set name, e.g. zinc250k")
    f.add_argument("--dest", help="data folder to write into (default: the user cache)")
    f.add_argument("--url", help="override the download URL (a mirror, or a local file's path)")
    f.set_defaults(func=fetch)

    s = dsub.add_parser(
        "fetch-stock",
        help="download a building-block catalogue (sha256 verified) and keep it as a named stock",
        description="Downloads SOURCE, checks its sha256, converts it into an exact stock "
        "(canonical SMILES, duplicates merged keeping the lowest price, unreadable lines "
        "counted and skipped) and writes it to <user cache>/stocks/NAME.csv.gz with NAME.json "
        "(url, sha256, date, counts) beside it. Then --stock NAME, --route-stock NAME and "
        "`makeable list stocks` find it.",
    )
    s.add_argument(
        "source",
        help="the catalogue's URL, or a local file (a path or a file:// URL): one SMILES or "
        "InChIKey a line, or CSV/TSV with a header; .gz allowed",
    )
    s.add_argument(
        "--sha256", required=True, help="the file's sha256 (hex), checked before it is used"
    )
    s.add_argument("--name", required=True, help="the stock's name (letters, digits, '_' and '-')")
    s.add_argument(
        "--smiles-column",
        help="a table's molecule column (default: 'smiles' or 'inchikey', any case)",
    )
    s.add_argument("--price-column", help="a table's price column (default: 'price' if present)")
    s.set_defaults(func=fetch_stock)

    n = dsub.add_parser(
        "build-novelty-ref",
        help="hash the canonical full ZINC250k into an npz (maintainers, once per RDKit version)",
    )
    add_out(n, "npz file to write")
    n.set_defaults(func=build_novelty_ref)

    b = dsub.add_parser(
        "build-stock",
        help="make the shipped building_blocks stock from the data folder (maintainers)",
    )
    b.add_argument("data_folder", help="the data folder (with planning/ and synthesis/)")
    add_out(b, "csv.gz file to write")
    b.set_defaults(func=build_stock)

    c = sub.add_parser(
        "convert-oracles",
        help="convert the PMO DRD2/JNK3/GSK3B pickles into safe npz arrays (maintainers, once)",
        description="Reads TDC/molscore's scikit-learn pickles with a restricted unpickler "
        "(only whitelisted scikit-learn and NumPy globals) and writes plain npz arrays.",
    )
    c.add_argument("src", help="folder with {drd2,jnk3,gsk3b}_current.pkl.gz")
    add_out(c, "folder to write the .npz files into")
    c.set_defaults(func=convert)


def fetch(args: argparse.Namespace) -> int:
    from makeable.data.download import download
    from makeable.data.molecules import REMOTE_FILES, cache_dir

    if args.name not in REMOTE_FILES:
        raise ValueError(f"unknown data set {args.name!r}; choose one of: {sorted(REMOTE_FILES)}")
    remote = REMOTE_FILES[args.name]
    root = Path(args.dest) if args.dest else cache_dir()
    path = download(remote, root / remote.relpath, url=args.url)
    print(f"{remote.name}: {path} ({remote.licence}; {remote.source})")
    return 0


def fetch_stock(args: argparse.Namespace) -> int:
    from makeable.data.catalogue import fetch_stock as fetch

    info = fetch(
        args.source,
        args.sha256,
        args.name,
        smiles_column=args.smiles_column,
        price_column=args.price_column,
    )
    bad_prices = f", {info['bad_prices']:,} prices unreadable (kept unpriced)"
    print(
        f"{info['name']}: {info['molecules']:,} molecules ({info['priced']:,} priced) from "
        f"{info['lines']:,} lines; {info['invalid']:,} invalid lines skipped, "
        f"{info['duplicates']:,} duplicates merged{bad_prices if info['bad_prices'] else ''}"
    )
    for lineno, text in info["invalid_examples"]:
        print(f"  invalid, line {lineno}: {text}")
    print(f"{info['path']}: use it as --stock {info['name']} or --route-stock {info['name']}")
    return 0


def convert(args: argparse.Namespace) -> int:
    from makeable.objectives.convert import convert_pmo_models

    for path in convert_pmo_models(Path(args.src), Path(args.out)):
        print(path)
    return 0


def build_novelty_ref(args: argparse.Namespace) -> int:
    from makeable.data.molecules import build_novelty_reference, zinc250k

    print(build_novelty_reference(Path(args.out), zinc250k(require_full=True)))
    return 0


def build_stock(args: argparse.Namespace) -> int:
    from makeable.data.stocks import build_building_blocks

    n = build_building_blocks(Path(args.data_folder), Path(args.out))
    print(f"{args.out}: {n} building blocks")
    return 0
