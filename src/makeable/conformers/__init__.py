"""Conformer ensembles of one molecule in torsion space: the environment
(:mod:`~makeable.conformers.torsions`), energies (:mod:`~makeable.conformers.energy`), the torsion
GFlowNet (:mod:`~makeable.conformers.gfn`), baselines and references
(:mod:`~makeable.conformers.sampling`), metrics, and the ``makeable conformers`` job
(:mod:`~makeable.conformers.generate`, :mod:`~makeable.conformers.output`).

Kept light: importing the package imports neither torch nor matplotlib.
"""
