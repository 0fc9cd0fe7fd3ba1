"""Ehrlich functions: closed-form sequence test functions (Stanton et al. 2024, "Closed-Form Test
Functions for Biophysical Sequence Design", https://arxiv.org/abs/2407.00236).

An instance is drawn from a seed: a sparse ergodic transition matrix ``A`` over ``v`` states
(a banded mask, shuffled, with the diagonal always allowed; softmax(randn / 0.5) entries), ``c``
motifs of length ``k`` drawn as one trajectory of the Markov chain (so a feasible optimum
exists) and, for each motif, spacings ``1 + floor((slack // c) · w)`` with ``w`` uniform on the
simplex. For a sequence ``x`` of length ``L``::

    f(x) = prod_i q(h_i(x))   if x is feasible (every transition x_t → x_t+1 has A > 0)
    f(x) = 0                  otherwise

where ``h_i`` is the largest fraction of motif ``i``'s elements present at their spacing over
all start positions and ``q`` quantises it to ``quantization`` levels. The optimum is 1.

The construction replays pytorch-holo 0.0.5's (``holo.test_functions.closed_form.Ehrlich``)
random draws with a ``torch.Generator``, so a seed gives the same motifs, spacings and
transition matrix as holo-bench (checked for the registered sizes); scoring is numpy.
Infeasible sequences score 0, as in the paper (holo returns −inf).
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from makeable.sequences.tasks import TASKS, SequenceTask

EHRLICH_ALPHABET = string.ascii_uppercase + string.digits + string.ascii_lowercase


class Ehrlich(SequenceTask):
    """An Ehrlich function ``f(v, L, c, k, q)`` drawn from ``seed``.

    Args:
        num_states: alphabet size ``v`` (≤ 62; states are written ``A..Z0..9a..z``).
        length: sequence length ``L``.
        num_motifs: number of motifs ``c``.
        motif_length: motif length ``k``.
        quantization: levels ``q`` of the motif-presence quantiser (default ``k``).
        seed: the instance's seed (holo-bench's ``random_seed``).
        n_initial: size of the offline starting set (samples of the Markov chain, as holo's
            ``initial_solution``; all feasible).

    δ-CS's defaults here are its long-sequence setting (δ₀ = 0.05, λ = 0.1, as for AAV), not
    the short-sequence δ₀ = 0.5: regenerating half of a sequence with a policy that has not
    learnt the transition constraint makes nearly every proposal infeasible (measured: 98 %
    infeasible on ``ehrlich_l32_c4_k4`` with δ₀ = 0.5). The paper has no Ehrlich setting.
    """

    delta_cs_params = {"delta": 0.05, "sigma_coeff": 0.1}

    def __init__(
        self,
        num_states: int = 32,
        length: int = 32,
        num_motifs: int = 4,
        motif_length: int = 4,
        quantization: int | None = None,
        seed: int = 0,
        n_initial: int = 1024,
    ) -> None:
        if not 2 <= num_states <= len(EHRLICH_ALPHABET):
            raise ValueError(f"num_states must be in 2..{len(EHRLICH_ALPHABET)}")
        slack = length - num_motifs * motif_length
        if slack < 0 or motif_length < 2:
            raise ValueError("cannot guarantee a solution satisfying all motifs exists")
        self.num_states = num_states
        self.length = length
        self.num_motifs = num_motifs
        self.motif_length = motif_length
        self.quantization = quantization or motif_length
        self.seed = seed
        self.n_initial = n_initial
        self.alphabet = EHRLICH_ALPHABET[:num_states]
        q_part = "" if self.quantization == motif_length else f"_q{self.quantization}"
        self.name = f"ehrlich_v{num_states}_l{length}_c{num_motifs}_k{motif_length}{q_part}"
        self._build()

    def _build(self) -> None:
        import torch

        v, c, k = self.num_states, self.num_motifs, self.motif_length
        gen = torch.Generator().manual_seed(self.seed)
        dense = (torch.randn(v, v, generator=gen) / 0.5).softmax(dim=-1)
        bandwidth = int(v * 0.4)
        band = torch.zeros(v, v)
        for i in range(v):
            for j in range(i - bandwidth, i + bandwidth + 1):
                band[i, j % v] = 1
        mask = band.bool()[torch.randperm(v, generator=gen)] | torch.eye(v, dtype=torch.bool)
        trans = torch.where(mask, dense, torch.zeros_like(dense))
        trans = trans / trans.sum(dim=-1, keepdim=True)
        # stationary distribution: solve (I - A)^T pi = 0, sum(pi) = 1 (least squares by QR)
        a = torch.cat([(torch.eye(v) - trans).T, torch.ones(1, v)], dim=0)
        b = torch.zeros(v + 1, 1)
        b[-1] = 1
        qm, rm = torch.linalg.qr(a)
        stationary = torch.linalg.solve(rm, qm.T @ b).squeeze(-1)
        motifs = self._sample_chain(torch, stationary, trans, c * k, 1, gen)[0]
        spacings = []
        for _ in range(c):
            w = torch.rand(k - 1, generator=gen)
            w /= w.sum()
            spacings.append(1 + ((self.length - c * k) // c * w).floor().to(torch.int64))
        self._torch_state = (stationary, trans)
        self.transition_matrix = trans.double().numpy()
        self.motifs = motifs.numpy().reshape(c, k)
        self.spacings = np.stack([s.numpy() for s in spacings])
        self.offsets = np.concatenate(
            [np.zeros((c, 1), dtype=np.int64), np.cumsum(self.spacings, axis=1)], axis=1
        )

    @staticmethod
    def _sample_chain(torch: Any, init: Any, trans: Any, steps: int, n: int, gen: Any) -> Any:
        out = torch.zeros(n, steps, dtype=torch.int64)
        out[:, 0] = torch.multinomial(init, n, replacement=True, generator=gen)
        for t in range(1, steps):
            out[:, t] = torch.multinomial(trans[out[:, t - 1]], 1, generator=gen).squeeze(-1)
        return out

    # -- scoring -------------------------------------------------------------------------
    def feasible(self, codes: np.ndarray) -> np.ndarray:
        """Whether each sequence (integer codes, shape ``(n, L)``) has only allowed transitions."""
        allowed = self.transition_matrix[codes[:, :-1], codes[:, 1:]] > 0
        return np.asarray(allowed.all(axis=1))

    def motif_presence(self, codes: np.ndarray) -> np.ndarray:
        """Quantised presence ``q(h_i(x))`` of each motif, shape ``(n, c)``."""
        k = self.motif_length
        f1 = math.ceil(k / self.quantization)
        f2 = k / f1
        out = np.zeros((len(codes), self.num_motifs))
        for i in range(self.num_motifs):
            span = self.offsets[i, -1]
            starts = np.arange(self.length - span)
            index = starts[:, None] + self.offsets[i][None, :]  # (positions, k)
            hits = (codes[:, index] == self.motifs[i][None, None, :]).sum(axis=-1)
            out[:, i] = (hits.max(axis=1) // f1) / f2
        return out

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        codes = self.encode(list(mols))
        values = self.motif_presence(codes).prod(axis=1)
        return np.where(self.feasible(codes), values, 0.0)

    def optimal_solution(self) -> str:
        """A sequence scoring 1: each motif written at its spacing, gaps filled with repeats."""
        soln: list[int] = []
        for motif, offsets in zip(self.motifs, self.offsets, strict=True):
            for pos in range(offsets[-1] + 1):
                j = int(np.searchsorted(offsets, pos, side="right")) - 1
                soln.append(int(motif[j]))
        soln += [soln[-1]] * (self.length - len(soln))
        return self.decode(np.array([soln]))[0]

    def initial_data(self) -> tuple[list[str], np.ndarray]:
        """``n_initial`` Markov-chain samples from holo's ``initial_solution`` generator."""
        import torch

        stationary, trans = self._torch_state
        gen = torch.Generator().manual_seed(self.seed)
        codes = self._sample_chain(torch, stationary, trans, self.length, self.n_initial, gen)
        seqs = list(dict.fromkeys(self.decode(codes.numpy())))
        return seqs, self._score(seqs)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "motifs": self.motifs.tolist(),
            "spacings": self.spacings.tolist(),
            "quantization": self.quantization,
            "seed": self.seed,
        }


# Sizes from holo-bench (Stanton et al. 2024, Fig. 4-5): v = 32, k = q = 4, L in {32, 64, 128}.
EHRLICH_SIZES = {
    "ehrlich_l32_c4_k4": {"length": 32, "num_motifs": 4, "motif_length": 4},
    "ehrlich_l64_c4_k4": {"length": 64, "num_motifs": 4, "motif_length": 4},
    "ehrlich_l128_c8_k4": {"length": 128, "num_motifs": 8, "motif_length": 4},
}


def _ehrlich(name: str, size: dict[str, int]) -> Any:
    def factory(seed: int = 0) -> Ehrlich:
        task = Ehrlich(seed=seed, **size)
        task.name = name if seed == 0 else f"{name}_s{seed}"
        return task

    factory.__doc__ = f"Ehrlich function, v=32, {size}."
    return factory


for _name, _size in EHRLICH_SIZES.items():
    TASKS.add(_name, _ehrlich(_name, _size))
