"""One autoregressive policy for every generator of the project: embedding, stacked LSTM,
linear head, ``p(x) = prod_t p(x_t | x_<t)``.

:class:`AutoregressiveLSTM` holds the network, the log-probability of given token sequences and
the one sampling loop (temperature, uniform exploration ``epsilon``, tokens never emitted, an
optional stop token, and δ-CS's guided positions). Its two vocabularies:

* SMILES (:class:`makeable.models.smiles_lm.lstm.SmilesLSTM`: the REINVENT, GEGL, Genetic GFN
  and LSTM hill-climbing prior, variable length, ``<bos>``/``<eos>``/``<pad>``);
* biological sequences (:class:`makeable.sequences.gflownet.SequencePolicy`: the GFN-AL and δ-CS
  forward policy, fixed length, a start token after the alphabet).

Both subclasses keep their public methods; the layers are built in one order so a seed gives
the same weights as before the policy had one home.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

Hidden = tuple[torch.Tensor, torch.Tensor]


class AutoregressiveLSTM(nn.Module):
    """Token embedding, stacked LSTM and a linear head over the next token.

    Args:
        n_inputs: size of the input vocabulary (start token included).
        n_outputs: size of the output vocabulary (the tokens that can be emitted).
        embedding_dim: token embedding size.
        hidden_size: LSTM units per layer.
        n_layers: stacked LSTM layers.
        dropout: dropout between LSTM layers and before the head (training only; 0: none).
        padding_idx: an input token whose embedding stays zero (``<pad>``).
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        embedding_dim: int,
        hidden_size: int,
        n_layers: int,
        dropout: float = 0.0,
        padding_idx: int | None = None,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.dropout_p = dropout
        self.embedding = nn.Embedding(n_inputs, embedding_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_size,
            num_layers=n_layers,
            batch_first=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_outputs)

    @property
    def device(self) -> torch.device:
        """Where the weights are (inputs are moved there; samples come back on the CPU)."""
        return self.head.weight.device

    def forward(
        self, tokens: torch.Tensor, hidden: Hidden | None = None
    ) -> tuple[torch.Tensor, Hidden]:
        """Next-token logits.

        Args:
            tokens: ``(batch, length)`` input token ids.
            hidden: LSTM state ``(h, c)``, each ``(n_layers, batch, hidden_size)``.

        Returns:
            Logits ``(batch, length, n_outputs)`` and the new state.
        """
        out, hidden = self.lstm(self.embedding(tokens), hidden)
        if self.dropout_p > 0:
            out = self.dropout(out)
        return self.head(out), hidden

    def token_log_probs(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``log p(targets[:, t] | inputs[:, :t+1])`` for every position, ``(batch, length)``
        (differentiable)."""
        logits, _ = self(inputs)
        return torch.log_softmax(logits, dim=-1).gather(2, targets.unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def sample_steps(
        self,
        start: torch.Tensor,
        steps: int,
        generator: torch.Generator | None,
        *,
        temperature: float = 1.0,
        epsilon: float = 0.0,
        never: Sequence[int] = (),
        stop_id: int | None = None,
        pad_id: int = 0,
        guide: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
        paired: Sequence[int] = (),
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw up to ``steps`` tokens after each start token, one step for all rows at a time.

        Args:
            start: ``(n, 1)`` first input tokens.
            steps: tokens to draw (fewer when every row has stopped).
            generator: source of randomness; the same state gives the same tokens.
            temperature: logits are divided by it.
            epsilon: mix each step's distribution with the uniform one by this weight.
            never: tokens that are never emitted.
            stop_id: a row that emits it stops; its later positions hold ``pad_id``.
            pad_id: what fills the positions after a stop (and undrawn ones).
            guide, keep: ``(n, steps)`` tokens and a bool mask: kept positions take the guide's
                token instead of the drawn one (δ-CS's conservative denoising).
            paired: tokens that come in pairs (ring-closure digits): ``stop_id`` is not drawn
                while a row holds one of them an odd number of times, so a string never ends
                with a ring or a SAFE attachment left open.

        Rows that emitted ``stop_id`` leave the batch: the network runs only on the rows still
        drawing, and the generator gives one draw per such row and step.

        Returns:
            ``(n, steps)`` tokens and a ``(n,)`` bool tensor: the row emitted ``stop_id``, on
            the CPU. The draws are made on the CPU with ``generator`` (a CPU generator), so a
            seed gives the same draws for the same probabilities on any device.

        Raises:
            FloatingPointError: the network's outputs are not finite (its weights diverged).
        """
        n = len(start)
        out = torch.full((n, steps), pad_id, dtype=torch.long)
        stopped = torch.zeros(n, dtype=torch.bool)
        device = self.device
        live = torch.arange(n)  # the rows still drawing; only they go through the network
        x = start.to(device)
        step = self._stepper(n)
        pair_column = torch.full((self.head.out_features,), -1, dtype=torch.long)
        pair_column[list(paired)] = torch.arange(len(paired))
        open_pairs = torch.zeros(n, len(paired) + 1, dtype=torch.bool)  # last column: unpaired
        for t in range(steps):
            step_logits = step(x) / temperature
            if never:
                step_logits[:, list(never)] = float("-inf")
            if paired and stop_id is not None:
                still_open = open_pairs[live, :-1].any(dim=1).to(step_logits.device)
                step_logits[:, stop_id] = step_logits[:, stop_id].masked_fill(
                    still_open, float("-inf")
                )
            probs = torch.softmax(step_logits, dim=-1)
            if t == 0 and not bool(torch.isfinite(probs).all()):
                raise FloatingPointError(
                    "the policy's outputs are not finite: its weights diverged (NaN/inf), so it "
                    "cannot sample"
                )
            if epsilon > 0:
                probs = (1 - epsilon) * probs + epsilon / probs.shape[-1]
            token = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1)
            if guide is not None and keep is not None:
                token = torch.where(keep[live, t], guide[live, t], token)
            out[live, t] = token
            if paired:
                open_pairs[live, pair_column[token]] ^= True
            if stop_id is not None:
                ends = token == stop_id
                if bool(ends.any()):  # stopped rows leave the batch (their state too)
                    stopped[live[ends]] = True
                    going = ~ends
                    if not bool(going.any()):
                        break
                    live, token = live[going], token[going]
                    step.keep(going.nonzero().squeeze(-1).to(device))
            x = token.unsqueeze(-1).to(device)
        return out, stopped

    def _stepper(self, n: int) -> _Stepper:
        """One-token steps for ``n`` rows: the LSTM cell written out with matrix products when
        no dropout applies (``nn.LSTM`` called one token at a time costs about 3 ms a call on a
        CPU whatever the batch, the products 0.3 ms for one row), else the module itself."""
        if self.training and self.dropout_p > 0:
            return _ModuleStepper(self)
        return _CellStepper(self, n)


