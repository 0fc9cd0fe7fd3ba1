"""The GuacaMol goal-directed objectives that the PMO set does not already provide.

Eighteen of the twenty GuacaMol v2 goal-directed benchmarks score molecules exactly as the PMO
objectives of the same name (:mod:`makeable.objectives.pmo`, which reproduce TDC's copies of the
GuacaMol scoring functions). This module adds the remaining two scoring functions:

* ``aripiprazole_similarity``: ECFP4 (unhashed Morgan counts, radius 2) Tanimoto similarity to
  aripiprazole through a clipped modifier reaching 1.0 at similarity 0.75;
* ``isomers_c11h24``: the isomer score for C11H24 (geometric mean of a Gaussian, sigma 1, on the
  count of each element and a Gaussian, sigma 2, on the total atom count, hydrogens included).

Both follow GuacaMol's ``standard_benchmarks.py`` (``similarity(...)`` as listed in
``benchmark_suites.py``'s ``GoalDirectedV2`` and ``isomers_c11h24()``, whose
``IsomerScoringFunction`` defaults to the geometric mean). One deliberate difference, shared
with the PMO isomer objectives: GuacaMol's total atom count (``Chem.AddHs(mol).GetNumAtoms()``)
counts dummy atoms (``*``), :class:`~makeable.objectives.pmo.Isomer` leaves them out, since a
dummy atom is not an element of a molecular formula.

With these two, the objectives of the twenty tasks were checked against the scoring functions of
the ``guacamol`` 0.5.5 package (``goal_directed_suite_v2()``) on 300 ZINC250k molecules and a
few targets: equal to 1e-15, except for a molecule with a dummy atom.

References:
    Brown et al., "GuacaMol: Benchmarking Models for de Novo Molecular Design", J. Chem. Inf.
    Model. 59, 1096-1108 (2019), https://doi.org/10.1021/acs.jcim.8b00839; code:
    https://github.com/BenevolentAI/guacamol (``guacamol/standard_benchmarks.py``,
    ``guacamol/benchmark_suites.py``, ``guacamol/common_scoring_functions.py``).
"""

from __future__ import annotations

from makeable.objectives.base import OBJECTIVES, Objective
from makeable.objectives.modifiers import Clipped
from makeable.objectives.pmo import Isomer, PmoObjective, Similarity

ARIPIPRAZOLE = "Clc4cccc(N3CCN(CCCCOc2ccc1c(NC(=O)CC1)c2)CC3)c4Cl"


@OBJECTIVES.register("aripiprazole_similarity")
def aripiprazole_similarity() -> Objective:
    """Aripiprazole similarity: ECFP4 Tanimoto to aripiprazole, clipped to reach 1 at 0.75."""
    return PmoObjective(
        "aripiprazole_similarity", [Similarity(ARIPIPRAZOLE, "ecfp4", Clipped(0.75))]
    )


@OBJECTIVES.register("isomers_c11h24")
def isomers_c11h24() -> Objective:
    """C11H24 isomers: 1.0 for any of the 159 constitutional isomers of undecane."""
    return PmoObjective("isomers_c11h24", [Isomer("C11H24")])


GUACAMOL_OBJECTIVES = ("aripiprazole_similarity", "isomers_c11h24")
"""Names registered by this module."""

__all__ = ["ARIPIPRAZOLE", "GUACAMOL_OBJECTIVES"]
