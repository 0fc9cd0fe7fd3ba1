"""The flags many commands share, defined once so that they mean the same everywhere:
``--seed`` / ``--seeds``, ``--out``, ``--no-progress``, ``--threads`` and ``--executor`` /
``--address`` (where a command's ``--jobs`` workers run).

A command adds them with these functions, never by hand: ``tests/test_cli_flags.py`` walks
the whole parser and fails on one whose type or help differs. ``--threads`` is applied for
every command in one place, :func:`makeable.cli.main.main` (through
:func:`makeable.runtime.threads_set`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TypeVar, get_args, get_origin

from makeable.cli.params import parse_params
from makeable.oracle.executor import ADDRESS_HELP, EXECUTOR_KINDS
from makeable.run_folder import ConfigError, RunConfig, config_fields, section_type

C = TypeVar("C", bound=RunConfig)

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


def at_least_zero(text: str) -> int:
    """An argparse type for counts that may be 0 (none): a whole number, 0 or more."""
    return _whole_number(text, 0, "0 or more")


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


def executor_help(what: str) -> str:
    """``--executor``'s help where ``--jobs`` spreads ``what`` (``"runs"``, ``"targets"``)."""
    return (
        f"which workers take the {what}, --jobs of them: process (local worker processes, "
        "the default), ray (Ray actors, on this machine or the cluster of --address) or "
        "inprocess (one after another in this process); results are written here either way"
    )


def add_executor(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str
) -> list[argparse.Action]:
    """``--executor {inprocess,process,ray}`` (default ``process``) and ``--address``: where
    a command's ``--jobs`` workers run ``what``; pass :func:`executor_args` on."""
    return [
        parser.add_argument(
            "--executor", choices=EXECUTOR_KINDS, default="process", help=executor_help(what)
        ),
        parser.add_argument("--address", metavar="ADDRESS", help=ADDRESS_HELP),
    ]


def executor_args(args: argparse.Namespace) -> dict[str, Any]:
    """``executor`` and ``address`` keyword arguments from :func:`add_executor`'s flags.

    Raises:
        ConfigError: ``--address`` without ``--executor ray``.
    """
    if args.address is not None and args.executor != "ray":
        raise ConfigError(f"--address {args.address} is for --executor ray")
    return {"executor": args.executor, "address": args.address}


# -- flags generated from a typed config -------------------------------------------------------
_DEST = "config__"
"""Prefix of the argparse destinations of generated flags (``config__routes__stock``)."""


def _is_mapping(hint: Any) -> bool:
    """Whether a config field holds a mapping (its flag is ``KEY=VALUE``, given repeatedly)."""
    return hint is dict or get_origin(hint) is dict


def _flag_type(hint: Any) -> tuple[Any, str | None]:
    """(argparse type, nargs) of a config field's type: ``int``, ``float``, ``str``, an
    optional one, ``list[str]`` (several values)."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if args and get_origin(hint) is not list and len(args) == 1:  # X | None
        hint = args[0]
    if get_origin(hint) is list:
        return (get_args(hint) or (str,))[0], "+"
    return (hint if hint in (int, float, str) else str), None


def add_config_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag for every field of config class ``cls`` declared with
    :func:`makeable.run_folder.setting` (a section's fields in an argument group, with its
    prefix), and ``--config`` for a YAML file; :func:`config_from_args` reads them back.

    A flag's default is ``None`` (not given): the value comes from ``--config``, else from the
    config class. Mapping fields (``--param KEY=VALUE``) may be given several times.
    """
    parser.add_argument(
        "--config", help="YAML config (flags given on the command line override it)"
    )
    for f, hint in config_fields(cls):
        meta = f.metadata
        if "help" not in meta:
            continue
        dest = _DEST + f.name
        section = section_type(hint)
        if section is not None:
            group = parser.add_argument_group(f.name, meta["help"])
            sub = (meta["flag"] or f"--{f.name}").lstrip("-")
            _add_section_flags(group, section, sub, dest + "__")
            continue
        _add_field_flag(parser, f, hint, f"--{f.name.replace('_', '-')}", dest)


def _add_section_flags(group: Any, cls: type, prefix: str, dest: str) -> None:
    for f, hint in config_fields(cls):
        if "help" in f.metadata:
            name = f"--{prefix}-{f.name.replace('_', '-')}"
            _add_field_flag(group, f, hint, name, dest + f.name)


def _add_field_flag(parser: Any, f: Any, hint: Any, name: str, dest: str) -> None:
    meta = f.metadata
    options = [meta["flag"] or name, *meta["aliases"]]
    kwargs: dict[str, Any] = {"dest": dest, "default": None, "help": meta["help"]}
    kwargs["metavar"] = meta["metavar"] or options[0].lstrip("-").replace("-", "_").upper()
    if _is_mapping(hint):
        kwargs["action"] = "append"
    else:
        kwargs["type"], nargs = _flag_type(hint)
        if nargs:
            kwargs["nargs"] = nargs
        if meta["choices"]:
            kwargs["choices"] = meta["choices"]
            del kwargs["metavar"]
    parser.add_argument(*options, **kwargs)


def config_from_args(args: argparse.Namespace, cls: type[C]) -> C:
    """The config of ``--config`` (if given) with every flag given on top; mapping flags
    (``--param``) add to the YAML's mapping.

    Raises:
        ConfigError: a bad file, flag or value; the required setting given nowhere.
    """
    data: dict[str, Any] = {}
    if getattr(args, "config", None):
        data = cls.from_yaml(args.config).to_dict()
    _merge_flags(vars(args), cls, data, _DEST)
    if cls.REQUIRED not in data:
        flag = "--" + cls.REQUIRED.replace("_", "-")
        raise ConfigError(f"name the {cls.REQUIRED} with {flag} or in --config")
    return cls.from_dict(data)


def _merge_flags(given: dict[str, Any], cls: type, data: dict[str, Any], dest: str) -> None:
    """Put every flag given for a field of ``cls`` into ``data`` (sections recursively)."""
    for f, hint in config_fields(cls):
        section = section_type(hint)
        if section is not None:
            sub = data.get(f.name)
            sub = dict(sub) if isinstance(sub, dict) else {}
            _merge_flags(given, section, sub, f"{dest}{f.name}__")
            if sub:
                data[f.name] = sub
            continue
        value = given.get(dest + f.name)
        if value is None:
            continue
        if _is_mapping(hint):
            base = data.get(f.name)
            data[f.name] = {**(base if isinstance(base, dict) else {}), **parse_params(value)}
        else:
            data[f.name] = value


DEVICE_HELP = (
    "where torch trains: cpu (default; runs repeat bit for bit), cuda or cuda:N (a GPU), auto "
    "(cuda when torch sees one)"
)


def device_name(text: str) -> str:
    """``--device``'s type: a device torch can use here, checked before any work starts
    (:func:`makeable.runtime.resolve_device`); kept as written."""
    if text == "cpu":  # torch is not imported for the default
        return text
    from makeable.runtime import resolve_device

    try:
        resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--device {text}: ")) from None
    return text


def add_device(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> argparse.Action:
    """``--device cpu|cuda|cuda:N|auto`` (``args.device``, default ``cpu``), checked by
    :func:`device_name`."""
    return parser.add_argument(
        "--device", type=device_name, default="cpu", metavar="DEVICE", help=DEVICE_HELP
    )
