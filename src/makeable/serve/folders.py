"""Which folders under the served DIR are runs, and the one path check every request passes.

A folder's kind comes from the files it holds (nothing else is listed):

* ``design``: ``run.db`` and a ``config.yaml`` naming an ``objective`` (``makeable design``, and
  each run of a design benchmark);
* ``sequence``: ``run.db`` and a ``config.yaml`` naming a ``task`` (``makeable seq design``);
* ``planning``: a ``config.json`` with ``"benchmark": "planning"`` and ``results.csv``
  (``makeable bench planning``);
* ``benchmark``: a ``bench.yaml`` (or a ``config.json`` naming another ``benchmark``) and
  ``results.csv``: the design benchmarks (PMO, makeable PMO, GuacaMol, ...), whose runs under
  ``runs/`` are listed as design runs of their own;
* ``predictor``: a ``config.json`` of the predictor format (``makeable predict train``, and the
  proxies and experts of the predictor benchmarks).

:func:`resolve` turns a path from a URL into a folder inside DIR, or raises
:class:`ServeError`: a path that is absolute, climbs with ``..``, or leads out of DIR through a
symbolic link is refused before anything is read.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

log = logging.getLogger(__name__)

MAX_DEPTH = 5
"""How deep below DIR runs are looked for (a benchmark's runs sit at DIR/bench/runs/task_s0)."""
MAX_FOLDERS = 20_000
"""At most this many folders are visited per listing (DIR may be large, e.g. a home folder)."""
KINDS = ("design", "sequence", "planning", "benchmark", "predictor")


class ServeError(Exception):
    """A request that cannot be answered for a reason the user can fix or understand (a path
    outside DIR, a folder that is not a run, a damaged file): its page says ``message``."""

    def __init__(self, status: int, message: str, title: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title or {400: "Bad request", 404: "Not found"}.get(status, "Cannot show this")


@dataclass(frozen=True)
class RunFolder:
    """A recognised folder: its path relative to DIR (POSIX), kind and what its files say."""

    rel: str
    path: Path
    kind: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.rel or "."


def _read_mapping(path: Path) -> dict[str, Any] | None:
    """A YAML or JSON file holding a mapping; ``None`` when missing or unreadable (a folder
    with a damaged config is not a run we can name)."""
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def detect(path: Path) -> tuple[str, dict[str, Any]] | None:
    """``(kind, config)`` of a folder by the files it holds, ``None`` when it is no run."""
    if (path / "run.db").is_file() and (path / "config.yaml").is_file():
        config = _read_mapping(path / "config.yaml") or {}
        if "objective" in config:
            return "design", config
        if "task" in config:
            return "sequence", config
        return None
    if (path / "results.csv").is_file():
        for name in ("bench.yaml", "config.json"):
            bench = _read_mapping(path / name) if (path / name).is_file() else None
            if bench and "benchmark" in bench:
                kind = "planning" if bench["benchmark"] == "planning" else "benchmark"
                return kind, bench
    elif (path / "config.json").is_file() and (path / "metrics.json").is_file():
        from makeable.predict import FORMAT_NAME

        found = _read_mapping(path / "config.json")
        if found and found.get("format") == FORMAT_NAME:
            return "predictor", found
    return None


def discover(root: Path, max_depth: int = MAX_DEPTH) -> list[RunFolder]:
    """Every run and benchmark under ``root`` (``root`` itself included), sorted by path.

    Hidden folders are skipped, and so is every symbolic link (a link could lead out of
    ``root``); a design or sequence run or a predictor is not searched further (its ``routes/``
    or ``partial/`` holds no run).
    """
    root = root.resolve()
    found: list[RunFolder] = []
    visited = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack and visited < MAX_FOLDERS:
        folder, depth = stack.pop()
        visited += 1
        hit = detect(folder)
        if hit is not None:
            kind, config = hit
            rel = folder.relative_to(root).as_posix()
            found.append(RunFolder("" if rel == "." else rel, folder, kind, config))
            if kind in ("design", "sequence", "predictor"):
                continue
        if depth >= max_depth:
            continue
        try:
            children = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in children:
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), depth + 1))
    if visited >= MAX_FOLDERS:
        log.warning("serve: stopped looking for runs after %d folders under %s", visited, root)
    return sorted(found, key=lambda r: r.rel)


def resolve(root: Path, rel: str) -> Path:
    """The folder or file ``rel`` (a path from a URL, relative to ``root``) inside ``root``.

    Raises:
        ServeError: 400 for an absolute path or one with ``..``; 404 when it does not exist
            or leads out of ``root`` (through a symbolic link).
    """
    root = root.resolve()
    text = rel.strip("/") if rel not in ("", ".") else ""
    if rel.startswith("/") or "\\" in rel or "\x00" in rel or PurePosixPath(rel).is_absolute():
        raise ServeError(400, f"{rel!r} is an absolute path: give a path relative to the folder")
    parts = PurePosixPath(text).parts if text else ()
    if ".." in parts:
        raise ServeError(400, f"{rel!r} climbs out with '..': give a path inside the folder")
    target = root.joinpath(*parts)
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ServeError(404, f"there is no {text or '.'!r} in the served folder") from None
    if not real.is_relative_to(root):
        raise ServeError(404, f"there is no {text!r} in the served folder")
    return real


def run_folder(root: Path, rel: str, kinds: tuple[str, ...] = KINDS) -> RunFolder:
    """The run at ``rel`` under ``root``, of one of ``kinds``.

    Raises:
        ServeError: the path is refused by :func:`resolve`, or the folder is not such a run.
    """
    path = resolve(root, rel)
    hit = detect(path) if path.is_dir() else None
    rel = rel.strip("/")
    if hit is None:
        raise ServeError(404, f"{rel or '.'!r} is not a run or benchmark folder")
    kind, config = hit
    if kind not in kinds:
        raise ServeError(404, f"{rel or '.'!r} is a {kind} folder, not a {' or '.join(kinds)}")
    return RunFolder(rel, path, kind, config)
