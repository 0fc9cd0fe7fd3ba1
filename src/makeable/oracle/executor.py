"""Executors run objective scoring on chunks of SMILES: in-process, a local process pool, or
(later) Ray. All have one method, :meth:`Executor.map`, which preserves order."""

from __future__ import annotations

import multiprocessing as mp
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from makeable.registry import Registry

T = TypeVar("T")
R = TypeVar("R")


class Executor(ABC):
    """Maps a picklable function over work items, returning results in input order.

    ``n_workers`` tells callers how many chunks are worth making. A Ray backend implements the
    same method with remote tasks.
    """

    n_workers: int = 1

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``fn`` to each item; results in the order of ``items``."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release workers (no-op for in-process)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


EXECUTORS: Registry[Executor] = Registry("executor")


@EXECUTORS.register("inprocess")
class InProcessExecutor(Executor):
    """Runs everything in the calling process (the default; no start-up cost)."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]


@EXECUTORS.register("process")
class ProcessPoolExecutorBackend(Executor):
    """A pool of local worker processes (for oracles costing milliseconds or more per molecule).

    Args:
        n_workers: number of processes (default: all cores).
    """

    def __init__(self, n_workers: int | None = None) -> None:
        self.n_workers = n_workers or mp.cpu_count()
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.n_workers, mp_context=mp.get_context("fork"))
        return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        return list(self._get_pool().map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def chunk(items: Sequence[T], n_chunks: int) -> list[list[T]]:
    """Split ``items`` into at most ``n_chunks`` contiguous, near-equal, non-empty chunks."""
    n_chunks = max(1, min(n_chunks, len(items)))
    size, extra = divmod(len(items), n_chunks)
    out, start = [], 0
    for i in range(n_chunks):
        end = start + size + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return [c for c in out if c]
