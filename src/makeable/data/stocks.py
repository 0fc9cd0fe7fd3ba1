"""Stocks: the purchasable molecules where a synthesis route may end, and how sure we are.

A *makeable* verdict is only as true as the stock behind it, so every stock says what kind
of answer it gives:

* an **exact** stock (:class:`Stock`: a set of molecules read from a file) answers "held" only
  for molecules it holds; a leaf it holds is *verified*;
* a **probabilistic** stock (:class:`BloomStock`: a Bloom filter) never misses a molecule it
  holds, but also answers "held" for a fraction of the molecules it does not hold; a leaf it
  accepts is only *unverified*;
* a **union** (:class:`StockUnion`, written ``a+b`` on the command line) holds what any part
  holds; a leaf is verified when an exact part holds it.

:meth:`Stock.status` gives one of :data:`VERIFIED`, :data:`UNVERIFIED` or :data:`MISSING`.
A search may end a route at any molecule the stock accepts (``molecule in stock``), but a
route is *makeable* only when every leaf is verified
(:attr:`makeable.retro.planning.routes.Route.makeable`).

Files: :meth:`Stock.from_file` reads one molecule a line (SMILES as the first field, or an
InChIKey; ``.gz`` allowed) or a CSV file with a header naming a ``smiles`` or ``inchikey``
column and optionally a ``price`` column (any currency per unit the user chooses; the same for
every row). Membership is by canonical identity: the canonical SMILES of
:func:`makeable.chem.molecule.canonical_smiles` and, when the stock holds InChIKeys, the
standard InChIKey.

Named stocks (:data:`STOCKS`, :func:`load_stock`):

* ``building_blocks`` (the default everywhere): 23,575 molecules shipped inside the package
  (``resources/stocks/building_blocks.csv.gz``, exact, no data folder): the union of the
  PaRoutes n1 stock (13,432 starting materials of patent routes, Apache-2.0), RxnFlow's 10,000
  purchasable ZINC fragments (MIT) and RGFN's 357 curated cheap fragments (MIT); the
  ``source`` column says where each comes from, ``id`` holds the ZINC id where known. No
  prices (none of the sources has any);
* ``paroutes_n1``: ``planning/paroutes/n1-stock.txt`` of the data folder (``$MAKEABLE_DATA``,
  then the user cache), the leaves of the PaRoutes set-n1 reference routes (SMILES);
* ``paroutes_n1_inchikey``: ``planning/paroutes/aizynth_n1_stock_inchikey.txt``, the 2022
  AiZynthFinder-format version of that stock (InChIKeys);
* ``zinc_instock``: the ZINC20 in-stock catalogue (9,227,726 molecules) as the Bloom filter
  ``zinc-instock-mini`` bundled with the PyPI package ``molbloom`` (probabilistic);
* user catalogues: ``makeable data fetch-stock SOURCE --sha256 HEX --name NAME``
  (:mod:`makeable.data.catalogue`) writes ``<user cache>/stocks/NAME.csv.gz`` (exact) and
  ``NAME.json`` (its URL, sha256, date and counts); :data:`STOCKS` finds them there by name.

The Bloom filter answers "in stock" for about 7% of the molecules it does not hold
(measured: 1,364 of 20,000 random valid molecules of 35-89 heavy atoms, 6.8%). A search looks
at many non-purchasable precursors and keeps those it is told it can buy, so it finds exactly
those false positives: a route that needs one is reported *unverified*, never makeable. Use it
to propose leaves beside an exact stock: ``--stock building_blocks+zinc_instock``.

References:
    Genheden, Bjerrum, "PaRoutes: towards a framework for benchmarking retrosynthesis route
    predictions", Digital Discovery 2022. https://doi.org/10.1039/D2DD00015F

    Medina, White, "Bloom filters for molecules", J. Cheminform. 15, 95 (2023).
    https://doi.org/10.1186/s13321-023-00765-1 (the ``molbloom`` package)

    Seo et al., "Generative Flows on Synthetic Pathway for Drug Design" (RxnFlow), ICLR 2025;
    Koziarski et al., "RGFN: Synthesizable Molecular Generation Using GFlowNets", NeurIPS 2024
    (the building blocks).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

from makeable.chem.molecule import parse_smiles, quiet_rdkit
from makeable.data.molecules import cache_dir, data_file
from makeable.registry import Registry

log = logging.getLogger(__name__)

INCHIKEY = re.compile(r"^[A-Z]{14}-[A-Z]{10}-[A-Z]$")
"""The shape of a standard InChIKey (14 + 10 + 1 upper-case letters)."""

VERIFIED = "verified"
"""A leaf an exact stock holds."""
UNVERIFIED = "unverified"
"""A leaf only a probabilistic stock (a Bloom filter) accepts: it may not be purchasable."""
MISSING = "missing"
"""A leaf no stock accepts."""

DEFAULT_STOCK = "building_blocks"
"""The stock every command uses unless told otherwise (shipped, exact)."""

PLANNING_FILES = {
    "paroutes_n1": "planning/paroutes/n1-stock.txt",
    "paroutes_n1_inchikey": "planning/paroutes/aizynth_n1_stock_inchikey.txt",
}
"""Named stocks of the data folder: their file relative to it."""

SHIPPED_FILES = {"building_blocks": "stocks/building_blocks.csv.gz"}
"""Named stocks shipped in ``makeable.resources``: their file relative to it."""


def inchikey(smiles: str) -> str | None:
    """The standard InChIKey of a SMILES, ``None`` if RDKit cannot parse it or make one."""
    from rdkit import Chem

    mol = parse_smiles(smiles)
    if mol is None:
        return None
    with quiet_rdkit():
        key = Chem.MolToInchiKey(mol)
    return key or None


def _canonical(smiles: str) -> str | None:
    from rdkit import Chem

    mol = parse_smiles(smiles)
    return Chem.MolToSmiles(mol) if mol is not None else None


class Stock:
    """An exact set of purchasable molecules, looked up by canonical SMILES or InChIKey.

    Args:
        smiles: molecules as SMILES (canonicalised here; unparseable ones are skipped).
        inchikeys: molecules as standard InChIKeys.
        name: a label for reports (the stock's name or file).
        prices: price per molecule, keyed by SMILES (canonicalised here) or InChIKey.
        canonical: the SMILES (and price keys) are canonical already, written by makeable with
            the RDKit in use (a user catalogue): they are taken as they are, not parsed again.

    ``molecule in stock`` accepts a SMILES string or anything with a ``smiles`` attribute
    (a makeable or syntheseus ``Molecule``).
    """

    exact = True
    """Whether "held" is always true (a set) rather than probably true (a Bloom filter)."""

    def __init__(
        self,
        smiles: Iterable[str] = (),
        inchikeys: Iterable[str] = (),
        name: str = "",
        prices: Mapping[str, float] | None = None,
        canonical: bool = False,
    ) -> None:
        self.name = name
        canon = (
            [s.strip() or None for s in smiles] if canonical else [_canonical(s) for s in smiles]
        )
        self._smiles = frozenset(c for c in canon if c)
        self._inchikeys = frozenset(k.strip() for k in inchikeys if k.strip())
        self.n_invalid = sum(c is None for c in canon)
        if self.n_invalid:
            log.warning("stock %s: skipped %d unparseable SMILES", name or "", self.n_invalid)
        self._prices: dict[str, float] = {}
        for key, price in (prices or {}).items():
            key = key if canonical or INCHIKEY.match(key) else (_canonical(key) or key)
            self._prices[key] = float(price)
        self._priced_by_inchikey = any(INCHIKEY.match(k) for k in self._prices)
        self._memo: dict[str, bool] = {}

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None, canonical: bool = False) -> Stock:
        """Read a stock file (``.gz`` allowed).

        Either one molecule a line (InChIKey, or SMILES as the first whitespace-separated
        field; empty lines, ``#`` comments and a ``smiles`` / ``inchikey`` header skipped), or
        a CSV file (``.csv``, ``.csv.gz``) whose header names a ``smiles`` or ``inchikey``
        column and optionally a ``price`` column. ``canonical``: the file's SMILES are
        canonical for the RDKit in use (see :class:`Stock`).

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file holds no molecule, or a CSV file lacks a molecule column or
                has a price that is not a non-negative number (the message gives the line).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"stock file not found: {path}")
        opener: Any = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", newline="") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"stock file {path} cannot be read as text: {exc}") from exc
        is_csv = path.name.removesuffix(".gz").endswith(".csv")
        smiles, keys, prices = _read_csv(text, path) if is_csv else (*_read_lines(text), {})
        if not smiles and not keys:
            raise ValueError(f"stock file {path} holds no molecule")
        stock = cls(smiles, keys, name=name or str(path), prices=prices, canonical=canonical)
        if len(stock) == 0:  # every line unreadable: every search would fail
            raise ValueError(
                f"stock file {path}: none of its {len(smiles)} lines is a valid SMILES or InChIKey"
            )
        return stock

    @property
    def kind(self) -> str:
        """``"smiles"``, ``"inchikey"`` or ``"mixed"``: what the stock was built from."""
        if self._smiles and self._inchikeys:
            return "mixed"
        return "inchikey" if self._inchikeys else "smiles"

    def __len__(self) -> int:
        return len(self._smiles) + len(self._inchikeys)

    def molecules(self) -> list[str]:
        """The molecules given as SMILES, canonical and sorted (a stable order).

        Molecules given only as InChIKeys, and a Bloom filter's catalogue, cannot be listed:
        they are not included (an InChIKey-only or Bloom stock gives an empty list).
        """
        return sorted(self._smiles)

    def __contains__(self, molecule: object) -> bool:
        smiles = getattr(molecule, "smiles", molecule)
        if not isinstance(smiles, str):
            return False
        found = self._memo.get(smiles)
        if found is None:
            found = self._lookup(smiles)
            if len(self._memo) < 1_000_000:
                self._memo[smiles] = found
        return found

    def status(self, molecule: object) -> str:
        """:data:`VERIFIED`, :data:`UNVERIFIED` or :data:`MISSING` for a leaf molecule."""
        if molecule not in self:
            return MISSING
        return VERIFIED if self.exact else UNVERIFIED

    def price(self, molecule: object) -> float | None:
        """The molecule's price, ``None`` when the stock has none for it."""
        if not self._prices:
            return None
        smiles = getattr(molecule, "smiles", molecule)
        if not isinstance(smiles, str):
            return None
        if smiles in self._prices:
            return self._prices[smiles]
        canon = _canonical(smiles)
        if canon is None:
            return None
        if canon in self._prices:
            return self._prices[canon]
        key = inchikey(canon) if self._priced_by_inchikey else None
        return self._prices.get(key) if key else None

    @property
    def has_prices(self) -> bool:
        return bool(self._prices)

    def _lookup(self, smiles: str) -> bool:
        if smiles in self._smiles:  # already canonical: the usual case during a search
            return True
        if INCHIKEY.match(smiles):
            return smiles in self._inchikeys
        canon = _canonical(smiles)
        if canon is None:
            return False
        if canon in self._smiles:
            return True
        return bool(self._inchikeys) and inchikey(canon) in self._inchikeys

    def describe(self) -> str:
        """One line for people: name, size and whether its answers are exact."""
        how = "exact" if self.exact else "probabilistic: membership may be a false positive"
        return f"{self.name} ({len(self):,} molecules, {how})"

    def __repr__(self) -> str:
        return f"Stock({self.name!r}, {len(self)} molecules, {self.kind})"


def _read_lines(text: str) -> tuple[list[str], list[str]]:
    smiles: list[str] = []
    keys: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        first = fields[0]
        if first.lower() in ("smiles", "inchikey"):
            continue
        (keys if INCHIKEY.match(first) else smiles).append(first)
    return smiles, keys


def _read_csv(text: str, path: Path) -> tuple[list[str], list[str], dict[str, float]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in reader.fieldnames or []}
    mol_col = columns.get("smiles") or columns.get("inchikey")
    if mol_col is None:
        raise ValueError(
            f"stock file {path}: a CSV stock needs a 'smiles' or 'inchikey' column "
            f"(found: {', '.join(reader.fieldnames or []) or 'no header'})"
        )
    price_col = columns.get("price")
    smiles: list[str] = []
    keys: list[str] = []
    prices: dict[str, float] = {}
    for lineno, row in enumerate(reader, start=2):
        mol = (row.get(mol_col) or "").strip()
        if not mol:
            continue
        (keys if INCHIKEY.match(mol) else smiles).append(mol)
        raw = (row.get(price_col) or "").strip() if price_col else ""
        if raw:
            try:
                price = float(raw)
            except ValueError:
                price = -1.0
            if not math.isfinite(price) or price < 0:
                raise ValueError(
                    f"stock file {path}, line {lineno}: price {raw!r} is not a non-negative number"
                )
            prices[mol] = price
    return smiles, keys, prices


BLOOM_CATALOGS: dict[str, tuple[int, float]] = {"zinc-instock-mini": (9_227_726, 0.07)}
"""The molbloom filters that ship inside its wheel: catalogue size and stated false-positive
rate. The others (``zinc-instock``, ``zinc20``, ``surechembl``) need a download."""


def _molbloom() -> Any:
    try:
        import molbloom
    except ImportError as exc:
        raise ImportError(
            "a Bloom-filter stock needs the package molbloom (pip install molbloom==3.2.0)"
        ) from exc
    return molbloom


class BloomStock(Stock):
    """A probabilistic stock: a ``molbloom`` Bloom filter instead of a set of molecules.

    Args:
        catalog: a molbloom filter that ships in its wheel (:data:`BLOOM_CATALOGS`); the
            default ``zinc-instock-mini`` is ZINC20 in stock, 9,227,726 molecules.
        name: a label for reports (default: the catalogue).

    ``molecule in stock`` is molbloom's ``buy``: it canonicalises the SMILES its own way (RDKit
    canonical, isomeric, Kekulé form: the form its filters expect), accepts its list of
    common reagents, then asks the filter. The answer "not in stock" is exact; "in stock" is
    wrong for a fraction :attr:`false_positive_rate` of the molecules the catalogue does not
    hold, so :meth:`status` is at best :data:`UNVERIFIED`. InChIKeys and unparseable SMILES
    are not in stock. ``len()`` is the catalogue size.

    molbloom is imported here, not with this module, and holds the loaded filter (10 MB) in a
    module-level cache: worker processes load it on their first lookup (or inherit it).

    Raises:
        ImportError: molbloom is not installed.
        ValueError: ``catalog`` is not a filter bundled with molbloom.
    """

    exact = False

    def __init__(self, catalog: str = "zinc-instock-mini", name: str = "") -> None:
        if catalog not in BLOOM_CATALOGS:
            raise ValueError(
                f"molbloom catalogue {catalog!r} is not supported: only the bundled "
                f"{', '.join(BLOOM_CATALOGS)} (the others need a download)"
            )
        _molbloom()
        super().__init__(name=name or catalog)
        self.catalog = catalog
        self.size, self.false_positive_rate = BLOOM_CATALOGS[catalog]

    @property
    def kind(self) -> str:
        """``"bloom"``: membership by a Bloom filter (false positives possible)."""
        return "bloom"

    def __len__(self) -> int:
        return self.size

    def _lookup(self, smiles: str) -> bool:
        smiles = smiles.strip()
        if not smiles or INCHIKEY.match(smiles):
            return False
        with quiet_rdkit():
            return bool(_molbloom().buy(smiles, catalog=self.catalog))

    def describe(self) -> str:
        return (
            f"{self.name} ({len(self):,} molecules, Bloom filter: about "
            f"{100 * self.false_positive_rate:.0f} % of molecules it lacks pass as held)"
        )

    def __repr__(self) -> str:
        return (
            f"BloomStock({self.name!r}, {self.catalog}, {len(self)} molecules, "
            f"false-positive rate {self.false_positive_rate})"
        )


class StockUnion(Stock):
    """Several stocks as one: holds what any part holds (``a+b`` on the command line).

    A leaf is :data:`VERIFIED` when an exact part holds it, :data:`UNVERIFIED` when only a
    probabilistic part accepts it. The price is the first part's that has one.

    Args:
        parts: the stocks, in the order their prices are looked up.
        name: a label (default: the parts' names joined with ``+``).
    """

    def __init__(self, parts: Iterable[Stock], name: str = "") -> None:
        self.parts = tuple(parts)
        if not self.parts:
            raise ValueError("a stock union needs at least one stock")
        super().__init__(name=name or "+".join(p.name for p in self.parts))
        self.exact = all(p.exact for p in self.parts)  # type: ignore[misc]

    @property
    def kind(self) -> str:
        return "union"

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def molecules(self) -> list[str]:
        return sorted({m for p in self.parts for m in p.molecules()})

    def _lookup(self, smiles: str) -> bool:
        return any(smiles in p for p in self.parts)

    def status(self, molecule: object) -> str:
        statuses = {p.status(molecule) for p in self.parts}
        for status in (VERIFIED, UNVERIFIED):
            if status in statuses:
                return status
        return MISSING

    def price(self, molecule: object) -> float | None:
        for p in self.parts:
            price = p.price(molecule)
            if price is not None:
                return price
        return None

    @property
    def has_prices(self) -> bool:
        return any(p.has_prices for p in self.parts)

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.parts)

    def __repr__(self) -> str:
        return f"StockUnion({', '.join(repr(p) for p in self.parts)})"


