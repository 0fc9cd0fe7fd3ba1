"""A SMILES language model: token embedding, stacked LSTM, linear head.

The architecture of the GuacaMol SMILES-LSTM baseline (Segler et al., "Generating Focused
Molecule Libraries for Drug Discovery with Recurrent Neural Networks", ACS Cent. Sci. 2018,
https://doi.org/10.1021/acscentsci.7b00512; Brown et al., GuacaMol, J. Chem. Inf. Model. 2019)
and of GEGL's apprentice (Ahn et al., NeurIPS 2020), with a learned embedding in place of one-hot
inputs. Those used 3 layers of 1024 units on a GPU; the shipped ZINC250k prior is smaller so that
it trains and fine-tunes on a CPU (see ``resources/priors/zinc250k_lstm/README.md``).

The strings are SMILES, or SAFE strings (``notation="safe"``: a molecule as its BRICS fragments
joined by ring-closure digits, :mod:`makeable.chem.safe`), which a model can complete from a
prompt of some fragments; :meth:`SmilesLSTM.molecules` turns either into canonical SMILES.

Token batches are ``LongTensor``s of shape ``(batch, length)``: ``<bos>`` first, then the tokens,
``<eos>``, and ``<pad>`` after it (see :func:`pad_batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from makeable.chem.smiles_tokens import RING_CLOSURE_TOKEN, SmilesTokenizer
from makeable.models.autoregressive import AutoregressiveLSTM, Hidden

__all__ = ["NOTATIONS", "Hidden", "SmilesLSTM", "length_groups", "pad_batch"]

NOTATIONS = ("smiles", "safe")
"""What a model's strings are: SMILES, or SAFE strings (:mod:`makeable.chem.safe`)."""


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> torch.Tensor:
    """Right-pad token id lists into a ``(batch, max length)`` LongTensor."""
    length = max((len(s) for s in sequences), default=0)
    out = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return out


GROUP_ROWS = 32
"""Fewest rows of a length group in :meth:`SmilesLSTM.log_likelihood`."""
MAX_GROUPS = 4


