"""The one comparison of a results folder's recorded settings with the current ones.

Every resumable job (design runs, benchmarks, prior training, self-improvement, route
planning after a run) records the settings that decide its results beside them and, when the
same folder is used again, compares: resuming with other values would mix two settings in one
table. Values are compared as they are written (after a JSON round trip), so a tuple given
now equals the list read back. The settings files themselves are written atomically
(:func:`write_settings`), so a kill never leaves half a file; one that is unreadable anyway
(edited by hand) gets an error naming it (:func:`read_settings`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from makeable.results_csv import replace_text

__all__ = [
    "describe_diff",
    "read_json_object",
    "read_settings",
    "refuse_other_settings",
    "settings_diff",
    "write_settings",
]


def write_settings(path: Path, data: Mapping[str, Any], indent: int = 2) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    replace_text(path, json.dumps(data, indent=indent, default=str) + "\n")


def read_json_object(path: Path, hint: str = "") -> dict[str, Any]:
    """The JSON object in a file (settings, a model's config).

    Raises:
        ValueError: the file is not valid JSON or holds no object (one line naming it, then
            ``hint``).
    """
    suffix = f"; {hint}" if hint else ""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}){suffix}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object{suffix}")
    return data


def read_settings(path: Path) -> dict[str, Any]:
    """The JSON object of a settings file.

    Raises:
        ValueError: the file is not a JSON object (the message names it).
    """
    return read_json_object(path, "restore it, or move it away to start the folder again")


def _as_written(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def settings_diff(
    recorded: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    keys: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    if_recorded: Iterable[str] = (),
) -> dict[str, tuple[Any, Any]]:
    """The settings that differ, as ``{key: (recorded, current)}``.

    Args:
        recorded: the settings read back from the folder.
        current: the settings of this call.
        keys: the keys to compare (default: those of ``current``).
        ignore: keys that may differ (e.g. how many epochs to train on resuming).
        defaults: the value of a key that an older record lacks (a setting added since, whose
            default keeps the old behaviour); without one, a missing key reads as ``None``.
        if_recorded: keys compared only when the record holds them (something recorded since,
            such as a model's digest, that older records identified otherwise).
    """
    defaults = defaults or {}
    skip = set(ignore) | {key for key in if_recorded if key not in recorded}
    diff: dict[str, tuple[Any, Any]] = {}
    for key in current if keys is None else keys:
        if key in skip:
            continue
        old = _as_written(recorded.get(key, defaults.get(key)))
        new = _as_written(current.get(key))
        if old != new:
            diff[key] = (old, new)
    return diff


def describe_diff(diff: Mapping[str, tuple[Any, Any]]) -> str:
    """``key: recorded → current`` for each differing key, for error messages."""
    return "; ".join(f"{key}: {old!r} → {new!r}" for key, (old, new) in diff.items())


def refuse_other_settings(
    recorded: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    holds: str,
    hint: str = "use another output folder, or the recorded settings to resume",
    error: type[Exception] = ValueError,
    **compare: Any,
) -> None:
    """Raise ``error`` when :func:`settings_diff` finds a difference.

    Args:
        holds: what the folder holds, for the message (e.g. ``"RUN holds planning results"``).
        hint: what to do instead.
        error: the exception type (a ``ValueError`` subclass for the CLI to report it).
        compare: ``keys``, ``ignore``, ``defaults``, ``if_recorded`` of :func:`settings_diff`.
    """
    diff = settings_diff(recorded, current, **compare)
    if diff:
        raise error(f"{holds} made with other settings ({describe_diff(diff)}); {hint}")
