"""Sequence-design data: the files behind the biological sequence tasks.

Everything is read from the data folder named by ``$MAKEABLE_DATA`` (see
:func:`makeable.data.molecules.data_dir`), under ``sequences/``:

========================================  ====================================================
``tfbind8/tf_bind_8-x-0.npy``, ``-y-0``   all 8-mers and their design-bench TFBind8 scores
``delta_cs/tfbind/tfbind-x-init.npy``     δ-CS starting set (bottom 50 %), with ``-y-init``
``delta_cs/rna/RNA{1,2,3}_{x,y}.npy``     δ-CS starting sets for RNA-A/B/C (alphabet "UGCA")
``rna_targets.txt``                       FLEXS RNA-binding target sequences
``aav/flexs_AAV2_single_subs.json.gz``    FLEXS additive AAV packaging table
========================================  ====================================================

Nothing here is needed to import the package; a task that needs a missing file raises
:class:`SequenceDataError` saying what to set.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from makeable.data.molecules import data_file

TFBIND8_ALPHABET = "ACGT"  # design-bench encoding: A, C, G, T = 0..3
RNA_ALPHABET = "UGCA"  # δ-CS encoding of the RNA starting sets: U, G, C, A = 0..3


class SequenceDataError(FileNotFoundError):
    """A data file a sequence task needs is not available."""


def sequence_file(relpath: str) -> Path:
    """The path of ``sequences/<relpath>`` in the data folder.

    Raises:
        SequenceDataError: ``$MAKEABLE_DATA`` is not set or the file is missing.
    """
    return data_file(
        f"sequences/{relpath}",
        "this sequence task's data",
        " (the shared data folder, the one holding sequences/)",
        error=SequenceDataError,
    )


def decode(x: np.ndarray, alphabet: str) -> list[str]:
    """Integer-encoded sequences, shape ``(n, L)``, to strings over ``alphabet``."""
    table = np.array(list(alphabet))
    return ["".join(row) for row in table[np.asarray(x, dtype=np.int64)]]


@lru_cache(maxsize=1)
def tfbind8_table() -> dict[str, float]:
    """Every 8-mer's design-bench TFBind8 score (SIX6_REF_R1), keyed by its ACGT string."""
    x = np.load(sequence_file("tfbind8/tf_bind_8-x-0.npy"))
    y = np.load(sequence_file("tfbind8/tf_bind_8-y-0.npy")).reshape(-1).astype(np.float64)
    return dict(zip(decode(x, TFBIND8_ALPHABET), y.tolist(), strict=True))


def tfbind8_initial() -> tuple[list[str], np.ndarray]:
    """The δ-CS TFBind8 starting set: the bottom 50 % of the 8-mers (32,898 rows)."""
    x = np.load(sequence_file("delta_cs/tfbind/tfbind-x-init.npy"))
    y = np.load(sequence_file("delta_cs/tfbind/tfbind-y-init.npy")).reshape(-1)
    return decode(x, TFBIND8_ALPHABET), y.astype(np.float64)


def rna_initial(k: int) -> tuple[list[str], np.ndarray]:
    """The δ-CS starting set for RNA-``k`` (k = 1, 2, 3 for RNA-A/B/C): 5,000 14-mers."""
    x = np.load(sequence_file(f"delta_cs/rna/RNA{k}_x.npy"))
    y = np.load(sequence_file(f"delta_cs/rna/RNA{k}_y.npy")).reshape(-1)
    return decode(x, RNA_ALPHABET), y.astype(np.float64)


@lru_cache(maxsize=1)
def rna_targets() -> tuple[str, ...]:
    """The FLEXS RNA-binding targets (target ``k`` is RNA-``k``'s, 1-based)."""
    lines = sequence_file("rna_targets.txt").read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def aav_single_subs() -> dict[int, dict[str, dict[str, float]]]:
    """The FLEXS AAV2 table: position → residue → ``log2_<phenotype>_v_wt`` values."""
    with gzip.open(sequence_file("aav/flexs_AAV2_single_subs.json.gz"), "rt") as fh:
        return {int(pos): subs for pos, subs in json.load(fh).items()}
