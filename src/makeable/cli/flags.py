"""The flags many commands share, defined once so that they mean the same everywhere:
``--seed`` / ``--seeds``, ``--out``, ``--no-progress`` and ``--threads``.

A command adds them with these functions, never by hand: ``tests/test_cli_flags.py`` walks
the whole parser and fails on one whose type or help differs. ``--threads`` is applied for
every command in one place, :func:`makeable.cli.main.main` (through
:func:`makeable.models.toolkit.threads_set`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

SEED_HELP = "random seed"
"""How every ``--seed`` help begins (a command may say what the seed draws)."""

SEEDS_HELP = "random seeds, one run each"
NO_PROGRESS_HELP = "hide the progress display (bars, per-round lines)"
THREADS_HELP = "torch CPU threads of this process (default 0: torch's own setting)"


def _whole_number(text: str, minimum: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
    return value


def threads_count(text: str) -> int:
    """``--threads``'s type: a whole number, 0 or more."""
    return _whole_number(text, 0, "0 (torch's setting) or more")


def at_least_one(text: str) -> int:
    """An argparse type for counts (``--jobs``, ``--limit``, ``--sample``, ...): a whole number
    of at least 1."""
    return _whole_number(text, 1, "at least 1")


def add_seed(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    default: int | None = 0,
    draws: str = "",
) -> argparse.Action:
    """``--seed N``; ``draws``: what the seed decides (``"the shuffle"``), if not the whole
    job. ``default`` ``None``: the seed of ``--config``, else the config's default (0)."""
    what = f" of {draws}" if draws else ""
    shown = 0 if default is None else default
    return parser.add_argument(
        "--seed",
        type=int,
        default=default,
        metavar="N",
        help=f"{SEED_HELP}{what} (default {shown}; the same seed repeats the same result)",
    )


def add_seeds(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    default: Sequence[int] = (0, 1, 2),
) -> argparse.Action:
    """``--seeds N [N ...]``: a benchmark's seeds."""
    return parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(default),
        metavar="N",
        help=f"{SEEDS_HELP} (default {' '.join(map(str, default))})",
    )


def add_out(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    what: str,
    required: bool = True,
    default: str | None = None,
) -> argparse.Action:
    """``--out OUT``: where the command writes; ``what`` says what (a folder, a file, '-')."""
    if required:
        return parser.add_argument("--out", required=True, metavar="OUT", help=what)
    return parser.add_argument("--out", default=default, metavar="OUT", help=what)


def add_no_progress(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> argparse.Action:
    """``--no-progress``: ``args.no_progress``; pass ``progress=not args.no_progress`` on."""
    return parser.add_argument("--no-progress", action="store_true", help=NO_PROGRESS_HELP)


def add_threads(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> argparse.Action:
    """``--threads N`` (``args.threads``, default 0); applied by ``makeable.cli.main``."""
    return parser.add_argument(
        "--threads", type=threads_count, default=0, metavar="N", help=THREADS_HELP
    )
