"""The proxy-hacking benchmark: design against a learned predictor, judge with the true oracle.

The molecular counterpart of δ-CS's claim (Kim et al. 2025): a proxy is wrong far from its data,
so a search that trusts it finds molecules the proxy loves and the truth does not. For each
true oracle (DRD2, JNK3, GSK3B: makeable has them) and training-set size:

1. ``N`` ZINC250k molecules (``random.Random(seed)``) are labelled by the true oracle and a
   predictor ensemble is trained on them (``OUT/proxies/<oracle>_<N>/``);
2. each optimizer runs ``budget`` calls against the predictor, *plain* (the mean),
   *conservative* (mean − K·std, K = ``conservative``) and *domain* (the conservative score,
   and 0 outside the applicability domain: a molecule whose nearest training molecule is less
   similar than ``min_similarity``; δ-CS's search within a distance of its data; its initial
   molecules are drawn from the proxy's training molecules, a random ZINC250k sample like the
   others' pool, so that the search starts inside the domain), for each seed
   (``OUT/runs/<oracle>_<N>/<optimizer>_<variant>_s<seed>/``, resumable); and against the
   *true* oracle itself, once per oracle, optimizer and seed whatever the sizes
   (``OUT/runs/<oracle>/<optimizer>_true_s<seed>/``; its rows have ``n_train`` ``-``);
3. the 10 and 100 best molecules of each run (by the score the run saw) are scored by the true
   oracle; ``true_top10`` / ``true_top100`` are their means (the benchmark's result), beside the
   proxy's own view of them.

Both proxy variants score ``[0, 1]`` (the oracles' range: ``low=0, high=1``), so every optimizer
sees scores on the oracle's scale. ``results.csv`` has one row per run; ``summary.md`` the means
over seeds and the share of the plain-to-true gap the conservative and domain variants close.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from makeable.bench.jobs import DesignJob, JobRun, raise_failures
from makeable.oracle.store import RunStore
from makeable.predict import DOMAIN_SIMILARITY
from makeable.report import markdown_table
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder
from makeable.runs.config import DesignConfig

log = logging.getLogger(__name__)

ORACLES = ("drd2", "jnk3", "gsk3b")
VARIANTS = ("plain", "conservative", "domain", "true")
DOMAIN_POOL = "domain.smi"
"""The proxy's training molecules (its training split), one SMILES a line: the domain variant's
initial pool."""
TRUE_SIZE = "-"
"""``n_train`` of a run against the true oracle (it has no training set)."""
RESULT_COLUMNS = (
    "oracle",
    "n_train",
    "optimizer",
    "variant",
    "seed",
    "true_top10",
    "true_top100",
    "seen_top10",
    "n_calls",
)


def train_proxy(oracle: str, n_train: int, out: Path, seed: int = 0, settings: Any = None) -> Path:
    """Label ``n_train`` ZINC250k molecules with ``oracle`` and train a predictor on them
    (skipped when the folder already holds one); returns the folder."""
    from makeable.data.molecules import zinc250k
    from makeable.objectives import get_objective
    from makeable.predict.data import read_table
    from makeable.predict.train import TrainSettings, train_predictor

    folder = out / "proxies" / f"{oracle}_{n_train}"
    if (folder / "config.json").is_file():
        write_domain(folder, oracle)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    molecules = random.Random(seed).sample(list(zinc250k()), n_train)
    scores = get_objective(oracle)(molecules)
    table_path = folder / "train.csv"
    rows = [{"smiles": s, oracle: repr(float(v))} for s, v, ok in zip(
        molecules, scores.values, scores.valid, strict=True) if ok]  # fmt: skip
    write_csv(table_path, ["smiles", oracle], rows)
    table = read_table(table_path, "smiles", [oracle])
    log.info("proxy %s: training on %d labelled molecules", folder.name, len(table))
    metrics = train_predictor(table, folder, settings or TrainSettings(), source={"oracle": oracle})
    test = metrics["test"][oracle]
    log.info(
        "proxy %s trained in %.0f s: held-out RMSE %.3f, R² %.3f",
        folder.name,
        metrics["train_s"],
        test["rmse"],
        test["r2"],
    )
    write_domain(folder, oracle)
    return folder


def write_domain(folder: Path, oracle: str) -> None:
    """The proxy's training molecules as ``DOMAIN_POOL``, and its ``domain.npz`` when it was
    trained before predictors kept one (their rows of ``train.csv``, from ``split.json``)."""
    from makeable.predict.data import read_table
    from makeable.predict.model import DOMAIN, save_domain

    if (folder / DOMAIN_POOL).is_file() and (folder / DOMAIN).is_file():
        return
    table = read_table(folder / "train.csv", "smiles", [oracle])
    train = json.loads((folder / "split.json").read_text())["train"]
    if not (folder / DOMAIN).is_file():
        save_domain(folder / DOMAIN, [table.mols[i] for i in train])
    smiles = [table.smiles[i] for i in train]
    (folder / DOMAIN_POOL).write_text("".join(f"{s}\n" for s in smiles))


def judge(oracle: str, run_dir: Path) -> dict[str, Any]:
    """The true oracle's mean over the run's 10 and 100 best molecules (by the run's score)."""
    from makeable.objectives import get_objective

    with RunStore(run_dir / "run.db") as store:
        calls = store.calls()
    best = sorted(calls, key=lambda c: c.score, reverse=True)[:100]
    truth = get_objective(oracle)([c.smiles for c in best]).values
    return {
        "true_top10": float(truth[:10].mean()) if len(best) else 0.0,
        "true_top100": float(truth.mean()) if len(best) else 0.0,
        "seen_top10": statistics.fmean(c.score for c in best[:10]) if best else 0.0,
        "n_calls": len(calls),
    }


def run_proxy(
    oracles: Sequence[str],
    sizes: Sequence[int],
    optimizers: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    budget: int = 10000,
    conservative: float = 1.0,
    min_similarity: float = DOMAIN_SIMILARITY,
    variants: Sequence[str] = VARIANTS,
    proxy_settings: Any = None,
    optimizer_params: dict[str, dict[str, Any]] | None = None,
    jobs: int = 1,
    progress: bool = False,
    executor: str = "process",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Train the proxies, run every (oracle, size, optimizer, variant, seed), write
    ``results.csv`` and ``summary.md``.

    Raises:
        ValueError: an unknown oracle or variant.
    """
    bad = [o for o in oracles if o not in ORACLES] + [v for v in variants if v not in VARIANTS]
    if bad:
        raise ValueError(
            f"unknown oracle(s) or variant(s) {', '.join(bad)}; oracles: {', '.join(ORACLES)}; "
            f"variants: {', '.join(VARIANTS)}"
        )
    with RunFolder(out) as folder:
        folder.record(
            {
                "benchmark": "proxy hacking",
                "oracles": list(oracles),
                "sizes": list(sizes),
                "optimizers": list(optimizers),
                "variants": list(variants),
                "seeds": list(seeds),
                "budget": budget,
                "conservative": conservative,
                "min_similarity": min_similarity,
            },
            config_name="bench.yaml",
        )
        rows: list[dict[str, Any]] = []
        failures = []
        for oracle in oracles:  # one oracle's runs start as soon as its proxies are trained
            job_list = []
            for n in sizes:
                proxy = train_proxy(oracle, n, out, settings=proxy_settings)
                for optimizer in optimizers:
                    for variant in variants:
                        if variant == "true" and n != sizes[0]:
                            continue  # the true oracle's runs do not depend on the size
                        for seed in seeds:
                            job_list.append(
                                _job(oracle, n, optimizer, variant, seed, proxy, out, budget,
                                     (conservative, min_similarity),
                                     (optimizer_params or {}).get(optimizer, {}))
                            )  # fmt: skip
            runs = JobRun(
                job_list, jobs, progress, f"{oracle} runs", executor=executor, address=address
            )
            for row in runs:
                rows.append(row)
                log.info(
                    "%s %s %s %s seed %s: true top-10 %.3f (the run saw %.3f)",
                    row["oracle"],
                    row["n_train"],
                    row["optimizer"],
                    row["variant"],
                    row["seed"],
                    row["true_top10"],
                    row["seen_top10"],
                )
                write_results(out, rows)
            failures.append(runs)
        write_results(out, rows)
        raise_failures(failures)
        return rows


def _job(
    oracle: str,
    n: int,
    optimizer: str,
    variant: str,
    seed: int,
    proxy: Path,
    out: Path,
    budget: int,
    caution: tuple[float, float],
    params: dict[str, Any],
) -> DesignJob:
    """One run; ``caution``: K of the conservative score and the domain's least similarity."""
    pool = "zinc250k"  # DesignConfig's default
    if variant == "true":
        objective, objective_params = oracle, {}
    else:
        objective = f"predictor:{proxy}"
        k = caution[0] if variant in ("conservative", "domain") else 0.0
        objective_params = {"conservative": k, "low": 0.0, "high": 1.0}
        if variant == "domain":
            objective_params["min_similarity"] = caution[1]
            pool = str(proxy / DOMAIN_POOL)
    config = DesignConfig(
        objective=objective,
        optimizer=optimizer,
        budget=budget,
        seed=seed,
        optimizer_params=dict(params),
        objective_params=objective_params,
        pool=pool,
    )
    true = variant == "true"
    labels = (
        ("oracle", oracle),
        ("n_train", TRUE_SIZE if true else n),
        ("optimizer", optimizer),
        ("variant", variant),
        ("seed", seed),
    )
    folder = oracle if true else f"{oracle}_{n}"
    run_dir = out / "runs" / folder / f"{optimizer}_{variant}_s{seed}"
    return DesignJob(labels, run_dir, config, (), functools.partial(judge, oracle))


def write_results(out: Path, rows: list[dict[str, Any]]) -> None:
    write_csv(out / "results.csv", RESULT_COLUMNS, rows)
    (out / "summary.md").write_text(summary_markdown(rows) + proxies_markdown(out))


def proxies_markdown(out: Path) -> str:
    """How well each trained proxy predicts its oracle on its own held-out molecules."""
    table = []
    for folder in sorted((out / "proxies").glob("*_*")):
        metrics_path = folder / "metrics.json"
        if not metrics_path.is_file():
            continue
        metrics = json.loads(metrics_path.read_text())
        oracle, n = folder.name.rsplit("_", 1)
        test = metrics.get("test", {}).get(oracle, {})
        cells = [oracle, n, str(test.get("n", "–"))]
        cells += [f"{test[k]:.3f}" if k in test else "–" for k in ("rmse", "r2")]
        table.append(cells)
    if not table:
        return ""
    header = ["oracle", "n train", "test molecules", "test RMSE", "test R²"]
    return "\n## The proxies on their held-out molecules\n\n" + markdown_table(header, table)


def summary_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Mean true top-10 / top-100 over seeds per (oracle, size, optimizer, variant), and the
    share of the plain-to-true gap in true top-10 that the conservative and domain variants
    close."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["oracle"], row["n_train"], row["optimizer"], row["variant"])
        groups.setdefault(key, []).append(row)

    def mean(key: tuple[Any, ...], column: str) -> float | None:
        if key[3] == "true":  # one true-oracle run serves every size
            key = (key[0], TRUE_SIZE, key[2], key[3])
        found = groups.get(key)
        return statistics.fmean(float(r[column]) for r in found) if found else None

    table = []
    for oracle, n, optimizer in dict.fromkeys(k[:3] for k in groups if k[1] != TRUE_SIZE):
        cells: list[str] = [oracle, str(n), optimizer]
        values = {}
        for variant in VARIANTS:
            t10 = mean((oracle, n, optimizer, variant), "true_top10")
            t100 = mean((oracle, n, optimizer, variant), "true_top100")
            values[variant] = t10
            cells.append("–" if t10 is None else f"{t10:.3f} / {t100:.3f}")
        plain, true = values["plain"], values["true"]
        for careful in (values["conservative"], values["domain"]):
            if plain is None or careful is None or true is None or true == plain:
                cells.append("–")
            else:
                cells.append(f"{(careful - plain) / (true - plain):.0%}")
        table.append(cells)
    header = ["oracle", "n train", "optimizer", "plain: true top-10 / top-100", "conservative",
              "domain", "true oracle", "gap closed: conservative",
              "gap closed: domain"]  # fmt: skip
    return "# Proxy hacking: the true oracle's view of proxy-designed molecules\n\n" + (
        markdown_table(header, table)
    )
