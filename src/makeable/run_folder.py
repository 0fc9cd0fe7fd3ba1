"""The run-folder layer: what every job's results folder shares.

A job (a design run, a sequence design, a benchmark, planning, training) writes its results
into one folder and may be resumed there. This module holds what every such folder needs, so
that no job writes it its own way:

* the lock (:func:`lock_folder`, :class:`RunInUseError`): one process per folder;
* the config (:class:`RunConfig`, the base of every typed job config: read from a dict or YAML
  with one-line errors, :class:`ConfigError`; written back as ``config.yaml``; compared with the
  recorded one on resume);
* ``versions.json`` (:func:`versions`: Python, platform and package versions);
* :class:`RunFolder`: a job's folder as one object: it takes the lock, writes the config and
  versions, refuses a folder recorded with other settings (:mod:`makeable.settings`) and
  writes ``summary.md``.

It sits just above :mod:`makeable.settings` and :mod:`makeable.results_csv`, below every
domain package, so any of them can use it.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, get_type_hints

import yaml

from makeable.results_csv import replace_text
from makeable.settings import read_settings, refuse_other_settings, write_settings

__all__ = [
    "ConfigError",
    "ConfigSection",
    "RunConfig",
    "RunFolder",
    "RunInUseError",
    "is_integer",
    "lock_folder",
    "read_yaml",
    "setting",
    "versions",
    "write_yaml",
    "yaml_problem",
]

BASE_PACKAGES = ("makeable", "rdkit", "numpy", "networkx", "pyyaml", "torch")
"""Packages whose versions every ``versions.json`` records (those installed)."""


class RunInUseError(RuntimeError):
    """Another process is running a job in this run folder."""


class _Meta(Protocol):
    def get_meta(self, key: str) -> Any: ...


def versions(*extra: str) -> dict[str, str]:
    """Versions of Python, the platform, :data:`BASE_PACKAGES` and ``extra`` packages (those
    installed), for ``versions.json``."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in dict.fromkeys((*BASE_PACKAGES, *extra)):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_yaml(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as YAML atomically (key order kept)."""
    replace_text(path, yaml.safe_dump(dict(data), sort_keys=False))


class ConfigError(ValueError):
    """A config file or flag is invalid (unknown key, wrong type, bad value)."""


def is_integer(value: Any) -> bool:
    """An ``int`` and not a ``bool`` (YAML's ``true`` is no count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line saying what is wrong in a YAML text and where (line and column, 1-based)."""
    problem = getattr(exc, "problem", None)
    if not problem:
        return " ".join(str(exc).split())
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = getattr(exc, "context", None)
    text = f"{where}{problem}" + (f" ({context})" if context else "")
    if "'\\t'" in problem:
        text += "; indent with spaces, not tabs"
    elif "python/" in problem:
        text += "; makeable reads YAML safely and builds no Python object from it"
    return text


def read_yaml(path: str | Path) -> Any:
    """The YAML document of a file, read safely (``yaml.safe_load``: plain data only).

    Raises:
        FileNotFoundError: no such file.
        ConfigError: the file cannot be read or is not valid YAML (one line naming the file
            and the problem with its line and column).
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {yaml_problem(exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a YAML text file (not UTF-8)") from None
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    default_factory: Any = dataclasses.MISSING,
    flag: str | None = None,
    aliases: tuple[str, ...] = (),
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A config field that the command line sets: a dataclass field whose metadata says how.

    :func:`makeable.cli.flags.add_config_flags` turns every such field of a config class into
    one flag, so a setting is declared once (name, type, default, help) and the YAML key and
    the flag cannot drift apart.

    Args:
        default, default_factory: as :func:`dataclasses.field`.
        help: the flag's help text (also the setting's documentation).
        flag: the flag when ``--field-name`` (``--section-field-name`` inside a section) does
            not fit; for a section field, the prefix of its fields' flags.
        aliases: older spellings still accepted.
        metavar, choices: as argparse's.
    """
    meta = {"help": help, "flag": flag, "aliases": aliases, "metavar": metavar, "choices": choices}
    return dataclasses.field(  # type: ignore[call-overload]
        default=default, default_factory=default_factory, metadata=meta
    )


def config_fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    """The fields of a config dataclass with their resolved types."""
    hints = get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def section_type(hint: Any) -> type[ConfigSection] | None:
    """The :class:`ConfigSection` subclass a field holds, if it holds one."""
    return hint if isinstance(hint, type) and issubclass(hint, ConfigSection) else None


