"""Atom and bond features and batched directed graphs for message passing.

The features follow chemprop's (Yang et al., "Analyzing Learned Molecular Representations for
Property Prediction", J. Chem. Inf. Model. 2019, https://doi.org/10.1021/acs.jcim.9b00237):
one-hot element, degree, formal charge, chirality, hydrogen count and hybridisation (each with
an "other" slot), aromaticity and the mass / 100; bonds: type, conjugation, ring membership and
stereo. Written here from those definitions (not copied); :data:`FEATURES_VERSION` is saved with
every model, and a model made with other features is refused on load.

A molecule becomes a :class:`MolGraph`: atom features, and for every bond two directed edges
(``u → v`` and ``v → u``) with their bond features and the index of the reverse edge.
:func:`batch_graphs` concatenates graphs into one :class:`GraphBatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

FEATURES_VERSION = 1
"""Changes whenever a feature changes: saved models record it."""

ELEMENTS = list(range(1, 101))  # atomic numbers 1..100
DEGREES = [0, 1, 2, 3, 4, 5]
CHARGES = [-2, -1, 0, 1, 2]
CHIRAL_TAGS = [0, 1, 2, 3]
HYDROGENS = [0, 1, 2, 3, 4]
HYBRIDISATIONS = [
    Chem.rdchem.HybridizationType.SP,
    Chem.rdchem.HybridizationType.SP2,
    Chem.rdchem.HybridizationType.SP3,
    Chem.rdchem.HybridizationType.SP3D,
    Chem.rdchem.HybridizationType.SP3D2,
]
BOND_TYPES = [
    Chem.rdchem.BondType.SINGLE,
    Chem.rdchem.BondType.DOUBLE,
    Chem.rdchem.BondType.TRIPLE,
    Chem.rdchem.BondType.AROMATIC,
]
STEREO = [0, 1, 2, 3, 4, 5]


def _one_hot(value: object, choices: Sequence[object]) -> list[float]:
    """One slot per choice plus a last "other" slot."""
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else -1] = 1.0
    return out


def atom_features(atom: Chem.Atom) -> list[float]:
    """The feature vector of one atom (:data:`ATOM_DIM` numbers)."""
    return list(_atom_row(_atom_key(atom)))


def bond_features(bond: Chem.Bond) -> list[float]:
    """The feature vector of one bond (:data:`BOND_DIM` numbers)."""
    return list(_bond_row(_bond_key(bond)))


AtomKey = tuple[int, int, int, int, int, object, bool, float]
BondKey = tuple[object, bool, bool, int]


def _atom_key(atom: Chem.Atom) -> AtomKey:
    return (
        atom.GetAtomicNum(),
        atom.GetTotalDegree(),
        atom.GetFormalCharge(),
        int(atom.GetChiralTag()),
        atom.GetTotalNumHs(),
        atom.GetHybridization(),
        atom.GetIsAromatic(),
        atom.GetMass(),
    )


def _bond_key(bond: Chem.Bond) -> BondKey:
    return (bond.GetBondType(), bond.GetIsConjugated(), bond.IsInRing(), int(bond.GetStereo()))


_ATOM_ROWS: dict[AtomKey, np.ndarray] = {}
_BOND_ROWS: dict[BondKey, np.ndarray] = {}


def _atom_row(key: AtomKey) -> np.ndarray:
    """The features of an atom with ``key``, built once per distinct key (a graph has few)."""
    row = _ATOM_ROWS.get(key)
    if row is None:
        number, degree, charge, chiral, hydrogens, hybridisation, aromatic, mass = key
        row = np.array(
            [
                *_one_hot(number, ELEMENTS),
                *_one_hot(degree, DEGREES),
                *_one_hot(charge, CHARGES),
                *_one_hot(chiral, CHIRAL_TAGS),
                *_one_hot(hydrogens, HYDROGENS),
                *_one_hot(hybridisation, HYBRIDISATIONS),
                1.0 if aromatic else 0.0,
                mass * 0.01,
            ],
            dtype=np.float32,
        )
        _ATOM_ROWS[key] = row
    return row


def _bond_row(key: BondKey) -> np.ndarray:
    """The features of a bond with ``key``, built once per distinct key."""
    row = _BOND_ROWS.get(key)
    if row is None:
        bond_type, conjugated, in_ring, stereo = key
        row = np.array(
            [
                *_one_hot(bond_type, BOND_TYPES),
                1.0 if conjugated else 0.0,
                1.0 if in_ring else 0.0,
                *_one_hot(stereo, STEREO),
            ],
            dtype=np.float32,
        )
        _BOND_ROWS[key] = row
    return row


ATOM_DIM = len(ELEMENTS) + len(DEGREES) + len(CHARGES) + len(CHIRAL_TAGS) + len(HYDROGENS)
ATOM_DIM += len(HYBRIDISATIONS) + 6 + 2  # six "other" slots, aromatic, mass
BOND_DIM = len(BOND_TYPES) + 1 + 2 + len(STEREO) + 1


@dataclass(frozen=True)
class MolGraph:
    """One molecule as a directed graph.

    Attributes:
        atoms: ``(n_atoms, ATOM_DIM)`` float32.
        edges: ``(n_edges, BOND_DIM)`` float32, two directed edges per bond.
        source, target: ``(n_edges,)`` int64: the edge goes ``source → target``.
        reverse: ``(n_edges,)`` int64: the index of the opposite edge.
        smiles: the canonical SMILES (for the SMILES encoder of a dual-encoder model).
    """

    atoms: np.ndarray
    edges: np.ndarray
    source: np.ndarray
    target: np.ndarray
    reverse: np.ndarray
    smiles: str = ""


def mol_graph(mol: Chem.Mol, smiles: bool = False) -> MolGraph:
    """The directed graph of an RDKit molecule (hydrogens implicit, as parsed); its canonical
    SMILES too when ``smiles`` (only a SMILES encoder needs it, and it costs as much as the
    rest)."""
    rows = [_atom_row(_atom_key(mol.GetAtomWithIdx(i))) for i in range(mol.GetNumAtoms())]
    atoms = np.stack(rows) if rows else np.zeros((0, ATOM_DIM), dtype=np.float32)
    bonds = [mol.GetBondWithIdx(i) for i in range(mol.GetNumBonds())]
    n = 2 * len(bonds)
    ends = np.array(
        [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in bonds], dtype=np.int64
    ).reshape(-1, 2)
    edges = (
        np.repeat(np.stack([_bond_row(_bond_key(b)) for b in bonds]), 2, axis=0)
        if bonds
        else np.zeros((0, BOND_DIM), dtype=np.float32)
    )
    source = ends.reshape(-1)  # edge 2k is u → v, edge 2k+1 is v → u
    target = ends[:, ::-1].reshape(-1)
    reverse = np.arange(n, dtype=np.int64) ^ 1  # edges 2k and 2k+1 are each other's reverse
    return MolGraph(atoms, edges, source, target, reverse, Chem.MolToSmiles(mol) if smiles else "")


@dataclass(frozen=True)
class GraphBatch:
    """Several graphs as one (indices shifted); ``molecule`` maps each atom to its graph."""

    atoms: np.ndarray
    edges: np.ndarray
    source: np.ndarray
    target: np.ndarray
    reverse: np.ndarray
    molecule: np.ndarray
    n_molecules: int
    smiles: tuple[str, ...] = ()


def batch_graphs(graphs: Sequence[MolGraph]) -> GraphBatch:
    """Concatenate graphs into one batch."""
    atom_offsets = np.cumsum([0] + [len(g.atoms) for g in graphs])
    edge_offsets = np.cumsum([0] + [len(g.source) for g in graphs])

    def cat(arrays: list[np.ndarray], width: int, dtype: type) -> np.ndarray:
        return np.concatenate(arrays) if arrays else np.zeros((0, width), dtype=dtype)

    return GraphBatch(
        atoms=cat([g.atoms for g in graphs], ATOM_DIM, np.float32).reshape(-1, ATOM_DIM),
        edges=cat([g.edges for g in graphs], BOND_DIM, np.float32).reshape(-1, BOND_DIM),
        source=np.concatenate(
            [g.source + atom_offsets[i] for i, g in enumerate(graphs)] or [np.zeros(0, np.int64)]
        ),
        target=np.concatenate(
            [g.target + atom_offsets[i] for i, g in enumerate(graphs)] or [np.zeros(0, np.int64)]
        ),
        reverse=np.concatenate(
            [g.reverse + edge_offsets[i] for i, g in enumerate(graphs)] or [np.zeros(0, np.int64)]
        ),
        molecule=np.concatenate(
            [np.full(len(g.atoms), i, dtype=np.int64) for i, g in enumerate(graphs)]
            or [np.zeros(0, np.int64)]
        ),
        n_molecules=len(graphs),
        smiles=tuple(g.smiles for g in graphs),
    )
