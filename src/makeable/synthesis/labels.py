"""Synthesizability labels: the planner's verdict on each molecule under fixed settings.

:func:`label_molecules` plans every molecule with :func:`makeable.retro.planning.search.plan_many`
and appends one row per molecule to ``OUT/labels.csv`` as each search finishes
(:data:`LABEL_FIELDS`: the canonical SMILES, solved, unverified, calls, the calls to the first
solution, seconds, the reactions of the best route, an error). Running it again on the same
folder resumes: a molecule already in ``labels.csv`` is not planned again, and a row cut off by
a kill is dropped and redone (:mod:`makeable.results_csv`). ``OUT/config.json`` records the
search settings, the single-step model (name, parameters, weights digest) and the stock; a
resume with other ones is refused, so one table never mixes two meanings of "solved".

The labelling settings of the shipped ``synth_score`` model (:data:`LABEL_SETTINGS` and the
defaults of :func:`label_molecules`): Retro* (zero value function) with the shipped
Template-MLP applying its 50 most probable templates per call (``max_templates=50``, as the
planning benchmark does), the shipped exact stock ``building_blocks``, a budget of 50
single-step calls, the search ending at the first solution. Why 50 calls: a pilot of 100
molecules (60 ZINC250k, 40 PaRoutes n1 targets) planned at 100 calls solved 23 within 10
calls, 28 within 25, 31 within 50 and 35 within 100, while an unsolved molecule costs in
proportion to the budget (about 3.0 s per molecule at 50 calls, 5.5 s at 100, on the shared
2-core machine): 50 calls find 89 % of the routes 100 calls find, at half the cost
(``docs/benchmarks/synthesizability.md``).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from makeable.chem.molecule import parse_smiles, quiet_rdkit
from makeable.chem.reaction import canonical_unmapped
from makeable.data.molecules import read_smiles_file
from makeable.data.stocks import DEFAULT_STOCK, Stock, load_stock
from makeable.oracle.executor import runs_here
from makeable.results_csv import append_csv, read_csv
from makeable.retro.planning.search import PlanResult, SearchSettings, plan_many
from makeable.retro.single_step.base import SingleStepModel, load_model
from makeable.run_folder import RunFolder, versions
from makeable.synthesis import LABEL_MODEL

log = logging.getLogger(__name__)

LABELS, CONFIG = "labels.csv", "config.json"

LABEL_SETTINGS = SearchSettings(algorithm="retro_star", max_calls=50, stop_on_first_solution=True)
"""The search of the shipped model's labels: Retro*, 50 calls, stop at the first solution."""

LABEL_MODEL_PARAMS: Mapping[str, Any] = {"max_templates": 50}
LABEL_STOCK = DEFAULT_STOCK

LABEL_FIELDS = [
    "smiles",
    "solved",
    "unverified",
    "calls",
    "first_solution_calls",
    "seconds",
    "n_reactions",
    "error",
]
"""The columns of ``labels.csv``."""