class ConfigSection:
    """A nested group of settings inside a job config (a frozen dataclass subclasses it):
    built from a mapping with one-line errors naming the section, written back as a mapping."""

    SECTION: ClassVar[str] = "section"
    """How errors name it (the key it sits under)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> Self:
        """Build from a mapping; nested sections from nested mappings.

        Raises:
            ConfigError: not a mapping, an unknown key, or a value its checks refuse.
        """
        where = where or cls.SECTION
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a mapping of settings, not {data!r}")
        fields = config_fields(cls)
        names = [f.name for f, _ in fields]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"unknown {where} key(s) {unknown}; valid keys: {sorted(names)}")
        values = dict(data)
        for f, hint in fields:
            sub = section_type(hint)
            if sub is not None and f.name in values and not isinstance(values[f.name], sub):
                name = f.name if issubclass(cls, RunConfig) else f"{where}.{f.name}"
                values[f.name] = sub.from_dict(values[f.name], name)
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


class RunConfig(ConfigSection):
    """What every job config shares (a frozen dataclass subclasses it): reading from a dict or
    YAML with clear errors, writing back, and the resume check against a run folder.

    Subclasses set ``REQUIRED`` (the key a config must give) and ``RESUME_FREE`` (fields that
    do not change what a run proposes, so may differ when it is resumed). Fields declared with
    :func:`setting` get a command-line flag; a field holding a :class:`ConfigSection` is a
    nested group (a YAML mapping, flags with the section's prefix).
    """

    SECTION = "config"
    REQUIRED: ClassVar[str]
    RESUME_FREE: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Rewrite a config in an older layout (a recorded run's) into today's; the default
        changes nothing."""
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> Self:
        if not isinstance(data, Mapping):
            raise ConfigError(f"expected a mapping of config keys, not {data!r}")
        data = cls.upgrade(dict(data))
        if cls.REQUIRED not in data:
            raise ConfigError(f"the config must give {cls.REQUIRED!r}")
        return super().from_dict(data, where)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Self:
        data = read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys")
        return cls.from_dict(data)

    def identity(self) -> dict[str, Any]:
        """The fields that decide the run's trajectory (compared when resuming)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.RESUME_FREE}

    def check_resume(self, store: _Meta) -> None:
        """Refuse a run folder that holds a run with another identity.

        Args:
            store: where the run's config was recorded (a ``RunStore``: its ``config`` meta).

        Raises:
            ConfigError: the recorded config differs in a field of :meth:`identity`.
        """
        recorded = store.get_meta("config")
        if recorded is None:
            return
        refuse_other_settings(
            type(self).from_dict(recorded).identity(),
            self.identity(),
            holds="the run folder holds a different run,",
            hint="use another --out, or the same settings to resume",
            error=ConfigError,
        )


def lock_folder(folder: Path) -> Any:
    """An open ``run.lock`` holding an exclusive advisory lock (``None`` where unsupported)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system: no locking
        return None
    fh = open(folder / "run.lock", "a+")  # noqa: SIM115 - kept open while the lock is held
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        who = f" (pid {holder})" if holder else ""
        raise RunInUseError(
            f"{folder} is in use by another process{who}: wait for it to finish, or use "
            "another output folder"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


class RunFolder:
    """One job's results folder: its lock, config, versions, recorded settings and summary.

    Args:
        path: the folder (created on entering).
        lock: hold ``run.lock`` while the folder is open (default); a job whose folder also
            holds a ``RunStore`` opened ``exclusive`` takes the lock there instead.

    Use it as a context manager::

        with RunFolder(out) as folder:
            folder.check_settings("settings.json", current, holds=f"{out} holds ...")
            folder.record(config, extra_versions=("syntheseus",))
            ...
            folder.write_summary(text)

    Raises:
        RunInUseError: on entering, when another process holds the folder's lock.
    """

    def __init__(self, path: str | Path, *, lock: bool = True) -> None:
        self.path = Path(path)
        self._want_lock = lock
        self._lock: Any = None

    def __enter__(self) -> Self:
        self.path.mkdir(parents=True, exist_ok=True)
        if self._want_lock:
            self._lock = lock_folder(self.path)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def record(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        config_name: str = "config.yaml",
        extra_versions: tuple[str, ...] = (),
    ) -> None:
        """Write the config (YAML, or JSON for a ``.json`` name) and ``versions.json``."""
        if config is not None:
            target = self.path / config_name
            if target.suffix == ".json":
                write_settings(target, config)
            else:
                write_yaml(target, config)
        write_settings(self.path / "versions.json", versions(*extra_versions))

    def check_settings(
        self, name: str, current: Mapping[str, Any], *, holds: str, **compare: Any
    ) -> bool:
        """Refuse the folder when ``name`` records other settings than ``current``
        (:func:`makeable.settings.refuse_other_settings`, whose keyword arguments ``compare``
        takes); ``True`` when there was a record (a resume), ``False`` for a new folder.
        The record itself is written by the job (:meth:`write_settings`), once it is sure."""
        path = self.path / name
        if not path.exists():
            return False
        refuse_other_settings(read_settings(path), current, holds=holds, **compare)
        return True

    def write_settings(self, name: str, data: Mapping[str, Any]) -> None:
        """Record settings as JSON, atomically."""
        write_settings(self.path / name, data)

    def write_summary(self, text: str, name: str = "summary.md") -> Path:
        """Write the job's human-readable summary (atomically) and return its path."""
        path = self.path / name
        replace_text(path, text if text.endswith("\n") else text + "\n")
        return path
