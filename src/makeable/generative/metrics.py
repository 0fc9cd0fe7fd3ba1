"""The MOSES distribution-learning metrics (Polykovskiy et al. 2020), as molsets 0.3.1 defines them.

For generated SMILES ``gen`` (as sampled, invalid ones included):

* ``valid``: the share of ``gen`` that RDKit parses and sanitises.
* the valid ones are canonicalised (duplicates kept); every metric below reads that list.
* ``unique@k``: distinct canonical SMILES among the first ``k`` valid ones, divided by ``k``
  (by the number there are when fewer than ``k``, as MOSES does, with a warning).
* ``novelty``: the share of distinct valid molecules whose canonical SMILES is not a training
  SMILES (the training file's strings, compared as they are, like MOSES).
* ``IntDiv`` / ``IntDiv2``: ``1 - mean_i (mean_j T(i, j)^p)^(1/p)`` over all ordered pairs,
  self-pairs included (p = 1, 2); ``T`` the Tanimoto similarity of Morgan bit vectors (radius 2,
  1024 bits; two empty vectors count 1).
* ``filters``: the share passing MOSES's filters: no ring of 8 or more atoms, no formal charge,
  only C N S O F Cl Br H, none of the MCF and PAINS SMARTS (``resources/moses/mcf.csv``,
  ``wehi_pains.csv``, matched on the molecule with explicit hydrogens).
* ``SNN``: the mean over generated molecules of the highest Tanimoto similarity to a reference
  molecule (same fingerprints).
* ``Frag`` / ``Scaf``: cosine similarity of the BRICS-fragment counts / the counts of
  Bemis-Murcko scaffolds with at least two rings, generated vs reference.
* ``FCD``: the Fréchet distance between Gaussians fitted to ChemNet activations
  (:mod:`makeable.generative.chemnet`).
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import AllChem, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

log = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_ATOMS",
    "Reference",
    "canonical_smiles",
    "compute_fragments",
    "compute_scaffolds",
    "cos_similarity",
    "fingerprints",
    "fraction_passes_filters",
    "fraction_unique",
    "fraction_valid",
    "get_mol",
    "internal_diversity",
    "mol_passes_filters",
    "moses_filters",
    "novelty",
    "remove_invalid",
    "snn",
]

ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
FP_RADIUS = 2
FP_BITS = 1024


def get_mol(smiles: str) -> Chem.Mol | None:
    """RDKit molecule of a SMILES, or ``None`` when it does not parse or sanitise."""
    if not smiles:
        return None
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        Chem.SanitizeMol(mol)
        return mol
    except ValueError:
        return None
    finally:
        RDLogger.EnableLog("rdApp.*")


def canonical_smiles(smiles: str) -> str | None:
    mol = get_mol(smiles)
    return None if mol is None else str(Chem.MolToSmiles(mol))


def fraction_valid(gen: Sequence[str]) -> float:
    if not gen:
        raise ValueError("no generated molecules")
    return sum(get_mol(s) is not None for s in gen) / len(gen)


def remove_invalid(gen: Iterable[str]) -> list[str]:
    """Canonical SMILES of the valid molecules, in order, duplicates kept."""
    return [c for c in map(canonical_smiles, gen) if c is not None]


def fraction_unique(valid: Sequence[str], k: int | None = None) -> float:
    """Distinct canonical SMILES among the first ``k`` (all when fewer) of ``valid``."""
    if k is not None:
        if len(valid) < k:
            log.warning("unique@%d: only %d valid molecules; computed over those", k, len(valid))
        valid = valid[:k]
    if not valid:
        raise ValueError("unique@k: no valid molecules")
    return len(set(valid)) / len(valid)


def novelty(valid: Sequence[str], train: Iterable[str]) -> float:
    """Share of the distinct valid molecules whose canonical SMILES is not in ``train``."""
    distinct = set(valid)
    if not distinct:
        raise ValueError("novelty: no valid molecules")
    train_set = train if isinstance(train, set | frozenset) else set(train)
    return len(distinct - train_set) / len(distinct)


@lru_cache(maxsize=1)
def _morgan() -> Any:
    return rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)


def fingerprints(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """``(n, 1024)`` uint8 Morgan bits (radius 2), MOSES's ``fingerprint(..., 'morgan')``."""
    gen = _morgan()
    out = np.zeros((len(mols), FP_BITS), dtype=np.uint8)
    for i, mol in enumerate(mols):
        DataStructs.ConvertToNumpyArray(gen.GetFingerprint(mol), out[i])
    return out


