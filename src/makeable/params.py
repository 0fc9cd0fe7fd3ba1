"""Checks of the parameters a user passes to an optimizer, an objective or a job: each refuses
a wrong value with one ``ValueError`` that names the parameter and the value given (the CLI
turns it into one error line)."""

from __future__ import annotations

import math
from typing import Any


def require_int(name: str, value: Any, least: int) -> None:
    """Refuse a parameter that is not an integer >= ``least`` (a ``bool`` is not one).

    Raises:
        ValueError: naming the parameter and the value given.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def require_real(
    name: str,
    value: Any,
    least: float | None = None,
    *,
    above: float | None = None,
    most: float | None = None,
) -> None:
    """Refuse a parameter that is not a finite number, ``>= least``, ``> above`` and
    ``<= most`` when given.

    Raises:
        ValueError: naming the parameter and the value given.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and least is not None:
        ok = value >= least
    if ok and above is not None:
        ok = value > above
    if ok and most is not None:
        ok = value <= most
    if not ok:
        bound = f" >= {least}" if least is not None else f" > {above}" if above is not None else ""
        if most is not None:
            bound += f" and <= {most}"
        raise ValueError(f"{name} must be a number{bound}, got {value!r}")


def require_probability(name: str, value: Any) -> None:
    """Refuse a parameter that is not a probability in [0, 1].

    Raises:
        ValueError: naming the parameter and the value given.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


def require_bool(name: str, value: Any) -> bool:
    """Refuse a parameter that is not ``true`` or ``false``; returns it.

    Raises:
        ValueError: naming the parameter and the value given.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value
