"""One registry per pluggable concept, shared by the Python API, configs and the CLI.

Names are looked up with ``-`` and ``_`` as the same character (``graph-ga`` is ``graph_ga``,
``lstm_hc`` is ``lstm-hc``); :meth:`Registry.canonical` gives the spelling a name was
registered with, the one listings show and run folders record.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists the valid choices."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def name_key(name: str) -> str:
    """The lookup key of a registry name: ``-`` and ``_`` are the same character."""
    return name.replace("-", "_")


class Registry(Generic[T]):
    """Maps short names to factories (classes or functions) that build a ``T``.

    A name may be given with ``-`` or ``_`` (:func:`name_key`); :meth:`names` lists the
    spellings the names were registered with.

    Example:
        >>> OBJECTIVES = Registry("objective")
        >>> @OBJECTIVES.register("qed")
        ... class QED: ...
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}  # by name_key
        self._names: dict[str, str] = {}  # name_key → the registered spelling

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            key = name_key(name)
            if key in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[key] = factory
            self._names[key] = name
            return factory

        return decorator

    def add(self, name: str, factory: Callable[..., T]) -> None:
        self.register(name)(factory)

    def names(self) -> list[str]:
        return sorted(self._names.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name_key(name) in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (``graph-ga`` → ``graph_ga``)."""
        self.factory(name)  # an unknown name fails here, listing the valid ones
        return self._names.get(name_key(name), name)

    def factory(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[name_key(name)]
        except (KeyError, AttributeError):  # AttributeError: not a string
            choices = ", ".join(self.names())
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose one of: {choices}"
            ) from None

    def build(self, name: str, **params: Any) -> T:
        """Build the named object; unknown parameters fail loudly with the accepted ones."""
        factory = self.factory(name)
        if params:
            sig = inspect.signature(factory)
            accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
            unknown = [k for k in params if k not in sig.parameters]
            if unknown and not accepts_any:
                valid = ", ".join(p for p in sig.parameters if p != "self") or "none"
                raise TypeError(
                    f"{self.kind} {name!r} got unknown parameter(s) {unknown}; accepted: {valid}"
                )
        return factory(**params)
