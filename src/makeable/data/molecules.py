"""Molecule sets: ZINC250k (the PMO initial pool and novelty reference).

Lookup order for the full set: the data folder (``$MAKEABLE_DATA/molecules/zinc250k.smi.gz``),
then the user cache (``$MAKEABLE_CACHE`` or ``~/.cache/makeable``), which
``makeable data fetch zinc250k`` fills. Without either, a 10,000-molecule sample shipped inside
the package is used (enough for demos and tests; benchmark runs should use the full set).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from makeable.data.download import ChecksumError, RemoteFile, sha256_of

ZINC250K = RemoteFile(
    name="zinc250k",
    url="https://github.com/wenhao-gao/mol_opt/raw/2da631be/data/zinc.txt.gz",
    sha256="c046b458da7ff7ce800195dbc52e7e38816d5247f3cfacc095ebfa04604cd52c",
    relpath="molecules/zinc250k.smi.gz",
    licence="MIT",
    source="wenhao-gao/mol_opt data/zinc.txt.gz (the PMO benchmark's ZINC250k, 249,455 SMILES)",
)
REMOTE_FILES = {ZINC250K.name: ZINC250K}


def data_dir() -> Path | None:
    """The data folder named by ``$MAKEABLE_DATA``, if set and present."""
    value = os.environ.get("MAKEABLE_DATA")
    return Path(value) if value and Path(value).is_dir() else None


def cache_dir() -> Path:
    return Path(os.environ.get("MAKEABLE_CACHE") or Path.home() / ".cache" / "makeable")


def data_file(
    relpath: str,
    what: str,
    hint: str = "",
    folder: bool = False,
    error: type[FileNotFoundError] = FileNotFoundError,
) -> Path:
    """A file (or, with ``folder``, a folder) of the data folder: ``$MAKEABLE_DATA``, then the
    user cache. The one lookup of every data file the package may use but never requires.

    Args:
        relpath: the path relative to the data folder, e.g. ``planning/paroutes/n1-stock.txt``.
        what: a name for the error message (``"stock 'paroutes_n1'"``).
        hint: the end of the error message (what else the user can do), from ``"; "`` or
            ``", "`` on.
        folder: look for a folder, not a file.
        error: the exception class (a :class:`FileNotFoundError`).

    Raises:
        FileNotFoundError: neither place holds it (one line saying where it belongs).
    """
    for root in (data_dir(), cache_dir()):
        path = None if root is None else root / relpath
        if path is not None and (path.is_dir() if folder else path.is_file()):
            return path
    root = data_dir()
    where = f"{root}/" if root is not None else "$MAKEABLE_DATA/"
    kind = "folder" if folder else "file"
    raise error(
        f"{what} is not available: expected the {kind} {where}{relpath} (or the same path under "
        f"{cache_dir()}); set MAKEABLE_DATA to a data folder that holds it{hint}"
    )


def find_file(remote: RemoteFile) -> Path | None:
    """Where a full data file is available locally (data folder, then cache), else ``None``."""
    for root in (data_dir(), cache_dir()):
        if root is not None and (root / remote.relpath).is_file():
            return root / remote.relpath
    return None


def check_local_file(remote: RemoteFile, path: Path) -> None:
    """Refuse a local copy of ``remote`` whose sha256 is not the published one.

    Raises:
        ChecksumError: one line naming the file and how to replace it.
    """
    if sha256_of(path) == remote.sha256:
        return
    root = path.parents[len(Path(remote.relpath).parts) - 1]
    dest = "" if root == cache_dir() else f" --dest {root}"
    raise ChecksumError(
        f"{path} is not the published {remote.name} (its sha256 differs: damaged, or another "
        f"file in its place); replace it with `makeable data fetch {remote.name}{dest}`, or "
        "delete it"
    )


def read_smiles_file(path: Path) -> list[str]:
    """Read one SMILES per line (first whitespace-separated field; gzip if ``.gz``)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:  # type: ignore[operator]
        return [line.split()[0] for line in fh if line.strip()]


@lru_cache(maxsize=2)
def zinc250k(require_full: bool = False) -> tuple[str, ...]:
    """ZINC250k SMILES: the full set if available locally, else the shipped sample.

    Raises:
        FileNotFoundError: ``require_full`` and the full set is not available.
        ChecksumError: the local full set is not the published file (damaged, or another
            file in its place); it is never used.
    """
    path = find_file(ZINC250K)
    if path is not None:
        check_local_file(ZINC250K, path)
        return tuple(read_smiles_file(path))
    if require_full:
        raise FileNotFoundError(
            "the full ZINC250k is not available: set MAKEABLE_DATA to a data folder holding "
            f"{ZINC250K.relpath}, or run `makeable data fetch zinc250k`"
        )
    sample = resources.files("makeable.resources").joinpath("zinc250k_sample.smi.gz")
    with resources.as_file(sample) as p:
        return tuple(read_smiles_file(Path(p)))


def zinc250k_source(full: bool | None = None) -> str:
    """A short description of which ZINC250k is in use (recorded with every run).

    Args:
        full: describe the full set (True) or the sample (False); ``None``: whichever is in use.
    """
    if full is None:
        full = find_file(ZINC250K) is not None
    return "zinc250k (full)" if full else "zinc250k_sample (10,000, shipped)"


def smiles_hash(smiles: Iterable[str]) -> np.ndarray:
    """64-bit BLAKE2b hashes of SMILES strings (uint64, one per string)."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
            for s in smiles
        ],
        dtype=np.uint64,
    )


def build_novelty_reference(out: Path, smiles: Sequence[str]) -> Path:
    """Write the sorted hashes of the canonical forms of ``smiles`` (maintainers, once).

    The shipped ``zinc250k_canonical.npz`` is made from the full ZINC250k this way, with the
    pinned RDKit: ``makeable data build-novelty-ref``.
    """
    from rdkit import rdBase

    from makeable.chem.molecule import canonical_smiles

    canon = {c for c in map(canonical_smiles, smiles) if c}
    hashes = np.unique(smiles_hash(canon))
    meta = {"rdkit": rdBase.rdkitVersion, "n_smiles": len(smiles), "n_canonical": len(canon)}
    np.savez_compressed(out, hashes=hashes, meta=np.array([json.dumps(meta)]))
    return out


@dataclass(frozen=True)
class NoveltyReference:
    """Membership test of canonical SMILES in a reference set, by sorted 64-bit hashes."""

    hashes: np.ndarray
    rdkit: str

    def __contains__(self, smiles: object) -> bool:
        if not isinstance(smiles, str):
            return False
        h = smiles_hash([smiles])[0]
        i = int(np.searchsorted(self.hashes, h))
        return i < len(self.hashes) and self.hashes[i] == h


@lru_cache(maxsize=1)
def zinc250k_novelty_reference() -> NoveltyReference:
    """The canonical ZINC250k, shipped as hashes (novelty without the data set itself).

    Canonical SMILES depend on the RDKit version; the package pins it, and the reference
    records the version it was built with.
    """
    ref = resources.files("makeable.resources").joinpath("zinc250k_canonical.npz")
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"][0]))
        return NoveltyReference(np.array(data["hashes"]), meta["rdkit"])
