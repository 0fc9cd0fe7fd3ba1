"""The property-prediction benchmark: MoleculeNet sets × splits × seeds, one predictor each.

Every (data set, split, seed) trains a predictor (:mod:`makeable.predict.train`, the settings
given) in ``OUT/runs/<set>/<split>/s<seed>/``; a finished run (its ``metrics.json``) is not
trained again, so the command resumes. ``OUT/results.csv`` holds one row per run and target
(set, split, seed, target, metric, value, n_test, train_s, s_per_epoch) and ``OUT/summary.md``
the mean ± std over seeds per set and split (RMSE for regression, ROC-AUC for classification,
averaged over the targets of a multi-task set, as MoleculeNet and chemprop report them).

The data are chemprop's copies of the MoleculeNet sets in the data folder
(``$MAKEABLE_DATA/properties/moleculenet/``; see the data folder's README for their licences),
and the ``graseq_*`` sets: GraSeq's own train/test files (Guo et al., CIKM 2020;
``$MAKEABLE_DATA/properties/graseq/``, headerless TSVs ``id, SMILES, label...`` with ``-1`` for a
missing label). Those have one fixed split, ``given``: the test file is the test set and a
seeded 10 % of the training file the validation set (GraSeq's code has no validation set).

``encoders`` trains one predictor per encoder (``graph``, the D-MPNN; ``graph+smiles``, GraSeq's
idea of a graph and a SMILES encoder side by side) on the same split; a non-default encoder's
runs are ``OUT/runs/<set>/<split>/s<seed>_<encoder>/`` and its rows' model ``makeable <encoder>``.
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
    test_relpath: str | None = None
    """GraSeq layout: ``relpath`` and this are its headerless train and test TSVs (the set's
    one split, :data:`GIVEN`)."""

    @property
    def splits(self) -> tuple[str, ...] | None:
        """The set's own splits (``None``: any of :data:`~makeable.predict.splits.SPLITS`)."""
        return (GIVEN,) if self.test_relpath else None

    @property
    def metric(self) -> str:
        return "roc_auc" if self.task == "classification" else "rmse"


GIVEN = "given"
"""The split of a set that comes with its own train and test files."""
_MN = "properties/moleculenet"
_GS = "properties/graseq"
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
    **{
        f"graseq_{name}": PropertySet(
            f"{_GS}/{name}_train.tsv.gz",
            "smiles",
            targets,
            "classification",
            test_relpath=f"{_GS}/{name}_test.tsv.gz",
        )
        for name, targets in (
            ("bbbp", ("p_np",)),
            ("bace", ("Class",)),
            ("logp", ("logp",)),
            ("fda", ("fda",)),
            ("tox21", TOX21),
        )
    },
}
"""The sets of the benchmark (ESOL's column is misnamed ``logp`` in chemprop's copy: it holds
log solubility; GraSeq's LogP is a 0/1 label, as in its paper)."""
MOLECULENET = ("esol", "freesolv", "lipo", "bbbp", "bace", "clintox", "tox21")
GRASEQ = tuple(name for name in PROPERTY_SETS if name.startswith("graseq_"))


def load_set(name: str) -> Any:
    """The usable rows of a benchmark set (a :class:`~makeable.predict.data.PropertyTable`),
    read once per process: a run's predictor and its chemprop side share them. A set with its
    own test file: the training file's rows first, then the test file's."""
    return _load(name)[0]


@functools.lru_cache(maxsize=2)
def _load(name: str) -> tuple[Any, int]:
    """The table and how many of its rows come from the training file."""
    from makeable.data.molecules import data_file
    from makeable.predict.data import read_table

    spec = PROPERTY_SETS[name]
    path = data_file(spec.relpath, f"the {name} property set")
    if spec.test_relpath is None:
        table = read_table(path, spec.smiles_col, spec.targets, spec.task)
        return table, len(table)
    test_path = data_file(spec.test_relpath, f"the {name} property set")
    train, test = (_read_graseq(p, spec) for p in (path, test_path))
    return _concat(train, test), len(train)


def _read_graseq(path: Path, spec: PropertySet) -> Any:
    """A GraSeq TSV (no header; ``id, SMILES, label...``; ``-1`` a missing label) as a table."""
    import csv
    import tempfile

    from makeable.predict.data import open_text, read_table

    with tempfile.TemporaryDirectory() as tmp:
        converted = Path(tmp) / "table.csv"
        with open_text(path) as fh, open(converted, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([spec.smiles_col, *spec.targets])
            for row in csv.reader(fh, delimiter="\t"):
                if row:
                    labels = ["" if v.strip() == "-1" else v for v in row[2:]]
                    writer.writerow([row[1], *labels])
        return read_table(converted, spec.smiles_col, spec.targets, spec.task)


def _concat(a: Any, b: Any) -> Any:
    import numpy as np

    from makeable.predict.data import PropertyTable

    return PropertyTable(a.smiles + b.smiles, a.mols + b.mols, np.vstack([a.y, b.y]), a.targets)


def given_split(name: str, seed: int, val_fraction: float = 0.1) -> tuple[Any, Any, Any]:
    """Training, validation and test rows of a set with its own test file: the test file's rows
    are the test set; a ``random.Random(seed)`` share of the training file's the validation."""
    import random

    import numpy as np

    table, n_train = _load(name)
    rows = list(range(n_train))
    random.Random(seed).shuffle(rows)
    n_val = max(1, round(val_fraction * n_train))
    return (
        np.array(sorted(rows[n_val:])),
        np.array(sorted(rows[:n_val])),
        np.arange(n_train, len(table)),
    )


UNCERTAINTY_COLUMNS = ("within_1std", "within_2std", "spearman_error_std", "ece")
"""The calibration of a run's uncertainty (:func:`makeable.predict.train.regression_metrics`,
``classification_metrics``): test shares within ±1 / ±2 calibrated deviations of an ensemble
(ideal 0.683 / 0.954), the rank correlation of error and deviation, a classifier's expected
calibration error; blank where they do not apply."""
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
    *UNCERTAINTY_COLUMNS,
)


