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


def parse_smiles(smiles: str) -> Chem.Mol | None:
    """Parse a SMILES string; ``None`` for empty, whitespace-only or unparseable input."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    with quiet_rdkit():
        return Chem.MolFromSmiles(smiles.strip())


def canonical_smiles(smiles: str) -> str | None:
    """Canonical (isomeric) SMILES of ``smiles``, or ``None`` if it is invalid or empty."""
    mol = parse_smiles(smiles)
    if mol is None:
        return None
    return Chem.MolToSmiles(mol)


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
