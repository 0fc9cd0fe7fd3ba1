"""Executors run independent work items: objective scoring on chunks of SMILES, planning one
target per item, whole benchmark runs. In-process, a local process pool, or a Ray cluster. Two
methods: :meth:`Executor.map` (results in input order) and :meth:`Executor.imap_unordered` (each
result as soon as it is done, with its index: for progress bars and resumable result files).

Every caller picks its backend the same way, :func:`make_executor` (``--executor``,
``--address``, a worker count); :func:`runs_here` is the one rule for when work stays in the
calling process. An executor only computes: whoever calls it records the results (the oracle
commits a batch to ``run.db`` after the batch returns), so a worker killed mid-item loses
nothing that was counted.
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing as mp
import os
import socket
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from makeable.registry import Registry
from makeable.runtime import set_torch_threads

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

RAY_INSTALL_HINT = 'pip install "makeable[ray]"'

EXECUTOR_KINDS = ("inprocess", "process", "ray")
"""The built-in executors, for ``--executor``'s choices (the CLI imports no backend)."""

ADDRESS_HELP = (
    "the Ray cluster of --executor ray: auto (the one `ray start` runs here) or HOST:PORT "
    "(default: start a local Ray instance for this command)"
)


class ExecutorError(ValueError):
    """An executor that cannot be used as asked: its optional package is missing, its cluster
    cannot be reached, or a setting it does not take was given (the message says what to do)."""


