"""The directed message-passing neural network (D-MPNN) of chemprop's class, and its head.

Messages live on directed bonds (Yang et al. 2019, https://doi.org/10.1021/acs.jcim.9b00237):

* ``h⁰(u→v) = ReLU(W_i [x_u ‖ e_uv])``;
* ``m(u→v) = Σ_{k→u, k ≠ v} h(k→u)`` (the messages into ``u`` except the one from ``v``);
* ``h(u→v) = ReLU(h⁰(u→v) + W_h m(u→v))``, ``depth - 1`` times;
* atoms: ``h_v = ReLU(W_o [x_v ‖ Σ_{k→v} h(k→v)])``; a molecule: the mean of its atoms;
* a feed-forward head maps the molecule vector to one output per target.

Written here from the paper's equations (not copied from chemprop).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from makeable.predict.features import ATOM_DIM, BOND_DIM, GraphBatch

ENCODERS = ("graph", "graph+smiles")
AGGREGATIONS = ("norm", "mean", "sum")
NORM = 100.0
"""The divisor of ``norm`` aggregation (chemprop v2's)."""


@dataclass(frozen=True)
class NetworkSettings:
    """The network's size (chemprop's defaults: hidden 300, depth 3, one FFN hidden layer).

    Attributes:
        hidden: width of the bond messages and atom vectors.
        depth: message-passing steps.
        ffn_hidden: width of the head's hidden layers.
        ffn_layers: hidden layers of the head (0: one linear layer).
        dropout: dropout in the encoder and the head.
        aggregation: ``norm`` (the sum of the atom vectors / 100, chemprop v2's default: it
            keeps the molecule's size, which extensive properties need), ``mean`` or ``sum``.
        encoder: ``graph`` (the D-MPNN) or ``graph+smiles`` (:class:`DualEncoder`: the D-MPNN
            and a SMILES BiLSTM, concatenated).
    """

    hidden: int = 300
    depth: int = 3
    ffn_hidden: int = 300
    ffn_layers: int = 1
    dropout: float = 0.0
    aggregation: str = "norm"
    encoder: str = "graph"

    def __post_init__(self) -> None:
        for name, least in (("hidden", 1), ("depth", 1), ("ffn_hidden", 1), ("ffn_layers", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, not {value!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"aggregation must be one of {', '.join(AGGREGATIONS)}, not {self.aggregation!r}"
            )
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, not {self.encoder!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feed_forward(width: int, n_outputs: int, s: NetworkSettings) -> nn.Sequential:
    """The head: ``ffn_layers`` hidden layers (dropout, linear, ReLU), then a linear layer."""
    layers: list[nn.Module] = []
    for _ in range(s.ffn_layers):
        layers += [nn.Dropout(s.dropout), nn.Linear(width, s.ffn_hidden), nn.ReLU()]
        width = s.ffn_hidden
    layers += [nn.Dropout(s.dropout), nn.Linear(width, n_outputs)]
    return nn.Sequential(*layers)


class MPNN(nn.Module):
    """D-MPNN encoder and feed-forward head: graphs → ``(n_molecules, n_outputs)``."""

    def __init__(self, n_outputs: int, settings: NetworkSettings | None = None) -> None:
        super().__init__()
        s = settings or NetworkSettings()
        self.settings = s
        self.w_i = nn.Linear(ATOM_DIM + BOND_DIM, s.hidden, bias=False)
        self.w_h = nn.Linear(s.hidden, s.hidden, bias=False)
        self.w_o = nn.Linear(ATOM_DIM + s.hidden, s.hidden)
        self.dropout = nn.Dropout(s.dropout)
        self.head = feed_forward(s.hidden, n_outputs, s)

    def encode(self, batch: GraphBatch) -> torch.Tensor:
        """Molecule vectors, ``(n_molecules, hidden)``."""
        device = self.w_i.weight.device
        atoms = torch.from_numpy(batch.atoms).to(device)
        edges = torch.from_numpy(batch.edges).to(device)
        source = torch.from_numpy(batch.source).to(device)
        target = torch.from_numpy(batch.target).to(device)
        reverse = torch.from_numpy(batch.reverse).to(device)
        n_atoms = len(atoms)
        h0 = torch.relu(self.w_i(torch.cat([atoms[source], edges], dim=1)))
        h = h0
        for _ in range(self.settings.depth - 1):
            into = torch.zeros(n_atoms, h.shape[1], device=device).index_add_(0, target, h)
            message = into[source] - h[reverse]
            h = self.dropout(torch.relu(h0 + self.w_h(message)))
        into = torch.zeros(n_atoms, h.shape[1], device=device).index_add_(0, target, h)
        atom_h = self.dropout(torch.relu(self.w_o(torch.cat([atoms, into], dim=1))))
        molecule = torch.from_numpy(batch.molecule).to(device)
        pooled = torch.zeros(batch.n_molecules, atom_h.shape[1], device=device)
        pooled.index_add_(0, molecule, atom_h)
        if self.settings.aggregation == "mean":
            counts = torch.bincount(molecule, minlength=batch.n_molecules).clamp(min=1)
            pooled = pooled / counts.unsqueeze(1).to(pooled.dtype)
        elif self.settings.aggregation == "norm":
            pooled = pooled / NORM
        return pooled

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        """Raw outputs (regression: standardised targets; classification: logits)."""
        return self.head(self.encode(batch))


def state_arrays(net: nn.Module) -> dict[str, np.ndarray]:
    """The network's weights as float32 numpy arrays (for safetensors)."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}


class MixtureOfExperts(nn.Module):
    """A mixture of pretrained experts for a data-scarce target (Chang et al., "Towards
    overcoming data scarcity in materials science: unifying models and datasets with a mixture
    of experts framework", npj Comput. Mater. 2022, https://doi.org/10.1038/s41524-022-00929-x):
    each expert's encoder (an :class:`MPNN` pretrained on a source task) maps a molecule to a
    vector; a gating vector (learned, one weight per expert, softmax) mixes them; a new head
    predicts the target from the mixture. The experts are frozen unless ``freeze`` is false.

    Args:
        experts: pretrained networks (their heads are kept but not used).
        n_outputs: targets of the new task.
        settings: the head's size (``ffn_*``, ``dropout``).
        freeze: keep the experts' weights fixed while training.
    """

    def __init__(
        self,
        experts: list[MPNN],
        n_outputs: int,
        settings: NetworkSettings | None = None,
        freeze: bool = True,
    ) -> None:
        super().__init__()
        widths = {e.settings.hidden for e in experts}
        if not experts or len(widths) != 1:
            raise ValueError("a mixture needs at least one expert, all of one width (--hidden)")
        self.settings = settings or NetworkSettings()
        self.experts = nn.ModuleList(experts)
        self.freeze = freeze
        for p in self.experts.parameters():
            p.requires_grad_(not freeze)
        self.gate = nn.Parameter(torch.zeros(len(experts)))
        self.head = feed_forward(widths.pop(), n_outputs, self.settings)

    def gate_weights(self) -> torch.Tensor:
        """The softmax weight of each expert."""
        return torch.softmax(self.gate, dim=0)

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        experts: list[MPNN] = list(self.experts)  # type: ignore[arg-type]
        if self.freeze:
            for e in experts:
                e.eval()  # no dropout in frozen experts
        vectors = torch.stack([e.encode(batch) for e in experts])  # (K, n, hidden)
        mixed = (self.gate_weights()[:, None, None] * vectors).sum(dim=0)
        return self.head(mixed)


class SmilesEncoder(nn.Module):
    """A bidirectional LSTM over atom-level SMILES tokens (:mod:`makeable.chem.smiles_tokens`),
    mean-pooled over the tokens: the sequence view of a molecule."""

    def __init__(self, tokens: list[str], width: int, embedding: int = 64) -> None:
        super().__init__()
        from makeable.chem.smiles_tokens import SmilesTokenizer

        self.tokenizer = SmilesTokenizer(tokens)
        self.embedding = nn.Embedding(len(self.tokenizer), embedding, padding_idx=0)
        self.lstm = nn.LSTM(embedding, width // 2, batch_first=True, bidirectional=True)
        self.width = 2 * (width // 2)

    def forward(self, smiles: tuple[str, ...]) -> torch.Tensor:
        from makeable.chem.smiles_tokens import TokenizeError

        device = self.embedding.weight.device
        ids = []
        for s in smiles:
            try:
                ids.append(self.tokenizer.encode(s))
            except TokenizeError:
                ids.append([self.tokenizer.bos_id, self.tokenizer.unk_id, self.tokenizer.eos_id])
        length = max(len(i) for i in ids)
        batch = torch.zeros(len(ids), length, dtype=torch.long)
        for row, i in enumerate(ids):
            batch[row, : len(i)] = torch.tensor(i)
        batch = batch.to(device)
        out, _ = self.lstm(self.embedding(batch))
        mask = (batch != 0).unsqueeze(-1).to(out.dtype)
        return (out * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


class DualEncoder(nn.Module):
    """A graph encoder and a SMILES-sequence encoder learned jointly (the idea of GraSeq: Guo
    et al., "GraSeq: Graph and Sequence Fusion Learning for Molecular Property Prediction",
    CIKM 2020, https://doi.org/10.1145/3340531.3411981): the D-MPNN's molecule vector and the
    BiLSTM's SMILES vector are concatenated and fed to one head. Written here from that idea:
    fusion by concatenation and the property loss only (GraSeq's own fusion and losses are not
    reproduced).
    """

    def __init__(self, n_outputs: int, tokens: list[str], settings: NetworkSettings) -> None:
        super().__init__()
        self.settings = settings
        self.graph = MPNN(n_outputs, settings)
        self.sequence = SmilesEncoder(tokens, settings.hidden)
        self.head = feed_forward(settings.hidden + self.sequence.width, n_outputs, settings)

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        both = torch.cat([self.graph.encode(batch), self.sequence(batch.smiles)], dim=1)
        return self.head(both)
