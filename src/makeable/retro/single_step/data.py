"""USPTO-50k loading: the GLN train/val/test split and the MHN training templates.

Files, under ``$MAKEABLE_DATA/reactions/uspto50k`` (see the data folder's README):

* ``raw_train_unmapped.csv.gz``: the 40,008 GLN training reactions, **not atom-mapped**; the
  ``mhn_row`` column links each to its row of the MHN file, whose ``reaction_smarts`` column is
  the rdchiral retro template extracted from the mapped reaction;
* ``raw_val.csv``, ``raw_test.csv``: 5,001 / 5,007 atom-mapped reactions;
* ``USPTO_50k_MHN_prepro.csv.gz``: all 50,016 reactions with templates. Its ``split`` column
  is **not** the GLN split although its sizes are equal: it is only used for templates here.

References:
    Schneider, Stiefl, Landrum, "What's What: The (Nearly) Definitive Guide to Reaction Role
    Assignment", JCIM 2016 (USPTO-50k). Dai et al., "Retrosynthesis Prediction with
    Conditional Graph Logic Network", NeurIPS 2019 (the split). Seidl et al., "Improving
    Few- and Zero-Shot Reaction Template Prediction Using Modern Hopfield Networks", JCIM 2022
    (the template file).
"""

from __future__ import annotations

import csv
import gzip
import io
from functools import lru_cache
from pathlib import Path

from makeable.chem.reaction import Reaction
from makeable.data.molecules import data_file

SPLITS = ("train", "val", "test")

REACTION_CLASSES = {
    1: ("alkylation", "heteroatom alkylation and arylation"),
    2: ("acylation", "acylation and related processes"),
    3: ("cc", "C-C bond formation"),
    4: ("heterocycle", "heterocycle formation"),
    5: ("protection", "protections"),
    6: ("deprotection", "deprotections"),
    7: ("reduction", "reductions"),
    8: ("oxidation", "oxidations"),
    9: ("fgi", "functional group interconversion"),
    10: ("fga", "functional group addition"),
}
"""USPTO-50k's ten reaction classes (Schneider et al., JCIM 2016): number → (short name, name)."""


def reaction_class(text: str) -> int:
    """A reaction class given as its number (1-10) or short name (``acylation``, ``cc``, ...).

    Raises:
        ValueError: neither, naming the choices.
    """
    key = text.strip().lower()
    if key.isdigit() and int(key) in REACTION_CLASSES:
        return int(key)
    for number, (short, _) in REACTION_CLASSES.items():
        if key == short:
            return number
    choices = ", ".join(f"{n} {short} ({name})" for n, (short, name) in REACTION_CLASSES.items())
    raise ValueError(f"unknown reaction class {text!r}; choose one of: {choices}")


USPTO50K_RELPATH = "reactions/uspto50k"
_FILES = {
    "train": "raw_train_unmapped.csv.gz",
    "val": "raw_val.csv",
    "test": "raw_test.csv",
}
MHN_FILE = "USPTO_50k_MHN_prepro.csv.gz"
_RXN_COLUMN = "reactants>reagents>production"


def uspto50k_dir() -> Path:
    """The USPTO-50k folder of the data directory.

    Raises:
        FileNotFoundError: ``$MAKEABLE_DATA`` is unset or lacks ``reactions/uspto50k``.
    """
    return data_file(
        USPTO50K_RELPATH,
        "USPTO-50k",
        f" (with {', '.join(_FILES.values())} and {MHN_FILE}; see docs/benchmarks/uspto50k.md "
        "for the files and sources)",
        folder=True,
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header, gzipped (``.gz``) or not."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", newline="") as fh:
            return list(csv.DictReader(io.StringIO(fh.read())))
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def mhn_templates() -> tuple[str, ...]:
    """The retro template of every row of the MHN file (row order)."""
    rows = read_rows(uspto50k_dir() / MHN_FILE)
    return tuple(r["reaction_smarts"] for r in rows)


@lru_cache(maxsize=2 * len(SPLITS))
def load_uspto50k(split: str, limit: int | None = None) -> tuple[Reaction, ...]:
    """The reactions of one GLN split, in file order (the first ``limit`` if given).

    Each reaction's metadata holds ``id`` (patent), ``class`` (1-10) and, for ``train``, the
    MHN ``template``; val/test reactions keep their atom-mapped SMILES in ``mapped``.

    Raises:
        ValueError: unknown split.
        FileNotFoundError: the data folder is missing (see :func:`uspto50k_dir`).
    """
    if split not in _FILES:
        raise ValueError(f"unknown USPTO-50k split {split!r}; choose one of: {', '.join(SPLITS)}")
    folder = uspto50k_dir()
    rows = read_rows(folder / _FILES[split])[:limit]
    templates = mhn_templates() if split == "train" else ()
    reactions = []
    for row in rows:
        meta: dict[str, object] = {"id": row["id"], "class": int(row["class"])}
        if split == "train":
            meta["template"] = templates[int(row["mhn_row"])]
        reactions.append(Reaction.from_smiles(row[_RXN_COLUMN], **meta))
    return tuple(reactions)


def reactant_pool() -> tuple[str, ...]:
    """Every molecule that is a reactant in USPTO-50k (train + val + test), sorted.

    This is RetCL's "USPTO-50k candidates" set: it contains the answer to every test reaction
    by construction. The paper's larger 671k USPTO candidate set is not available offline.
    """
    pool: set[str] = set()
    for split in SPLITS:
        for reaction in load_uspto50k(split):
            pool.update(m.smiles for m in reaction.reactants)
    return tuple(sorted(pool))


def attach_mhn_templates(reactions: tuple[Reaction, ...]) -> tuple[Reaction, ...]:
    """Copies of ``reactions`` (val/test) with ``metadata["template"]`` from the MHN file.

    Reactions are matched on patent id and the canonical unmapped reaction; a reaction
    without a match keeps no template. Used to monitor template accuracy on the validation
    split (the test split's templates are never used for training).
    """
    from dataclasses import replace

    rows = read_rows(uspto50k_dir() / MHN_FILE)
    by_id: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row)
    out = []
    for reaction in reactions:
        template = None
        for row in by_id.get(str(reaction.metadata.get("id")), []):
            try:
                other = Reaction.from_smiles(f"{row['reactants_can']}>>{row['prod_smiles']}")
            except ValueError:
                continue
            if other == reaction:
                template = row["reaction_smarts"]
                break
        meta = dict(reaction.metadata)
        if template is not None:
            meta["template"] = template
        out.append(replace(reaction, metadata=meta))
    return tuple(out)