class Executor(ABC):
    """Maps a picklable function over work items, returning results in input order.

    ``n_workers`` tells callers how many chunks are worth making.
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
    """Runs everything in the calling process (the default; no start-up cost).

    Args:
        initializer: called once, in this process, before the first item.
        initargs: its arguments.
    """

    def __init__(
        self, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
    ) -> None:
        self.initializer = initializer
        self.initargs = initargs

    def _start(self) -> None:
        if self.initializer is not None:
            initializer, self.initializer = self.initializer, None
            initializer(*self.initargs)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        self._start()
        return [fn(item) for item in items]

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        self._start()
        yield from super().imap(fn, items)

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        self._start()
        yield from super().imap_unordered(fn, items)


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
    """What every worker (a pool process, a Ray actor) runs once when it starts."""
    if "torch" in sys.modules:  # one thread per worker; torch is not imported for it
        set_torch_threads(1)
    if initializer is not None:
        initializer(*initargs)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(
            f"the ray executor needs Ray, which is not installed: {RAY_INSTALL_HINT}"
        ) from None
    return ray


class _RayWorker:
    """The body of one Ray actor: the start of a pool process, then one item per call."""

    def __init__(self, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
        _start_worker(initializer, initargs)

    def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return fn(item)


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """A pool of ``n_workers`` Ray actors, on this machine or on a Ray cluster.

    Each actor starts as a pool process does (one torch thread, then
    ``initializer(*initargs)``) and takes one item at a time; a free actor takes the next item,
    so items of unequal cost balance out. An actor killed mid-item (a lost node, the OOM
    killer) is restarted, initializer included, and its item run again, up to ``max_retries``
    times; a result only reaches the caller once its item has returned, so what the caller
    counts is never lost.

    The function, the items and ``initargs`` are pickled (cloudpickle) to the actors: on a
    cluster, every node needs the same makeable (and objective code) installed.

    Args:
        n_workers: actors (default: this machine's cores for a local cluster, else the
            cluster's CPUs). Each asks for one CPU, or a share when the cluster has fewer CPUs
            than actors (sleeping or I/O-bound work may run more actors than cores).
        initializer: called once in each actor when it starts (and restarts).
        initargs: its arguments (put once in Ray's object store).
        address: ``None`` starts a local Ray instance with ``n_workers`` CPUs, shut down by
            :meth:`close`; ``"auto"`` or ``HOST:PORT`` connects to a running cluster, which
            :meth:`close` leaves running. A Ray already initialised in this process (by the
            caller, or a notebook) is used as it is, whatever the address, and left so.
        max_retries: re-runs of an item whose actor died.

    Raises:
        ExecutorError: Ray is not installed, or no cluster answers at ``address``.
    """

    def __init__(
        self,
        n_workers: int | None = None,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        address: str | None = None,
        max_retries: int = 3,
    ) -> None:
        ray = _import_ray()
        self.address = address
        self.initializer = initializer
        self.initargs = initargs
        self.max_retries = max_retries
        self._connected = False  # this executor initialised Ray, so close() shuts it down
        if not ray.is_initialized():
            if address is None:
                ray.init(
                    num_cpus=n_workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                )
            else:
                _check_reachable(address)
                try:
                    ray.init(address=address, logging_level=logging.WARNING)
                except ConnectionError as exc:
                    raise ExecutorError(f"no Ray cluster at --address {address}: {exc}") from None
            self._connected = True
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.n_workers = n_workers or max(1, int(cpus))
        self._cpus_per_actor = min(1.0, cpus / self.n_workers)
        self._actors: list[Any] = []
        self._initargs_ref: Any = None

    def _get_actors(self) -> list[Any]:
        if not self._actors:
            ray = _import_ray()
            actor = ray.remote(
                num_cpus=self._cpus_per_actor,
                max_restarts=-1,
                max_task_retries=self.max_retries,
            )(_RayWorker)
            initargs: Any = ()
            if self.initializer is not None:  # once, however many actors read it; held here,
                self._initargs_ref = _shipped(  # a restarted actor reads it again
                    "the initializer's arguments", lambda: ray.put(self.initargs)
                )
                initargs = self._initargs_ref
            self._actors = [actor.remote(self.initializer, initargs) for _ in range(self.n_workers)]
        return self._actors

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return list(self.imap(fn, items))

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        waiting: dict[int, R] = {}
        next_index = 0
        for i, result in self.imap_unordered(fn, items):
            waiting[i] = result
            while next_index in waiting:
                yield waiting.pop(next_index)
                next_index += 1

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if not items:
            return
        ray = _import_ray()
        idle = list(reversed(self._get_actors()))
        fn_ref = _shipped("the function", lambda: ray.put(fn))
        todo = iter(enumerate(items))
        running: dict[Any, tuple[int, Any]] = {}  # object ref → (item index, its actor)
        try:
            while True:
                while idle:
                    following = next(todo, None)
                    if following is None:
                        break
                    i, item = following
                    actor = idle.pop()
                    ref = _shipped("a work item", lambda: actor.run.remote(fn_ref, item))  # noqa: B023
                    running[ref] = (i, actor)
                if not running:
                    return
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    i, actor = running.pop(ref)
                    idle.append(actor)
                    yield i, ray.get(ref)
        finally:  # stopped early (an error, Ctrl-C): drop the queued work
            for ref in running:
                ray.cancel(ref)

    def close(self) -> None:
        if "ray" not in sys.modules:
            return
        ray = sys.modules["ray"]
        if not ray.is_initialized():
            return
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._actors = []
        self._initargs_ref = None
        if self._connected:  # a local instance stops; a cluster only loses this client
            ray.shutdown()
            self._connected = False


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at ``HOST:PORT`` (Ray itself retries for minutes);
    ``auto`` and ``ray://`` addresses are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ExecutorError(f"no Ray cluster at --address {address}: {exc}") from None


def _shipped(what: str, send: Callable[[], R]) -> R:
    """``send()``, which pickles ``what`` to Ray's workers; one clear error when it cannot be
    pickled (an objective or model holding an open file, a lock, an RDKit generator...)."""
    try:
        return send()
    except Exception as exc:
        if "pickl" not in str(exc).lower():
            raise
        raise ExecutorError(
            f"the ray executor pickles {what} to its workers, and it does not pickle: {exc}"
        ) from exc


def make_executor(
    kind: str = "inprocess",
    n_workers: int | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    start_method: str = "fork",
    address: str | None = None,
) -> Executor:
    """The executor ``kind`` (a name of :data:`EXECUTORS`) with what it takes of the rest.

    Every caller builds its executor here: oracle scoring (``design --executor``), benchmark
    jobs (:func:`job_executor`) and planning targets (``plan_many``).

    Args:
        kind: ``inprocess``, ``process``, ``ray`` (or a plugin's name).
        n_workers: workers (the backend's default when ``None``; in-process: one).
        initializer: run once per worker (in-process: once, here) before its first item.
        initargs: its arguments.
        start_method: a process pool's start method (``fork`` or ``spawn``).
        address: the Ray cluster (``ray`` only; ``None``: a local one).

    Raises:
        UnknownNameError: ``kind`` is not registered.
        ExecutorError: ``address`` given to an executor that takes none; Ray missing.
    """
    factory = EXECUTORS.factory(kind)
    accepted = inspect.signature(factory).parameters
    given: dict[str, Any] = {
        "n_workers": n_workers,
        "initializer": initializer,
        "initargs": initargs,
        "start_method": start_method,
        "address": address,
    }
    if address is not None and "address" not in accepted:
        raise ExecutorError(f"--address {address} is for the ray executor, not {kind}")
    if initializer is not None and "initializer" not in accepted:
        raise ExecutorError(f"executor {kind} cannot run a worker initializer")
    return factory(**{k: v for k, v in given.items() if k in accepted})


def runs_here(kind: str, n_workers: int, n_items: int) -> bool:
    """Whether work stays in the calling process: the ``inprocess`` kind, or a local process
    pool that would get one worker or one item (not worth starting). Any other backend was
    asked for by name and always runs (a Ray cluster may hold what this machine has not)."""
    return kind == "inprocess" or (kind == "process" and (n_workers <= 1 or n_items <= 1))


def job_executor(
    n_jobs: int, n_items: int, kind: str = "process", address: str | None = None
) -> Executor:
    """Where whole benchmark jobs run: in this process when :func:`runs_here`, else in
    ``n_jobs`` fresh workers (``spawn`` processes, or Ray actors), each job loading its own
    models."""
    if runs_here(kind, n_jobs, n_items):
        return InProcessExecutor()
    return make_executor(kind, n_jobs, start_method="spawn", address=address)


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
