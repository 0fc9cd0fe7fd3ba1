"""``makeable list [WHAT]``: the names of every registry (objectives, optimizers, stocks, filter
sets, single-step models, sequence tasks and optimizers, executors, template sets); without
WHAT, all of them."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any


def _objectives() -> list[str]:
    from makeable.objectives import objective_names

    return objective_names()


def _optimizers() -> list[str]:
    from makeable.optimizers import optimizer_names

    return optimizer_names()


def _stocks() -> list[str]:
    from makeable.data.stocks import STOCKS

    return STOCKS.names()


def _stocks_about() -> list[str]:
    from makeable.data.stocks import STOCKS, stock_about

    width = max(map(len, STOCKS.names()))
    return [f"{n:<{width}}  {stock_about(n)}".rstrip() for n in STOCKS.names()]


def _filters() -> list[str]:
    from makeable.chem.filters import filter_set_names

    return filter_set_names()


def _filters_about() -> list[str]:
    from makeable.chem.filters import filter_set_names, get_filter_set

    width = max(map(len, filter_set_names()))
    return [f"{n:<{width}}  {get_filter_set(n).about}" for n in filter_set_names()]


def _models() -> list[str]:
    from makeable.retro import MODELS  # imports torch: only when listed

    return MODELS.names()


def _seq_tasks() -> list[str]:
    from makeable.sequences.tasks import task_names

    return task_names()


def _seq_optimizers() -> list[str]:
    from makeable.sequences.optimizers import SEQ_OPTIMIZERS

    return SEQ_OPTIMIZERS.names()


def _executors() -> list[str]:
    from makeable.oracle.executor import EXECUTORS

    return EXECUTORS.names()


def _templates() -> list[str]:
    from makeable.chem.synthesis import TEMPLATE_SETS

    return sorted(TEMPLATE_SETS)


# WHAT → (where the names are used, the names, the lines of `makeable list WHAT`)
LISTS: dict[str, tuple[str, Callable[[], list[str]], Callable[[], list[str]]]] = {
    "objectives": ("design --objective", _objectives, _objectives),
    "optimizers": ("design --optimizer", _optimizers, _optimizers),
    "stocks": ("design --route-stock, retro plan --stock", _stocks, _stocks_about),
    "filters": ("structural alerts, design --filters", _filters, _filters_about),
    "models": ("single-step, design --route-model, retro plan --model", _models, _models),
    "seq-tasks": ("seq design --task", _seq_tasks, _seq_tasks),
    "seq-optimizers": (
        "seq design --optimizer",
        _seq_optimizers,
        _seq_optimizers,
    ),
    "executors": ("design --executor", _executors, _executors),
    "templates": (
        "reaction templates, --optimizer synthesis_ga --param templates=NAME",
        _templates,
        _templates,
    ),
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "list",
        help="list the registered names: objectives, optimizers, stocks, filter sets, models, ...",
        description="List the names each registry accepts (a name may be written with - or _: "
        "graph-ga is graph_ga). Without WHAT: every registry.",
    )
    p.add_argument(
        "what",
        nargs="?",
        type=lambda s: s.replace("_", "-"),
        choices=list(LISTS),
        help="one registry (default: all of them)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what is not None:
        print("\n".join(LISTS[args.what][2]()))
        return 0
    for what, (used, names, _lines) in LISTS.items():
        listed = names()
        print(f"{what} ({len(listed)}): {used}")
        print(
            textwrap.fill(", ".join(listed), width=96, initial_indent="  ", subsequent_indent="  ")
        )
        if what == "objectives":
            print(
                "  and: predictor:DIR[:TARGET] (a predictor from `makeable predict train`), "
                "module:function (your own code)"
            )
    return 0
