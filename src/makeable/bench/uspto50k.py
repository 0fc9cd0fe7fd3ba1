"""The USPTO-50k single-step benchmark: top-k exact match on the 5,007 GLN test reactions.

``makeable bench uspto50k --model NAME --out DIR`` predicts up to 50 reactant sets per test
product and writes ``DIR/results.csv`` (one row: top-1/3/5/10/50 exact match with stereo, the
same without stereo, products per second), ``DIR/predictions.csv`` (per reaction: the rank of
the recorded reactants, the top prediction) and ``DIR/summary.md``. The metric is defined in
:mod:`makeable.retro.single_step.metrics`. Scored batches are appended to
``DIR/scored.jsonl`` as they finish: the same command resumes a killed run where it stopped
(the model's digest, the class setting and the batch size must match ``DIR/settings.json``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from makeable.chem.reaction import Reaction
from makeable.report import markdown_table, write_text
from makeable.results_csv import open_append, read_jsonl, write_csv
from makeable.retro.single_step.base import SingleStepModel, load_model
from makeable.retro.single_step.data import load_uspto50k
from makeable.retro.single_step.metrics import TOP_KS, match_rank, top_k_accuracy
from makeable.run_folder import RunFolder
from makeable.runtime import set_torch_threads, torch_threads

log = logging.getLogger(__name__)

SETTINGS, SCORED = "settings.json", "scored.jsonl"
"""The recorded settings (a resume must match them) and the scored chunks, one JSON line
each (``start``, ``wall_s``, ``rows``): a killed benchmark resumes at its first missing
chunk."""


@dataclass(frozen=True)
class BenchResult:
    """Accuracies (fractions) by k, with and without stereo, and the timing."""

    model: str
    classes: str
    n: int
    top_k: dict[int, float]
    top_k_no_stereo: dict[int, float]
    wall_s: float
    products_per_s: float

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"model": self.model, "classes": self.classes, "n": self.n}
        row.update({f"top{k}": round(100 * v, 2) for k, v in self.top_k.items()})
        row.update(
            {f"top{k}_no_stereo": round(100 * v, 2) for k, v in self.top_k_no_stereo.items()}
        )
        row.update(
            {"wall_s": round(self.wall_s, 1), "products_per_s": round(self.products_per_s, 2)}
        )
        return row


def run_uspto50k(
    model: str | SingleStepModel,
    out: Path,
    limit: int | None = None,
    class_known: bool = False,
    batch_size: int | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> BenchResult:
    """Benchmark a model (a saved folder, a registered name or an instance) on the test split.

    Args:
        model: what to evaluate; names resolve through
            :func:`makeable.retro.single_step.base.load_model`.
        out: output folder (created).
        limit: only the first ``limit`` test reactions (quick checks; not comparable).
        class_known: give the model the recorded reaction class (models that support it).
        batch_size: products per ``predict`` call (default: the model's).
        jobs: worker processes, each with its own copy of the model (a name or folder only).
        progress: show a progress bar.
    """
    from tqdm import tqdm

    if isinstance(model, SingleStepModel):
        if jobs > 1:
            raise ValueError("jobs > 1 needs a model name or folder, not an instance")
        name, m = model.name, model
    else:
        m = load_model(model, direction=None)
        name = m.name if not Path(str(model)).is_dir() else f"{m.name} ({model})"
    if class_known:  # refused before any work
        m.require_classes(name)
    test = load_uspto50k("test", limit)
    size = batch_size or m.batch_size
    settings = {
        "model": name,
        "digest": m.digest(),
        "classes": "known" if class_known else "unknown",
        "n": len(test),
        "batch_size": size,
    }
    with RunFolder(out) as folder:  # one process per benchmark folder
        holds = f"{out} holds USPTO-50k predictions"
        folder.check_settings(SETTINGS, settings, holds=holds, ignore=("model",))
        folder.write_settings(SETTINGS, settings)
        done = _read_scored(out / SCORED)
        starts = [i for i in range(0, len(test), size) if i not in done]
        n_scored = sum(len(v[0]) for v in done.values())
        if done:
            log.info("uspto50k: resuming, %d of %d reactions already scored", n_scored, len(test))
        chunks = [test[i : i + size] for i in starts]
        bar = tqdm(total=len(test), desc=f"uspto50k {name}", disable=not progress, unit="rxn")
        bar.update(n_scored)
        last = time.perf_counter()

        def record(start: int, part: list[tuple[int | None, int | None, dict[str, Any]]]) -> None:
            nonlocal last, n_scored
            now = time.perf_counter()
            done[start] = (part, now - last)
            with open_append(out / SCORED) as fh:
                fh.write(json.dumps({"start": start, "wall_s": now - last, "rows": part}) + "\n")
            last = now
            bar.update(len(part))
            n_scored += len(part)
            tenth = len(test) // 10 or 1
            if not progress and (n_scored - len(part)) // tenth != n_scored // tenth:
                ranks = [row[0] for v in done.values() for row in v[0]]
                top1 = sum(r == 1 for r in ranks) / len(ranks)
                log.info("uspto50k %s: %d of %d reactions scored, top-1 so far %.1f %%",
                         name, n_scored, len(test), 100 * top1)  # fmt: skip

        if jobs > 1 and chunks:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            ctx = mp.get_context("fork")
            with ProcessPoolExecutor(jobs, ctx, _init_worker, (str(model),)) as pool:
                parts = pool.map(_worker_chunk, chunks, [class_known] * len(chunks))
                for start, part in zip(starts, parts, strict=True):
                    record(start, part)
        else:
            for start, chunk in zip(starts, chunks, strict=True):
                record(start, _score_chunk(m, chunk, class_known))
        bar.close()
        scored = [row for start in sorted(done) for row in done[start][0]]
        wall = sum(v[1] for v in done.values())
        result = BenchResult(
            model=name,
            classes="known" if class_known else "unknown",
            n=len(test),
            top_k=top_k_accuracy([s[0] for s in scored]),
            top_k_no_stereo=top_k_accuracy([s[1] for s in scored]),
            wall_s=wall,
            products_per_s=len(test) / wall if wall > 0 else 0.0,
        )
        _write(out, result, [s[2] for s in scored], m, jobs)
        return result


def _score_chunk(
    m: SingleStepModel, chunk: Sequence[Reaction], class_known: bool
) -> list[tuple[int | None, int | None, dict[str, Any]]]:
    """Predict 50 sets per product; (rank, rank ignoring stereo, CSV row) per reaction.

    A forward model (``m.direction == "forward"``) is given the reactants and must rank the
    product instead.
    """
    forward = m.direction == "forward"
    inputs = [r.reactants_smiles if forward else r.product.smiles for r in chunk]
    classes = [int(r.metadata["class"]) for r in chunk] if class_known else None
    out = []
    for reaction, pred in zip(chunk, m.predict(inputs, max(TOP_KS), classes), strict=True):
        ranked = [rs.reactants for rs in pred.reactant_sets]
        truth = [reaction.product] if forward else reaction.reactants
        rank = match_rank(ranked, truth)
        rank_ns = match_rank(ranked, truth, stereo=False)
        row = {
            "id": reaction.metadata.get("id", ""),
            "class": reaction.metadata.get("class", ""),
            "product": reaction.product.smiles,
            "reactants": reaction.reactants_smiles,
            "rank": rank or "",
            "rank_no_stereo": rank_ns or "",
            "n_predictions": len(ranked),
            "top1": ".".join(ranked[0]) if ranked else "",
            "error": pred.error or "",
        }
        out.append((rank, rank_ns, row))
    return out


_WORKER_MODEL: SingleStepModel | None = None


def _init_worker(model: str) -> None:
    global _WORKER_MODEL
    set_torch_threads(1)
    _WORKER_MODEL = load_model(model, direction=None)


def _worker_chunk(
    chunk: Sequence[Reaction], class_known: bool
) -> list[tuple[int | None, int | None, dict[str, Any]]]:
    assert _WORKER_MODEL is not None
    return _score_chunk(_WORKER_MODEL, chunk, class_known)


def _write(
    out: Path, result: BenchResult, rows: list[dict[str, Any]], m: SingleStepModel, jobs: int
) -> None:
    row = result.row()
    row["jobs"] = jobs
    row["torch_threads"] = 1 if jobs > 1 else torch_threads()
    row["cpu_count"] = os.cpu_count()
    write_csv(out / "results.csv", list(row), [row])
    write_csv(out / "predictions.csv", list(rows[0]) if rows else ["id"], rows)
    (out / "model.json").write_text(
        json.dumps({"model": m.name, "params": m.params, "training": m.training}, indent=2) + "\n"
    )
    ks = list(result.top_k)
    lines = [
        f"# USPTO-50k test, {result.model}, reaction class {result.classes}",
        "",
        f"{result.n} reactions; exact match of the canonical "
        + (
            "product, from the reactants (forward model)"
            if m.direction == "forward"
            else "reactant set"
        )
        + " (stereo counts).",
        "",
        markdown_table(
            ["", *(f"top-{k}" for k in ks)],
            [
                ["exact match %", *(f"{100 * result.top_k[k]:.1f}" for k in ks)],
                ["ignoring stereo %", *(f"{100 * result.top_k_no_stereo[k]:.1f}" for k in ks)],
            ],
        ).rstrip("\n"),
        "",
        f"{result.products_per_s:.2f} products/s ({result.wall_s:.0f} s wall, "
        f"{jobs} process(es), {row['torch_threads']} torch thread(s) each, "
        f"{os.cpu_count()} CPUs).",
    ]
    write_text(out / "summary.md", "\n".join(lines) + "\n")


def _read_scored(
    path: Path,
) -> dict[int, tuple[list[tuple[int | None, int | None, dict[str, Any]]], float]]:
    """The chunks scored so far: start index → (rows, wall seconds)."""
    out = {}
    for line in read_jsonl(path, missing_ok=True):
        rows = [(r[0], r[1], r[2]) for r in line["rows"]]
        out[int(line["start"])] = (rows, float(line["wall_s"]))
    return out