def read_molecules(path: str | Path) -> list[str]:
    """The SMILES of a molecule file: the first field of each line (``.gz`` allowed); a
    ``smiles`` header line is skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file cannot be read as text or holds no valid SMILES.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"molecules file not found: {path}")
    try:
        smiles = [s for s in read_smiles_file(path) if s.lower() != "smiles"]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as a SMILES file (one a line): {exc}") from None
    with quiet_rdkit():
        if not any(parse_smiles(s) is not None for s in smiles):  # stops at the first valid
            raise ValueError(f"{path} holds no valid SMILES (expected one SMILES a line)")
    return smiles


def sample_molecules(smiles: Sequence[str], n: int | None = None, seed: int = 0) -> list[str]:
    """Each molecule once (first occurrence), shuffled with ``seed``, the first ``n`` kept.

    A larger ``n`` with the same seed extends the same order, so a labelling folder can grow.
    """
    unique = list(dict.fromkeys(smiles))
    random.Random(seed).shuffle(unique)
    return unique if n is None else unique[:n]


def _key(smiles: str) -> str:
    """What identifies a molecule in ``labels.csv``: its canonical SMILES, atom maps removed
    (what the planner plans; as given if invalid)."""
    return canonical_unmapped(smiles) or smiles


def _row(result: PlanResult) -> dict[str, Any]:
    row = result.row()
    row["smiles"] = result.target
    return row


def label_molecules(
    smiles: Sequence[str],
    out_dir: str | Path,
    settings: SearchSettings = LABEL_SETTINGS,
    jobs: int = 1,
    *,
    model: str | Path | SingleStepModel = LABEL_MODEL,
    model_params: Mapping[str, Any] | None = LABEL_MODEL_PARAMS,
    stock: str | Path | Stock = LABEL_STOCK,
    progress: bool = False,
    executor: str = "process",
    address: str | None = None,
) -> dict[str, Any]:
    """Plan each molecule not yet labelled in ``out_dir`` and append its row to ``labels.csv``.

    Args:
        smiles: the molecules (SMILES; identified by their canonical SMILES, each once).
        out_dir: the labelling folder (created, or resumed).
        settings: the search settings.
        jobs: planning workers.
        model: the single-step model: a registered name or saved folder (loaded with
            ``model_params``), or an instance.
        model_params: overrides of the saved model's inference settings.
        stock: a named stock, a stock file or a :class:`Stock`.
        progress: show a progress bar.
        executor: where molecules are planned: ``process`` (local processes, the default),
            ``ray`` or ``inprocess``; the rows are appended here, by this process.
        address: the Ray cluster of the ``ray`` executor (``None``: a local one).

    Returns:
        ``n_labelled`` (rows of ``smiles`` in ``labels.csv`` now), ``n_planned`` (planned in
        this call), ``n_solved``, ``n_errors`` and ``mean_seconds`` (over the labelled
        molecules of ``smiles``).

    Raises:
        ValueError: ``out_dir`` holds labels made with other settings, model or stock.
    """
    out = Path(out_dir)
    with RunFolder(out) as folder:  # one process per labelling folder
        m = model if isinstance(model, SingleStepModel) else load_model(model, model_params)
        config: dict[str, Any] = {
            "labels": "synthesizability",
            **settings.to_dict(),  # flat, so a refusal names the one setting that differs
            "model": m.name if isinstance(model, SingleStepModel) else str(model),
            "model_params": m.params,
            "model_digest": m.digest(),
            "stock": stock.name if isinstance(stock, Stock) else str(stock),
        }
        folder.check_settings(
            CONFIG,
            config,
            holds=f"{out} holds synthesizability labels",
            hint="use another --out folder, or the same settings to resume",
        )
        record = dict(
            config, jobs=jobs, cpu_count=os.cpu_count(), versions=versions("syntheseus", "rdchiral")
        )
        folder.write_settings(CONFIG, record)

        keys = list(dict.fromkeys(_key(s) for s in smiles))
        path = out / LABELS
        done = {row["smiles"] for row in read_csv(path, missing_ok=True)}
        todo = [k for k in keys if k not in done]
        if len(todo) < len(keys):
            log.info(
                "resuming: %d of %d molecules already labelled", len(keys) - len(todo), len(keys)
            )
        if todo:
            plan_many(
                todo,
                m if runs_here(executor, jobs, len(todo)) or model is m or model_params else model,
                load_stock(stock),
                settings,
                jobs=jobs,
                executor=executor,
                address=address,
                progress=progress,
                on_result=lambda result: append_csv(path, LABEL_FIELDS, _row(result)),
            )
        wanted = set(keys)
        rows = [r for r in read_csv(path, missing_ok=True) if r["smiles"] in wanted]
        seconds = [float(r["seconds"]) for r in rows]
        return {
            "n_labelled": len(rows),
            "n_planned": len(todo),
            "n_solved": sum(r["solved"] == "1" for r in rows),
            "n_errors": sum(bool(r["error"]) for r in rows),
            "mean_seconds": sum(seconds) / len(seconds) if seconds else None,
        }
