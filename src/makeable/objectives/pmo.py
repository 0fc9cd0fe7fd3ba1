"""The PMO benchmark objectives (GuacaMol goal-directed tasks as packaged by TDC / mol_opt).

Every objective reproduces TDC 1.1.15's oracle of the same name (``tdc/chem_utils/oracle/
oracle.py``), which re-implements the GuacaMol scoring functions: similarity to a target
drug on a given fingerprint (ECFP4/ECFP6/FCFP4 counts, atom pairs, Gobbi 2D pharmacophores),
property desirabilities through score modifiers, SMARTS presence/absence, molecular-formula
(isomer) scores, combined by a geometric or arithmetic mean. The three bioactivity models
(``drd2``, ``jnk3``, ``gsk3b``) live in :mod:`makeable.objectives.bioactivity`.

Batches are scored term by term: fingerprints and descriptors are computed once per molecule
and batch, similarities against a target use RDKit's bulk Tanimoto, and target fingerprints
and SMARTS patterns are built once per process (never pickled with the objective).

References:
    Brown et al., "GuacaMol: Benchmarking Models for de Novo Molecular Design", JCIM 2019.
    Huang et al., "Therapeutics Data Commons", NeurIPS Datasets and Benchmarks 2021.
    Gao et al., "Sample Efficiency Matters: A Benchmark for Practical Molecular
    Optimization" (PMO), NeurIPS Datasets and Benchmarks 2022.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import Crippen, GraphDescriptors, rdMolDescriptors

from makeable.chem import descriptors
from makeable.chem.fingerprints import bulk_tanimoto, fingerprint, pharmacophore_2d
from makeable.objectives.base import OBJECTIVES, Objective
from makeable.objectives.modifiers import (
    Clipped,
    Gaussian,
    MaxGaussian,
    MinGaussian,
    Modifier,
    arithmetic_mean,
    geometric_mean,
)

_PROPERTIES: dict[str, Callable[[Chem.Mol], float]] = {
    "tpsa": rdMolDescriptors.CalcTPSA,
    "logp": Crippen.MolLogP,
    "bertz": GraphDescriptors.BertzCT,
    "num_rings": rdMolDescriptors.CalcNumRings,
    "num_aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
}


def _fingerprint(mol: Chem.Mol, kind: str) -> Any:
    return pharmacophore_2d(mol) if kind == "phco" else fingerprint(mol, kind)


# Per-process caches of what depends only on an objective's constants.
_TARGET_FPS: dict[tuple[str, str], Any] = {}
_PATTERNS: dict[str, Chem.Mol] = {}


def _target_fp(kind: str, smiles: str) -> Any:
    key = (kind, smiles)
    if key not in _TARGET_FPS:
        _TARGET_FPS[key] = _fingerprint(Chem.MolFromSmiles(smiles), kind)
    return _TARGET_FPS[key]


def _pattern(smarts: str) -> Chem.Mol:
    if smarts not in _PATTERNS:
        query = Chem.MolFromSmarts(smarts)
        if query is None:
            raise ValueError(f"invalid SMARTS {smarts!r}")
        _PATTERNS[smarts] = query
    return _PATTERNS[smarts]


def _property_of(smiles: str, prop: str) -> float:
    """A property of a reference molecule (the centre of a Gaussian desirability)."""
    return float(_PROPERTIES[prop](Chem.MolFromSmiles(smiles)))


class _Batch:
    """The molecules of one call, with fingerprints and properties computed on demand."""

    def __init__(self, mols: Sequence[Chem.Mol]) -> None:
        self.mols = list(mols)
        self._fps: dict[str, list[Any]] = {}
        self._props: dict[str, np.ndarray] = {}

    def fps(self, kind: str) -> list[Any]:
        if kind not in self._fps:
            self._fps[kind] = [_fingerprint(m, kind) for m in self.mols]
        return self._fps[kind]

    def prop(self, name: str) -> np.ndarray:
        if name not in self._props:
            func = _PROPERTIES[name]
            self._props[name] = np.array([func(m) for m in self.mols], dtype=np.float64)
        return self._props[name]

    def subset(self, rows: np.ndarray) -> _Batch:
        """The batch restricted to ``rows`` (indices), keeping what is already computed."""
        sub = _Batch([self.mols[i] for i in rows])
        sub._fps = {k: [v[i] for i in rows] for k, v in self._fps.items()}
        sub._props = {k: v[rows] for k, v in self._props.items()}
        return sub


class Term:
    """One factor of a multi-property objective: raw values of a batch, then a modifier."""

    modifier: Modifier | None = None

    def raw(self, batch: _Batch) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, batch: _Batch) -> np.ndarray:
        values = self.raw(batch)
        return values if self.modifier is None else self.modifier(values)


@dataclass(frozen=True)
class Similarity(Term):
    """Tanimoto similarity to ``target`` on fingerprint ``fp`` (ecfp4/ecfp6/fcfp4/ap/phco)."""

    target: str
    fp: str
    modifier: Modifier | None = None

    def raw(self, batch: _Batch) -> np.ndarray:
        return bulk_tanimoto(_target_fp(self.fp, self.target), batch.fps(self.fp))


@dataclass(frozen=True)
class Property(Term):
    """A molecular property (see ``_PROPERTIES``) through a modifier."""

    name: str
    modifier: Modifier | None = None

    def raw(self, batch: _Batch) -> np.ndarray:
        return batch.prop(self.name)


@dataclass(frozen=True)
class AtomCount(Term):
    """Number of atoms of one element (hydrogens included, implicit or not)."""

    element: str
    modifier: Modifier | None = None

    def raw(self, batch: _Batch) -> np.ndarray:
        return np.array([_element_counts(m).get(self.element, 0) for m in batch.mols], float)


@dataclass(frozen=True)
class Smarts(Term):
    """1.0 when the SMARTS pattern matches (0.0 when ``inverse``), else the opposite."""

    smarts: str
    inverse: bool = False

    def raw(self, batch: _Batch) -> np.ndarray:
        query = _pattern(self.smarts)
        hits = np.array([m.HasSubstructMatch(query) for m in batch.mols], dtype=bool)
        return (hits != self.inverse).astype(np.float64)


def _element_counts(mol: Chem.Mol) -> dict[str, int]:
    """Element symbol -> count, hydrogens included (as in ``Chem.AddHs``)."""
    counts: dict[str, int] = {}
    n_h = 0
    for atom in mol.GetAtoms():
        symbol = atom.GetSymbol()
        counts[symbol] = counts.get(symbol, 0) + 1
        n_h += atom.GetTotalNumHs()
    if n_h:
        counts["H"] = counts.get("H", 0) + n_h
    return counts


@dataclass(frozen=True)
class Isomer(Term):
    """GuacaMol isomer score for a molecular formula such as ``C7H8N2O2``.

    Geometric mean of a Gaussian (sigma 1) on the count of each element of the formula and a
    Gaussian (sigma 2) on the total number of atoms, hydrogens included.
    """

    formula: str

    def raw(self, batch: _Batch) -> np.ndarray:
        target = [
            (el, int(n) if n else 1) for el, n in re.findall(r"([A-Z][a-z]*)(\d*)", self.formula)
        ]
        n_total = sum(n for _, n in target)
        counts = [_element_counts(m) for m in batch.mols]
        columns = [
            Gaussian(n, 1.0)(np.array([c.get(el, 0) for c in counts], float)) for el, n in target
        ]
        # Dummy atoms ('*') are not elements of a molecular formula.
        totals = np.array([sum(v for k, v in c.items() if k != "*") for c in counts], float)
        columns.append(Gaussian(n_total, 2.0)(totals))
        return geometric_mean(np.column_stack(columns))


class PmoObjective(Objective):
    """A GuacaMol/PMO objective: the geometric or arithmetic mean of its terms.

    Args:
        name: Registered name.
        terms: The factors; with a single term its value is the score.
        mean: ``"geometric"`` or ``"arithmetic"``.
    """

    def __init__(self, name: str, terms: Sequence[Term], mean: str = "geometric") -> None:
        if mean not in ("geometric", "arithmetic"):
            raise ValueError(f"mean must be 'geometric' or 'arithmetic', not {mean!r}")
        self.name = name
        self.terms = tuple(terms)
        self.mean = mean

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        batch = _Batch(mols)
        if len(self.terms) == 1:
            return self.terms[0](batch)
        if self.mean == "arithmetic":
            return arithmetic_mean(np.column_stack([term(batch) for term in self.terms]))
        return self._geometric(batch)

    def _geometric(self, batch: _Batch) -> np.ndarray:
        """Geometric mean that skips the remaining terms of a molecule once one term is 0.

        A zero factor makes the mean 0 whatever the other factors are, so the cheap SMARTS
        gates are evaluated first and the costly terms only for the molecules that pass.
        """
        log_sum = np.zeros(len(batch.mols))
        alive = np.arange(len(batch.mols))
        for term in sorted(self.terms, key=lambda t: not isinstance(t, Smarts)):
            values = term(batch)
            with np.errstate(divide="ignore"):
                log_sum[alive] += np.log(values)
            keep = values > 0
            if not keep.all():
                alive = alive[keep]
                if alive.size == 0:
                    break
                batch = batch.subset(np.flatnonzero(keep))
        return np.exp(log_sum / len(self.terms))

    def __repr__(self) -> str:
        return f"PmoObjective(name={self.name!r}, terms={len(self.terms)}, mean={self.mean!r})"


def _register(name: str) -> Callable[[Callable[[], Objective]], Callable[[], Objective]]:
    return OBJECTIVES.register(name)


class DescriptorObjective(Objective):
    """An objective that is one per-molecule descriptor (a picklable module-level function).

    Args:
        name: Registered name.
        func: ``f(mol) -> float``.
    """

    def __init__(self, name: str, func: Callable[[Chem.Mol], float]) -> None:
        self.name = name
        self.func = func

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        return np.array([self.func(m) for m in mols], dtype=np.float64)


# ---------------------------------------------------------------- single-property objectives
for _name, _func in (
    ("qed", descriptors.qed),
    ("logp", descriptors.penalized_logp),
    ("sa", descriptors.sa_score),
    ("crippen_logp", descriptors.crippen_logp),
):
    OBJECTIVES.add(_name, lambda n=_name, f=_func: DescriptorObjective(n, f))

# ---------------------------------------------------------------- rediscovery and similarity
CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
THIOTHIXENE = "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
ALBUTEROL = "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"
MESTRANOL = "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1"
CAMPHOR = "CC1(C)C2CCC1(C)C(=O)C2"
MENTHOL = "CC(C)C1CCC(C)CC1O"
TADALAFIL = "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C"
SILDENAFIL = "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C"

for _name, _target in (
    ("celecoxib_rediscovery", CELECOXIB),
    ("troglitazone_rediscovery", TROGLITAZONE),
    ("thiothixene_rediscovery", THIOTHIXENE),
):
    OBJECTIVES.add(_name, lambda n=_name, t=_target: PmoObjective(n, [Similarity(t, "ecfp4")]))

_register("albuterol_similarity")(
    lambda: PmoObjective("albuterol_similarity", [Similarity(ALBUTEROL, "fcfp4", Clipped(0.75))])
)
_register("mestranol_similarity")(
    lambda: PmoObjective("mestranol_similarity", [Similarity(MESTRANOL, "ap", Clipped(0.75))])
)
_register("median1")(
    lambda: PmoObjective("median1", [Similarity(CAMPHOR, "ecfp4"), Similarity(MENTHOL, "ecfp4")])
)
_register("median2")(
    lambda: PmoObjective(
        "median2", [Similarity(TADALAFIL, "ecfp6"), Similarity(SILDENAFIL, "ecfp6")]
    )
)

# ---------------------------------------------------------------- isomers
_register("isomers_c7h8n2o2")(lambda: PmoObjective("isomers_c7h8n2o2", [Isomer("C7H8N2O2")]))
_register("isomers_c9h10n2o2pf2cl")(
    lambda: PmoObjective("isomers_c9h10n2o2pf2cl", [Isomer("C9H10N2O2PF2Cl")])
)

# ---------------------------------------------------------------- multi-property (MPO)
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
RANOLAZINE = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
PERINDOPRIL = "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC"
AMLODIPINE = "Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\\C(=O)OC"
SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
ZALEPLON = "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1"
# valsartan_smarts takes its property targets from this (differently written) sitagliptin.
SITAGLIPTIN_ALT = "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F"
VALSARTAN_SMARTS = "CN(C=O)Cc1ccc(c2ccccc2)cc1"
HOP_PHARMACOPHORE = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
HOP_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"


@_register("osimertinib_mpo")
def osimertinib_mpo() -> Objective:
    """Osimertinib MPO: TPSA, logP and two similarities to osimertinib."""
    return PmoObjective(
        "osimertinib_mpo",
        [
            Property("tpsa", MaxGaussian(100, 10)),
            Property("logp", MinGaussian(1, 1)),
            Similarity(OSIMERTINIB, "fcfp4", Clipped(0.8)),
            Similarity(OSIMERTINIB, "ecfp6", MinGaussian(0.85, 0.1)),
        ],
    )


@_register("fexofenadine_mpo")
def fexofenadine_mpo() -> Objective:
    """Fexofenadine MPO: TPSA, logP and atom-pair similarity to fexofenadine."""
    return PmoObjective(
        "fexofenadine_mpo",
        [
            Property("tpsa", MaxGaussian(90, 10)),
            Property("logp", MinGaussian(4, 1)),
            Similarity(FEXOFENADINE, "ap", Clipped(0.8)),
        ],
    )


@_register("ranolazine_mpo")
def ranolazine_mpo() -> Objective:
    """Ranolazine MPO: TPSA, logP, atom-pair similarity and one fluorine."""
    return PmoObjective(
        "ranolazine_mpo",
        [
            Property("tpsa", MaxGaussian(95, 20)),
            Property("logp", MaxGaussian(7, 1)),
            Similarity(RANOLAZINE, "ap", Clipped(0.7)),
            AtomCount("F", Gaussian(1, 1.0)),
        ],
    )


@_register("perindopril_mpo")
def perindopril_mpo() -> Objective:
    """Perindopril MPO: ECFP4 similarity and two aromatic rings."""
    return PmoObjective(
        "perindopril_mpo",
        [Similarity(PERINDOPRIL, "ecfp4"), Property("num_aromatic_rings", Gaussian(2, 0.5))],
    )


@_register("amlodipine_mpo")
def amlodipine_mpo() -> Objective:
    """Amlodipine MPO: ECFP4 similarity and three rings."""
    return PmoObjective(
        "amlodipine_mpo",
        [Similarity(AMLODIPINE, "ecfp4"), Property("num_rings", Gaussian(3, 0.5))],
    )


@_register("sitagliptin_mpo")
def sitagliptin_mpo() -> Objective:
    """Sitagliptin MPO: dissimilar to sitagliptin but with its logP, TPSA and formula."""
    return PmoObjective(
        "sitagliptin_mpo",
        [
            Similarity(SITAGLIPTIN, "ecfp4", Gaussian(0, 0.1)),
            Property("logp", Gaussian(_property_of(SITAGLIPTIN, "logp"), 0.2)),
            Property("tpsa", Gaussian(_property_of(SITAGLIPTIN, "tpsa"), 5)),
            Isomer("C16H15F6N5O"),
        ],
    )


@_register("zaleplon_mpo")
def zaleplon_mpo() -> Objective:
    """Zaleplon MPO: ECFP4 similarity to zaleplon and its formula C19H17N3O2."""
    return PmoObjective("zaleplon_mpo", [Similarity(ZALEPLON, "ecfp4"), Isomer("C19H17N3O2")])


@_register("valsartan_smarts")
def valsartan_smarts() -> Objective:
    """Valsartan SMARTS: valsartan's substructure with sitagliptin's logP, TPSA and Bertz CT."""
    return PmoObjective(
        "valsartan_smarts",
        [
            Smarts(VALSARTAN_SMARTS),
            Property("tpsa", Gaussian(_property_of(SITAGLIPTIN_ALT, "tpsa"), 5)),
            Property("logp", Gaussian(_property_of(SITAGLIPTIN_ALT, "logp"), 0.2)),
            Property("bertz", Gaussian(_property_of(SITAGLIPTIN_ALT, "bertz"), 30)),
        ],
    )


@_register("deco_hop")
def deco_hop() -> Objective:
    """Decoration hop: keep the scaffold and the pharmacophore, change the decorations."""
    return PmoObjective(
        "deco_hop",
        [
            Similarity(HOP_PHARMACOPHORE, "phco", Clipped(0.85)),
            Smarts("CS([#6])(=O)=O", inverse=True),
            Smarts("[#7]-c1ccc2ncsc2c1", inverse=True),
            Smarts(HOP_SCAFFOLD),
        ],
        mean="arithmetic",
    )


@_register("scaffold_hop")
def scaffold_hop() -> Objective:
    """Scaffold hop: keep the decorations and the pharmacophore, change the scaffold."""
    return PmoObjective(
        "scaffold_hop",
        [
            Similarity(HOP_PHARMACOPHORE, "phco", Clipped(0.75)),
            Smarts("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),
            Smarts(HOP_SCAFFOLD, inverse=True),
        ],
        mean="arithmetic",
    )


PMO_OBJECTIVES = (
    "qed",
    "celecoxib_rediscovery",
    "troglitazone_rediscovery",
    "thiothixene_rediscovery",
    "albuterol_similarity",
    "mestranol_similarity",
    "isomers_c7h8n2o2",
    "isomers_c9h10n2o2pf2cl",
    "median1",
    "median2",
    "osimertinib_mpo",
    "fexofenadine_mpo",
    "ranolazine_mpo",
    "perindopril_mpo",
    "amlodipine_mpo",
    "sitagliptin_mpo",
    "zaleplon_mpo",
    "valsartan_smarts",
    "deco_hop",
    "scaffold_hop",
    "logp",
    "sa",
    "crippen_logp",
)
"""Names registered by this module."""

__all__ = ["PMO_OBJECTIVES", "DescriptorObjective", "PmoObjective"]
