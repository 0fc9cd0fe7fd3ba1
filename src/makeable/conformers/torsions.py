"""The torsion-space environment: one molecule, its rigid frame, its rotatable torsions.

A SMILES is embedded once by ETKDG (Riniker & Landrum 2015) and relaxed by MMFF94; bond lengths,
bond angles and ring conformations stay as in that conformer, and a *state* is the vector of the
``d`` rotatable torsion angles (radians, in ``(-π, π]``). Setting a torsion (RDKit's
``SetDihedralRad``) turns one side of its bond rigidly about the bond axis, so the torsions are
independent coordinates: a rotation about one bond leaves every other dihedral unchanged.

Rotatable torsions follow torsional diffusion (Jing et al. 2022, https://arxiv.org/abs/2206.01729):
acyclic single bonds between two atoms with at least two heavy neighbours each (a side of only
hydrogens is no torsion), without a linear (sp) end; in addition a bond whose side is a symmetric
rotor (``-CF3``, ``-C(CH3)3``: identical terminal atoms) is left out, since turning it changes
nothing but atom labels.

Energies (kcal/mol) come from an :class:`~makeable.conformers.energy.EnergyModel` (MMFF94 by
default) and are cached by the rounded angles; :attr:`TorsionEnvironment.calls` counts the energy
evaluations that were not served from the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers, rdMolTransforms

if TYPE_CHECKING:
    from makeable.conformers.energy import EnergyModel

CACHE_DECIMALS = 4
"""Angles are rounded to this many decimals (radians) for the energy cache."""


def wrap(angles: np.ndarray) -> np.ndarray:
    """Angles mapped into ``(-π, π]``."""
    return np.pi - np.mod(np.pi - np.asarray(angles, dtype=np.float64), 2 * np.pi)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (``np.cross`` is slow on small arrays)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def dihedrals(coords: np.ndarray, quad: Sequence[int]) -> np.ndarray:
    """Dihedral angles (radians) of atoms ``quad`` in ``coords`` of shape ``(n, N, 3)`` → ``(n,)``;
    the same convention as RDKit's ``rdMolTransforms.GetDihedralRad``."""
    p0, p1, p2, p3 = (coords[:, i] for i in quad)
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1n = b1 / np.sqrt((b1 * b1).sum(axis=1))[:, None]
    v = b0 - (b0 * b1n).sum(axis=1)[:, None] * b1n
    w = b2 - (b2 * b1n).sum(axis=1)[:, None] * b1n
    x = (v * w).sum(axis=1)
    y = (_cross(b1n, v) * w).sum(axis=1)
    return np.arctan2(y, x)


def _heavy_degree(atom: Chem.Atom) -> int:
    return sum(1 for n in atom.GetNeighbors() if n.GetAtomicNum() > 1)


def _symmetric_rotor(end: Chem.Atom, other: Chem.Atom, ranks: Sequence[int]) -> bool:
    """Whether ``end``'s substituents other than ``other`` are two or more identical terminal
    atoms (CF3, tert-butyl, ...), so turning the bond only permutes them."""
    rest = [n for n in end.GetNeighbors() if n.GetIdx() != other.GetIdx()]
    if len(rest) < 2:
        return False
    terminal = all(_heavy_degree(n) <= 1 for n in rest)
    return terminal and len({ranks[n.GetIdx()] for n in rest}) == 1


def rotatable_torsions(mol: Chem.Mol) -> list[tuple[int, int, int, int]]:
    """The rotatable torsions ``(a, b, c, d)`` of ``mol`` (with explicit hydrogens), one per
    rotatable bond ``b-c``; ``a`` and ``d`` are the lowest-index heavy neighbours."""
    ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
    found = []
    for bond in mol.GetBonds():
        if bond.GetBondType() != Chem.BondType.SINGLE or bond.IsInRing():
            continue
        b, c = bond.GetBeginAtom(), bond.GetEndAtom()
        if _heavy_degree(b) < 2 or _heavy_degree(c) < 2:
            continue
        if Chem.HybridizationType.SP in (b.GetHybridization(), c.GetHybridization()):
            continue
        if _symmetric_rotor(b, c, ranks) or _symmetric_rotor(c, b, ranks):
            continue
        a = min(
            n.GetIdx()
            for n in b.GetNeighbors()
            if n.GetAtomicNum() > 1 and n.GetIdx() != c.GetIdx()
        )
        d = min(
            n.GetIdx()
            for n in c.GetNeighbors()
            if n.GetAtomicNum() > 1 and n.GetIdx() != b.GetIdx()
        )
        found.append((a, b.GetIdx(), c.GetIdx(), d))
    return found


