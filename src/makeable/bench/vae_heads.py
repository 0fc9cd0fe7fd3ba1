"""Do extra property heads make a VAE's molecules more valid and more specific?

``makeable bench vae-heads --models LABEL=DIR ... --property logP --interpolative T ...
--extrapolative T ... --out OUT`` compares groups of SMILES VAEs, e.g. VAEs trained with one head
(the targeted property) and VAEs trained with several (the targeted property and others), each
group holding models trained with different seeds. For every model:

* **validity of prior samples**: ``n`` latent vectors from ``N(0, I)`` decoded at temperature 1
  (as ``vae sample``), the share that parses;
* for a model with a head for the property, and each target: **specificity**
  (:mod:`makeable.generative.targeting`): ``n`` prior draws moved to the target along the head's
  gradient, decoded greedily; the share valid, the share unique, the mean absolute error of the
  RDKit property to the target and the share within ``tolerance`` of it.

``OUT/results.csv`` holds one row per model and target (and one ``prior`` row per model);
``OUT/summary.md`` the mean and a 95 % confidence interval (Student's t over the models of a
group, i.e. over training seeds) per group and target. The models should have been trained on
the same data with the same budget; the command does not check it, it records each model's
training settings beside its rows.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from makeable.report import markdown_table
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "HeadsSettings", "run_vae_heads"]

COLUMNS = [
    "label", "model", "heads", "kind", "target", "n", "valid", "unique", "mae", "within",
    "mean_value", "tolerance",
]  # fmt: skip

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (then 1.96)
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


@dataclass(frozen=True)
class HeadsSettings:
    """The benchmark's settings (recorded as ``OUT/config.yaml``).

    Attributes:
        models: ``(label, folder)`` pairs; a label names a group of models (e.g. seeds).
        prop: the targeted property (a head name, e.g. ``logP``).
        interpolative, extrapolative: targets inside / beyond the training set's range.
        n: latent points per model and target (and prior samples per model).
        seed: seeds the draws (the same for every model, so groups see the same draws).
        tolerance: the ``within`` tolerance in the property's units (``None``: a quarter of
            the property's training standard deviation, from the first model with the head).
        steps, lr, prior_weight: the latent moves (see ``targeting.target_latents``).
    """

    models: tuple[tuple[str, str], ...]
    prop: str
    interpolative: tuple[float, ...] = ()
    extrapolative: tuple[float, ...] = ()
    n: int = 500
    seed: int = 0
    tolerance: float | None = None
    steps: int = 200
    lr: float = 0.05
    prior_weight: float = 0.1
    targets: tuple[tuple[str, float], ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("bench vae-heads: give at least one LABEL=DIR model")
        if self.n < 1:
            raise ValueError(f"bench vae-heads: --n must be at least 1, got {self.n}")
        pairs = [("interpolative", t) for t in self.interpolative]
        pairs += [("extrapolative", t) for t in self.extrapolative]
        object.__setattr__(self, "targets", tuple(pairs))


def run_vae_heads(settings: HeadsSettings, out: str | Path) -> list[dict[str, Any]]:
    """Evaluate every model; write ``out/results.csv``, ``out/summary.md``, ``out/config.yaml``.

    Raises:
        ValueError: a model folder that is not a VAE, or a property RDKit cannot compute.
    """
    from makeable.generative.targeting import property_function
    from makeable.generative.vae_io import load_vae

    property_function(settings.prop)  # a property we cannot score fails before any work
    loaded = [(label, folder, load_vae(folder)) for label, folder in settings.models]
    if not any(settings.prop in vae.property_names for _, _, vae in loaded):
        raise ValueError(
            f"bench vae-heads: none of the models has a {settings.prop!r} head to target"
        )
    tolerance = settings.tolerance
    if tolerance is None:
        first = next(v for _, _, v in loaded if settings.prop in v.property_names)
        tolerance = 0.25 * first.property_stds[first.property_names.index(settings.prop)]
    rows: list[dict[str, Any]] = []
    with RunFolder(out) as folder:
        record = {k: v for k, v in asdict(settings).items() if k != "targets"}
        folder.record({**record, "tolerance_used": tolerance})
        for label, path, vae in loaded:
            rows += _model_rows(settings, label, path, vae, tolerance)
            log.info("vae-heads: %s (%s) done", label, path)
        write_csv(folder.path / "results.csv", COLUMNS, rows)
        (folder.path / "summary.md").write_text(summary_text(settings, rows, tolerance))
    return rows


def _model_rows(
    settings: HeadsSettings, label: str, path: str, vae: Any, tolerance: float
) -> list[dict[str, Any]]:
    from makeable.chem.molecule import canonical_smiles
    from makeable.generative.targeting import target_latents, targeted

    heads = "+".join(vae.property_names) or "none"
    base = {"label": label, "model": path, "heads": heads, "n": settings.n}
    prior = vae.sample(settings.n, seed=settings.seed)
    valid = [s for s in prior if canonical_smiles(s) is not None]
    rows = [
        {
            **base,
            "kind": "prior",
            "valid": _r(len(valid) / settings.n),
            "unique": _r(len(set(map(canonical_smiles, valid))) / len(valid)) if valid else 0.0,
        }
    ]
    if settings.prop not in vae.property_names:
        return rows
    for kind, target in settings.targets:
        z = target_latents(
            vae,
            settings.prop,
            target,
            settings.n,
            settings.seed,
            steps=settings.steps,
            lr=settings.lr,
            prior_weight=settings.prior_weight,
        )
        result = targeted(vae.decode(z, greedy=True), settings.prop, target, tolerance)
        rows.append(
            {
                **base,
                "kind": kind,
                "target": target,
                **{k: _r(v) for k, v in asdict(result).items() if k not in ("n", "tolerance")},
                "tolerance": _r(tolerance),
            }
        )
    return rows


def _r(value: float) -> float:
    return round(float(value), 4)


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its two-sided 95 % Student's t interval (``nan`` for one
    value; ``nan`` values are left out)."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return math.nan, math.nan
    mean = statistics.fmean(kept)
    if len(kept) < 2:
        return mean, math.nan
    t = _T95[len(kept) - 2] if len(kept) - 1 <= len(_T95) else 1.96
    return mean, t * statistics.stdev(kept) / math.sqrt(len(kept))


def _cell(values: Sequence[float]) -> str:
    mean, half = mean_ci(values)
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f}" if math.isnan(half) else f"{mean:.3f} ± {half:.3f}"


def summary_text(settings: HeadsSettings, rows: list[dict[str, Any]], tolerance: float) -> str:
    """The summary: per group, prior validity, then per target valid / unique / MAE / within."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    header = ["group", "models", "heads", "kind", "target", "valid", "unique", "MAE", "within"]
    lines = []
    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        models = len({r["model"] for r in mine})
        heads = ", ".join(sorted({r["heads"] for r in mine}))
        prior = [r for r in mine if r["kind"] == "prior"]
        lines.append(
            [label, models, heads, "prior", "", _cell([r["valid"] for r in prior]),
             _cell([r["unique"] for r in prior]), "", ""]
        )  # fmt: skip
        for kind, target in settings.targets:
            at = [r for r in mine if r["kind"] == kind and r.get("target") == target]
            if at:
                lines.append(
                    [label, models, heads, kind, target, _cell([r["valid"] for r in at]),
                     _cell([r["unique"] for r in at]), _cell([r["mae"] for r in at]),
                     _cell([r["within"] for r in at])]
                )  # fmt: skip
    return "\n".join(
        [
            f"# VAE property heads: {settings.prop}",
            "",
            f"{settings.n} latent points per model and target (seed {settings.seed}); mean "
            "± 95 % Student's t interval over the models of a group. *prior*: z ~ N(0, I) "
            "decoded at temperature 1. Targets: prior draws moved along the head's gradient "
            f"({settings.steps} Adam steps, lr {settings.lr}, prior weight "
            f"{settings.prior_weight}), decoded greedily; MAE and *within* (±{tolerance:.3g}) "
            "over the valid molecules, the property computed by RDKit.",
            "",
            markdown_table(header, lines),
        ]
    )
