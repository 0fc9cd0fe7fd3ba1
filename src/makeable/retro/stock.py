"""Stocks: the purchasable molecules where a synthesis route may end.

A :class:`Stock` is read from a text file with one molecule a line, either SMILES (the first
whitespace-separated field) or InChIKeys; :meth:`Stock.from_file` detects which line by line.
Membership is by canonical identity: the canonical SMILES of
:func:`makeable.chem.molecule.canonical_smiles` and, when the stock holds InChIKeys, the
standard InChIKey.

Named stocks:

* ``paroutes_n1``: ``planning/paroutes/n1-stock.txt`` of the data folder (``$MAKEABLE_DATA``,
  then the user cache), the leaves of the PaRoutes set-n1 reference routes (SMILES);
* ``paroutes_n1_inchikey``: ``planning/paroutes/aizynth_n1_stock_inchikey.txt``, the 2022
  AiZynthFinder-format version of that stock (InChIKeys);
* ``zinc_instock``: the ZINC20 in-stock catalogue (9,227,726 molecules) as the Bloom filter
  ``zinc-instock-mini`` bundled with the PyPI package ``molbloom`` (a :class:`BloomStock`; no
  download, no data folder).

A Bloom filter never misses a molecule it holds but answers "in stock" for about 7% of the
molecules it does not hold (measured: 1,364 of 20,000 random valid molecules of 35-89 heavy
atoms, 6.8%). A route is wrongly solved only when every leaf the catalogue lacks is such a false
positive, but a search looks at many non-purchasable precursors and keeps those it is told it
can buy, so a route solved against ``zinc_instock`` is a candidate: check its leaves against a
real catalogue before trusting it. The exact filter ``zinc-instock`` (false-positive rate
0.0003) needs a download and is not used here.

:meth:`Stock.to_syntheseus` wraps a stock as a syntheseus ``MolInventory`` for the multi-step
searches of :mod:`makeable.retro.planning`.

References:
    Genheden, Bjerrum, "PaRoutes: towards a framework for benchmarking retrosynthesis route
    predictions", Digital Discovery 2022. https://doi.org/10.1039/D2DD00015F

    Medina, White, "Bloom filters for molecules", J. Cheminform. 15, 95 (2023).
    https://doi.org/10.1186/s13321-023-00765-1 (the ``molbloom`` package)
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from makeable.chem.molecule import parse_smiles, quiet_rdkit
from makeable.data.molecules import cache_dir, data_dir
from makeable.registry import Registry

log = logging.getLogger(__name__)

INCHIKEY = re.compile(r"^[A-Z]{14}-[A-Z]{10}-[A-Z]$")
"""The shape of a standard InChIKey (14 + 10 + 1 upper-case letters)."""

PLANNING_FILES = {
    "paroutes_n1": "planning/paroutes/n1-stock.txt",
    "paroutes_n1_inchikey": "planning/paroutes/aizynth_n1_stock_inchikey.txt",
}
"""Named stocks: their file relative to the data folder."""


def planning_data_file(relpath: str, what: str) -> Path:
    """A file of the data folder (``$MAKEABLE_DATA``, then the user cache).

    Args:
        relpath: the file relative to the data folder, e.g. ``planning/paroutes/n1-stock.txt``.
        what: a name for the error message (``"stock 'paroutes_n1'"``).

    Raises:
        FileNotFoundError: neither folder holds the file (the message says where it belongs).
    """
    for root in (data_dir(), cache_dir()):
        if root is not None and (root / relpath).is_file():
            return root / relpath
    root = data_dir()
    where = f"{root}/" if root is not None else "$MAKEABLE_DATA/"
    raise FileNotFoundError(
        f"{what} is not available: expected the file {where}{relpath} (or the same path under "
        f"{cache_dir()}); set MAKEABLE_DATA to a data folder that holds it, or pass a file of "
        "your own (one SMILES or InChIKey a line)"
    )


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
    """A set of purchasable molecules, looked up by canonical SMILES or InChIKey.

    Args:
        smiles: molecules as SMILES (canonicalised here; unparseable ones are skipped).
        inchikeys: molecules as standard InChIKeys.
        name: a label for reports (the stock's name or file).

    ``molecule in stock`` accepts a SMILES string or anything with a ``smiles`` attribute
    (a makeable or syntheseus ``Molecule``).
    """

    def __init__(
        self, smiles: Iterable[str] = (), inchikeys: Iterable[str] = (), name: str = ""
    ) -> None:
        self.name = name
        canon = [_canonical(s) for s in smiles]
        self._smiles = frozenset(c for c in canon if c)
        self._inchikeys = frozenset(k.strip() for k in inchikeys if k.strip())
        self.n_invalid = sum(c is None for c in canon)
        if self.n_invalid:
            log.warning("stock %s: skipped %d unparseable SMILES", name or "", self.n_invalid)
        self._memo: dict[str, bool] = {}

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> Stock:
        """Read one molecule a line (``.gz`` allowed): InChIKeys or SMILES, detected per line.

        Empty lines, ``#`` comments and a ``smiles`` / ``inchikey`` header are skipped.

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file holds no molecule.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"stock file not found: {path}")
        opener: Any = gzip.open if path.suffix == ".gz" else open
        smiles: list[str] = []
        keys: list[str] = []
        with opener(path, "rt") as fh:
            for line in fh:
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                first = fields[0]
                if first.lower() in ("smiles", "inchikey"):
                    continue
                (keys if INCHIKEY.match(first) else smiles).append(first)
        if not smiles and not keys:
            raise ValueError(f"stock file {path} holds no molecule")
        stock = cls(smiles, keys, name=name or str(path))
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

    def __repr__(self) -> str:
        return f"Stock({self.name!r}, {len(self)} molecules, {self.kind})"

    def to_syntheseus(self) -> Any:
        """This stock as a syntheseus ``BaseMolInventory`` (for the multi-step searches)."""
        return _inventory_class()(self)


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
    """A stock answered by a ``molbloom`` Bloom filter instead of a set of molecules.

    Args:
        catalog: a molbloom filter that ships in its wheel (:data:`BLOOM_CATALOGS`); the
            default ``zinc-instock-mini`` is ZINC20 in stock, 9,227,726 molecules.
        name: a label for reports (default: the catalogue).

    ``molecule in stock`` is molbloom's ``buy``: it canonicalises the SMILES its own way (RDKit
    canonical, isomeric, Kekulé form: the form its filters expect), accepts its list of
    common reagents, then asks the filter. The answer "not in stock" is exact; "in stock" is
    wrong for a fraction :attr:`false_positive_rate` of the molecules the catalogue does not
    hold. InChIKeys and unparseable SMILES are not in stock. ``len()`` is the catalogue size.

    molbloom is imported here, not with this module, and holds the loaded filter (10 MB) in a
    module-level cache: worker processes load it on their first lookup (or inherit it).

    Raises:
        ImportError: molbloom is not installed.
        ValueError: ``catalog`` is not a filter bundled with molbloom.
    """

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

    def __repr__(self) -> str:
        return (
            f"BloomStock({self.name!r}, {self.catalog}, {len(self)} molecules, "
            f"false-positive rate {self.false_positive_rate})"
        )