def average_agg_tanimoto(
    ref: np.ndarray, gen: np.ndarray, agg: str = "max", p: int = 1, batch_size: int = 5000
) -> float:
    """For each generated vector, the max (or the power mean) of its Tanimoto similarities to
    the reference vectors; averaged over generated vectors (MOSES ``average_agg_tanimoto``)."""
    import torch

    if agg not in ("max", "mean"):
        raise ValueError(f"agg must be max or mean, not {agg!r}")
    if len(ref) == 0 or len(gen) == 0:
        raise ValueError("Tanimoto aggregate of an empty set")
    result = np.zeros(len(gen))
    for j in range(0, len(ref), batch_size):
        x = torch.from_numpy(ref[j : j + batch_size].astype(np.float32))
        x_sum = x.sum(1, keepdim=True)
        for i in range(0, len(gen), batch_size):
            y = torch.from_numpy(gen[i : i + batch_size].astype(np.float32)).T
            tp = x @ y
            jac = (tp / (x_sum + y.sum(0, keepdim=True) - tp)).numpy().astype(np.float64)
            jac[np.isnan(jac)] = 1.0
            if p != 1:
                jac = jac**p
            stop = i + jac.shape[1]
            if agg == "max":
                result[i:stop] = np.maximum(result[i:stop], jac.max(0))
            else:
                result[i:stop] += jac.sum(0)
    if agg == "mean":
        result /= len(ref)
    if p != 1:
        result = result ** (1 / p)
    return float(result.mean())


def internal_diversity(fps: np.ndarray, p: int = 1) -> float:
    """``1 - mean_i (mean_j T(i, j)^p)^(1/p)``, all ordered pairs including ``i = j``."""
    return 1.0 - average_agg_tanimoto(fps, fps, agg="mean", p=p)


def snn(ref_fps: np.ndarray, gen_fps: np.ndarray) -> float:
    """Mean over generated molecules of the Tanimoto similarity to the nearest reference."""
    return average_agg_tanimoto(ref_fps, gen_fps, agg="max")


@lru_cache(maxsize=1)
def moses_filters() -> tuple[Chem.Mol, ...]:
    """The MCF and PAINS SMARTS MOSES applies (22 + 480 patterns)."""
    root = resources.files("makeable.resources").joinpath("moses")
    patterns: list[str] = []
    with root.joinpath("mcf.csv").open(encoding="utf-8") as fh:
        patterns += [row["smarts"] for row in csv.DictReader(fh)]
    with root.joinpath("wehi_pains.csv").open(encoding="utf-8") as fh:
        patterns += [row[0] for row in csv.reader(fh) if row]
    mols = tuple(Chem.MolFromSmarts(s) for s in patterns)
    bad = [s for s, m in zip(patterns, mols, strict=True) if m is None]
    if bad:
        raise ValueError(f"MOSES filters: {len(bad)} SMARTS do not parse, e.g. {bad[0]!r}")
    return mols


def mol_passes_filters(mol: Chem.Mol | None) -> bool:
    """MOSES's ``mol_passes_filters``: ring size < 8, no charge, allowed atoms, no MCF/PAINS
    match (on the molecule with explicit hydrogens), and a SMILES that parses back."""
    if mol is None:
        return False
    rings = mol.GetRingInfo()
    if rings.NumRings() and any(len(r) >= 8 for r in rings.AtomRings()):
        return False
    if any(atom.GetFormalCharge() != 0 for atom in mol.GetAtoms()):
        return False
    if any(atom.GetSymbol() not in ALLOWED_ATOMS for atom in mol.GetAtoms()):
        return False
    with_h = Chem.AddHs(mol)
    if any(with_h.HasSubstructMatch(pattern) for pattern in moses_filters()):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and Chem.MolFromSmiles(smiles) is not None


def fraction_passes_filters(mols: Sequence[Chem.Mol]) -> float:
    if not mols:
        raise ValueError("filters: no valid molecules")
    return sum(map(mol_passes_filters, mols)) / len(mols)


def fragments(mol: Chem.Mol) -> list[str]:
    """BRICS fragments (canonical SMILES with dummy atoms) of one molecule."""
    return str(Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol))).split(".")


def compute_fragments(mols: Iterable[Chem.Mol]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for mol in mols:
        counts.update(fragments(mol))
    return counts


def scaffold(mol: Chem.Mol, min_rings: int = 2) -> str | None:
    """Bemis-Murcko scaffold SMILES, or ``None`` with fewer than ``min_rings`` rings."""
    try:
        scaf = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    smiles = str(Chem.MolToSmiles(scaf))
    if not smiles or scaf.GetRingInfo().NumRings() < min_rings:
        return None
    return smiles


def compute_scaffolds(mols: Iterable[Chem.Mol], min_rings: int = 2) -> Counter[str]:
    counts = Counter(scaffold(m, min_rings) for m in mols)
    counts.pop(None, None)
    return Counter({k: v for k, v in counts.items() if k is not None})


def cos_similarity(ref: Mapping[str, int], gen: Mapping[str, int]) -> float:
    """Cosine similarity of two count vectors given as ``{key: count}`` (NaN if one is empty)."""
    if not ref or not gen:
        return float("nan")
    keys = sorted(set(ref) | set(gen))
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    g = np.array([gen.get(k, 0) for k in keys], dtype=np.float64)
    return float(r @ g / (np.linalg.norm(r) * np.linalg.norm(g)))


@dataclass
class Reference:
    """What the metrics compare against for one reference set (e.g. MOSES test)."""

    name: str
    fcd_mu: np.ndarray
    fcd_sigma: np.ndarray
    fps: np.ndarray
    frag: Mapping[str, int]
    scaf: Mapping[str, int]
    source: str
