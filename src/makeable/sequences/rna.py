"""RNA binding landscapes (FLEXS ``L14_RNA1-3``; δ-CS's RNA-A/B/C), scored with ViennaRNA.

Fitness of a 14-mer ``s`` against target ``t`` (Sinai et al. 2020, FLEXS,
https://arxiv.org/abs/2010.02141): ``duplexfold(t, s).energy / norm_t`` with
``norm_t = duplexfold(revcomp(t), t).energy × L / len(t)``, where ``revcomp`` pairs A↔U, C↔G and
reverses. Both energies are negative, so better binders score higher (about 0.1–0.2 for the
δ-CS starting sets). ViennaRNA is PyPI ``viennarna`` (import ``RNA``), imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from makeable.data import sequences as seqdata
from makeable.sequences.tasks import TASKS, SequenceTask

_COMPLEMENT = {"A": "U", "U": "A", "C": "G", "G": "C"}


def _vienna() -> Any:
    try:
        import RNA
    except ImportError as exc:  # pragma: no cover - viennarna is a dependency
        raise ImportError(
            "the RNA tasks need ViennaRNA: pip install viennarna (import name RNA)"
        ) from exc
    return RNA


def reverse_complement(seq: str) -> str:
    """RNA reverse complement (A↔U, C↔G, reversed)."""
    return "".join(_COMPLEMENT[c] for c in reversed(seq))


class RNABinding(SequenceTask):
    """Binding of a length-``L`` RNA to the FLEXS target ``target`` (1-based).

    Args:
        target: which FLEXS target (1..4); RNA-A/B/C use 1/2/3.
        length: sequence length (14 in FLEXS ``L14_*`` and δ-CS).
    """

    alphabet = seqdata.RNA_ALPHABET

    def __init__(self, target: int = 1, length: int = 14) -> None:
        self.target = target
        self.length = length
        self.name = {1: "rna_a", 2: "rna_b", 3: "rna_c"}.get(target, f"rna_t{target}")
        if length != 14:
            self.name = f"{self.name}_l{length}"
        seqdata.sequence_file("rna_targets.txt")  # fail early (not with 0 scores) if missing

    @cached_property
    def _target_and_norm(self) -> tuple[str, float]:
        targets = seqdata.rna_targets()
        if not 1 <= self.target <= len(targets):
            raise ValueError(f"target must be in 1..{len(targets)}, not {self.target}")
        target = targets[self.target - 1]
        best = _vienna().duplexfold(reverse_complement(target), target).energy
        return target, best * self.length / len(target)

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        rna = _vienna()
        target, norm = self._target_and_norm
        return np.array([rna.duplexfold(target, s).energy / norm for s in mols], dtype=np.float64)

    def initial_data(self) -> tuple[list[str], np.ndarray]:
        if self.length != 14 or self.target not in (1, 2, 3):
            raise ValueError("δ-CS starting sets exist only for RNA-A/B/C of length 14")
        return seqdata.rna_initial(self.target)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "flexs_problem": f"L{self.length}_RNA{self.target}"}


def _rna(target: int) -> Any:
    def factory() -> RNABinding:
        return RNABinding(target=target)

    factory.__doc__ = f"FLEXS L14_RNA{target}: 14-mers binding target {target}."
    return factory


TASKS.add("rna_a", _rna(1))
TASKS.add("rna_b", _rna(2))
TASKS.add("rna_c", _rna(3))