BUILDING_BLOCK_SOURCES = (
    ("paroutes_n1", "planning/paroutes/n1-stock.txt"),
    ("rxnflow_zinc", "synthesis/building_blocks/bb_zincfrag_10k_rxnflow.smi.gz"),
    ("rgfn", "synthesis/building_blocks/rgfn_Fragments_NoDocking.csv"),
    ("rgfn", "synthesis/building_blocks/rgfn_Fragments_Docking.csv"),
)
"""The files of the data folder the shipped ``building_blocks`` stock is made from."""


def build_building_blocks(data_folder: Path, out: Path) -> int:
    """Make the shipped stock file (maintainers): canonical SMILES of every source file,
    duplicates merged (``source`` lists each origin), sorted; returns the molecule count.

    Raises:
        FileNotFoundError: a source file is missing from ``data_folder``.
    """
    rows: dict[str, dict[str, str]] = {}
    for source, rel in BUILDING_BLOCK_SOURCES:
        path = data_folder / rel
        if not path.is_file():
            raise FileNotFoundError(f"building-block source missing: {path}")
        opener: Any = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="") as fh:
            if path.suffix == ".csv":
                entries = [(r["Fragment"], "") for r in csv.DictReader(fh)]
            else:
                entries = [(f[0], f[1] if len(f) > 1 else "") for f in map(str.split, fh) if f]
        for smiles, ident in entries:
            canon = _canonical(smiles)
            if canon is None:
                continue
            row = rows.setdefault(canon, {"smiles": canon, "id": "", "source": source})
            if source not in row["source"].split(";"):
                row["source"] += ";" + source
            row["id"] = row["id"] or ident
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["smiles", "id", "source"])
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows))
    return len(rows)


