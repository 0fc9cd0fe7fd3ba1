"""``makeable list``: the registered objectives, optimizers, executors, filter sets and
stocks."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "list", help="list registered objectives, optimizers, executors, filter sets or stocks"
    )
    p.add_argument("what", choices=["objectives", "optimizers", "executors", "filters", "stocks"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "objectives":
        from makeable.objectives import objective_names

        names = objective_names()
    elif args.what == "filters":
        from makeable.chem.filters import filter_set_names, get_filter_set

        width = max(map(len, filter_set_names()))
        names = [f"{n:<{width}}  {get_filter_set(n).about}" for n in filter_set_names()]
    elif args.what == "stocks":
        from makeable.data.stocks import STOCKS, stock_about

        width = max(map(len, STOCKS.names()))
        names = [f"{n:<{width}}  {stock_about(n)}".rstrip() for n in STOCKS.names()]
    elif args.what == "optimizers":
        from makeable.optimizers import optimizer_names

        names = optimizer_names()
    else:
        from makeable.oracle.executor import EXECUTORS

        names = EXECUTORS.names()
    print("\n".join(names))
    return 0
