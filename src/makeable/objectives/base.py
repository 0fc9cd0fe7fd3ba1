"""The ``Objective`` interface and its registry.

An objective scores a batch of items (SMILES strings for molecules; sequence tasks reuse the
same interface with their own parsing). The public ``__call__`` does the cross-cutting work once
(parsing, invalid/empty handling, isolation of failures); an implementer overrides one hook,
:meth:`Objective._score`, that scores parsed items (RDKit molecules by default).

Two more methods say what an item *is*: :meth:`Objective.parse` (``None`` when invalid) and
:meth:`Objective.canonical` (the identity under which the oracle counts and caches calls).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rdkit import Chem

from makeable.chem.molecule import canonical_smiles, parse_smiles, quiet_rdkit
from makeable.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """Scores of a batch, in input order.

    Attributes:
        values: float64 array, shape ``(n,)``; 0.0 where ``valid`` is False.
        valid: bool array, shape ``(n,)``; False for unparseable, empty or too large SMILES
            or a failed score.
        error: why the first molecule whose scoring failed failed (the exception, or the
            non-finite score); ``None`` when none failed.
    """

    values: np.ndarray
    valid: np.ndarray
    error: str | None = None

    def __len__(self) -> int:
        return len(self.values)


class Objective(ABC):
    """Scores molecules; higher is better unless the objective says otherwise.

    Subclasses implement :meth:`_score`. ``invalid_score`` is what an invalid or
    empty SMILES gets (0.0, as in PMO/mol_opt).
    """

    name: str = "objective"
    invalid_score: float = 0.0

    def parse(self, item: str) -> Any | None:
        """Parse one input item; ``None`` if it is invalid (default: a SMILES string; one too
        large to score is invalid, see :func:`makeable.chem.molecule.parse_smiles`)."""
        return parse_smiles(item, limit_size=True)

    def canonical(self, item: str) -> str | None:
        """The item's identity for counting and caching; ``None`` if invalid (or too large)."""
        return canonical_smiles(item, limit_size=True)

    def __call__(self, smiles: Sequence[str]) -> Scores:
        smiles = list(smiles)
        values = np.full(len(smiles), self.invalid_score, dtype=np.float64)
        valid = np.zeros(len(smiles), dtype=bool)
        mols: list[Any] = []
        where: list[int] = []
        for i, smi in enumerate(smiles):
            mol = self.parse(smi)
            if mol is not None:
                mols.append(mol)
                where.append(i)
        error = None
        if mols:
            out, ok, error = self._score_isolated(mols)
            values[where] = np.where(ok, out, self.invalid_score)
            valid[where] = ok
        return Scores(values, valid, error)

    def score(self, smiles: str) -> float:
        """Score one SMILES (convenience; batch calls are faster)."""
        return float(self([smiles]).values[0])

    def _safe_score(self, mols: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Score a batch; if the batch fails, score one by one so one bad molecule fails alone."""
        out, ok, _ = self._score_isolated(mols)
        return out, ok

    def _score_isolated(self, mols: list[Any]) -> tuple[np.ndarray, np.ndarray, str | None]:
        """:meth:`_safe_score`, and why the first failed molecule failed (``None``: none did)."""
        try:
            with quiet_rdkit():
                out = np.asarray(self._score(mols), dtype=np.float64)
            if out.shape != (len(mols),):
                raise ValueError(f"{self.name}: expected {len(mols)} scores, got shape {out.shape}")
            ok = np.isfinite(out)
            return out, ok, None if ok.all() else f"a non-finite score ({out[~ok][0]})"
        except Exception as exc:  # noqa: BLE001 - isolate the failing molecule below
            if len(mols) == 1:
                log.debug("objective %s failed on one item", self.name, exc_info=True)
                return np.zeros(1), np.zeros(1, dtype=bool), f"{type(exc).__name__}: {exc}"
        outs, oks, errors = zip(*(self._score_isolated([m]) for m in mols), strict=True)
        error = next((e for e in errors if e is not None), None)
        return np.concatenate(outs), np.concatenate(oks), error

    @abstractmethod
    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        """Score parsed items (RDKit molecules by default). Returns floats, shape ``(n,)``."""

    def close(self) -> None:
        """Release what the objective holds open (files); called when a run's scoring ends.
        Nothing by default."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class FunctionObjective(Objective):
    """An objective from a user function.

    Args:
        name: the objective's name (used for columns and run records).
        fn: ``f(smiles) -> float`` (or ``f(mol)`` with ``takes="mol"``); with ``batched=True``
            it takes a list and returns a sequence of floats of the same length.
        takes: ``"smiles"`` (canonical SMILES strings) or ``"mol"`` (RDKit molecules).
        batched: whether ``fn`` scores a whole batch at once.
    """

    def __init__(
        self, name: str, fn: Callable[..., Any], takes: str = "smiles", batched: bool = False
    ) -> None:
        if takes not in ("smiles", "mol"):
            raise ValueError(f"takes must be 'smiles' or 'mol', not {takes!r}")
        self.name = name
        self._fn = fn
        self._takes = takes
        self._batched = batched

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        items: list[Any] = (
            [Chem.MolToSmiles(m) for m in mols] if self._takes == "smiles" else list(mols)
        )
        if self._batched:
            return np.asarray(self._fn(items), dtype=np.float64)
        return np.array([self._number(self._fn(x)) for x in items], dtype=np.float64)

    def _number(self, value: Any) -> float:
        """The function's return value as a float; anything else fails saying what it was."""
        try:
            return float(value)
        except (TypeError, ValueError):
            kind = type(value).__name__
            raise TypeError(f"{self.name} returned {kind} {value!r:.80}, not a number") from None


OBJECTIVES: Registry[Objective] = Registry("objective", group="makeable.objectives")
