"""Training corpora for single-step models: more reactions, no leakage.

A corpus folder holds the reactions a model trains on, each with its rdchiral retro template:

* **USPTO-50k train** (40,008 GLN training reactions; templates from the MHN file, see
  :mod:`makeable.retro.single_step.data`);
* **USPTO-500-MT** (143,535 reactions of ``$MAKEABLE_DATA/reactions/uspto500mt.csv.gz``, all
  three of its splits; *not* atom-mapped, so each is mapped with RXNMapper (Schwaller et al.,
  Sci. Adv. 2021; the optional extra ``makeable[mapping]``) before rdchiral extracts its
  template).

Before mapping, a reaction is dropped when (counted in ``corpus.json``):

* its product is a target or an intermediate of the PaRoutes n1/n5 reference routes
  (``planning/paroutes/route_molecules.txt.gz``): no planning benchmark route can be
  recalled from training (leakage);
* its product is a product of the USPTO-50k validation or test split: the USPTO-50k benchmark
  stays a test on unseen products;
* it repeats a reaction already taken (same canonical reactants and product), it has more
  than one product component, or a SMILES does not parse.

Mapping runs in chunks (``mapped/<source>_NNNNN.csv.gz``, each written atomically): a killed
build resumes at the first missing chunk and never maps a reaction twice. With ``remap``, the
USPTO-50k reactions are mapped too (train, and validation into ``val.csv.gz``), so that all
templates come from one mapper. The folder ends with
``reactions.csv.gz`` (``source,id,reaction,template,mapped``), ``templates.csv.gz``
(``template,count,uspto50k,uspto500mt``) and ``corpus.json`` (counts, exclusions with their
sha256, versions).
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from makeable.chem.reaction import Reaction, canonical_unmapped, split_components
from makeable.data.download import sha256_of
from makeable.data.molecules import data_file
from makeable.retro.single_step.data import load_uspto50k, read_rows
from makeable.retro.single_step.templates import extract_template
from makeable.run_folder import RunFolder
from makeable.runtime import set_torch_threads
from makeable.settings import read_json_object, write_settings

log = logging.getLogger(__name__)

SOURCES = ("uspto50k", "uspto500mt")
USPTO500MT_RELPATH = "reactions/uspto500mt.csv.gz"
ROUTE_MOLECULES_RELPATH = "planning/paroutes/route_molecules.txt.gz"
REACTIONS, TEMPLATES, METADATA, CONFIG, VAL = (
    "reactions.csv.gz",
    "templates.csv.gz",
    "corpus.json",
    "config.json",
    "val.csv.gz",
)
MAPPED = "mapped"
_COLUMNS = ("source", "id", "reaction", "template", "mapped")


class CorpusError(ValueError):
    """A corpus folder or source that cannot be used (one line for the user)."""


def _data_file(relpath: str, what: str) -> Path:
    return data_file(relpath, what, " (see docs/benchmarks/uspto50k.md for the files and sources)")


def _route_molecules_file() -> Path:
    return _data_file(ROUTE_MOLECULES_RELPATH, "the PaRoutes route molecules (leakage list)")


def _canonical_reaction(reactants: str, product: str) -> tuple[str, str] | None:
    """``(canonical reactants joined by '.', canonical product)``; ``None`` if invalid."""
    if len(split_components(product)) != 1:
        return None
    prod = canonical_unmapped(product)
    parts = [canonical_unmapped(s) for s in split_components(reactants)]
    if prod is None or not parts or any(p is None for p in parts):
        return None
    return ".".join(sorted(p for p in parts if p is not None)), prod


def exclusion_sets() -> dict[str, frozenset[str]]:
    """The products no corpus reaction may have, by reason (canonical SMILES, stereo kept)."""
    path = _route_molecules_file()
    with gzip.open(path, "rt") as fh:
        paroutes = {canonical_unmapped(line.strip()) for line in fh if line.strip()}
    evaluation = {r.product.smiles for split in ("val", "test") for r in load_uspto50k(split)}
    return {
        "paroutes_route_molecules": frozenset(s for s in paroutes if s),
        "uspto50k_val_test_products": frozenset(evaluation),
    }


@dataclass(frozen=True)
class _Candidate:
    source: str
    id: str
    reactants: str  # as recorded (unmapped), for the mapper
    product: str
    key: str  # canonical unmapped reaction


def _uspto500mt_rows(limit: int | None = None) -> Iterable[tuple[str, str]]:
    with gzip.open(_data_file(USPTO500MT_RELPATH, "USPTO-500-MT"), "rt", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if limit is not None and i >= limit:
                return
            yield f"{row['split']}:{i}", row["rxn"]


def select_reactions(
    sources: Sequence[str] = SOURCES, limit: int | None = None, remap: bool = False
) -> tuple[list[Reaction], dict[str, list[_Candidate]], dict[str, Any]]:
    """The reactions of a corpus after the exclusions, and the counts of what was dropped.

    Returns ``(uspto50k_kept, to_map, report)``: the USPTO-50k train reactions kept with their
    MHN templates (empty with ``remap``), the reactions to map by group (``uspto500mt``; with
    ``remap`` also ``uspto50k`` and ``uspto50k_val``, the validation split, mapped so that its
    templates come from the same mapper as the training templates), and the counts. A
    USPTO-50k reaction is taken before a USPTO-500-MT one, so a repeat drops the latter.
    """
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise CorpusError(f"unknown corpus source {unknown[0]!r}; choose from {', '.join(SOURCES)}")
    exclusions = exclusion_sets()
    counts: dict[str, Counter[str]] = {s: Counter() for s in sources}
    seen: set[str] = set()

    def excluded(product: str) -> str | None:
        for reason, products in exclusions.items():
            if product in products:
                return reason
        return None

    kept50k: list[Reaction] = []
    to_map: dict[str, list[_Candidate]] = {"uspto500mt": [], "uspto50k": [], "uspto50k_val": []}
    if "uspto50k" in sources:
        c = counts["uspto50k"]
        for r in load_uspto50k("train", limit):
            c["read"] += 1
            reason = excluded(r.product.smiles)
            if reason:
                c[f"excluded_{reason}"] += 1
            elif r.smiles in seen:
                c["duplicate"] += 1
            elif remap:
                seen.add(r.smiles)
                to_map["uspto50k"].append(
                    _Candidate(
                        "uspto50k", str(r.metadata.get("id", "")), r.reactants_smiles,
                        r.product.smiles, r.smiles,
                    )
                )  # fmt: skip
            elif not r.metadata.get("template"):
                c["no_template"] += 1
            else:
                seen.add(r.smiles)
                kept50k.append(r)
        c["to_map" if remap else "kept"] = len(to_map["uspto50k"]) if remap else len(kept50k)
        if remap:
            to_map["uspto50k_val"] = [
                _Candidate(
                    "uspto50k_val", str(r.metadata.get("id", "")), r.reactants_smiles,
                    r.product.smiles, r.smiles,
                )
                for r in load_uspto50k("val", limit)
            ]  # fmt: skip
    if "uspto500mt" in sources:
        c = counts["uspto500mt"]
        for rid, rxn in _uspto500mt_rows(limit):
            c["read"] += 1
            left, _, right = rxn.partition(">>")
            canon = _canonical_reaction(left, right)
            if canon is None:
                c["invalid_or_multi_product"] += 1
                continue
            key = f"{canon[0]}>>{canon[1]}"
            reason = excluded(canon[1])
            if reason:
                c[f"excluded_{reason}"] += 1
            elif key in seen:
                c["duplicate"] += 1
            else:
                seen.add(key)
                to_map["uspto500mt"].append(_Candidate("uspto500mt", rid, left, right, key))
        c["to_map"] = len(to_map["uspto500mt"])
    report = {
        "exclusions": {k: len(v) for k, v in exclusions.items()},
        "sources": {s: dict(sorted(c.items())) for s, c in counts.items()},
    }
    return kept50k, {k: v for k, v in to_map.items() if v}, report


# ------------------------------------------------------------------ mapping (worker side)
_MAPPER: Any = None


def _mapper() -> Any:
    global _MAPPER
    if _MAPPER is None:
        try:
            from rxnmapper import RXNMapper
        except ImportError as exc:
            raise CorpusError(
                f"atom mapping needs RXNMapper ({exc}); install the extra: "
                "pip install 'makeable[mapping]'"
            ) from None
        set_torch_threads(1)
        _MAPPER = RXNMapper()
    return _MAPPER


def _map_batch(mapper: Any, rxns: list[str]) -> list[str]:
    """Mapped SMILES of each reaction ("" when RXNMapper fails on it)."""
    try:
        out = mapper.get_attention_guided_atom_maps(rxns, canonicalize_rxns=False)
        return [str(o.get("mapped_rxn", "")) for o in out]
    except Exception:  # a too-long or odd reaction fails its whole batch: retry one by one
        if len(rxns) == 1:
            return [""]
        return [m for r in rxns for m in _map_batch(mapper, [r])]


def map_chunk(candidates: Sequence[_Candidate], batch_size: int = 16) -> list[dict[str, str]]:
    """Map and extract the template of each candidate (rows of a ``mapped/`` chunk file)."""
    mapper = _mapper()
    rows = []
    for start in range(0, len(candidates), batch_size):
        batch = candidates[start : start + batch_size]
        mapped = _map_batch(mapper, [f"{c.reactants}>>{c.product}" for c in batch])
        for cand, m in zip(batch, mapped, strict=True):
            template = extract_template(m, cand.id) if m else None
            rows.append(
                {
                    "source": cand.source,
                    "id": cand.id,
                    "reaction": cand.key,
                    "template": template or "",
                    "mapped": m,
                }
            )
    return rows


def _write_rows(
    path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str] = _COLUMNS
) -> None:
    """Write a gzipped CSV atomically (a temporary file, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _chunk_job(args: tuple[str, list[_Candidate]]) -> int:
    path, candidates = args
    _write_rows(Path(path), map_chunk(candidates))
    return len(candidates)


# ------------------------------------------------------------------ building a corpus
def build_corpus(
    out: str | Path,
    sources: Sequence[str] = SOURCES,
    jobs: int = 1,
    chunk_size: int = 500,
    limit: int | None = None,
    progress: bool = True,
    executor_factory: Callable[[int], Any] | None = None,
    remap: bool = False,
) -> dict[str, Any]:
    """Build (or resume) a corpus folder; returns the content of its ``corpus.json``.

    Args:
        out: the corpus folder.
        sources: which of :data:`SOURCES` to use.
        jobs: worker processes mapping chunks in parallel (one torch thread each).
        chunk_size: reactions per chunk file (the unit of resumption).
        limit: read only the first ``limit`` rows of each source (tests).
        progress: show a progress bar over the chunks.
        executor_factory: ``jobs -> Executor`` (tests); default a process pool for
            ``jobs > 1``, else this process.
        remap: map the USPTO-50k reactions too (train and validation) instead of taking the
            MHN templates, so that every template comes from one mapper and one rdchiral
            version (the same change is then written as one template, not two); the mapped
            validation split is written to ``val.csv.gz`` for model selection.

    Raises:
        RunInUseError: another process builds this folder.
        ValueError: the folder was started with other settings.
        FileNotFoundError: a data file is missing.
    """
    from tqdm import tqdm

    from makeable.oracle.executor import InProcessExecutor, ProcessPoolExecutorBackend

    out = Path(out)
    config = {
        "corpus": "single-step training reactions",
        "sources": sorted(sources),
        "chunk_size": int(chunk_size),
        "limit": limit,
        "exclusions": [ROUTE_MOLECULES_RELPATH, "uspto50k val+test products"],
        "remap_uspto50k": bool(remap),
    }
    with RunFolder(out) as folder:
        folder.check_settings(CONFIG, config, holds=f"{out} holds a corpus built with")
        folder.write_settings(CONFIG, config)
        folder.record(None, extra_versions=("rdchiral", "rxnmapper"))
        kept50k, to_map, report = select_reactions(sources, limit, remap)
        (out / MAPPED).mkdir(exist_ok=True)
        paths: dict[str, list[Path]] = {}
        todo: list[tuple[str, list[_Candidate]]] = []
        for group, candidates in to_map.items():
            chunks = [candidates[i : i + chunk_size] for i in range(0, len(candidates), chunk_size)]
            paths[group] = [out / MAPPED / f"{group}_{i:05d}.csv.gz" for i in range(len(chunks))]
            todo += [
                (str(p), c) for p, c in zip(paths[group], chunks, strict=True) if not p.exists()
            ]
        n_map = sum(len(c) for c in to_map.values())
        if todo:
            _mapper()  # a missing extra fails here, once, before any worker starts
        if executor_factory is not None:
            executor = executor_factory(jobs)
        elif jobs > 1 and len(todo) > 1:
            executor = ProcessPoolExecutorBackend(jobs)
        else:
            executor = InProcessExecutor()
        bar = tqdm(
            total=n_map,
            initial=n_map - sum(len(c) for _, c in todo),
            desc="mapping",
            unit="rxn",
            disable=not progress,
            smoothing=0.05,
        )
        with executor:
            for _, n in executor.imap_unordered(_chunk_job, todo):
                bar.update(n)
        bar.close()
        return _assemble(out, kept50k, paths, report)


def _assemble(
    out: Path, kept50k: list[Reaction], paths: dict[str, list[Path]], report: dict[str, Any]
) -> dict[str, Any]:
    rows: list[dict[str, str]] = [
        {
            "source": "uspto50k",
            "id": str(r.metadata.get("id", "")),
            "reaction": r.smiles,
            "template": str(r.metadata["template"]),
            "mapped": "",
        }
        for r in kept50k
    ]
    failed: dict[str, Counter[str]] = {}
    val: list[dict[str, str]] = []
    for group, group_paths in paths.items():
        failed[group] = Counter()
        for path in group_paths:
            for row in read_rows(path):
                if not row["mapped"]:
                    failed[group]["mapping_failed"] += 1
                elif not row["template"]:
                    failed[group]["no_template"] += 1
                else:
                    (val if group == "uspto50k_val" else rows).append(row)
    _write_rows(out / REACTIONS, rows)
    if val:
        _write_rows(out / VAL, val)
    by_source: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
    for row in rows:
        by_source[row["source"]][row["template"]] += 1
    total = by_source["uspto50k"] + by_source["uspto500mt"]
    _write_rows(
        out / TEMPLATES,
        (
            {"template": t, "count": n, **{s: by_source[s][t] for s in SOURCES}}
            for t, n in total.most_common()
        ),
        ("template", "count", *SOURCES),
    )
    for group, counts in failed.items():
        if group == "uspto50k_val":
            report["validation"] = {"mapped": len(val), **counts}
            continue
        report["sources"][group].update(counts)
        report["sources"][group]["kept"] = sum(1 for r in rows if r["source"] == group)
    exclusion_files = {ROUTE_MOLECULES_RELPATH: sha256_of(_route_molecules_file())}
    metadata = {
        **report,
        "exclusion_files": exclusion_files,
        "n_reactions": len(rows),
        "n_templates": len(total),
        "n_templates_seen_twice": sum(1 for c in total.values() if c >= 2),
    }
    write_settings(out / METADATA, metadata)
    return metadata


def load_corpus(folder: str | Path, limit: int | None = None) -> tuple[Reaction, ...]:
    """The reactions of a built corpus, each with ``metadata`` ``template``, ``source``, ``id``
    and ``mapped`` (the atom-mapped reaction SMILES; empty for USPTO-50k reactions taken with
    their MHN templates). ``limit``: the first ``limit`` reactions only.

    Raises:
        CorpusError: the folder holds no finished corpus.
    """
    path = Path(folder) / REACTIONS
    if not path.is_file():
        raise CorpusError(
            f"{folder} holds no finished corpus ({REACTIONS} is missing); build it with "
            "`makeable retro corpus --out FOLDER`"
        )
    out: list[Reaction] = []
    for row in read_rows(path):
        if limit is not None and len(out) >= limit:
            break
        out.append(
            Reaction.from_smiles(
                row["reaction"],
                template=row["template"],
                source=row["source"],
                id=row["id"],
                mapped=row.get("mapped", ""),
            )
        )
    return tuple(out)


def load_corpus_val(folder: str | Path) -> tuple[Reaction, ...] | None:
    """The USPTO-50k validation reactions with templates from the corpus's own mapper (a
    corpus built with ``remap``), else ``None`` (use the MHN templates)."""
    path = Path(folder) / VAL
    if not path.is_file():
        return None
    return tuple(
        Reaction.from_smiles(
            row["reaction"], template=row["template"], id=row["id"], mapped=row.get("mapped", "")
        )
        for row in read_rows(path)
    )


def corpus_metadata(folder: str | Path) -> dict[str, Any]:
    """The ``corpus.json`` of a built corpus (counts and exclusions), for a model's metadata."""
    path = Path(folder) / METADATA
    if not path.is_file():
        raise CorpusError(f"{folder} holds no finished corpus ({METADATA} is missing)")
    return read_json_object(path)
