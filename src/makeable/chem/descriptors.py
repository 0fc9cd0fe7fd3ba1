"""Molecular descriptors used by the PMO/TDC objectives.

* :func:`sa_score`: Ertl & Schuffenhauer's synthetic accessibility score, computed by the
  ``sascorer`` module that ships in RDKit's ``Contrib/SA_Score`` (loaded once, lazily);
* :func:`penalized_logp`: TDC's ``logp`` oracle, the JT-VAE *normalised* penalized logP;
* :func:`crippen_logp`: Wildman-Crippen logP;
* :func:`qed`: Bickerton's quantitative estimate of drug-likeness (RDKit);
* :func:`basic_properties`: the few numbers a chemist reads first (MW, cLogP, HBD, HBA, TPSA,
  rotatable bonds, QED, SA), for reports and result tables.

References:
    Ertl & Schuffenhauer, J. Cheminform. 1:8 (2009).
    Jin et al., "Junction Tree Variational Autoencoder for Molecular Graph Generation",
    ICML 2018 (penalized logP normalisation constants).
    Huang et al., "Therapeutics Data Commons" (``tdc/chem_utils/oracle/oracle.py``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from types import ModuleType

import networkx as nx
from rdkit import Chem, RDConfig
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

from makeable.chem.molecule import InvalidSmilesError, parse_smiles

# JT-VAE normalisation of penalized logP (means and standard deviations over ZINC250k).
LOGP_MEAN = 2.4570953396190123
LOGP_STD = 1.434324401111988
SA_MEAN = -3.0525811293166134
SA_STD = 0.8335207024513095
CYCLE_MEAN = -0.0485696876403053
CYCLE_STD = 0.2860212110245455

_sascorer: ModuleType | None = None
_sascorer_lock = threading.Lock()


def _load_sascorer() -> ModuleType:
    """Import RDKit's Contrib ``sascorer`` once and read its fragment scores."""
    global _sascorer
    if _sascorer is None:
        with _sascorer_lock:
            if _sascorer is None:
                path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
                spec = importlib.util.spec_from_file_location("_makeable_sascorer", path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"RDKit Contrib sascorer not found at {path}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                module.readFragmentScores()
                _sascorer = module
    return _sascorer


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility score (1 = easy to make, 10 = hard).

    Args:
        mol: An RDKit molecule.

    Returns:
        The raw SA score in [1, 10], as RDKit Contrib's ``sascorer.calculateScore``.

    Raises:
        ValueError: For a molecule without atoms.
    """
    score = _load_sascorer().calculateScore(mol)
    if score is None:
        raise ValueError("SA score is undefined for a molecule without atoms")
    return float(score)


def crippen_logp(mol: Chem.Mol) -> float:
    """Wildman-Crippen logP (``rdkit.Chem.Crippen.MolLogP``).

    Args:
        mol: An RDKit molecule.

    Returns:
        The estimated octanol/water partition coefficient.
    """
    return float(Crippen.MolLogP(mol))


def qed(mol: Chem.Mol) -> float:
    """Quantitative estimate of drug-likeness (``rdkit.Chem.QED.qed``, default weights).

    Args:
        mol: An RDKit molecule.

    Returns:
        QED in [0, 1].
    """
    return float(QED.qed(mol))


def largest_cycle_basis_ring(mol: Chem.Mol) -> int:
    """Size of the largest cycle in networkx's cycle basis of the molecular graph.

    This is the ring measure of JT-VAE/TDC penalized logP. The cycle basis is not unique for
    fused ring systems, so for those the exact networkx algorithm is run on the graph built as
    ``nx.Graph(GetAdjacencyMatrix(mol))``. Shortcut: when RDKit's rings are pairwise
    bond-disjoint and as many as the cycle rank ``bonds - atoms + fragments``, they are a basis
    of the cycle space and every simple cycle is one of them (a cactus graph), so every cycle
    basis consists of exactly these rings and networkx is not needed.

    Args:
        mol: An RDKit molecule.

    Returns:
        The number of atoms in the largest basis cycle; 0 for an acyclic molecule.
    """
    ring_info = mol.GetRingInfo()
    bond_rings = ring_info.BondRings()
    if not bond_rings:
        return 0
    ring_bonds = [b for ring in bond_rings for b in ring]
    if len(ring_bonds) == len(set(ring_bonds)):
        rank = mol.GetNumBonds() - mol.GetNumAtoms() + len(Chem.GetMolFrags(mol))
        if rank == len(bond_rings):
            return max(len(ring) for ring in bond_rings)
    graph = nx.from_numpy_array(Chem.GetAdjacencyMatrix(mol))
    cycles = nx.cycle_basis(graph)
    return max((len(c) for c in cycles), default=0)


def penalized_logp(mol: Chem.Mol) -> float:
    """TDC's ``logp`` oracle: JT-VAE normalised penalized logP.

    ``(logP - 2.4571) / 1.4343 + (-SA + 3.0526) / 0.8335 + (-cycle + 0.0486) / 0.2860`` with
    ``cycle = max(largest cycle-basis ring - 6, 0)`` (see :func:`largest_cycle_basis_ring`).

    Args:
        mol: An RDKit molecule.

    Returns:
        The normalised penalized logP (unbounded; higher is better).
    """
    log_p = crippen_logp(mol)
    sa = -sa_score(mol)
    cycle = -max(largest_cycle_basis_ring(mol) - 6, 0)
    return (
        (log_p - LOGP_MEAN) / LOGP_STD + (sa - SA_MEAN) / SA_STD + (cycle - CYCLE_MEAN) / CYCLE_STD
    )


def basic_properties(smiles: str) -> dict[str, float]:
    """The properties a chemist reads first, keyed by short lower-case names.

    Args:
        smiles: a SMILES string.

    Returns:
        ``mw`` (average molecular weight, g/mol), ``clogp`` (:func:`crippen_logp`), ``hbd`` and
        ``hba`` (Lipinski hydrogen-bond donors and acceptors), ``tpsa`` (topological polar
        surface area, Å²), ``rotatable_bonds``, ``qed`` (:func:`qed`) and ``sa``
        (:func:`sa_score`).

    Raises:
        InvalidSmilesError: RDKit cannot parse ``smiles``.
    """
    mol = parse_smiles(smiles)
    if mol is None:
        raise InvalidSmilesError(f"invalid SMILES {smiles!r}: RDKit could not parse it")
    return {
        "mw": float(Descriptors.MolWt(mol)),
        "clogp": crippen_logp(mol),
        "hbd": rdMolDescriptors.CalcNumLipinskiHBD(mol),
        "hba": rdMolDescriptors.CalcNumLipinskiHBA(mol),
        "tpsa": float(rdMolDescriptors.CalcTPSA(mol)),
        "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds(mol),
        "qed": qed(mol),
        "sa": sa_score(mol),
    }


__all__ = [
    "basic_properties",
    "crippen_logp",
    "largest_cycle_basis_ring",
    "penalized_logp",
    "qed",
    "sa_score",
]