@lru_cache(maxsize=1)
def _inventory_class() -> type:
    from syntheseus.search.mol_inventory import BaseMolInventory

    class StockInventory(BaseMolInventory):
        """A syntheseus molecule inventory backed by a makeable :class:`Stock`."""

        def __init__(self, stock: Stock) -> None:
            self.stock = stock

        def is_purchasable(self, mol: Any) -> bool:
            return mol.smiles in self.stock

    return StockInventory


STOCKS: Registry[Stock] = Registry("stock")
"""Named stocks (files of the data folder, and the molbloom filter), by short name."""


def _named(name: str) -> None:
    def build() -> Stock:
        return _load_named(name)

    STOCKS.add(name, build)


@lru_cache(maxsize=4)
def _load_named(name: str) -> Stock:
    path = planning_data_file(PLANNING_FILES[name], f"stock {name!r}")
    return Stock.from_file(path, name=name)


for _name in PLANNING_FILES:
    _named(_name)


@lru_cache(maxsize=1)
def _zinc_instock() -> Stock:
    return BloomStock("zinc-instock-mini", name="zinc_instock")


STOCKS.add("zinc_instock", _zinc_instock)


def load_stock(name_or_path: str | Path | Stock) -> Stock:
    """A stock from a registered name (``paroutes_n1``, ``zinc_instock``, ...) or a file
    (SMILES or InChIKeys).

    Raises:
        FileNotFoundError: a named stock's data file is missing, or no such file.
        ImportError: ``zinc_instock`` without molbloom installed.
        makeable.registry.UnknownNameError: neither a file nor a registered name.
    """
    if isinstance(name_or_path, Stock):
        return name_or_path
    path = Path(name_or_path)
    if path.is_file():
        return Stock.from_file(path)
    name = str(name_or_path)
    if name not in STOCKS and (path.suffix or "/" in name):
        raise FileNotFoundError(f"stock file not found: {path}")
    return STOCKS.build(name)
