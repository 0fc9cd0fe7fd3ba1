"""The MOSES distribution-learning benchmark (Polykovskiy et al. 2020).

``makeable bench moses --model NAME --n 30000 --seed S --out DIR`` samples ``n`` SMILES from a
generative model (a shipped SMILES LSTM prior or a model folder; or ``--samples FILE``, any
generator's output), computes the MOSES metrics (:mod:`makeable.generative.metrics`) against
the MOSES test and scaffold-test sets, and writes:

* ``DIR/results.csv``: one row per model run (model, seed, n), the test-set metrics
  (``*_test``) and the scaffold-test ones (``*_testsf``) side by side; a rerun of the same
  model, seed and n replaces its row;
* ``DIR/runs/LABEL/``: ``samples.smi.gz``, ``metrics.json`` (with timings), ``config.yaml``,
  ``versions.json``;
* ``DIR/summary.md``: the table.

The reference files come from ``--data`` or ``$MAKEABLE_DATA`` (``molecules/moses/``); the
package does not ship them.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from makeable.generative.moses import evaluate, load_reference, read_smiles_csv
from makeable.report import markdown_table
from makeable.results_csv import read_csv, replace_text, write_csv
from makeable.run_folder import RunFolder

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "MosesSettings", "moses_files", "run_moses"]

REFERENCE_FILES = ("train", "test", "test_scaffolds")
SET_SUFFIX = {"test": "test", "test_scaffolds": "testsf"}
COLUMNS = [
    "model", "seed", "n", "valid", "unique_1k", "unique_10k", "novelty", "intdiv", "intdiv2",
    "filters", "fcd_test", "fcd_testsf", "snn_test", "snn_testsf", "frag_test", "frag_testsf",
    "scaf_test", "scaf_testsf", "reference_limit", "wall_s",
]  # fmt: skip


@dataclass(frozen=True)
class MosesSettings:
    """One benchmark run's settings (recorded as the run's config.yaml)."""

    model: str
    n: int
    seed: int
    samples: str | None = None
    max_len: int = 100
    reference_limit: int | None = None
    recompute_reference: bool = False
    device: str = "cpu"

    @property
    def label(self) -> str:
        name = Path(self.model).name or "model"
        return f"{name}_n{self.n}_seed{self.seed}"


def moses_files(data: str | Path | None = None) -> dict[str, Path]:
    """The MOSES train/test/test_scaffolds files of a data folder (``--data`` or
    ``$MAKEABLE_DATA``).

    Raises:
        FileNotFoundError: no data folder, or one without ``molecules/moses/*.csv.gz``.
    """
    root = data if data is not None else os.environ.get("MAKEABLE_DATA")
    wanted = "molecules/moses/{train,test,test_scaffolds}.csv.gz"
    if not root:
        raise FileNotFoundError(
            f"bench moses needs the MOSES sets: pass --data DATA_FOLDER or set MAKEABLE_DATA "
            f"(a folder with {wanted})"
        )
    files = {
        name: Path(root) / "molecules" / "moses" / f"{name}.csv.gz" for name in REFERENCE_FILES
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"bench moses: no {missing[0]} (the data folder must hold {wanted}; "
            "pass --data DATA_FOLDER or set MAKEABLE_DATA)"
        )
    return files


def _sample(settings: MosesSettings, progress: bool) -> tuple[list[str], float]:
    import torch

    from makeable.models.smiles_lm.io import load_prior

    t0 = time.perf_counter()
    model = load_prior(settings.model)
    generator = torch.Generator().manual_seed(settings.seed)
    smiles: list[str] = []
    from tqdm import tqdm

    with tqdm(total=settings.n, desc="sampling", unit="mol", disable=not progress) as bar:
        while len(smiles) < settings.n:
            chunk = min(1024, settings.n - len(smiles))
            smiles += model.sample(chunk, max_len=settings.max_len, generator=generator)
            bar.update(chunk)
    return smiles, time.perf_counter() - t0


def _round(value: float) -> float:
    return round(float(value), 4)


def summary_text(rows: list[dict[str, str]]) -> str:
    shown = [c for c in COLUMNS if c not in ("reference_limit",)]
    lines = [
        "# MOSES distribution-learning benchmark",
        "",
        "One row per model run; `*_test`: against the MOSES test set, `*_testsf`: against the "
        "scaffold test set. Metrics as molsets 0.3.1 defines them (`makeable.generative`).",
        "",
        markdown_table(shown, [[r.get(c, "") for c in shown] for r in rows]),
    ]
    if any(r.get("reference_limit") for r in rows):
        lines.append("Rows with a reference_limit used only the first N reference molecules: "
                     "not comparable with MOSES's numbers.\n")  # fmt: skip
    return "\n".join(lines)


def run_moses(
    settings: MosesSettings,
    out: str | Path,
    *,
    data: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run the benchmark for one model (or samples file) and update ``out``'s tables."""
    from makeable.generative.chemnet import load_chemnet
    from makeable.runtime import resolve_device

    if settings.n < 1:
        raise ValueError("bench moses: --n must be at least 1")
    files = moses_files(data)
    samples_file = Path(settings.samples) if settings.samples else None
    if samples_file is not None and not samples_file.is_file():
        raise FileNotFoundError(f"bench moses: no samples file {samples_file}")
    out = Path(out)
    with RunFolder(out) as folder:
        run_dir = folder.path / "runs" / settings.label
        run_dir.mkdir(parents=True, exist_ok=True)
        with RunFolder(run_dir, lock=False) as run:
            run.record(asdict(settings), extra_versions=("rdkit",))
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        if samples_file is not None:
            gen = read_smiles_csv(samples_file)[: settings.n]
            timings["read_samples"] = 0.0
        else:
            gen, timings["sampling"] = _sample(settings, progress)
        with gzip.open(run_dir / "samples.smi.gz", "wt", encoding="utf-8") as fh:
            fh.writelines(s + "\n" for s in gen)
        if len(gen) < settings.n:
            log.warning("only %d samples (asked for %d)", len(gen), settings.n)

        t0 = time.perf_counter()
        model = load_chemnet()
        device = "cpu" if settings.device == "cpu" else str(resolve_device(settings.device))
        train = set(read_smiles_csv(files["train"]))
        references = [
            load_reference(
                name,
                files[name],
                recompute=settings.recompute_reference,
                limit=settings.reference_limit,
                model=model,
                device=device,
                progress=progress,
            )
            for name in ("test", "test_scaffolds")
        ]
        timings["references"] = time.perf_counter() - t0
        own, per_ref, steps = evaluate(
            gen, train, references, model=model, device=device, progress=progress
        )
        timings.update(steps)
        wall = time.perf_counter() - t_start

        row: dict[str, Any] = {
            "model": settings.model if samples_file is None else f"{settings.model} (samples)",
            "seed": settings.seed,
            "n": len(gen),
        }
        row.update({k: _round(v) for k, v in own.items()})
        for name, values in per_ref.items():
            for key, value in values.items():
                row[f"{key}_{SET_SUFFIX[name]}"] = _round(value)
        row["reference_limit"] = settings.reference_limit or ""
        row["wall_s"] = round(wall, 1)
        metrics = {
            "row": row,
            "timings_s": {k: round(v, 1) for k, v in timings.items()},
            "references": {r.name: r.source for r in references},
        }
        replace_text(run_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")

        results = folder.path / "results.csv"
        rows = [
            r
            for r in read_csv(results, missing_ok=True)
            if (r.get("model"), r.get("seed"), r.get("n"), r.get("reference_limit"))
            != (str(row["model"]), str(row["seed"]), str(row["n"]), str(row["reference_limit"]))
        ]
        rows.append({k: str(v) for k, v in row.items()})
        write_csv(results, COLUMNS, rows)
        folder.write_summary(summary_text(rows))
    return metrics
