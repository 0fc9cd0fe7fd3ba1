"""``sleepy_qed``: QED after a fixed wait per molecule, for testing parallel scoring.

A stand-in for an expensive objective (docking, a simulation, a remote service): each molecule
costs ``delay`` seconds of waiting, then scores its QED. Throughput then depends on how many
workers score at once, not on this machine's cores, which makes it the objective for checking
that an executor (``--executor process|ray``) scales and for ``makeable bench scaling``::

    makeable design --objective sleepy_qed --objective-param delay=0.1 \\
        --executor ray --workers 8 --budget 500 --out runs/sleepy
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from rdkit import Chem

from makeable.chem import descriptors
from makeable.objectives.base import OBJECTIVES, Objective


@OBJECTIVES.register("sleepy_qed")
class SleepyQED(Objective):
    """QED after ``delay`` seconds of sleep per molecule (a slow objective for tests and
    scaling benchmarks; the scores are exactly those of ``qed``).

    Args:
        delay: seconds each molecule waits before it is scored (default 0.01).

    Raises:
        ValueError: a negative or non-finite delay.
    """

    name = "sleepy_qed"

    def __init__(self, delay: float = 0.01) -> None:
        delay = float(delay)
        if not math.isfinite(delay) or delay < 0:
            raise ValueError(f"sleepy_qed: delay must be 0 or more seconds, not {delay}")
        self.delay = delay

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay * len(mols))
        return np.array([descriptors.qed(m) for m in mols], dtype=np.float64)
