"""Energy models of a conformer, in kcal/mol: MMFF94 (RDKit, the default) and GFN2-xTB (tblite,
the optional ``xtb`` extra).

An :class:`EnergyModel` is built for one molecule (atom order fixed) and maps coordinates of
shape ``(n, N, 3)`` in Å to ``n`` energies; :data:`ENERGIES` names them for the CLI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdForceFieldHelpers

HARTREE_KCAL_MOL = 627.509474
BOHR_ANGSTROM = 0.529177210903
ENERGIES = ("mmff", "xtb")
"""Energy model names: ``mmff`` (MMFF94, RDKit) and ``xtb`` (GFN2-xTB through tblite)."""


class EnergyModel(ABC):
    """Energies of conformers of one molecule."""

    name: str = ""

    @abstractmethod
    def __call__(self, coords: np.ndarray) -> np.ndarray:
        """``coords``: Å, shape ``(n, N, 3)`` → energies in kcal/mol, shape ``(n,)``."""


class MMFFEnergy(EnergyModel):
    """MMFF94 single-point energies by RDKit's force field (one force field, new positions).

    Raises:
        ValueError: MMFF94 has no parameters for some atom of the molecule.
    """

    name = "mmff"

    def __init__(self, mol: Chem.Mol) -> None:
        props = rdForceFieldHelpers.MMFFGetMoleculeProperties(mol)
        if props is None:
            raise ValueError(f"MMFF94 has no parameters for {Chem.MolToSmiles(Chem.RemoveHs(mol))}")
        self._ff = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, props)

    def __call__(self, coords: np.ndarray) -> np.ndarray:
        return np.array([self._ff.CalcEnergy(x.ravel().tolist()) for x in coords])


class XTBEnergy(EnergyModel):
    """GFN2-xTB single-point energies (Bannwarth, Ehlert & Grimme 2019) through tblite, relative
    scale in kcal/mol. Needs the ``xtb`` extra (``pip install 'makeable[xtb]'``).

    Raises:
        ImportError: tblite is not installed (the message names the extra).
    """

    name = "xtb"

    def __init__(self, mol: Chem.Mol) -> None:
        try:
            from tblite.interface import Calculator
        except ImportError:
            raise ImportError(
                "GFN2-xTB energies need tblite: pip install 'makeable[xtb]'"
            ) from None
        self._calculator = Calculator
        self._numbers = np.array([a.GetAtomicNum() for a in mol.GetAtoms()])
        self._charge = float(Chem.GetFormalCharge(mol))

    def __call__(self, coords: np.ndarray) -> np.ndarray:
        out = []
        for x in coords:
            calc = self._calculator(
                "GFN2-xTB", self._numbers, x / BOHR_ANGSTROM, charge=self._charge
            )
            calc.set("verbosity", 0)
            out.append(calc.singlepoint().get("energy") * HARTREE_KCAL_MOL)
        return np.array(out)


def make_energy(name: str, mol: Chem.Mol) -> EnergyModel:
    """The energy model called ``name`` (one of :data:`ENERGIES`) for ``mol``.

    Raises:
        ValueError: an unknown name.
    """
    if name == "mmff":
        return MMFFEnergy(mol)
    if name == "xtb":
        return XTBEnergy(mol)
    raise ValueError(f"unknown energy model {name!r}; choose from {', '.join(ENERGIES)}")
