"""``makeable list``: the registered objectives, optimizers and executors."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("list", help="list registered objectives, optimizers or executors")
    p.add_argument("what", choices=["objectives", "optimizers", "executors"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "objectives":
        from makeable.objectives import objective_names

        names = objective_names()
    elif args.what == "optimizers":
        from makeable.optimizers import optimizer_names

        names = optimizer_names()
    else:
        from makeable.oracle.executor import EXECUTORS

        names = EXECUTORS.names()
    print("\n".join(names))
    return 0
