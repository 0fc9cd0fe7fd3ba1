"""The ``Molecule`` value: a frozen, hashable molecule whose identity is its canonical SMILES."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize


class InvalidSmilesError(ValueError):
    """A SMILES string that RDKit cannot parse (or that is empty)."""


@contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's logger inside the block only (never globally at import)."""
    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


MAX_SMILES_LENGTH = 1_000
"""The longest SMILES (characters, surrounding whitespace aside) that is scored or predicted."""

MAX_HEAVY_ATOMS = 150
"""The most heavy atoms of a molecule that is scored or predicted."""


def parse_smiles(smiles: str, *, limit_size: bool = False) -> Chem.Mol | None:
    """Parse a SMILES string; ``None`` for empty, whitespace-only or unparseable input.

    Args:
        smiles: a SMILES string (surrounding whitespace is ignored).
        limit_size: also ``None`` for a molecule too large to score or predict: a SMILES longer
            than :data:`MAX_SMILES_LENGTH` characters (checked before parsing, which would
            take time and memory in proportion) or a molecule of more than
            :data:`MAX_HEAVY_ATOMS` heavy atoms. Objectives and single-step models parse
            this way, so such input is invalid there: it scores 0 and costs no oracle call.
            Drug-like molecules are far below both limits. :func:`too_large` says why.
    """
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    smiles = smiles.strip()
    if limit_size and len(smiles) > MAX_SMILES_LENGTH:
        return None
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles)
    if limit_size and mol is not None and mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS:
        return None
    return mol


def too_large(smiles: str) -> str | None:
    """Why ``smiles`` is too large to score or predict (``None`` if it is not, or is invalid).

    >>> too_large("C" * 200)
    'too large: 200 heavy atoms > 150'
    """
    if not isinstance(smiles, str):
        return None
    n = len(smiles.strip())
    if n > MAX_SMILES_LENGTH:
        return f"too large: {n} characters > {MAX_SMILES_LENGTH}"
    mol = parse_smiles(smiles)
    if mol is None:
        return None
    if mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS:
        return f"too large: {mol.GetNumHeavyAtoms()} heavy atoms > {MAX_HEAVY_ATOMS}"
    n = len(Chem.MolToSmiles(mol))
    if n > MAX_SMILES_LENGTH:
        return f"too large: canonical SMILES of {n} characters > {MAX_SMILES_LENGTH}"
    return None


def canonical_smiles(smiles: str, *, limit_size: bool = False) -> str | None:
    """Canonical (isomeric) SMILES of ``smiles``, or ``None`` if it is invalid or empty.

    With ``limit_size`` (see :func:`parse_smiles`), also ``None`` when the molecule or its
    canonical SMILES is too large, so that a canonical SMILES always parses again.
    """
    mol = parse_smiles(smiles, limit_size=limit_size)
    if mol is None:
        return None
    canon = Chem.MolToSmiles(mol)
    if limit_size and len(canon) > MAX_SMILES_LENGTH:
        return None
    return canon


@functools.cache
def _uncharger() -> rdMolStandardize.Uncharger:
    return rdMolStandardize.Uncharger()  # compiles its SMARTS: build once


def neutralize(smiles: str) -> str:
    """The neutral form of a molecule, as canonical SMILES.

    Adds or removes hydrogens to cancel formal charges where it can (RDKit's
    ``rdMolStandardize.Uncharger``): protonated amines (``C[NH3+]``) lose the proton,
    carboxylates and alkoxides gain one. Charges that no hydrogen can cancel stay: quaternary
    ammonium, and the +/- pairs of nitro groups and N-oxides.

    Args:
        smiles: a SMILES string.

    Returns:
        The canonical SMILES of the neutralised molecule.

    Raises:
        InvalidSmilesError: RDKit cannot parse ``smiles``.
    """
    mol = parse_smiles(smiles)
    if mol is None:
        raise InvalidSmilesError(f"invalid SMILES {smiles!r}: RDKit could not parse it")
    with quiet_rdkit():
        return Chem.MolToSmiles(_uncharger().uncharge(mol))


@dataclass(frozen=True)
class Molecule:
    """A molecule identified by its canonical SMILES.

    Equality and hashing use ``smiles`` alone; ``metadata`` rides along outside identity.
    Build one with :meth:`from_smiles`, which canonicalises and raises a clear error.
    """

    smiles: str
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_smiles(cls, smiles: str, **metadata: Any) -> Molecule:
        canon = canonical_smiles(smiles)
        if canon is None:
            shown = smiles if isinstance(smiles, str) else type(smiles).__name__
            raise InvalidSmilesError(
                f"invalid SMILES {shown!r}: RDKit could not parse it"
                if isinstance(smiles, str) and smiles.strip()
                else "empty SMILES"
            )
        return cls(canon, dict(metadata))

    @property
    def mol(self) -> Chem.Mol:
        """A fresh RDKit molecule (not cached, so the value stays light and picklable)."""
        mol = Chem.MolFromSmiles(self.smiles)
        assert mol is not None
        return mol

    def __str__(self) -> str:
        return self.smiles
