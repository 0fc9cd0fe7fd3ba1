"""The torch runtime of a process, in one place: CPU threads (``--threads``, benchmark and
scoring workers) and the device of the training commands (``--device``).

Light: torch is imported only when a count or a device is actually set, so modules of every
layer (the oracle's worker pool included) may use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


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