USER_STOCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
"""What a user catalogue may be called: letters, digits, ``_`` and ``-`` (no path, ``.`` or
``+``, so that a name never reads as a file or a union)."""


def user_stock_dir() -> Path:
    """Where user catalogues live: ``<user cache>/stocks`` (``makeable data fetch-stock``)."""
    return cache_dir() / "stocks"


def user_stock_file(name: str) -> Path | None:
    """The user catalogue ``name`` (``<user cache>/stocks/NAME.csv.gz``), ``None`` if absent."""
    if not USER_STOCK_NAME.match(name):
        return None
    path = user_stock_dir() / f"{name}.csv.gz"
    return path if path.is_file() else None


def user_stock_names() -> list[str]:
    """The user catalogues in the cache, sorted."""
    folder = user_stock_dir()
    if not folder.is_dir():
        return []
    names = (p.name.removesuffix(".csv.gz") for p in folder.glob("*.csv.gz"))
    return sorted(n for n in names if USER_STOCK_NAME.match(n))


def user_stock_info(name: str) -> dict[str, Any]:
    """The record beside a user catalogue (``NAME.json``: url, sha256, date, counts); an empty
    dict when there is none or it cannot be read."""
    try:
        info = json.loads((user_stock_dir() / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def load_user_stock(name: str) -> Stock:
    """A user catalogue, by name (kept while its file is unchanged).

    Raises:
        FileNotFoundError: no such catalogue in the user cache.
    """
    path = user_stock_file(name)
    if path is None:
        raise FileNotFoundError(
            f"no user catalogue {name!r} in {user_stock_dir()} (makeable data fetch-stock)"
        )
    st = path.stat()  # a fetch replaces the file: a new inode
    return _load_user_file(str(path), (st.st_ino, st.st_mtime_ns, st.st_size), name)


@lru_cache(maxsize=4)
def _load_user_file(path: str, version: tuple[int, int, int], name: str) -> Stock:
    from rdkit import rdBase

    # written canonical by this RDKit: no need to parse every molecule again
    canonical = user_stock_info(name).get("rdkit") == rdBase.rdkitVersion
    return Stock.from_file(path, name=name, canonical=canonical)


STOCK_ABOUT = {
    "building_blocks": "shipped, exact, 23,575 building blocks (PaRoutes n1 stock + RxnFlow ZINC "
    "fragments + RGFN fragments); the default",
    "paroutes_n1": "exact, 13,432 PaRoutes n1 starting materials (SMILES; the data folder)",
    "paroutes_n1_inchikey": "exact, the 2022 PaRoutes n1 stock as InChIKeys (the data folder)",
    "zinc_instock": "probabilistic: molbloom's ZINC20 in-stock Bloom filter (9.2 M; ~7 % false "
    "positives): leaves stay unverified",
}
"""One line per named stock, for ``makeable list stocks``."""


def stock_about(name: str) -> str:
    """One line about a named stock, for ``makeable list stocks``."""
    if name in STOCK_ABOUT:
        return STOCK_ABOUT[name]
    if user_stock_file(name) is None:
        return ""
    info = user_stock_info(name)
    if not info:
        return "user catalogue, exact (no record of its source)"
    priced = f", {info['priced']:,} priced" if info.get("priced") else ""
    return (
        f"user catalogue from {info.get('url', '?')}, exact, {info.get('molecules', 0):,} "
        f"molecules{priced}, fetched {str(info.get('fetched', '?'))[:10]}"
    )


class StockRegistry(Registry[Stock]):
    """The named stocks: those registered in code or by a plugin (entry-point group
    ``makeable.stocks``), then the user catalogues of the user cache (looked up on every call:
    a fetch, or another ``$MAKEABLE_CACHE``, changes them). A registered name wins over a user
    catalogue of the same name."""

    def builtin(self, name: object) -> bool:
        """Whether ``name`` is registered in code or by a plugin (not a user catalogue)."""
        return super().__contains__(name)

    def names(self) -> list[str]:
        return sorted({*super().names(), *user_stock_names()})

    def __contains__(self, name: object) -> bool:
        return self.builtin(name) or (isinstance(name, str) and user_stock_file(name) is not None)

    def factory(self, name: str) -> Callable[..., Stock]:
        if not self.builtin(name) and user_stock_file(name) is not None:
            return partial(load_user_stock, name)
        return super().factory(name)


STOCKS: StockRegistry = StockRegistry("stock", group="makeable.stocks")
"""Named stocks (shipped, files of the data folder, the molbloom filter, and the user
catalogues of the user cache), by short name."""


def _named(name: str) -> None:
    def build() -> Stock:
        return _load_named(name)

    STOCKS.add(name, build)


@lru_cache(maxsize=8)
def _load_named(name: str) -> Stock:
    if name in SHIPPED_FILES:
        ref = resources.files("makeable.resources").joinpath(SHIPPED_FILES[name])
        with resources.as_file(ref) as path:
            return Stock.from_file(path, name=name)
    path = data_file(
        PLANNING_FILES[name],
        f"stock {name!r}",
        ", or pass a file of your own (one SMILES or InChIKey a line)",
    )
    return Stock.from_file(path, name=name)


for _name in (*SHIPPED_FILES, *PLANNING_FILES):
    _named(_name)


@lru_cache(maxsize=1)
def _zinc_instock() -> Stock:
    return BloomStock("zinc-instock-mini", name="zinc_instock")


STOCKS.add("zinc_instock", _zinc_instock)


def load_stock(name_or_path: str | Path | Stock) -> Stock:
    """A stock from a registered name (``building_blocks``, ``zinc_instock``, ...), a file
    (SMILES, InChIKeys, or CSV with a ``price`` column), or several joined with ``+``
    (``building_blocks+zinc_instock``: a :class:`StockUnion`).

    Raises:
        FileNotFoundError: a named stock's data file is missing, or no such file.
        ImportError: ``zinc_instock`` without molbloom installed.
        makeable.registry.UnknownNameError: neither a file nor a registered name.
        ValueError: an unreadable stock file.
    """
    if isinstance(name_or_path, Stock):
        return name_or_path
    path = Path(name_or_path)
    if path.is_file():
        return Stock.from_file(path)
    name = str(name_or_path)
    if "+" in name and name not in STOCKS:
        parts = [p for p in name.split("+") if p]
        if len(parts) > 1:
            return StockUnion([load_stock(p) for p in parts], name=name)
    if name not in STOCKS and (path.suffix or "/" in name):
        raise FileNotFoundError(f"stock file not found: {path}")
    return STOCKS.build(name)
