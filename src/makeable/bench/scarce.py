"""Scarce data: a mixture of experts against pairwise transfer and training from scratch.

As in Chang et al. (npj Comput. Mater. 2022): experts are predictors trained on larger source
sets; a small target set is learned in each of these ways, at several training-set sizes:

* ``scratch``: a network trained on the target data only;
* ``transfer:<source>``: each source's network fine-tuned on the target (pairwise transfer,
  a new head; :attr:`TrainSettings.init_from`);
* ``moe``: the frozen experts mixed by a learned gate, with a new head
  (:class:`~makeable.predict.mpnn.MixtureOfExperts`);
* ``moe_ft``: the same mixture with the experts' weights trained too
  (:attr:`TrainSettings.fine_tune_experts`).

For each seed the target table is split once (validation and test fixed); each size draws its
training rows from the training part (``random.Random(seed)``), so every method of a (size,
seed) sees the same rows and is tested on the same molecules. ``OUT/experts/<source>/`` holds
the experts (trained on all of their source set, once), ``OUT/runs/<size>/s<seed>/<method>/``
the target models (resumable). ``results.csv``: one row per (size, seed, method);
``summary.md``: means over seeds, and how often each mixture beats the best pairwise transfer
(the best source chosen after the fact, a stricter rival than the paper's one fixed source) and
every other method; and how often the mixture a user would pick beats the transfer a user would
pick, each chosen by its validation loss (``val_loss`` in ``results.csv``).
"""

from __future__ import annotations

import json
import logging
import random
import statistics
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from makeable.bench.properties import PROPERTY_SETS, load_set
from makeable.report import markdown_table
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder

log = logging.getLogger(__name__)

RESULT_COLUMNS = ("target", "size", "seed", "method", "metric", "value", "n_train", "val_loss")


EXPERT_EPOCHS = 50
"""Epochs of an expert on its whole source set (chemprop's default; the target's ``epochs`` are
for its small training sets)."""


def train_experts(sources: Sequence[str], out: Path, settings: Any) -> list[str]:
    """One predictor per source set, on all of it (skipped when already there)."""
    from makeable.predict.train import train_predictor

    folders = []
    for name in sources:
        folder = out / "experts" / name
        if not (folder / "config.json").is_file():
            task = PROPERTY_SETS[name].task
            expert = replace(settings, task=task, experts=(), epochs=EXPERT_EPOCHS)
            train_predictor(load_set(name), folder, expert)
        folders.append(str(folder))
    return folders


