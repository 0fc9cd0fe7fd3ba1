"""One registry per pluggable concept, shared by the Python API, configs and the CLI.

Names are looked up with ``-`` and ``_`` as the same character (``graph-ga`` is ``graph_ga``,
``lstm_hc`` is ``lstm-hc``); :meth:`Registry.canonical` gives the spelling a name was
registered with, the one listings show and run folders record.

Plugins: a registry created with an entry-point ``group`` (``makeable.optimizers``, ...) also
holds the entry points other installed packages declare in that group, e.g. in their
``pyproject.toml``::

    [project.entry-points."makeable.optimizers"]
    my_ga = "my_package.optimizer:MyGA"

They are loaded lazily, the first time the names are listed or a name is looked up that is not
registered. A plugin that fails to load is skipped with one warning naming it and the error; a
plugin name that a built-in (or an earlier plugin) already holds is refused with a warning, so
the built-ins always work and keep their meaning.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


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

    Args:
        kind: what the names name, for messages (``"objective"``).
        group: the entry-point group third-party packages add names through
            (``"makeable.objectives"``); ``None``: no plugins.

    Example:
        >>> OBJECTIVES = Registry("objective", group="makeable.objectives")
        >>> @OBJECTIVES.register("qed")
        ... class QED: ...
    """

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._factories: dict[str, Callable[..., T]] = {}  # by name_key
        self._names: dict[str, str] = {}  # name_key → the registered spelling
        self._plugins: dict[str, str] = {}  # name_key → the distribution that added it
        self._plugins_loaded = group is None

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            key = name_key(name)
            if key in self._plugins:  # a built-in registered after the plugins were loaded
                _refuse_clash(self.kind, name, self._plugins.pop(key), self.group)
            elif key in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[key] = factory
            self._names[key] = name
            return factory

        return decorator

    def add(self, name: str, factory: Callable[..., T]) -> None:
        self.register(name)(factory)

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._names.values())

    def plugin(self, name: str) -> str | None:
        """The distribution whose entry point added ``name``; ``None`` for a built-in name."""
        self.load_plugins()
        return self._plugins.get(name_key(name))

    def load_plugins(self) -> None:
        """Add the entry points of :attr:`group` (once; later calls do nothing).

        Never raises for a plugin: one that fails to import, or is not callable, is skipped
        with a warning; one whose name is taken is refused with a warning.
        """
        if self._plugins_loaded:
            return
        self._plugins_loaded = True  # first: a plugin module may use this registry on import
        assert self.group is not None
        try:
            entry_points = list(metadata.entry_points(group=self.group))
        except Exception as exc:  # a broken metadata file of some installed package
            log.warning("cannot read the %s plugins: %s", self.group, _one_line(exc))
            return
        for ep in entry_points:
            dist = ep.dist.name if ep.dist is not None else "?"
            try:
                factory = ep.load()
            except Exception as exc:  # anything a third-party import may raise
                log.warning(
                    "plugin %s: %s %r (%s) failed to load and is skipped: %s",
                    dist,
                    self.kind,
                    ep.name,
                    ep.value,
                    _one_line(exc),
                )
                continue
            if not callable(factory):
                log.warning(
                    "plugin %s: %s %r (%s) is not a class or function and is skipped",
                    dist,
                    self.kind,
                    ep.name,
                    ep.value,
                )
                continue
            key = name_key(ep.name)
            if self._factories.get(key) is factory:
                continue  # the plugin's module registered it itself on import
            if key in self._factories:
                _refuse_clash(self.kind, ep.name, dist, self.group)
                continue
            self._factories[key] = factory
            self._names[key] = ep.name
            self._plugins[key] = dist

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name_key(name) not in self._factories:
            self.load_plugins()
        return name_key(name) in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (``graph-ga`` → ``graph_ga``)."""
        self.factory(name)  # an unknown name fails here, listing the valid ones
        return self._names.get(name_key(name), name)

    def factory(self, name: str) -> Callable[..., T]:
        if isinstance(name, str) and name_key(name) not in self._factories:
            self.load_plugins()
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


def _refuse_clash(kind: str, name: str, dist: str, group: str | None) -> None:
    log.warning(
        "plugin %s: %s %r is refused: the name is taken (a built-in, or another plugin, "
        "keeps it); rename the entry point in group %s",
        dist,
        kind,
        name,
        group,
    )


def _one_line(exc: BaseException) -> str:
    """``Type: message`` of ``exc``, on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
