"""What the generative optimizers share: rank-based sampling weights, the trajectory-balance
residual, and the torch settings of a run (threads, deterministic kernels; the threads and the
device themselves are set through :mod:`makeable.runtime`).

Used by GEGL / Genetic GFN / REINVENT / LSTM hill climbing (``optimizers/``) and by the
sequence designers (GFlowNet, δ-CS, GFN-AL in ``sequences/``), so each idea has one home.

References:
    Tripp, Daxberger, Hernández-Lobato, "Sample-efficient optimization in the latent space of
    deep generative models via weighted retraining", NeurIPS 2020 (rank weights).
    Malkin et al., "Trajectory balance: improved credit assignment in GFlowNets", NeurIPS 2022.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from makeable.runtime import threads_set

if TYPE_CHECKING:  # torch is imported where it is used: importing this module stays light
    import torch

log = logging.getLogger(__name__)


def rank_weights(scores: Sequence[float] | np.ndarray, rank_coefficient: float) -> np.ndarray:
    """Rank-based sampling probabilities ``∝ 1 / (k * N + rank)``, rank 0 for the best score.

    Ties are ranked in input order (a stable sort), so the weights are deterministic.

    Raises:
        ValueError: ``rank_coefficient`` is not positive or ``scores`` is empty.
    """
    if rank_coefficient <= 0:
        raise ValueError(f"rank_coefficient must be > 0, got {rank_coefficient}")
    if not len(scores):
        raise ValueError("no scores to rank")
    values = np.asarray(scores, dtype=np.float64)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[np.argsort(-values, kind="stable")] = np.arange(len(values))
    weights = 1.0 / (rank_coefficient * len(values) + ranks)
    return weights / weights.sum()


def trajectory_balance(
    log_z: torch.Tensor, log_pf: torch.Tensor, log_reward: torch.Tensor
) -> torch.Tensor:
    """Per-sample trajectory-balance residual ``(log Z + log P_F(x) − log R(x))²``.

    For autoregressive generation the backward policy is deterministic (one parent per
    prefix), so ``log P_B = 0`` and the trajectory is the object. Callers average it (plainly
    or weighted) and may add their own terms (Genetic GFN's KL to the prior).
    """
    return (log_z + log_pf - log_reward) ** 2


def bf16_autocast(device_type: str, enabled: bool) -> AbstractContextManager[Any]:
    """bfloat16 autocast on ``device_type`` when ``enabled`` and the hardware has bfloat16
    kernels; otherwise nothing changes (float32).

    On a CPU without AVX512-BF16 or AMX, oneDNN has no bfloat16 LSTM (it fails with "could not
    create a primitive descriptor"), and emulated bfloat16 would be slower than float32 anyway:
    there ``bf16`` is a speed hint that is ignored, with one warning per process.
    """
    import torch

    if not enabled:
        return nullcontext()
    if device_type == "cpu" and not cpu_has_bf16():
        _warn_no_bf16()
        return nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16)


@cache
def cpu_has_bf16() -> bool:
    """Whether this CPU has native bfloat16 kernels (oneDNN's own test: AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


@cache
def _warn_no_bf16() -> None:
    log.warning(
        "bf16: this CPU has no bfloat16 kernels (AVX512-BF16 or AMX); the updates run in float32"
    )


@contextmanager
def torch_settings(threads: int = 0, deterministic: bool = True) -> Iterator[None]:
    """Inside the block: ``threads`` CPU threads (0: leave as is) and, if ``deterministic``,
    deterministic kernels; both are restored afterwards."""
    import torch

    old_deterministic = torch.are_deterministic_algorithms_enabled()
    with threads_set(threads):
        if deterministic:
            torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(old_deterministic)
