"""Executors run independent work items: objective scoring on chunks of SMILES, planning one
target per item. In-process, a local process pool, or (later) Ray. Two methods:
:meth:`Executor.map` (results in input order) and :meth:`Executor.imap_unordered` (each
result as soon as it is done, with its index: for progress bars and resumable result files)."""

from __future__ import annotations

import multiprocessing as mp
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from makeable.registry import Registry
from makeable.runtime import set_torch_threads

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

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Apply ``fn`` to each item, yielding the results lazily in the order of ``items``."""
        for item in items:
            yield fn(item)

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Apply ``fn`` to each item, yielding ``(index, result)`` as each one finishes."""
        for i, item in enumerate(items):
            yield i, fn(item)

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release workers (no-op for in-process)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


EXECUTORS: Registry[Executor] = Registry("executor", group="makeable.executors")


@EXECUTORS.register("inprocess")
class InProcessExecutor(Executor):
    """Runs everything in the calling process (the default; no start-up cost)."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]


@EXECUTORS.register("process")
class ProcessPoolExecutorBackend(Executor):
    """A pool of local worker processes (for work costing milliseconds or more per item).

    Each worker runs torch with one thread (the pool is the parallelism), then
    ``initializer(*initargs)`` once, e.g. to load a model that every item uses.

    Args:
        n_workers: number of processes (default: all cores).
        initializer: called once in each worker when it starts.
        initargs: its arguments (inherited by forked workers, not pickled).
        start_method: ``"fork"`` (workers inherit loaded models and caches) or ``"spawn"``
            (fresh interpreters, for whole jobs that load their own state).
    """

    def __init__(
        self,
        n_workers: int | None = None,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        start_method: str = "fork",
    ) -> None:
        self.n_workers = n_workers or mp.cpu_count()
        self.initializer = initializer
        self.initargs = initargs
        self.start_method = start_method
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.n_workers,
                mp_context=mp.get_context(self.start_method),
                initializer=_start_worker,
                initargs=(self.initializer, self.initargs),
            )
        return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1 and self.initializer is None:
            return [fn(item) for item in items]
        return list(self._get_pool().map(fn, items))

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        yield from self._get_pool().map(fn, items)

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        pool = self._get_pool()
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:  # stopped early (an error, Ctrl-C): drop the work not started
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    if "torch" in sys.modules:  # one thread per worker; torch is not imported for it
        set_torch_threads(1)
    if initializer is not None:
        initializer(*initargs)


def job_executor(n_jobs: int, n_items: int) -> Executor:
    """Where whole benchmark jobs run: in this process for one job (or ``n_jobs <= 1``), else in
    ``n_jobs`` fresh (``spawn``) worker processes, each job loading its own models."""
    if n_jobs <= 1 or n_items <= 1:
        return InProcessExecutor()
    return ProcessPoolExecutorBackend(n_jobs, start_method="spawn")


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
