"""Atom-level SMILES tokenizer with a JSON vocabulary.

The regular expression splits a SMILES string into chemically meaningful tokens: bracket atoms
(``[nH]``, ``[C@@H]``, ``[NH+]``), two-letter organic-subset atoms (``Cl``, ``Br``), ring-closure
numbers including ``%10``-style ones, bonds, branches and stereo marks. It is the atom-level
pattern of Schwaller et al., "Molecular Transformer", ACS Cent. Sci. 2019
(https://doi.org/10.1021/acscentsci.9b00576). Every character of a SMILES string belongs to
exactly one token, so ``decode(encode(s)) == s`` for any string whose tokens are in the
vocabulary.

Special tokens (fixed indices): ``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2, ``<unk>`` 3.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)

SMILES_REGEX = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$"
    r"|%[0-9]{2}|[0-9])"
)

RING_CLOSURE_TOKEN = re.compile(r"%[0-9]{2}|[0-9]")
"""A ring-closure token of :data:`SMILES_REGEX` (``1``-``9``, ``%10``...), whole-token match."""


class TokenizeError(ValueError):
    """A SMILES string holds characters the tokenizer regex does not cover."""


def split_smiles(smiles: str) -> list[str]:
    """Split a SMILES string into atom-level tokens.

    Raises:
        TokenizeError: if some characters are not covered by any token (so that the split
            would not round-trip).
    """
    tokens = SMILES_REGEX.findall(smiles)
    if sum(map(len, tokens)) != len(smiles):
        raise TokenizeError(f"cannot tokenize SMILES {smiles!r}: unknown characters")
    return tokens


class SmilesTokenizer:
    """Maps SMILES strings to token ids and back.

    Args:
        tokens: the non-special tokens of the vocabulary, in id order (ids start after the
            four special tokens).
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        duplicated = [t for t, n in Counter(tokens).items() if n > 1]
        if duplicated or any(t in SPECIAL_TOKENS for t in tokens):
            raise ValueError(f"vocabulary tokens must be unique and not special: {duplicated}")
        self.itos: list[str] = [*SPECIAL_TOKENS, *tokens]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    pad_id = 0
    bos_id = 1
    eos_id = 2
    unk_id = 3

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SmilesTokenizer) and self.itos == other.itos

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def build(cls, smiles: Iterable[str], min_count: int = 1) -> SmilesTokenizer:
        """A vocabulary of the tokens seen in ``smiles`` (at least ``min_count`` times).

        Tokens are ordered by decreasing count, then alphabetically, so the same data always
        gives the same ids. SMILES that cannot be tokenized are skipped.
        """
        counts: Counter[str] = Counter()
        for s in smiles:
            try:
                counts.update(split_smiles(s))
            except TokenizeError:
                continue
        kept = sorted(
            (t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t)
        )
        return cls(kept)

    def covers(self, smiles: str) -> bool:
        """Whether every token of ``smiles`` is in the vocabulary (so it round-trips)."""
        try:
            return all(t in self.stoi for t in split_smiles(smiles))
        except TokenizeError:
            return False

    def encode(self, smiles: str, add_special: bool = True) -> list[int]:
        """Token ids of ``smiles``, with ``<bos>`` and ``<eos>`` around them by default.

        Tokens outside the vocabulary become ``<unk>``.

        Raises:
            TokenizeError: the string holds characters no SMILES token covers.
        """
        ids = [self.stoi.get(t, self.unk_id) for t in split_smiles(smiles)]
        return [self.bos_id, *ids, self.eos_id] if add_special else ids

    def decode(self, ids: Iterable[int]) -> str:
        """The SMILES string of token ids: stops at ``<eos>``, skips ``<bos>`` and ``<pad>``.

        ``<unk>`` decodes to ``?`` (never valid SMILES).
        """
        out: list[str] = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.bos_id, self.pad_id):
                continue
            out.append("?" if i == self.unk_id else self.itos[i])
        return "".join(out)

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {"format": "makeable-smiles-vocab/1", "tokens": self.itos}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SmilesTokenizer:
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError("not a makeable SMILES vocabulary (special tokens missing)")
        return cls([str(t) for t in tokens[len(SPECIAL_TOKENS) :]])

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SmilesTokenizer:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))
