"""``makeable`` — the command-line entry point. Only the CLI configures logging."""

from __future__ import annotations

import argparse
import linecache
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from makeable import __version__
from makeable.bench.jobs import JobsFailedError
from makeable.cli import (
    bench,
    conformers,
    data,
    design,
    listing,
    predict,
    prior,
    retro,
    score,
    seq,
    serve,
    synth,
    vae,
)
from makeable.data.download import ChecksumError, DownloadError
from makeable.oracle.store import RunInUseError
from makeable.registry import UnknownNameError
from makeable.runs.config import ConfigError
from makeable.runtime import threads_set

SUBCOMMANDS = (
    design,
    score,
    bench,
    data,
    listing,
    seq,
    retro,
    prior,
    synth,
    predict,
    serve,
    conformers,
    vae,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="makeable",
        description="makeable: AI-driven molecular design — design what you can make.",
    )
    parser.add_argument("--version", action="version", version=f"makeable {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log debug messages and show the full traceback of any error",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and set(extra) <= {"-v", "--verbose"}:  # also after the subcommand
        args.verbose = True
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        with threads_set(getattr(args, "threads", 0)):  # --threads, for every command with it
            return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader of our output went away (`makeable list | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141
    except KeyboardInterrupt:
        if args.verbose:  # where it was
            traceback.print_exc()
        print(
            "\ninterrupted: every counted call is saved; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except (
        ConfigError,
        UnknownNameError,
        FileNotFoundError,
        ValueError,
        TypeError,
        RunInUseError,
        JobsFailedError,
        ChecksumError,
        DownloadError,
    ) as exc:  # one line for the user; with -v also the traceback (a bug is found by it)
        if not _user_error(exc):
            raise  # a bug: its traceback
        if args.verbose:
            traceback.print_exc()
        print(f"makeable: error: {exc}", file=sys.stderr)
        return 2


PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _user_error(exc: BaseException) -> bool:
    """Whether ``exc`` reports something the user caused: one of makeable's own error classes,
    a missing file, or a ``ValueError``/``TypeError`` that makeable raised on purpose (its last
    frame is a ``raise`` statement in makeable's code). A ``ValueError``/``TypeError`` from
    anywhere else (a library, or Python itself inside makeable's code) is a bug and keeps its
    traceback."""
    if not isinstance(exc, (ValueError, TypeError)) or isinstance(exc, ConfigError):
        return True
    if type(exc).__module__.startswith("makeable."):  # makeable's own subclasses
        return True
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = Path(tb.tb_frame.f_code.co_filename)
    if not path.is_relative_to(PACKAGE_DIR):
        return False
    return linecache.getline(str(path), tb.tb_lineno).lstrip().startswith("raise")


if __name__ == "__main__":
    sys.exit(main())
