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
    return [
        *_one_hot(atom.GetAtomicNum(), ELEMENTS),
        *_one_hot(atom.GetTotalDegree(), DEGREES),
        *_one_hot(atom.GetFormalCharge(), CHARGES),
        *_one_hot(int(atom.GetChiralTag()), CHIRAL_TAGS),
        *_one_hot(atom.GetTotalNumHs(), HYDROGENS),
        *_one_hot(atom.GetHybridization(), HYBRIDISATIONS),
        1.0 if atom.GetIsAromatic() else 0.0,
        atom.GetMass() * 0.01,
    ]


def bond_features(bond: Chem.Bond) -> list[float]:
    """The feature vector of one bond (:data:`BOND_DIM` numbers)."""
    return [
        *_one_hot(bond.GetBondType(), BOND_TYPES),
        1.0 if bond.GetIsConjugated() else 0.0,
        1.0 if bond.IsInRing() else 0.0,
        *_one_hot(int(bond.GetStereo()), STEREO),
    ]


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


def mol_graph(mol: Chem.Mol) -> MolGraph:
    """The directed graph of an RDKit molecule (hydrogens implicit, as parsed)."""
    atoms = np.array([atom_features(a) for a in mol.GetAtoms()], dtype=np.float32)
    atoms = atoms.reshape(-1, ATOM_DIM)
    edges, source, target = [], [], []
    for bond in mol.GetBonds():
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        f = bond_features(bond)
        edges += [f, f]
        source += [u, v]
        target += [v, u]
    n = len(source)
    reverse = np.arange(n, dtype=np.int64) ^ 1  # edges 2k and 2k+1 are each other's reverse
    return MolGraph(
        atoms,
        np.array(edges, dtype=np.float32).reshape(n, BOND_DIM),
        np.array(source, dtype=np.int64),
        np.array(target, dtype=np.int64),
        reverse,
        Chem.MolToSmiles(mol),
    )


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
