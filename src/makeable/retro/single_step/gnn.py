"""A small message-passing graph encoder in pure torch (no torch-geometric).

Molecules become :class:`MolGraph` arrays once (atoms, directed bonds, features); a batch is
their concatenation (:class:`GraphBatch`). The encoder embeds categorical atom features plus
hashed Morgan environment identifiers (radius 0-2) of each atom, then runs ``n_layers`` of
residual edge-conditioned message passing:
``h_v ← LayerNorm(h_v + MLP(h_v + Σ_u ReLU(W h_u + E e_uv)))`` (a GINE-style update).

References:
    Gilmer et al., "Neural Message Passing for Quantum Chemistry", ICML 2017.
    https://arxiv.org/abs/1704.01212
    Hu et al., "Strategies for Pre-training Graph Neural Networks", ICLR 2020 (GINE).
    https://arxiv.org/abs/1905.12265
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from torch import nn

from makeable.chem.molecule import parse_smiles

_ELEMENTS = (
    "C",
    "N",
    "O",
    "S",
    "F",
    "Cl",
    "Br",
    "I",
    "P",
    "B",
    "Si",
    "Se",
    "Sn",
    "Na",
    "K",
    "Li",
    "Mg",
    "Zn",
    "Cu",
    "Pd",
    "Fe",
    "Al",
    "Ca",
    "Cs",
    "H",
    "Ti",
    "Mn",
    "Co",
    "Ni",
    "Pt",
    "Ag",
    "Au",
    "Hg",
    "Ge",
    "As",
    "Cr",
    "Zr",
    "Ru",
    "Rh",
    "Bi",
    "Sb",
    "Te",
    "W",
    "Ba",
    "In",
    "Os",
    "Ir",
    "Ga",
    "Yb",
    "Ce",
)
_ELEMENT_INDEX = {e: i + 1 for i, e in enumerate(_ELEMENTS)}  # 0 = other
_HYBRID = {
    Chem.HybridizationType.SP: 1,
    Chem.HybridizationType.SP2: 2,
    Chem.HybridizationType.SP3: 3,
    Chem.HybridizationType.SP3D: 4,
    Chem.HybridizationType.SP3D2: 5,
}
_CHIRAL = {Chem.ChiralType.CHI_TETRAHEDRAL_CW: 1, Chem.ChiralType.CHI_TETRAHEDRAL_CCW: 2}
_BOND = {
    Chem.BondType.SINGLE: 0,
    Chem.BondType.DOUBLE: 1,
    Chem.BondType.TRIPLE: 2,
    Chem.BondType.AROMATIC: 3,
}
_STEREO = {Chem.BondStereo.STEREOE: 1, Chem.BondStereo.STEREOZ: 2, Chem.BondStereo.STEREOCIS: 1}

ATOM_FIELDS = (
    len(_ELEMENTS) + 1,  # element
    7,  # degree 0..6
    5,  # formal charge -2..2
    5,  # total H 0..4
    2,  # aromatic
    6,  # hybridisation
    3,  # chirality tag
    2,  # in ring
)
"""Vocabulary size of each categorical atom feature."""
N_BOND_FEATURES = 4 + 2 + 2 + 3  # type, conjugated, in ring, stereo (one-hot)
N_ENV_HASH = 1 << 16
"""Buckets for hashed Morgan atom-environment identifiers (radius 0, 1, 2)."""
_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, includeChirality=True)


@dataclass(frozen=True)
class MolGraph:
    """One molecule as arrays.

    Attributes:
        atoms: ``(n_atoms, len(ATOM_FIELDS))`` int64 categorical atom features.
        envs: ``(n_atoms, 3)`` int64 hashed Morgan environment ids of radius 0, 1, 2.
        edges: ``(2, n_directed_bonds)`` int64 source/target atom indices (both directions).
        bonds: ``(n_directed_bonds, N_BOND_FEATURES)`` float32 bond features.
    """

    atoms: np.ndarray
    envs: np.ndarray
    edges: np.ndarray
    bonds: np.ndarray

    @property
    def n_atoms(self) -> int:
        return int(self.atoms.shape[0])


def _clip(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def mol_graph(smiles: str) -> MolGraph:
    """Featurise a molecule.

    Raises:
        ValueError: invalid SMILES or no atoms.
    """
    mol = parse_smiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        raise ValueError(f"cannot build a graph from SMILES {smiles!r}")
    atoms = np.array(
        [
            (
                _ELEMENT_INDEX.get(a.GetSymbol(), 0),
                _clip(a.GetDegree(), 0, 6),
                _clip(a.GetFormalCharge(), -2, 2) + 2,
                _clip(a.GetTotalNumHs(), 0, 4),
                int(a.GetIsAromatic()),
                _HYBRID.get(a.GetHybridization(), 0),
                _CHIRAL.get(a.GetChiralTag(), 0),
                int(a.IsInRing()),
            )
            for a in mol.GetAtoms()
        ],
        dtype=np.int64,
    )
    ao = rdFingerprintGenerator.AdditionalOutput()
    ao.AllocateBitInfoMap()
    _MORGAN.GetSparseCountFingerprint(mol, additionalOutput=ao)
    envs = np.zeros((mol.GetNumAtoms(), 3), dtype=np.int64)
    for bit, hits in ao.GetBitInfoMap().items():
        for atom_idx, radius in hits:
            envs[atom_idx, radius] = bit % N_ENV_HASH
    src, dst, feats = [], [], []
    for b in mol.GetBonds():
        f = np.zeros(N_BOND_FEATURES, dtype=np.float32)
        f[_BOND.get(b.GetBondType(), 0)] = 1.0
        f[4 + int(b.GetIsConjugated())] = 1.0
        f[6 + int(b.IsInRing())] = 1.0
        f[8 + _STEREO.get(b.GetStereo(), 0)] = 1.0
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        src += [i, j]
        dst += [j, i]
        feats += [f, f]
    edges = np.array([src, dst], dtype=np.int64).reshape(2, -1)
    bonds = np.array(feats, dtype=np.float32).reshape(-1, N_BOND_FEATURES)
    return MolGraph(atoms, envs, edges, bonds)


@dataclass(frozen=True)
class GraphBatch:
    """Several molecules as one disconnected graph (tensors), ``graph`` maps atom → molecule."""

    atoms: torch.Tensor
    envs: torch.Tensor
    edges: torch.Tensor
    bonds: torch.Tensor
    graph: torch.Tensor
    n_graphs: int

    @classmethod
    def collate(cls, graphs: Sequence[MolGraph]) -> GraphBatch:
        sizes = np.array([g.n_atoms for g in graphs], dtype=np.int64)
        shift = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        edges = np.concatenate(
            [g.edges + s for g, s in zip(graphs, shift, strict=True)] or [np.zeros((2, 0))],
            axis=1,
        )
        return cls(
            atoms=torch.from_numpy(np.concatenate([g.atoms for g in graphs])),
            envs=torch.from_numpy(np.concatenate([g.envs for g in graphs])),
            edges=torch.from_numpy(edges.astype(np.int64)),
            bonds=torch.from_numpy(np.concatenate([g.bonds for g in graphs])),
            graph=torch.from_numpy(np.repeat(np.arange(len(graphs)), sizes)),
            n_graphs=len(graphs),
        )

    def to(self, device: torch.device | str) -> GraphBatch:
        """The same batch on ``device``."""
        return GraphBatch(
            atoms=self.atoms.to(device),
            envs=self.envs.to(device),
            edges=self.edges.to(device),
            bonds=self.bonds.to(device),
            graph=self.graph.to(device),
            n_graphs=self.n_graphs,
        )


class GraphEncoder(nn.Module):
    """Atom embeddings → ``n_layers`` of message passing → atom states ``(n_atoms, dim)``."""

    def __init__(self, dim: int = 128, n_layers: int = 3, env_buckets: int = N_ENV_HASH) -> None:
        super().__init__()
        if not 1 <= env_buckets <= N_ENV_HASH:
            raise ValueError(f"env_buckets must be in 1..{N_ENV_HASH}, got {env_buckets}")
        self.atom_embed = nn.ModuleList(nn.Embedding(n, dim) for n in ATOM_FIELDS)
        # sparse gradients: only the few hashed environments of a batch are updated
        self.env_embed = nn.EmbeddingBag(env_buckets, dim, mode="sum", sparse=True)
        self.env_buckets = env_buckets
        self.msg = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_layers))
        self.edge = nn.ModuleList(nn.Linear(N_BOND_FEATURES, dim) for _ in range(n_layers))
        self.update = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
            for _ in range(n_layers)
        )
        self.norm = nn.ModuleList(nn.LayerNorm(dim) for _ in range(n_layers))
        self.dim = dim

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        h = sum(emb(batch.atoms[:, i]) for i, emb in enumerate(self.atom_embed))
        envs = batch.envs if self.env_buckets == N_ENV_HASH else batch.envs % self.env_buckets
        h = h + self.env_embed(envs)
        src, dst = batch.edges
        for msg, edge, update, norm in zip(
            self.msg, self.edge, self.update, self.norm, strict=True
        ):
            m = torch.relu(msg(h)[src] + edge(batch.bonds))
            agg = torch.zeros_like(h).index_add_(0, dst, m)
            h = norm(h + update(h + agg))
        return h

    @staticmethod
    def mean_pool(h: torch.Tensor, batch: GraphBatch) -> torch.Tensor:
        """Per-molecule mean of atom states, ``(n_graphs, dim)``."""
        total = torch.zeros(batch.n_graphs, h.shape[1], dtype=h.dtype, device=h.device)
        total = total.index_add_(0, batch.graph, h)
        count = torch.bincount(batch.graph, minlength=batch.n_graphs).clamp(min=1)
        return total / count[:, None].to(h.dtype)