class _Stepper:
    """Next-token logits ``(rows, n_outputs)`` of ``(rows, 1)`` tokens, one step at a time, with
    the recurrent state kept inside; :meth:`keep` drops the rows that stopped."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def keep(self, rows: torch.Tensor) -> None:
        raise NotImplementedError


class _ModuleStepper(_Stepper):
    def __init__(self, model: AutoregressiveLSTM) -> None:
        self.model = model
        self.hidden: Hidden | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        logits, self.hidden = self.model(x, self.hidden)
        return logits[:, -1]

    def keep(self, rows: torch.Tensor) -> None:
        if self.hidden is not None:
            self.hidden = (self.hidden[0][:, rows], self.hidden[1][:, rows])


class _CellStepper(_Stepper):
    def __init__(self, model: AutoregressiveLSTM, n: int) -> None:
        lstm = model.lstm
        self.model = model
        self.layers = [
            (
                getattr(lstm, f"weight_ih_l{k}").t(),
                getattr(lstm, f"weight_hh_l{k}").t(),
                getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}"),
            )
            for k in range(model.n_layers)
        ]
        zeros = model.head.weight.new_zeros((n, model.hidden_size))
        self.h = [zeros] * model.n_layers
        self.c = [zeros] * model.n_layers

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        inputs = self.model.embedding(x[:, -1])
        for k, (w_ih, w_hh, bias) in enumerate(self.layers):
            gates = torch.addmm(bias, inputs, w_ih).addmm_(self.h[k], w_hh)
            i, f, g, o = gates.chunk(4, dim=1)
            self.c[k] = torch.sigmoid(f) * self.c[k] + torch.sigmoid(i) * torch.tanh(g)
            self.h[k] = inputs = torch.sigmoid(o) * torch.tanh(self.c[k])
        return self.model.head(inputs)

    def keep(self, rows: torch.Tensor) -> None:
        self.h = [h[rows] for h in self.h]
        self.c = [c[rows] for c in self.c]
