"""Synthesizability inside the design loop: an objective's score combined with a synthesis
verdict, for every optimizer (``makeable design --synthesis score|plan``).

:func:`synthesis_objective` wraps the run's objective in a :class:`SynthesisAware` objective:

* ``score``: ``objective × s ** weight``, where ``s`` in [0, 1] is a registered objective,
  by default ``synth_score`` (the learned probability that the planner finds a route from the
  shipped stock, :mod:`makeable.objectives.synthesizability`). Cheap (about a millisecond a
  molecule); a guide, not a verdict.
* ``plan``: every molecule the oracle counts is planned (Retro*, ``budget`` single-step
  calls, the search ending at its first makeable route), as Saturn puts a planner in the loop
  (Guo & Schwaller 2024). Its score is the objective's when the molecule is *makeable*
  (a route whose every starting material an exact stock holds), else ``objective ×
  penalty`` (default 0: the optimizer sees only makeable molecules score); with
  ``length_weight = w`` a makeable molecule made in ``n`` reactions keeps
  ``(1 - w) ** max(n - 1, 0)`` of its score, so shorter routes win.

Accounting and resume: planning spends single-step model calls, never oracle calls. Each
planned molecule is one line of ``RUN/synthesis/plans.jsonl`` (canonical SMILES, objective
score, verdict, model calls, seconds, reactions), appended as it is planned, so a run killed
and resumed plans no molecule twice (the oracle replays the recorded scores and asks only new
molecules) and the total of model calls is exact. :func:`synthesis_summary` reads the file for
``metrics.json``. In ``score`` mode the file holds the objective score and the factor. A plan
is deterministic (a search makes the same calls in every process), so a replayed run sees the
same scores. Planning runs in the process of the oracle: the ``process`` executor is refused.

References:
    Guo, Schwaller, "Saturn: Sample-efficient Generative Molecular Design using Memory
    Manipulation" and "Directly optimizing for synthesizability in generative molecular
    design using retrosynthesis models", Chem. Sci. 2025 (arXiv:2407.12186).
    Thakkar et al., "Retrosynthetic accessibility score (RAscore)", Chem. Sci. 2021.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from rdkit import Chem

from makeable.data.stocks import DEFAULT_STOCK, Stock, load_stock
from makeable.objectives import get_objective
from makeable.objectives.base import Objective
from makeable.results_csv import open_append, read_jsonl
from makeable.retro.planning.search import PlanResult, SearchSettings, plan_many
from makeable.retro.single_step.base import PredictionMemo, SingleStepModel, load_model
from makeable.synthesis import MODES, PLANNING_MODEL

log = logging.getLogger(__name__)

PLANS = "synthesis/plans.jsonl"
"""Run-folder file: one JSON line per molecule planned (or scored) in the loop."""


@dataclass(frozen=True)
class SynthesisParams:
    """The settings of the synthesis term (``synthesis_params`` in a design config).

    Args:
        score: ``score`` mode: the [0, 1] objective that multiplies the score.
        weight: ``score`` mode: exponent of that factor (0 turns it off, 1 multiplies).
        stock: ``plan`` mode: where routes may end (a named stock, a file, ``a+b``).
        model: ``plan`` mode: the single-step model (registered name or folder).
        model_params: ``plan`` mode: overrides of the model's inference settings.
        budget: ``plan`` mode: single-step calls per molecule (``max_calls``, its older
            name, is still read).
        penalty: ``plan`` mode: factor of the score of a molecule that is not makeable.
        length_weight: ``plan`` mode: a makeable molecule made in ``n`` reactions keeps
            ``(1 - length_weight) ** max(n - 1, 0)`` of its score.
    """

    score: str = "synth_score"
    weight: float = 1.0
    stock: str = DEFAULT_STOCK
    model: str = PLANNING_MODEL
    model_params: Mapping[str, Any] | None = None
    budget: int = 20
    penalty: float = 0.0
    length_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.penalty <= 1.0:
            raise ValueError(f"synthesis penalty must be in [0, 1], not {self.penalty}")
        if not 0.0 <= self.length_weight < 1.0:
            raise ValueError(f"synthesis length_weight must be in [0, 1), not {self.length_weight}")
        if self.weight < 0:
            raise ValueError(f"synthesis weight must be at least 0, not {self.weight}")
        if self.budget < 1:
            raise ValueError(f"synthesis budget must be at least 1, not {self.budget}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SynthesisParams:
        """Build from a config mapping; an unknown key is an error naming the valid ones."""
        if "max_calls" in data:  # the key's older name
            data = {("budget" if k == "max_calls" else k): v for k, v in data.items()}
        names = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"unknown synthesis parameter(s) {unknown}; valid: {', '.join(sorted(names))}"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"synthesis parameters: {exc}") from exc


class SynthesisAware(Objective):
    """An objective whose score is combined with a synthesis term (see the module docstring).

    Args:
        inner: the run's objective.
        mode: ``score`` or ``plan``.
        params: the synthesis settings.
        folder: the run folder (``synthesis/plans.jsonl`` is kept there); ``None``: memory.
        model, stock: a loaded single-step model and stock (``plan`` mode; loaded from
            ``params`` when not given).
    """

    def __init__(
        self,
        inner: Objective,
        mode: str,
        params: SynthesisParams,
        folder: Path | None = None,
        model: SingleStepModel | None = None,
        stock: Stock | None = None,
    ) -> None:
        if mode not in ("score", "plan"):
            raise ValueError(f"synthesis mode must be 'score' or 'plan', not {mode!r}")
        self.inner = inner
        self.mode = mode
        self.params = params
        self.name = inner.name
        self.invalid_score = inner.invalid_score
        self._factor: Objective | None = None
        self._model = model
        self._stock = stock
        if mode == "score":
            self._factor = get_objective(params.score)
        else:
            self._stock = stock or load_stock(params.stock)
            if model is None:  # this run's own model, never trained: repeats are free
                model = load_model(params.model, dict(params.model_params or {}))
                model.memo = PredictionMemo()
            self._model = model
        self.settings = SearchSettings(
            algorithm="retro_star", max_calls=params.budget, stop_on_first_solution=True
        )
        self.path = folder / PLANS if folder is not None else None
        self._done: dict[str, dict[str, Any]] = {}
        if self.path is not None:
            self._done = {r["smiles"]: r for r in read_jsonl(self.path, missing_ok=True)}
        self._fh: IO[str] | None = None

    def parse(self, item: str) -> Any | None:
        return self.inner.parse(item)

    def canonical(self, item: str) -> str | None:
        return self.inner.canonical(item)

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        smiles = [Chem.MolToSmiles(m) for m in mols]
        base = self.inner(smiles)
        values = np.where(base.valid, base.values, np.nan)
        todo = [s for s, ok in zip(smiles, base.valid, strict=True) if ok and s not in self._done]
        if todo:
            self._judge(todo, dict(zip(smiles, base.values.tolist(), strict=True)))
        factors = np.array([self._done[s]["factor"] if s in self._done else 1.0 for s in smiles])
        return values * factors

    def _judge(self, smiles: list[str], raw: Mapping[str, float]) -> None:
        """Judge the molecules and keep each record as soon as it is made."""
        if self.mode == "score":
            assert self._factor is not None
            s = self._factor(smiles)
            for m, v in zip(smiles, np.where(s.valid, s.values, 0.0).tolist(), strict=True):
                self._keep(
                    {"smiles": m, "score": raw[m], "synth": v, "factor": v**self.params.weight}
                )
            return
        assert self._model is not None and self._stock is not None

        def keep(result: PlanResult) -> None:
            best = result.best
            n = best.n_reactions if best is not None and result.solved else None
            if result.solved:
                factor = (1.0 - self.params.length_weight) ** max((n or 0) - 1, 0)
            else:
                factor = self.params.penalty
            self._keep(
                {
                    "smiles": result.target,
                    "score": raw[result.target],
                    "verdict": result.verdict,
                    "makeable": result.solved,
                    "n_reactions": n,
                    "calls": result.calls,
                    "seconds": round(result.seconds, 3),
                    "factor": factor,
                }
            )

        plan_many(smiles, self._model, self._stock, self.settings, on_result=keep)

    def _keep(self, record: dict[str, Any]) -> None:
        self._done[record["smiles"]] = record
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open_append(self.path)
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "a synthesis-aware objective plans in the oracle's process: use the inprocess "
            "executor with --synthesis"
        )


def synthesis_objective(
    inner: Objective, mode: str, params: Mapping[str, Any], folder: Path | None
) -> Objective:
    """``inner`` with the synthesis term of ``mode`` (``none`` returns it unchanged).

    Raises:
        ValueError: an unknown mode or parameter, or a parameter out of range.
    """
    if mode not in MODES:
        raise ValueError(f"unknown synthesis mode {mode!r}; choose one of: {', '.join(MODES)}")
    if mode == "none":
        return inner
    return SynthesisAware(inner, mode, SynthesisParams.from_dict(params), folder)


def synthesis_summary(folder: Path) -> dict[str, Any] | None:
    """The ``synthesis`` entry of ``metrics.json`` from ``RUN/synthesis/plans.jsonl``: how
    many molecules were judged, how many makeable, the model calls and seconds planning took
    (apart from the oracle budget); ``None`` when the run has no such file."""
    records = {r["smiles"]: r for r in read_jsonl(folder / PLANS, missing_ok=True)}
    if not records:
        return None
    rows = list(records.values())
    out: dict[str, Any] = {"judged": len(rows)}
    if any("verdict" in r for r in rows):
        out.update(
            makeable=sum(bool(r.get("makeable")) for r in rows),
            unverified=sum(r.get("verdict") == "unverified" for r in rows),
            model_calls=sum(int(r.get("calls", 0)) for r in rows),
            seconds=round(sum(float(r.get("seconds", 0.0)) for r in rows), 1),
        )
    else:
        synth = [float(r["synth"]) for r in rows if "synth" in r and math.isfinite(r["synth"])]
        out["mean_synth"] = float(np.mean(synth)) if synth else None
    return out
