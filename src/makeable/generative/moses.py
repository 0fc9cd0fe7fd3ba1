"""All MOSES metrics of one generated set against reference sets (molsets 0.3.1's
``get_all_metrics``, without the property distances), and the reference statistics.

For the two MOSES test sets, FCD, Frag and Scaf compare against MOSES's own precomputed
statistics (``moses/dataset/data/*_stats.npz`` of molsets 0.3.1, converted into
``resources/moses/``), which is what ``get_all_metrics`` uses by default; they are used only when
the reference file is byte-identical to MOSES's (sha256). SNN's reference fingerprints are
computed from the file. Any other reference set, or ``recompute=True``, is computed in full.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from makeable.data.download import sha256_of
from makeable.generative import chemnet as cn
from makeable.generative import metrics as m

log = logging.getLogger(__name__)

__all__ = [
    "METRIC_NAMES",
    "compute_reference",
    "evaluate",
    "load_reference",
    "read_smiles_csv",
]

METRIC_NAMES = ("valid", "unique_1k", "unique_10k", "novelty", "intdiv", "intdiv2", "filters")


def read_smiles_csv(path: str | Path, limit: int | None = None) -> list[str]:
    """The ``SMILES`` column of a MOSES CSV (``.csv`` or ``.csv.gz``), or one SMILES a line
    (first field) for any other file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        lines = [line.rstrip("\n\r") for line in fh]
    name = path.name.removesuffix(".gz")
    if name.endswith(".csv"):
        header = lines[0].split(",")
        if "SMILES" not in header:
            raise ValueError(f"{path}: no SMILES column (columns: {', '.join(header)})")
        col = header.index("SMILES")
        smiles = [line.split(",")[col] for line in lines[1:] if line]
    else:
        smiles = [line.split()[0] if line.split() else "" for line in lines]
    return smiles[:limit] if limit is not None else smiles


def _progress(items: Sequence[Any], desc: str, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="mol", disable=not progress, mininterval=2.0)


def _mols(smiles: Sequence[str], desc: str, progress: bool) -> list[Any]:
    mols = [m.get_mol(s) for s in _progress(smiles, desc, progress)]
    bad = [s for s, mol in zip(smiles, mols, strict=True) if mol is None]
    if bad:
        raise ValueError(f"{desc}: {len(bad)} invalid SMILES, e.g. {bad[0]!r}")
    return mols


def _reference_features(
    name: str, smiles: Sequence[str], progress: bool, counts: bool
) -> tuple[np.ndarray, Counter[str], Counter[str]]:
    """Fingerprints (and with ``counts`` BRICS-fragment and scaffold counts) of a reference
    set, one molecule at a time, so the parsed molecules are never all held at once."""
    fps = np.zeros((len(smiles), m.FP_BITS), dtype=np.uint8)
    frag: Counter[str] = Counter()
    scaf: Counter[str] = Counter()
    for i, smi in enumerate(_progress(smiles, f"{name}: fingerprints", progress)):
        mol = m.get_mol(smi)
        if mol is None:
            raise ValueError(f"{name}: invalid SMILES {smi!r} (line {i + 2})")
        fps[i] = m.fingerprints([mol])[0]
        if counts:
            frag.update(m.fragments(mol))
            scaffold = m.scaffold(mol)
            if scaffold is not None:
                scaf[scaffold] += 1
    return fps, frag, scaf