def run_scarce(
    target: str,
    sources: Sequence[str],
    sizes: Sequence[int],
    seeds: Sequence[int],
    out: Path,
    settings: Any = None,
    split: str = "random",
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Train the experts, then every (size, seed, method); write ``results.csv`` and
    ``summary.md``.

    Raises:
        ValueError: an unknown set, a source that is the target, a size larger than the
            training part.
    """
    from makeable.predict.splits import split_indices
    from makeable.predict.train import TrainSettings, train_predictor

    unknown = [s for s in (target, *sources) if s not in PROPERTY_SETS]
    if unknown or target in sources:
        raise ValueError(
            f"the target and sources must be distinct sets of {', '.join(PROPERTY_SETS)}; got "
            f"target {target!r}, sources {', '.join(sources)}"
        )
    spec = PROPERTY_SETS[target]
    settings = replace(settings or TrainSettings(), task=spec.task)
    rows: list[dict[str, Any]] = []
    with RunFolder(out) as folder:
        folder.record(
            {
                "benchmark": "scarce data (mixture of experts)",
                "target": target,
                "sources": list(sources),
                "sizes": list(sizes),
                "seeds": list(seeds),
                "split": split,
                "epochs": settings.epochs,
                "expert_epochs": EXPERT_EPOCHS,
                "ensemble": settings.ensemble,
            },
            config_name="bench.yaml",
        )
        experts = train_experts(sources, out, settings)
        table = load_set(target)
        methods: list[tuple[str, Any]] = [("scratch", settings)]
        methods += [(f"transfer:{s}", replace(settings, init_from=e)) for s, e in zip(
            sources, experts, strict=True)]  # fmt: skip
        mixture = replace(settings, experts=tuple(experts))
        methods.append(("moe", replace(mixture, fine_tune_experts=False)))
        methods.append(("moe_ft", replace(mixture, fine_tune_experts=True)))
        for seed in seeds:
            train, val, test = split_indices(table.mols, split, seed, 0.1, 0.1)
            for size in sizes:
                if size > len(train):
                    raise ValueError(f"size {size} > the {len(train)} training rows of {target}")
                chosen = sorted(random.Random(seed).sample(list(train), size))
                keep = np.array([*chosen, *val, *test])
                subset = table.subset(keep)
                n_t, n_v = len(chosen), len(val)
                parts = (np.arange(n_t), np.arange(n_t, n_t + n_v), np.arange(n_t + n_v, len(keep)))
                for method, method_settings in methods:
                    run = out / "runs" / str(size) / f"s{seed}" / method.replace(":", "_")
                    done = run / "metrics.json"
                    if not done.is_file():
                        train_predictor(
                            subset, run, replace(method_settings, seed=seed), progress, split=parts
                        )
                    metrics = json.loads(done.read_text())  # with the training history
                    value = statistics.fmean(
                        float(v[spec.metric]) for v in metrics["test"].values() if spec.metric in v
                    )
                    row = {
                        "target": target,
                        "size": size,
                        "seed": seed,
                        "method": method,
                        "metric": spec.metric,
                        "value": value,
                        "n_train": n_t,
                        "val_loss": best_val_loss(metrics),
                    }
                    rows.append(row)
                    log.info("%s size %d seed %d %s: %s %.3f", target, size, seed, method,
                             spec.metric, value)  # fmt: skip
                    write_results(out, rows)
        write_results(out, rows)
    return rows


def best_val_loss(metrics: dict[str, Any]) -> float | str:
    """The lowest validation loss a model reached (its kept epoch; the mean over ensemble
    members), in the training's scaled units: the methods of one (size, seed) share their
    training rows and so their scaling, so a user can pick among them by it. Blank without a
    training history."""
    history = metrics.get("history") or []
    losses = [min(h["val_loss"] for h in member) for member in history if member]
    return statistics.fmean(losses) if losses else ""


def write_results(out: Path, rows: list[dict[str, Any]]) -> None:
    write_csv(out / "results.csv", RESULT_COLUMNS, rows)
    (out / "summary.md").write_text(summary_markdown(rows))


def summary_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Mean over seeds per (size, method), and per size and mixture how often the mixture beats
    the best pairwise transfer, and every other method (lower RMSE or higher ROC-AUC)."""
    if not rows:
        return "# Scarce data\n\n(no runs yet)\n"
    lower_better = rows[0]["metric"] == "rmse"
    methods = list(dict.fromkeys(r["method"] for r in rows))
    mixtures = [m for m in methods if m.startswith("moe")]
    transfers = [m for m in methods if m.startswith("transfer:")]
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    by = {(r["size"], r["seed"], r["method"]): float(r["value"]) for r in rows}

    def better(a: float, b: float) -> bool:
        return a < b if lower_better else a > b

    val = {
        (r["size"], r["seed"], r["method"]): float(r["val_loss"])
        for r in rows
        if r.get("val_loss") not in (None, "")
    }

    def by_validation(size: int, seeds: list[int]) -> str:
        """The mixture and the transfer a user would pick (lowest validation loss of each
        kind): how often the mixture is the better on the test set."""
        won = n = 0
        for s in seeds:
            mix = [m for m in mixtures if (size, s, m) in val and (size, s, m) in by]
            tra = [m for m in transfers if (size, s, m) in val and (size, s, m) in by]
            if not mix or not tra:
                continue
            a = min(mix, key=lambda m: val[(size, s, m)])
            b = min(tra, key=lambda m: val[(size, s, m)])
            n += 1
            won += better(by[(size, s, a)], by[(size, s, b)])
        return f"{won} / {n}"

    def wins(size: int, seeds: list[int], mixture: str, rivals: list[str]) -> str:
        won = n = 0
        for s in seeds:
            mine = by.get((size, s, mixture))
            others = [by[(size, s, m)] for m in rivals if (size, s, m) in by]
            if mine is None or not others:
                continue
            n += 1
            won += better(mine, min(others) if lower_better else max(others))
        return f"{won} / {n}"

    table = []
    for size in sizes:
        seeds = sorted({r["seed"] for r in rows if r["size"] == size})
        cells = [str(size)]
        for m in methods:
            values = [by[(size, s, m)] for s in seeds if (size, s, m) in by]
            cells.append(f"{statistics.fmean(values):.3f}" if values else "–")
        for mixture in mixtures:
            cells.append(wins(size, seeds, mixture, transfers))
            cells.append(wins(size, seeds, mixture, [m for m in methods if m != mixture]))
        cells.append(by_validation(size, seeds))
        table.append(cells)
    contests = ("beats best transfer", "best of all")
    header = ["size", *methods, *(f"{m} {c} (seeds)" for m in mixtures for c in contests)]
    header.append("mixture beats transfer, each chosen by validation (seeds)")
    return f"# Scarce data: {rows[0]['target']} ({rows[0]['metric']})\n\n" + markdown_table(
        header, table
    )