def length_groups(lengths: torch.Tensor) -> list[torch.Tensor]:
    """Row indices of a batch split by length into up to :data:`MAX_GROUPS` groups of at least
    :data:`GROUP_ROWS` rows (shortest first), so that each group is padded only to its own
    longest sequence (64 sampled SMILES, mean 40 tokens, longest 63: forward and backward
    about 10 % faster in 2 groups than padded to 63 as one, on an idle core)."""
    n = len(lengths)
    k = max(1, min(MAX_GROUPS, n // GROUP_ROWS))
    if k == 1:
        return [torch.arange(n, device=lengths.device)]
    return list(torch.tensor_split(torch.argsort(lengths, stable=True), k))


class SmilesLSTM(AutoregressiveLSTM):
    """Autoregressive SMILES model: ``p(x) = prod_t p(x_t | x_<t)`` (the project's one
    autoregressive policy, :class:`~makeable.models.autoregressive.AutoregressiveLSTM`, over a
    SMILES vocabulary).

    Args:
        tokenizer: the vocabulary (saved apart from the weights, as ``vocab.json``).
        embedding_dim: token embedding size.
        hidden_size: LSTM units per layer.
        n_layers: stacked LSTM layers.
        dropout: dropout between LSTM layers and before the head (training only).
        notation: what its strings are: ``smiles`` or ``safe`` (:data:`NOTATIONS`).
    """

    def __init__(
        self,
        tokenizer: SmilesTokenizer,
        embedding_dim: int = 128,
        hidden_size: int = 512,
        n_layers: int = 3,
        dropout: float = 0.2,
        notation: str = "smiles",
    ) -> None:
        if notation not in NOTATIONS:
            raise ValueError(f"notation must be one of {', '.join(NOTATIONS)}, got {notation!r}")
        vocab = len(tokenizer)
        super().__init__(
            vocab, vocab, embedding_dim, hidden_size, n_layers, dropout, tokenizer.pad_id
        )
        self.tokenizer = tokenizer
        self.embedding_dim = embedding_dim
        self.notation = notation
        self._init_weights()

    def _init_weights(self) -> None:
        """Orthogonal recurrent weights and forget-gate bias 1 (as GEGL's apprentice)."""
        for name, param in self.lstm.named_parameters():
            if "weight_hh" in name:
                for k in range(4):
                    nn.init.orthogonal_(
                        param.data[k * self.hidden_size : (k + 1) * self.hidden_size]
                    )
            elif "weight_ih" in name:
                nn.init.xavier_uniform_(param.data)
            elif "bias" in name:
                param.data.zero_()
                if "bias_ih" in name:
                    param.data[self.hidden_size : 2 * self.hidden_size] = 1.0
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (besides the tokenizer), as saved in ``config.json``."""
        return {
            "embedding_dim": self.embedding_dim,
            "hidden_size": self.hidden_size,
            "n_layers": self.n_layers,
            "dropout": self.dropout_p,
            "notation": self.notation,
        }

    def molecules(self, strings: Sequence[str]) -> list[str | None]:
        """Canonical SMILES of the model's strings (``None``: not one valid molecule; a SAFE
        string with an unattached fragment or an open attachment digit is not)."""
        from makeable.chem import safe
        from makeable.chem.molecule import canonical_smiles

        decode = safe.decode if self.notation == "safe" else canonical_smiles
        return [decode(s) if s else None for s in strings]

    def log_likelihood(self, tokens: torch.Tensor) -> torch.Tensor:
        """Log-probability of each sequence of a token batch (differentiable).

        Args:
            tokens: ``(batch, length)``: ``<bos>``, tokens, ``<eos>``, ``<pad>``...

        Returns:
            ``(batch,)``: the sum over positions of ``log p(x_t | x_<t)``, ``<eos>`` included,
            padding excluded.
        """
        tokens = tokens.to(self.device)
        pad = self.tokenizer.pad_id
        if not len(tokens):
            return torch.zeros(0, device=self.device)
        lengths = (tokens != pad).sum(dim=1)
        groups = length_groups(lengths)
        parts = []
        for rows in groups:  # each group padded only to its own longest sequence
            batch = tokens[rows, : max(2, int(lengths[rows].max()))]
            target = batch[:, 1:]
            logp = self.token_log_probs(batch[:, :-1], target)
            parts.append((logp * (target != pad)).sum(dim=1))
        if len(parts) == 1:
            return parts[0]
        return torch.cat(parts)[torch.argsort(torch.cat(groups))]

    def encode_batch(self, smiles: Sequence[str]) -> torch.Tensor:
        """Token batch of SMILES strings (``<unk>`` for tokens outside the vocabulary)."""
        return pad_batch([self.tokenizer.encode(s) for s in smiles], self.tokenizer.pad_id)

    @property
    def ring_digit_ids(self) -> list[int]:
        """Ids of the vocabulary's ring-closure digits (``1``-``9``, ``%10``...)."""
        itos = self.tokenizer.itos
        return [i for i, t in enumerate(itos) if RING_CLOSURE_TOKEN.fullmatch(t) is not None]

    @torch.no_grad()
    def sample_tokens(
        self,
        n: int,
        max_len: int = 100,
        generator: torch.Generator | None = None,
        batch_size: int = 1024,
        temperature: float = 1.0,
        prompts: Sequence[Sequence[int]] | None = None,
        close_rings: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample token sequences.

        Args:
            n: number of sequences.
            max_len: most tokens per sequence, ``<bos>``/``<eos>`` not counted.
            generator: source of randomness (CPU); the same generator state gives the same
                samples.
            batch_size: sequences generated together.
            temperature: softmax temperature.
            prompts: one token-id list per sequence (no ``<bos>``; at most ``max_len``): the
                sequence starts with it and the model writes the rest (a SAFE model: the
                other fragments of a molecule). Empty lists sample freely.
            close_rings: never end a sequence while a ring-closure digit is open (a SAFE
                string's attachments are such digits). Off by default: the samples then follow
                the model's own distribution, which the likelihood-based optimizers assume.

        Returns:
            ``(n, width)`` token batch (``<bos>`` ... ``<eos>`` ``<pad>``..., ``width`` at most
            ``max_len + 2``, trimmed to the longest sequence) and a
            ``(n,)`` bool tensor: the sequence ended with ``<eos>`` within ``max_len`` tokens.
        """
        was_training = self.training
        self.eval()
        tok = self.tokenizer
        out = torch.full((n, max_len + 2), tok.pad_id, dtype=torch.long)
        finished = torch.zeros(n, dtype=torch.bool)
        try:
            if prompts is not None and len(prompts) != n:
                raise ValueError(f"{len(prompts)} prompts for {n} sequences")
            for start in range(0, n, batch_size):
                b = min(batch_size, n - start)
                guide = keep = None
                if prompts is not None:
                    guide = torch.full((b, max_len + 1), tok.pad_id, dtype=torch.long)
                    for i, prompt in enumerate(prompts[start : start + b]):
                        guide[i, : len(prompt[:max_len])] = torch.as_tensor(
                            list(prompt[:max_len]), dtype=torch.long
                        )
                    keep = guide != tok.pad_id
                seq, ended = self.sample_steps(
                    torch.full((b, 1), tok.bos_id, dtype=torch.long),
                    max_len + 1,
                    generator,
                    temperature=temperature,
                    # <pad>, <bos> and <unk> are never emitted (a model that drifted during
                    # fine-tuning could otherwise start a sequence with <pad>)
                    never=(tok.pad_id, tok.bos_id, tok.unk_id),
                    stop_id=tok.eos_id,
                    pad_id=tok.pad_id,
                    guide=guide,
                    keep=keep,
                    paired=self.ring_digit_ids if close_rings else (),
                )
                # a sequence that reached max_len + 1 tokens without <eos> is unfinished
                out[start : start + b, 0] = tok.bos_id
                out[start : start + b, 1:] = seq
                finished[start : start + b] = ended
        finally:
            self.train(was_training)
        width = int((out != tok.pad_id).sum(dim=1).max()) if n else 0
        return out[:, :width], finished

    def decode_batch(self, tokens: torch.Tensor, finished: torch.Tensor | None = None) -> list[str]:
        """SMILES strings of a token batch; ``""`` for unfinished sequences."""
        rows = tokens.tolist()
        ok = [True] * len(rows) if finished is None else finished.tolist()
        return [self.tokenizer.decode(r) if f else "" for r, f in zip(rows, ok, strict=True)]

    def sample(
        self,
        n: int,
        max_len: int = 100,
        generator: torch.Generator | None = None,
        batch_size: int = 1024,
        temperature: float = 1.0,
    ) -> list[str]:
        """Sample ``n`` SMILES strings (``""`` for a sequence longer than ``max_len`` tokens)."""
        tokens, finished = self.sample_tokens(n, max_len, generator, batch_size, temperature)
        return self.decode_batch(tokens, finished)
