"""``KEY=VALUE`` command-line pairs (``--param``, ``--proxy-param``, ``--model-param``)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from makeable.runs.config import ConfigError, yaml_problem

# A decimal number with an optional exponent. YAML 1.1 reads ``1e-3`` and ``5E-4`` (no dot in the
# mantissa) as strings; unquoted values spelled like this become floats. Quoted values
# (``name="1e-3"``) and words such as ``nan`` or ``inf`` stay strings.
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """Parse ``key=value`` pairs; values are read as YAML scalars (numbers, booleans, strings).

    Unquoted values that spell a number but that YAML 1.1 leaves as strings (``1e-3``,
    ``5E-4``) become floats. Raises :class:`ConfigError` for a pair without ``=``, with an
    empty key or with a value that is not valid YAML.
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, got {pair!r}")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{pair!r}: invalid YAML value: {yaml_problem(exc)}") from None
        if isinstance(parsed, str) and _FLOAT.fullmatch(value.strip()):
            parsed = float(parsed)
        out[key] = parsed
    return out
