"""The property-prediction benchmark: MoleculeNet sets × splits × seeds, one predictor each.

Every (data set, split, seed) trains a predictor (:mod:`makeable.predict.train`, the settings
given) in ``OUT/runs/<set>/<split>/s<seed>/``; a finished run (its ``metrics.json``) is not
trained again, so the command resumes. ``OUT/results.csv`` holds one row per run and target
(set, split, seed, target, metric, value, n_test, train_s, s_per_epoch) and ``OUT/summary.md``
the mean ± std over seeds per set and split (RMSE for regression, ROC-AUC for classification,
averaged over the targets of a multi-task set, as MoleculeNet and chemprop report them).

The data are chemprop's copies of the MoleculeNet sets in the data folder
(``$MAKEABLE_DATA/properties/moleculenet/``; see the data folder's README for their licences).
"""

from __future__ import annotations

import functools
import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from makeable.bench.jobs import JobRun
from makeable.report import markdown_table
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PropertySet:
    """A benchmark data set: its file (under the data folder), columns and task."""

    relpath: str
    smiles_col: str
    targets: tuple[str, ...]
    task: str

    @property
    def metric(self) -> str:
        return "roc_auc" if self.task == "classification" else "rmse"


_MN = "properties/moleculenet"
TOX21 = (
    "NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
    "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53",
)  # fmt: skip
PROPERTY_SETS: dict[str, PropertySet] = {
    "esol": PropertySet(f"{_MN}/delaney.csv.gz", "smiles", ("logp",), "regression"),
    "freesolv": PropertySet(f"{_MN}/freesolv.csv.gz", "smiles", ("freesolv",), "regression"),
    "lipo": PropertySet(f"{_MN}/lipo.csv.gz", "smiles", ("lipo",), "regression"),
    "bbbp": PropertySet(f"{_MN}/bbbp.csv.gz", "smiles", ("p_np",), "classification"),
    "bace": PropertySet(f"{_MN}/bace.csv.gz", "mol", ("Class",), "classification"),
    "clintox": PropertySet(
        f"{_MN}/clintox.csv.gz", "smiles", ("FDA_APPROVED", "CT_TOX"), "classification"
    ),
    "tox21": PropertySet(f"{_MN}/tox21.csv.gz", "smiles", TOX21, "classification"),
}
"""The sets of the benchmark (ESOL's column is misnamed ``logp`` in chemprop's copy: it holds
log solubility)."""


@functools.lru_cache(maxsize=2)
def load_set(name: str) -> Any:
    """The usable rows of a benchmark set (a :class:`~makeable.predict.data.PropertyTable`),
    read once per process: a run's predictor and its chemprop side share them."""
    from makeable.data.molecules import data_file
    from makeable.predict.data import read_table

    spec = PROPERTY_SETS[name]
    path = data_file(spec.relpath, f"the {name} property set")
    return read_table(path, spec.smiles_col, spec.targets, spec.task)


RESULT_COLUMNS = (
    "model",
    "set",
    "split",
    "seed",
    "target",
    "metric",
    "value",
    "n_test",
    "train_s",
    "s_per_epoch",
)


@dataclass(frozen=True)
class PropertyJob:
    name: str
    split: str
    seed: int
    settings: Any  # makeable.predict.train.TrainSettings
    run_dir: Path
    chemprop: str | None = None


def _run_job(job: PropertyJob) -> list[dict[str, Any]]:
    from makeable.predict.train import train_predictor

    spec = PROPERTY_SETS[job.name]
    metrics_path = job.run_dir / "metrics.json"
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
    else:
        settings = replace(job.settings, task=spec.task, split=job.split, seed=job.seed)
        metrics = train_predictor(
            load_set(job.name), job.run_dir, settings, source={"set": job.name}
        )
    rows = _rows("makeable", job, spec, metrics["test"], metrics["train_s"], metrics["s_per_epoch"])
    if job.chemprop:
        rows += _chemprop_rows(job, spec)
    return rows


def _rows(
    model: str,
    job: PropertyJob,
    spec: PropertySet,
    per_target: dict[str, Any],
    train_s: float,
    s_per_epoch: float,
) -> list[dict[str, Any]]:
    """One results row per target."""
    return [
        {
            "model": model,
            "set": job.name,
            "split": job.split,
            "seed": job.seed,
            "target": target,
            "metric": spec.metric,
            "value": values.get(spec.metric, ""),
            "n_test": values.get("n", 0),
            "train_s": train_s,
            "s_per_epoch": s_per_epoch,
        }
        for target, values in per_target.items()
    ]


