"""What the generative optimizers share: rank-based sampling weights, the trajectory-balance
residual, and the torch runtime settings of a run (threads, deterministic kernels): the one
threads helper of the CLI's ``--threads`` and the benchmarks' worker processes.

Used by GEGL / Genetic GFN / REINVENT / LSTM hill climbing (``optimizers/``) and by the
sequence designers (GFlowNet, δ-CS, GFN-AL in ``sequences/``), so each idea has one home.

References:
    Tripp, Daxberger, Hernández-Lobato, "Sample-efficient optimization in the latent space of
    deep generative models via weighted retraining", NeurIPS 2020 (rank weights).
    Malkin et al., "Trajectory balance: improved credit assignment in GFlowNets", NeurIPS 2022.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: importing this module stays light
    import torch


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


def set_torch_threads(threads: int) -> None:
    """Use ``threads`` torch CPU threads in this process from now on (0: leave torch's setting,
    and do not import torch). The one place the CLI and the benchmarks set the count
    (``--threads``, worker processes)."""
    if threads < 0:
        raise ValueError(f"torch threads must be 0 (torch's default) or more, got {threads}")
    if threads:
        import torch

        torch.set_num_threads(threads)


def torch_threads() -> int:
    """The torch CPU threads this process uses now."""
    import torch

    return int(torch.get_num_threads())


@contextmanager
def threads_set(threads: int) -> Iterator[None]:
    """Inside the block: ``threads`` torch CPU threads (0: leave as is, torch not imported);
    the count is restored afterwards."""
    if not threads:
        set_torch_threads(threads)  # validates
        yield
        return
    old_threads = torch_threads()
    set_torch_threads(threads)
    try:
        yield
    finally:
        set_torch_threads(old_threads)


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


DEVICES = ("cpu", "cuda", "auto")
"""What ``--device`` accepts (``cuda:N`` too): ``auto`` is ``cuda`` when torch sees a GPU."""


def resolve_device(name: str) -> torch.device:
    """The torch device of a ``--device`` value: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.

    Raises:
        ValueError: an unknown name, or ``cuda`` when torch sees no GPU (one line saying why).
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no GPU visible"
            raise ValueError(
                f"--device {name}: torch {torch.__version__} sees no CUDA device ({build}); "
                "use --device cpu"
            )
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ValueError(f"--device {name}: expected cuda or cuda:N") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"--device {name}: torch sees {torch.cuda.device_count()} CUDA device(s)"
            )
        return device
    raise ValueError(f"--device {name}: expected one of cpu, cuda, cuda:N, auto")
