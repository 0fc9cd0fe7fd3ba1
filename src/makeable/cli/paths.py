"""Output paths given on the command line, checked before the work whose results go there."""

from __future__ import annotations

from pathlib import Path

from makeable.runs.config import ConfigError


def check_output_folder(path: str, flag: str) -> Path:
    """Refuse an output folder that cannot be one: ``path`` or a folder above it is a file.

    Raises:
        ConfigError: one line naming the flag and the file in the way.
    """
    out = Path(path)
    for place in (out, *out.parents):
        if place.exists():
            if not place.is_dir():
                what = f"{path} is" if place == out else f"{path}: {place} is"
                raise ConfigError(f"{flag} {what} a file, not a folder: give a folder")
            break
    return out


def output_folder(path: str, flag: str) -> Path:
    """The folder ``path``, made now (before any work whose results would go there).

    Raises:
        ConfigError: ``path`` is a file, or the folder cannot be made (one line).
    """
    out = check_output_folder(path, flag)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{flag} {path}: cannot make the folder ({exc.strerror or exc})"
        ) from None
    return out


def output_file(path: str, flag: str) -> Path:
    """The file ``path`` to write later, checked now (before any work whose results go there).

    Raises:
        ConfigError: ``path`` is a folder, or its folder does not exist (one line).
    """
    out = Path(path)
    if out.is_dir():
        raise ConfigError(
            f"{flag} {path} is a folder: give a file name, e.g. {out / 'report.html'}"
        )
    if not out.parent.is_dir():
        raise ConfigError(f"{flag} {path}: the folder {out.parent} does not exist")
    return out