def compute_reference(
    name: str,
    smiles: Sequence[str],
    *,
    model: cn.ChemNet | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> m.Reference:
    """Every statistic of a reference set computed from its SMILES (ChemNet included)."""
    fps, frag, scaf = _reference_features(name, smiles, progress, counts=True)
    acts = cn.chemnet_activations(
        smiles, model, device=device, progress=progress, desc=f"{name}: ChemNet"
    )
    mu, sigma = cn.gaussian_fit(acts)
    return m.Reference(
        name=name,
        fcd_mu=mu,
        fcd_sigma=sigma,
        fps=fps,
        frag=frag,
        scaf=scaf,
        source="computed from the file",
    )


def _shipped(name: str) -> tuple[Path, Path] | None:
    root = resources.files("makeable.resources").joinpath("moses")
    fcd, counts = root.joinpath(f"{name}_fcd.npz"), root.joinpath(f"{name}_counts.json.gz")
    if not (fcd.is_file() and counts.is_file()):
        return None
    return Path(str(fcd)), Path(str(counts))


def load_reference(
    name: str,
    path: str | Path,
    *,
    recompute: bool = False,
    limit: int | None = None,
    model: cn.ChemNet | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> m.Reference:
    """The reference statistics of a MOSES reference file (``test`` or ``test_scaffolds``).

    MOSES's precomputed FCD/Frag/Scaf statistics are used when the file is MOSES's own and all
    of it is used; otherwise (``recompute``, ``limit``, another file) everything is computed.
    """
    path = Path(path)
    smiles = read_smiles_csv(path, limit)
    shipped = _shipped(name)
    if shipped is not None and not recompute and limit is None:
        fcd_file, counts_file = shipped
        with gzip.open(counts_file, "rt", encoding="utf-8") as fh:
            counts = json.load(fh)
        if counts["reference_sha256"] == sha256_of(path):
            with np.load(fcd_file, allow_pickle=False) as stats:
                mu, sigma = stats["mu"].astype(np.float64), stats["sigma"].astype(np.float64)
            fps = _reference_features(name, smiles, progress, counts=False)[0]
            return m.Reference(
                name=name,
                fcd_mu=mu,
                fcd_sigma=sigma,
                fps=fps,
                frag=counts["frag"],
                scaf=counts["scaf"],
                source="MOSES precomputed FCD/Frag/Scaf statistics (molsets 0.3.1); "
                "SNN fingerprints from the file",
            )
        log.warning("%s is not MOSES's %s set: computing its statistics", path, name)
    return compute_reference(name, smiles, model=model, device=device, progress=progress)


def evaluate(
    gen: Sequence[str],
    train: set[str] | frozenset[str],
    references: Sequence[m.Reference],
    *,
    model: cn.ChemNet | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, float]]:
    """MOSES metrics of generated SMILES (as sampled, invalid ones included).

    Returns:
        (metrics of the set alone, {reference name: fcd/snn/frag/scaf}, seconds by step).
    """
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    out: dict[str, float] = {"valid": m.fraction_valid(gen)}
    valid = m.remove_invalid(gen)
    out["unique_1k"] = m.fraction_unique(valid, 1000)
    out["unique_10k"] = m.fraction_unique(valid, 10000)
    out["novelty"] = m.novelty(valid, train)
    mols = _mols(valid, "generated: parse", progress)
    fps = m.fingerprints(mols)
    times["validity_uniqueness_novelty"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    out["intdiv"] = m.internal_diversity(fps, p=1)
    out["intdiv2"] = m.internal_diversity(fps, p=2)
    times["intdiv"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out["filters"] = m.fraction_passes_filters(_progress(mols, "generated: filters", progress))
    times["filters"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    frag = m.compute_fragments(_progress(mols, "generated: BRICS", progress))
    scaf = m.compute_scaffolds(_progress(mols, "generated: scaffolds", progress))
    times["fragments_scaffolds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    acts = cn.chemnet_activations(
        valid, model, device=device, progress=progress, desc="generated: ChemNet"
    )
    mu, sigma = cn.gaussian_fit(acts)
    times["chemnet"] = time.perf_counter() - t0

    per_ref: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    for ref in references:
        per_ref[ref.name] = {
            "fcd": cn.frechet_distance(ref.fcd_mu, ref.fcd_sigma, mu, sigma),
            "snn": m.snn(ref.fps, fps),
            "frag": m.cos_similarity(ref.frag, frag),
            "scaf": m.cos_similarity(ref.scaf, scaf),
        }
    times["against_references"] = time.perf_counter() - t0
    return out, per_ref, times
