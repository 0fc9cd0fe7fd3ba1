"""A SMILES variational autoencoder with optional property heads.

The model of Gómez-Bombarelli et al., "Automatic chemical design using a data-driven continuous
representation of molecules", ACS Cent. Sci. 4, 268 (2018),
https://doi.org/10.1021/acscentsci.7b00572, with a recurrent encoder in place of the paper's
convolutions:

* encoder: token embedding, bidirectional GRU, the two final states concatenated, then two
  linear maps to the mean and the log-variance of a diagonal Gaussian ``q(z | x)`` (56
  dimensions by default, as in the paper);
* decoder: a GRU whose initial state is ``tanh(W z + b)`` and which reads ``z`` concatenated to
  every input token (teacher forcing in training), then a linear head over the next token;
* property heads (optional): an MLP on the latent mean predicting ``K`` properties, each
  standardised by the training set's mean and standard deviation (kept in the model's config).

The loss (:func:`vae_loss`) is the reconstruction NLL plus ``beta`` times the KL divergence to
``N(0, I)`` (``beta`` warmed up linearly, :func:`beta_at`; optional free bits) plus a weight
times the masked property MSE (:func:`masked_mse`).

The model reads and writes RDKit canonical SMILES over the atom-level vocabulary of
:mod:`makeable.chem.smiles_tokens`: :meth:`SmilesVAE.encode` canonicalises its input and refuses
SMILES it cannot encode with one ``ValueError`` naming them. Token batches are ``LongTensor`` s
``(batch, length)``: ``<bos>``, tokens, ``<eos>``, ``<pad>``... (:func:`pad_batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from makeable.chem.molecule import canonical_smiles
from makeable.chem.smiles_tokens import SmilesTokenizer, TokenizeError, split_smiles
from makeable.models.smiles_lm.lstm import pad_batch

__all__ = [
    "LossParts",
    "SmilesVAE",
    "beta_at",
    "kl_divergence",
    "masked_mse",
    "reconstruction_nll",
    "vae_loss",
]

Latents = torch.Tensor | np.ndarray
"""Latent vectors ``(n, latent_dim)`` as a tensor or an array."""


class SmilesVAE(nn.Module):
    """SMILES VAE: ``q(z | x)`` by a bidirectional GRU, ``p(x | z)`` by a GRU decoder.

    Args:
        tokenizer: the vocabulary (saved in the model's ``config.json``).
        latent_dim: size of ``z``.
        embedding_dim: token embedding size (shared by encoder and decoder).
        encoder_hidden: GRU units per direction of the encoder.
        decoder_hidden: GRU units per layer of the decoder.
        decoder_layers: stacked decoder GRU layers.
        max_len: most tokens of a SMILES (``<bos>``/``<eos>`` not counted): longer ones are not
            encoded, and decoding stops after this many tokens.
        property_names: the properties the heads predict (none: no heads).
        property_means, property_stds: their training-set means and standard deviations (the
            heads predict ``(value - mean) / std``).
        property_hidden: units of the property MLP's hidden layer.

    Raises:
        ValueError: property statistics that do not match the names, or a std that is not
            positive.
    """

    def __init__(
        self,
        tokenizer: SmilesTokenizer,
        latent_dim: int = 56,
        embedding_dim: int = 64,
        encoder_hidden: int = 256,
        decoder_hidden: int = 256,
        decoder_layers: int = 1,
        max_len: int = 100,
        property_names: Sequence[str] = (),
        property_means: Sequence[float] = (),
        property_stds: Sequence[float] = (),
        property_hidden: int = 64,
    ) -> None:
        super().__init__()
        k = len(property_names)
        if len(property_means) != k or len(property_stds) != k:
            raise ValueError(
                f"{k} property names need {k} means and {k} stds, got "
                f"{len(property_means)} and {len(property_stds)}"
            )
        if not all(float(s) > 0 for s in property_stds):
            raise ValueError(f"property stds must be > 0, got {list(property_stds)}")
        self.tokenizer = tokenizer
        self.latent_dim = latent_dim
        self.embedding_dim = embedding_dim
        self.encoder_hidden = encoder_hidden
        self.decoder_hidden = decoder_hidden
        self.decoder_layers = decoder_layers
        self.max_len = max_len
        self.property_names = [str(p) for p in property_names]
        self.property_means = [float(m) for m in property_means]
        self.property_stds = [float(s) for s in property_stds]
        self.property_hidden = property_hidden

        vocab = len(tokenizer)
        self.embedding = nn.Embedding(vocab, embedding_dim, padding_idx=tokenizer.pad_id)
        self.encoder = nn.GRU(embedding_dim, encoder_hidden, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * encoder_hidden, latent_dim)
        self.to_logvar = nn.Linear(2 * encoder_hidden, latent_dim)
        self.to_hidden = nn.Linear(latent_dim, decoder_layers * decoder_hidden)
        self.decoder = nn.GRU(
            embedding_dim + latent_dim, decoder_hidden, num_layers=decoder_layers, batch_first=True
        )
        self.head = nn.Linear(decoder_hidden, vocab)
        self.property_head: nn.Sequential | None = None
        if k:
            self.property_head = nn.Sequential(
                nn.Linear(latent_dim, property_hidden), nn.Tanh(), nn.Linear(property_hidden, k)
            )

    def config(self) -> dict[str, Any]:
        """Constructor arguments (besides the tokenizer), as saved in ``config.json``."""
        return {
            "latent_dim": self.latent_dim,
            "embedding_dim": self.embedding_dim,
            "encoder_hidden": self.encoder_hidden,
            "decoder_hidden": self.decoder_hidden,
            "decoder_layers": self.decoder_layers,
            "max_len": self.max_len,
            "property_names": self.property_names,
            "property_means": self.property_means,
            "property_stds": self.property_stds,
            "property_hidden": self.property_hidden,
        }

    # -- the network ---------------------------------------------------------------------------
    def encode_tokens(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``q(z | x)``, each ``(batch, latent_dim)``.

        Args:
            tokens: ``(batch, length)`` token batch (``<pad>`` after ``<eos>``).
        """
        lengths = (tokens != self.tokenizer.pad_id).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        _, h = self.encoder(packed)  # (2, batch, encoder_hidden): forward and backward
        state = torch.cat([h[0], h[1]], dim=-1)
        return self.to_mu(state), self.to_logvar(state)

    def _initial_hidden(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.to_hidden(z))
        return h.view(len(z), self.decoder_layers, self.decoder_hidden).transpose(0, 1).contiguous()

    def decode_logits(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Next-token logits under teacher forcing, ``(batch, length, vocab)``.

        Args:
            inputs: ``(batch, length)`` input tokens (a token batch without its last column).
            z: ``(batch, latent_dim)`` latent vectors.
        """
        steps = z.unsqueeze(1).expand(-1, inputs.shape[1], -1)
        out, _ = self.decoder(
            torch.cat([self.embedding(inputs), steps], dim=-1), self._initial_hidden(z)
        )
        return self.head(out)

    def property_predictions(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised property predictions ``(batch, K)`` (differentiable).

        Raises:
            ValueError: the model has no property heads.
        """
        if self.property_head is None:
            raise ValueError("this VAE has no property heads (it was trained without --props)")
        return self.property_head(z)

    def standardize(self, values: torch.Tensor) -> torch.Tensor:
        """``(values - mean) / std`` per property column (``NaN`` stays ``NaN``)."""
        mean = torch.tensor(self.property_means, dtype=values.dtype)
        std = torch.tensor(self.property_stds, dtype=values.dtype)
        return (values - mean) / std

    # -- molecules -----------------------------------------------------------------------------
    def token_batch(self, smiles: Sequence[str]) -> torch.Tensor:
        """The token batch of SMILES the model can encode, canonicalised first.

        Raises:
            ValueError: one line naming (up to five of) the SMILES RDKit cannot parse, with
                tokens outside the vocabulary, or longer than ``max_len`` tokens.
        """
        encoded, problems = [], []
        for i, s in enumerate(smiles):
            canon = canonical_smiles(s)
            if canon is None:
                problems.append(f"row {i + 1} {s!r} (RDKit cannot parse it)")
                continue
            try:
                tokens = split_smiles(canon)
            except TokenizeError:
                problems.append(f"row {i + 1} {s!r} (characters outside the SMILES alphabet)")
                continue
            unknown = sorted({t for t in tokens if t not in self.tokenizer.stoi})
            if unknown:
                problems.append(
                    f"row {i + 1} {s!r} (tokens {' '.join(unknown)} not in the vocabulary)"
                )
            elif len(tokens) > self.max_len:
                problems.append(f"row {i + 1} {s!r} ({len(tokens)} tokens, most {self.max_len})")
            else:
                encoded.append(self.tokenizer.encode(canon))
        if problems:
            more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise ValueError(
                f"cannot encode {len(problems)} of {len(smiles)} SMILES: "
                f"{'; '.join(problems[:5])}{more}"
            )
        return pad_batch(encoded, self.tokenizer.pad_id)

    @torch.no_grad()
    def encode(
        self, smiles: Sequence[str], batch_size: int = 512
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``q(z | x)`` of each SMILES, each ``(n, latent_dim)``.

        Raises:
            ValueError: some SMILES cannot be encoded (see :meth:`token_batch`); nothing is
                encoded then.
        """
        tokens = self.token_batch(smiles)
        was_training = self.training
        self.eval()
        try:
            parts = [
                self.encode_tokens(tokens[i : i + batch_size])
                for i in range(0, len(tokens), batch_size)
            ]
        finally:
            self.train(was_training)
        if not parts:
            empty = torch.zeros(0, self.latent_dim)
            return empty, empty.clone()
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _latents(self, z: Latents) -> torch.Tensor:
        out = torch.as_tensor(z, dtype=torch.float32)
        if out.ndim != 2 or out.shape[1] != self.latent_dim:
            raise ValueError(
                f"latent vectors must be (n, {self.latent_dim}), got {tuple(out.shape)}"
            )
        return out

    @torch.no_grad()
    def decode(
        self,
        z: Latents,
        *,
        greedy: bool = True,
        temperature: float = 1.0,
        seed: int = 0,
        max_len: int | None = None,
        batch_size: int = 1000,
    ) -> list[str]:
        """The SMILES string decoded from each latent vector, as generated.

        Each token is the most likely one (``greedy``) or drawn at ``temperature`` with a
        generator seeded by ``seed``. ``<pad>``, ``<bos>`` and ``<unk>`` are never emitted, nor
        ``<eos>`` as the first token, so every string is non-empty; a string that did not end
        within ``max_len`` tokens is returned as it stands. Strings are not checked: some may
        not parse (``makeable.chem.molecule.canonical_smiles`` says which).

        Raises:
            ValueError: ``z`` is not ``(n, latent_dim)``, or a temperature that is not > 0.
        """
        latents = self._latents(z)
        if not greedy and temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        generator = torch.Generator().manual_seed(seed)
        steps = self.max_len if max_len is None else max_len
        was_training = self.training
        self.eval()
        try:
            out: list[str] = []
            for i in range(0, len(latents), batch_size):
                batch = latents[i : i + batch_size]
                tokens = self._decode_batch(batch, greedy, temperature, generator, steps)
                out += [self.tokenizer.decode(row) for row in tokens.tolist()]
        finally:
            self.train(was_training)
        return out

    def _decode_batch(
        self,
        z: torch.Tensor,
        greedy: bool,
        temperature: float,
        generator: torch.Generator,
        steps: int,
    ) -> torch.Tensor:
        """``(n, steps)`` tokens; a row that emitted ``<eos>`` is dropped from the later steps'
        computation (most rows end long before the longest one)."""
        tok = self.tokenizer
        out = torch.full((len(z), steps), tok.pad_id, dtype=torch.long)
        active = torch.arange(len(z))
        token = torch.full((len(z),), tok.bos_id, dtype=torch.long)
        hidden = self._initial_hidden(z)
        never = [tok.pad_id, tok.bos_id, tok.unk_id]
        for t in range(steps):
            x = torch.cat([self.embedding(token), z], dim=-1).unsqueeze(1)
            y, hidden = self.decoder(x, hidden)
            logits = self.head(y[:, 0])
            logits[:, never + ([tok.eos_id] if t == 0 else [])] = float("-inf")
            if greedy:
                token = logits.argmax(dim=-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            out[active, t] = token
            going = token != tok.eos_id
            if not bool(going.all()):
                active, token, z = active[going], token[going], z[going]
                hidden = hidden[:, going].contiguous()
                if not len(active):
                    break
        return out

    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        temperature: float = 1.0,
        greedy: bool = False,
        max_len: int | None = None,
        batch_size: int = 1000,
    ) -> list[str]:
        """``n`` SMILES decoded from ``z ~ N(0, I)`` (drawn with ``seed``; the same seed gives
        the same strings); tokens drawn at ``temperature``, or the most likely with
        ``greedy`` (see :meth:`decode`)."""
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        return self.decode(
            z,
            greedy=greedy,
            temperature=temperature,
            seed=seed + 1,
            max_len=max_len,
            batch_size=batch_size,
        )

    @torch.no_grad()
    def predict_properties(self, z: Latents) -> torch.Tensor:
        """The property heads' predictions at ``z``, ``(n, K)``, in the properties' own units
        (columns in the order of ``property_names``).

        Raises:
            ValueError: the model has no property heads, or ``z`` is not ``(n, latent_dim)``.
        """
        latents = self._latents(z)
        was_training = self.training
        self.eval()
        try:
            scaled = self.property_predictions(latents)
        finally:
            self.train(was_training)
        return scaled * torch.tensor(self.property_stds) + torch.tensor(self.property_means)


# -- the loss ------------------------------------------------------------------------------------
class LossParts(NamedTuple):
    """One batch's loss and its parts (each a scalar tensor; the parts detached).

    Attributes:
        total: ``recon + beta * kl + property_weight * property_mse`` (differentiable).
        recon: mean reconstruction NLL per molecule (nats).
        kl: mean KL divergence per molecule (nats; free bits not applied).
        property_mse: masked MSE of the standardised properties (0 without heads or labels).
    """

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    property_mse: torch.Tensor


def beta_at(step: int, beta_max: float, warmup_steps: int) -> float:
    """The KL weight at training step ``step`` (0-based): ``beta_max * step / warmup_steps``,
    then ``beta_max`` from ``warmup_steps`` on (at once when ``warmup_steps`` is 0)."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return beta_max
    return beta_max * step / warmup_steps


def reconstruction_nll(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """``-log p(x | z)`` per sequence, ``(batch,)``: the sum over non-padding targets.

    Args:
        logits: ``(batch, length, vocab)``.
        targets: ``(batch, length)`` target tokens.
        pad_id: the padding token (its positions do not count).
    """
    logp = torch.log_softmax(logits, dim=-1).gather(2, targets.unsqueeze(-1)).squeeze(-1)
    return -(logp * (targets != pad_id)).sum(dim=1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float = 0.0) -> torch.Tensor:
    """``KL(q(z | x) || N(0, I))`` averaged over the batch, summed over dimensions.

    With ``free_bits`` > 0, each dimension's batch-mean KL counts as at least ``free_bits``
    nats (Kingma et al., "Improved variational inference with inverse autoregressive flow",
    NeurIPS 2016), so the optimiser gains nothing by pushing a dimension below it.
    """
    per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)
    if free_bits > 0:
        per_dim = per_dim.clamp(min=free_bits)
    return per_dim.sum()


def masked_mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the labels present: ``NaN`` targets (missing labels) count
    neither in the sum nor in the count; 0 when no label is present."""
    present = ~torch.isnan(targets)
    if not bool(present.any()):
        return predictions.sum() * 0.0  # zero, still attached to the graph
    diff = predictions[present] - targets[present]
    return diff.pow(2).mean()


def vae_loss(
    model: SmilesVAE,
    tokens: torch.Tensor,
    properties: torch.Tensor | None,
    *,
    beta: float,
    free_bits: float = 0.0,
    property_weight: float = 1.0,
) -> LossParts:
    """The training loss of one batch: reparameterised ``z``, teacher-forced reconstruction,
    KL and (with heads and labels) the property MSE on the latent mean.

    Args:
        model: the VAE (in training mode; its noise comes from torch's global RNG).
        tokens: ``(batch, length)`` token batch.
        properties: ``(batch, K)`` raw property values, ``NaN`` where missing; ``None``: none.
        beta: KL weight (:func:`beta_at`).
        free_bits: see :func:`kl_divergence`.
        property_weight: weight of the property MSE.
    """
    mu, logvar = model.encode_tokens(tokens)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    logits = model.decode_logits(tokens[:, :-1], z)
    recon = reconstruction_nll(logits, tokens[:, 1:], model.tokenizer.pad_id).mean()
    kl_loss = kl_divergence(mu, logvar, free_bits)
    total = recon + beta * kl_loss
    prop = torch.zeros(())
    if model.property_head is not None and properties is not None:
        prop = masked_mse(model.property_predictions(mu), model.standardize(properties))
        total = total + property_weight * prop
    return LossParts(total, recon.detach(), kl_divergence(mu, logvar).detach(), prop.detach())
