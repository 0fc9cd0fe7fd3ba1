"""Molecule pictures for reports: an inline SVG, or PNG bytes (RDKit's drawing code)."""

from __future__ import annotations

from collections.abc import Sequence

from rdkit.Chem.Draw import rdMolDraw2D

from makeable.chem.molecule import parse_smiles

__all__ = ["mol_png", "mol_svg"]

BOND_PX = 18
"""Bond length in pixels: every molecule is drawn at the same scale (a small building block is
not blown up beside a large target); one too large for its box is shrunk to fit."""


def _draw(drawer: rdMolDraw2D.MolDraw2D, mol: object, highlight: Sequence[int] = ()) -> None:
    drawer.drawOptions().fixedBondLength = BOND_PX
    atoms = [int(a) for a in highlight]
    if atoms:
        keep = set(atoms)
        bonds = [
            b.GetIdx()
            for b in mol.GetBonds()  # type: ignore[attr-defined]
            if b.GetBeginAtomIdx() in keep and b.GetEndAtomIdx() in keep
        ]
        rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol, highlightAtoms=atoms, highlightBonds=bonds)
    else:
        rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()


def mol_svg(smiles: str, size: tuple[int, int] = (220, 180), highlight: Sequence[int] = ()) -> str:
    """An inline SVG drawing of a molecule, transparent (empty string if it cannot be
    drawn); ``highlight``: atom indices (of ``smiles`` as parsed) drawn highlighted, with the
    bonds between them."""
    mol = parse_smiles(smiles)
    if mol is None:
        return ""
    if any(not 0 <= int(a) < mol.GetNumAtoms() for a in highlight):
        highlight = ()
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.drawOptions().clearBackground = False
    _draw(drawer, mol, highlight)
    svg = drawer.GetDrawingText()
    return svg[svg.index("<svg") :]  # drop the XML prolog to inline it


def mol_png(smiles: str, size: tuple[int, int]) -> bytes | None:
    """A PNG drawing of a molecule on white (``None`` if it cannot be drawn)."""
    mol = parse_smiles(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DCairo(*size)
    _draw(drawer, mol)
    return bytes(drawer.GetDrawingText())
