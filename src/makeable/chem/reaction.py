"""The ``Reaction`` value: one product and an order-free bag of reactant ``Molecule`` values.

Identity is chemical: atom maps are stripped before canonicalisation, so two reaction SMILES
that differ only in atom mapping, in the order of their reactants or in the way each SMILES is
written are equal. Reagents (the middle part of ``reactants>reagents>products``) and metadata
ride along outside identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rdkit import Chem

from makeable.chem.molecule import InvalidSmilesError, Molecule, parse_smiles


class InvalidReactionError(ValueError):
    """A reaction SMILES that cannot be parsed into reactants and one product."""


def strip_atom_maps(mol: Chem.Mol) -> Chem.Mol:
    """A copy of ``mol`` with every atom-map number set to 0."""
    mol = Chem.Mol(mol)
    for i in range(mol.GetNumAtoms()):  # by index: RDKit's GetAtoms() sequence is slow
        mol.GetAtomWithIdx(i).SetAtomMapNum(0)
    return mol


def canonical_unmapped(smiles: str, stereo: bool = True, *, limit_size: bool = False) -> str | None:
    """Canonical SMILES of ``smiles`` with atom maps removed (and stereo, if ``stereo=False``).

    Returns ``None`` for an empty or unparseable SMILES, and with ``limit_size`` for one too
    large (see :func:`makeable.chem.molecule.parse_smiles`).
    """
    mol = parse_smiles(smiles, limit_size=limit_size)
    if mol is None:
        return None
    mol = strip_atom_maps(mol)
    if not stereo:
        Chem.RemoveStereochemistry(mol)
    return Chem.MolToSmiles(mol)


def molecule_unmapped(smiles: str) -> Molecule:
    """A ``Molecule`` from a possibly atom-mapped SMILES (maps removed, then canonicalised).

    Raises:
        InvalidSmilesError: the SMILES is empty or RDKit cannot parse it.
    """
    canon = canonical_unmapped(smiles)
    if canon is None:
        raise InvalidSmilesError(f"invalid SMILES {smiles!r}: RDKit could not parse it")
    return Molecule(canon)


def bag(molecules: Iterable[Molecule]) -> tuple[Molecule, ...]:
    """An order-free bag (multiset) of molecules as a tuple sorted by canonical SMILES."""
    return tuple(sorted(molecules, key=lambda m: m.smiles))


def split_components(smiles: str) -> list[str]:
    """The dot-separated components of a SMILES (empty parts dropped)."""
    return [s for s in smiles.split(".") if s.strip()]


@dataclass(frozen=True)
class Reaction:
    """A single-product reaction: ``reactants >> product``.

    ``reactants`` is a bag: build a ``Reaction`` with :meth:`create` or
    :meth:`from_smiles`, which sort the reactants so that order does not matter. Equality and
    hashing use ``product`` and ``reactants`` only; ``reagents`` and ``metadata`` (patent id,
    reaction class, the original mapped SMILES, ...) stay out of identity.
    """

    product: Molecule
    reactants: tuple[Molecule, ...]
    reagents: tuple[Molecule, ...] = field(default=(), compare=False)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def create(
        cls,
        product: Molecule,
        reactants: Iterable[Molecule],
        reagents: Iterable[Molecule] = (),
        **metadata: Any,
    ) -> Reaction:
        return cls(product, bag(reactants), bag(reagents), dict(metadata))

    @classmethod
    def from_smiles(cls, reaction_smiles: str, **metadata: Any) -> Reaction:
        """Parse ``reactants>reagents>product`` or ``reactants>>product``.

        Atom maps are stripped for identity; the original string is kept in
        ``metadata["mapped"]`` when it carried atom maps. Each dot-separated component of the
        reactant side is one reactant. The product side must be non-empty; if it has several
        components they are kept together as one (multi-fragment) product.

        Raises:
            InvalidReactionError: wrong number of ``>``, an empty side or an invalid SMILES.
        """
        if not isinstance(reaction_smiles, str):
            raise InvalidReactionError(f"not a reaction SMILES: {reaction_smiles!r}")
        parts = reaction_smiles.strip().split(">")
        if len(parts) != 3:
            raise InvalidReactionError(
                f"reaction SMILES must look like 'A.B>>P' or 'A.B>reagents>P': {reaction_smiles!r}"
            )
        left, middle, right = parts
        if not split_components(left) or not right.strip():
            raise InvalidReactionError(f"empty reactants or product in {reaction_smiles!r}")
        try:
            product = molecule_unmapped(right)
            reactants = [molecule_unmapped(s) for s in split_components(left)]
            reagents = [molecule_unmapped(s) for s in split_components(middle)]
        except InvalidSmilesError as exc:
            raise InvalidReactionError(f"{exc} in reaction {reaction_smiles!r}") from None
        if ":" in reaction_smiles:
            metadata.setdefault("mapped", reaction_smiles.strip())
        return cls.create(product, reactants, reagents, **metadata)

    @property
    def reactants_smiles(self) -> str:
        """The reactants as one dot-joined SMILES, in canonical (sorted) order."""
        return ".".join(m.smiles for m in self.reactants)

    @property
    def smiles(self) -> str:
        """Canonical, unmapped reaction SMILES ``reactants>>product``."""
        return f"{self.reactants_smiles}>>{self.product.smiles}"

    def __str__(self) -> str:
        return self.smiles