def rdkit_seed(seed: int) -> int:
    """RDKit's embedding seed for ``seed``. RDKit seeds conformer ``i`` of
    ``EmbedMultipleConfs`` with ``randomSeed * (i + 1)``: seed 0 gives the same conformer every
    time and seed 2's conformers are seed 1's every other one; a hashed seed avoids both."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0] % (2**31 - 1)) + 1


def embed(smiles: str, seed: int = 0) -> Chem.Mol:
    """``smiles`` with explicit hydrogens and one ETKDG conformer relaxed by MMFF94.

    Raises:
        ValueError: the SMILES does not parse, or no conformer could be embedded.
    """
    with rdBase.BlockLogs():  # RDKit's own parse message would repeat ours
        mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        raise ValueError(f"not a valid SMILES: {smiles!r}")
    if len(Chem.GetMolFrags(mol)) > 1:
        raise ValueError(f"{smiles!r} has several fragments: give one molecule")
    mol = Chem.AddHs(mol)
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = rdkit_seed(seed)
    if rdDistGeom.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True
        if rdDistGeom.EmbedMolecule(mol, params) != 0:
            raise ValueError(f"RDKit could not embed {smiles!r} in 3D")
    if rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
        rdForceFieldHelpers.MMFFOptimizeMolecule(mol, maxIters=2000)
    return mol


class TorsionEnvironment:
    """States are torsion-angle vectors of one molecule; energies by ``energy`` (MMFF94).

    Args:
        mol: the molecule with explicit hydrogens and one conformer (the rigid frame), e.g.
            from :func:`embed`.
        energy: the energy model; default MMFF94 on ``mol``.

    Raises:
        ValueError: the molecule has no rotatable torsion.
    """

    def __init__(self, mol: Chem.Mol, energy: EnergyModel | None = None) -> None:
        from makeable.conformers.energy import MMFFEnergy

        self.mol = Chem.Mol(mol)
        self.smiles = Chem.MolToSmiles(Chem.RemoveHs(self.mol))
        self.torsions = rotatable_torsions(self.mol)
        if not self.torsions:
            raise ValueError(f"{self.smiles} has no rotatable torsion: nothing to sample")
        self.coords0 = np.asarray(self.mol.GetConformer().GetPositions(), dtype=np.float64)
        self.angles0 = np.array([dihedrals(self.coords0[None], q)[0] for q in self.torsions])
        self._frame = self.mol.GetConformer()
        self.energy_model = energy if energy is not None else MMFFEnergy(self.mol)
        self.calls = 0
        self._cache: dict[bytes, float] = {}

    @classmethod
    def from_smiles(cls, smiles: str, seed: int = 0, energy: str = "mmff") -> TorsionEnvironment:
        """Embed ``smiles`` (:func:`embed`) and use the energy model named ``energy``."""
        from makeable.conformers.energy import make_energy

        mol = embed(smiles, seed)
        return cls(mol, make_energy(energy, mol))

    @property
    def dim(self) -> int:
        """Number of rotatable torsions ``d``."""
        return len(self.torsions)

    @property
    def n_heavy(self) -> int:
        return self.mol.GetNumHeavyAtoms()

    def coords(self, angles: np.ndarray) -> np.ndarray:
        """Coordinates (Å) of states ``angles`` of shape ``(n, d)`` (or ``(d,)``) → ``(n, N, 3)``:
        the frame with each torsion set by RDKit's ``SetDihedralRad`` (which turns the side of
        the torsion's last atom; other torsions are unchanged by it)."""
        angles = np.atleast_2d(np.asarray(angles, dtype=np.float64))
        out = np.empty((len(angles), len(self.coords0), 3))
        for i, state in enumerate(angles):
            conf = Chem.Conformer(self._frame)  # a fresh copy: no drift, no history
            for quad, value in zip(self.torsions, state.tolist(), strict=True):
                rdMolTransforms.SetDihedralRad(conf, *quad, value)
            out[i] = conf.GetPositions()
        return out

    def angles_of(self, coords: np.ndarray) -> np.ndarray:
        """The torsion angles of coordinates ``(n, N, 3)`` (any conformer of this molecule with
        the same atom order) → ``(n, d)``."""
        coords = np.asarray(coords, dtype=np.float64)
        if coords.ndim == 2:
            coords = coords[None]
        return np.stack([dihedrals(coords, q) for q in self.torsions], axis=1)

    def energies(self, angles: np.ndarray) -> np.ndarray:
        """Energies (kcal/mol) of states ``(n, d)``; repeats come from the cache, the others
        count in :attr:`calls`."""
        angles = wrap(np.atleast_2d(angles))
        keys = [np.round(a, CACHE_DECIMALS).tobytes() for a in angles]
        todo = [i for i, key in enumerate(keys) if key not in self._cache]
        unique: dict[bytes, int] = {}
        for i in todo:
            unique.setdefault(keys[i], i)
        if unique:
            rows = list(unique.values())
            values = self.energy_model(self.coords(angles[rows]))
            for i, value in zip(rows, values, strict=True):
                self._cache[keys[i]] = float(value)
            self.calls += len(rows)
        return np.array([self._cache[key] for key in keys])

    def conformer_mol(self, angles: np.ndarray) -> Chem.Mol:
        """A copy of the molecule with one conformer per state (all hydrogens)."""
        mol = Chem.Mol(self.mol)
        mol.RemoveAllConformers()
        for xyz in self.coords(angles):
            conf = Chem.Conformer(mol.GetNumAtoms())
            for i, p in enumerate(xyz):
                conf.SetAtomPosition(i, p.tolist())
            mol.AddConformer(conf, assignId=True)
        return mol