def _chemprop_rows(job: PropertyJob, spec: PropertySet) -> list[dict[str, Any]]:
    """Train chemprop (its CLI, ``job.chemprop``) on the same usable rows and split, with the
    same epochs; the test metrics are computed here from its test predictions."""
    import csv
    import subprocess
    import time

    import numpy as np

    from makeable.predict.train import target_metrics

    folder = job.run_dir / "chemprop"
    done = folder / "rows.json"
    if done.is_file():
        return list(json.loads(done.read_text()))
    folder.mkdir(parents=True, exist_ok=True)
    table = load_set(job.name)
    split = json.loads((job.run_dir / "split.json").read_text())
    with open(folder / "data.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["smiles", *spec.targets])
        for smi, values in zip(table.smiles, table.y, strict=True):
            writer.writerow([smi, *("" if np.isnan(v) else repr(float(v)) for v in values)])
    (folder / "splits.json").write_text(json.dumps([split]))
    epochs = job.settings.epochs
    command = [
        str(job.chemprop), "train", "--data-path", str(folder / "data.csv"), "-s", "smiles",
        "--target-columns", *spec.targets, "-t", spec.task, "--splits-file",
        str(folder / "splits.json"), "--epochs", str(epochs), "--save-dir", str(folder / "out"),
        "-n", "0", "--accelerator", "cpu", "--devices", "1",
        "--pytorch-seed", str(job.seed),
    ]  # fmt: skip
    start = time.perf_counter()
    log_path = folder / "chemprop.log"
    with open(log_path, "w") as log_fh:
        done_ok = subprocess.run(command, stdout=log_fh, stderr=subprocess.STDOUT).returncode == 0
    if not done_ok:
        lines = log_path.read_text().strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"chemprop failed: {lines[-1]} (its log: {log_path})")
    wall = time.perf_counter() - start
    with open(folder / "out" / "model_0" / "test_predictions.csv", newline="") as fh:
        predicted = list(csv.DictReader(fh))
    test = split["test"]
    if [r["smiles"] for r in predicted] != [table.smiles[i] for i in test]:
        raise RuntimeError(f"{folder}: chemprop's test predictions are not in the split's order")
    p = np.array([[float(r[t]) for t in spec.targets] for r in predicted])
    metrics = target_metrics(spec.task, list(spec.targets), table.y[test], p)
    # wall clock, chemprop's start-up included
    rows = _rows("chemprop", job, spec, metrics, round(wall, 1), round(wall / epochs, 3))
    done.write_text(json.dumps(rows) + "\n")
    return rows


def run_properties(
    sets: Sequence[str],
    splits: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    settings: Any = None,
    jobs: int = 1,
    progress: bool = False,
    chemprop: str | None = None,
    executor: str = "process",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Train and test every (set, split, seed); write ``results.csv`` and ``summary.md``.
    With ``chemprop`` (the path of chemprop's ``chemprop`` command, v2, installed apart),
    chemprop is also trained on each run's rows and split, with the same epochs.

    Raises:
        ValueError: an unknown set.
    """
    from makeable.predict.train import TrainSettings

    unknown = [s for s in sets if s not in PROPERTY_SETS]
    if unknown:
        raise ValueError(
            f"unknown property set(s) {', '.join(unknown)}; known: {', '.join(PROPERTY_SETS)}"
        )
    settings = settings or TrainSettings()
    with RunFolder(out) as folder:
        folder.record(
            {
                "benchmark": "properties (MoleculeNet, chemprop's copies)",
                "sets": list(sets),
                "splits": list(splits),
                "seeds": list(seeds),
                "settings": {k: v for k, v in asdict(settings).items() if k != "threads"},
                "chemprop": chemprop,
            },
            config_name="bench.yaml",
        )
        job_list = [
            PropertyJob(n, sp, s, settings, out / "runs" / n / sp / f"s{s}", chemprop)
            for n in sets
            for sp in splits
            for s in seeds
        ]
        rows: list[dict[str, Any]] = []
        runs = JobRun(
            job_list,
            jobs,
            progress,
            "property models",
            execute=_run_job,
            executor=executor,
            address=address,
        )
        for job_rows in runs:
            rows += job_rows
            first = job_rows[0]
            for model in dict.fromkeys(r["model"] for r in job_rows):
                log.info(
                    "%s %s seed %s, %s: %s %.3f",
                    first["set"],
                    first["split"],
                    first["seed"],
                    model,
                    first["metric"],
                    _mean([r["value"] for r in job_rows if r["model"] == model]),
                )
            write_results(out, rows)
        write_results(out, rows)
        runs.raise_failures()
        return rows


def _mean(values: Sequence[Any]) -> float:
    numbers = [float(v) for v in values if v != "" and v == v]
    return statistics.fmean(numbers) if numbers else float("nan")


def write_results(out: Path, rows: list[dict[str, Any]]) -> None:
    write_csv(out / "results.csv", RESULT_COLUMNS, rows)
    (out / "summary.md").write_text(summary_markdown(rows))


def summary_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Mean ± std over seeds of the per-run metric (averaged over a set's targets)."""
    per_run: dict[tuple[str, str, str], dict[int, float]] = {}
    speed: dict[tuple[str, str, str], list[float]] = {}
    metric: dict[str, str] = {}
    for row in rows:
        model = row.get("model", "makeable")
        key = (row["set"], row["split"], model)
        same = (row["set"], row["split"], model, row["seed"])
        runs = [
            r["value"]
            for r in rows
            if (r["set"], r["split"], r.get("model", "makeable"), r["seed"]) == same
        ]
        per_run.setdefault(key, {})[int(row["seed"])] = _mean(runs)
        speed.setdefault(key, []).append(float(row["s_per_epoch"]))
        metric[row["set"]] = row["metric"]
    table = []
    for (name, split, model), by_seed in per_run.items():
        values = list(by_seed.values())
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        table.append(
            [
                name,
                split,
                model,
                metric[name],
                f"{statistics.fmean(values):.3f} ± {std:.3f}",
                str(len(values)),
                f"{statistics.fmean(speed[(name, split, model)]):.2f}",
            ]
        )
    header = ["set", "split", "model", "metric", "mean ± std over seeds", "seeds", "s / epoch"]
    return "# Property prediction\n\n" + markdown_table(header, table)