@dataclass(frozen=True)
class PropertyJob:
    name: str
    split: str
    seed: int
    settings: Any  # makeable.predict.train.TrainSettings
    run_dir: Path
    chemprop: str | None = None

    @property
    def model(self) -> str:
        """The results' model name: ``makeable``, or ``makeable <encoder>`` for another encoder."""
        encoder = self.settings.network.encoder
        return "makeable" if encoder == DEFAULT_ENCODER else f"makeable {encoder}"


DEFAULT_ENCODER = "graph"


def _run_job(job: PropertyJob) -> list[dict[str, Any]]:
    from makeable.predict.train import train_predictor

    spec = PROPERTY_SETS[job.name]
    metrics_path = job.run_dir / "metrics.json"
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
    else:
        given = job.split == GIVEN
        settings = replace(
            job.settings, task=spec.task, split="random" if given else job.split, seed=job.seed
        )
        metrics = train_predictor(
            load_set(job.name),
            job.run_dir,
            settings,
            source={"set": job.name, "split": job.split},
            split=given_split(job.name, job.seed, settings.val_fraction) if given else None,
        )
    rows = _rows(job.model, job, spec, metrics["test"], metrics["train_s"], metrics["s_per_epoch"])
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
            **{column: values.get(column, "") for column in UNCERTAINTY_COLUMNS},
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
    encoders: Sequence[str] = (DEFAULT_ENCODER,),
) -> list[dict[str, Any]]:
    """Train and test every (set, split, seed, encoder); write ``results.csv`` and
    ``summary.md``. A set with its own split (the ``graseq_*`` sets) runs on that split only,
    whatever ``splits``. With ``chemprop`` (the path of chemprop's ``chemprop`` command, v2,
    installed apart), chemprop is also trained on each (set, split, seed)'s rows and split, with
    the same epochs, once (beside the first encoder's run).

    Raises:
        ValueError: an unknown set or encoder.
    """
    from makeable.predict.mpnn import ENCODERS
    from makeable.predict.train import TrainSettings

    unknown = [s for s in sets if s not in PROPERTY_SETS]
    if unknown:
        raise ValueError(
            f"unknown property set(s) {', '.join(unknown)}; known: {', '.join(PROPERTY_SETS)}"
        )
    bad = [e for e in encoders if e not in ENCODERS] or ([] if encoders else ["(none)"])
    if bad:
        raise ValueError(f"unknown encoder(s) {', '.join(bad)}; known: {', '.join(ENCODERS)}")
    settings = settings or TrainSettings()
    with RunFolder(out) as folder:
        folder.record(
            {
                "benchmark": "properties (MoleculeNet, chemprop's copies; GraSeq's splits)",
                "sets": list(sets),
                "splits": list(splits),
                "encoders": list(encoders),
                "seeds": list(seeds),
                "settings": {k: v for k, v in asdict(settings).items() if k != "threads"},
                "chemprop": chemprop,
            },
            config_name="bench.yaml",
        )
        job_list = [
            PropertyJob(
                n,
                sp,
                s,
                replace(settings, network=replace(settings.network, encoder=encoder)),
                out
                / "runs"
                / n
                / sp
                / (f"s{s}" if encoder == DEFAULT_ENCODER else f"s{s}_{encoder}"),
                chemprop if i == 0 else None,
            )
            for n in sets
            for sp in PROPERTY_SETS[n].splits or splits
            for s in seeds
            for i, encoder in enumerate(encoders)
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
    return "# Property prediction\n\n" + markdown_table(header, table) + _uncertainty_table(rows)


def _uncertainty_table(rows: Sequence[dict[str, Any]]) -> str:
    """Means over seeds and targets of the calibration columns, where any run has them."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["set"], row["split"], row.get("model", "makeable"))
        groups.setdefault(key, []).append(row)
    table = []
    for key, group in groups.items():
        means = [_mean([r.get(c, "") for r in group]) for c in UNCERTAINTY_COLUMNS]
        if any(m == m for m in means):  # not all NaN
            table.append([*key, *("" if m != m else f"{m:.3f}" for m in means)])
    if not table:
        return ""
    header = ["set", "split", "model", "within ±1 std", "within ±2 std", "ρ(error, std)", "ECE"]
    return (
        "\n## Uncertainty\n\nMeans over seeds and targets. An ensemble's regression "
        "uncertainty, calibrated on the validation set: ideal 0.683 within ±1 std and 0.954 "
        "within ±2; ECE: a classifier's expected calibration error (10 bins, lower is "
        "better).\n\n" + markdown_table(header, table)
    )
