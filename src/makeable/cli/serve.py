"""``makeable serve DIR``: the run browser, a local web app over the runs and benchmarks found
under DIR (read-only; bound to 127.0.0.1 unless --host says otherwise)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

INSTALL_HINT = 'the run browser needs FastAPI and uvicorn: pip install "makeable[serve]"'


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="browse runs and benchmarks in a local web app",
        description="Start a local web app listing the runs and benchmarks found under DIR: "
        "for a design run its score-against-calls curve, its best molecules (sortable, with "
        "their makeable verdicts) and each molecule's properties and route tree; for a "
        "planning benchmark the solved and unsolved targets with their routes; for a sequence "
        "run its rounds; and several runs' curves on one plot. It only reads DIR, and serves "
        "everything itself (no data leaves the machine).",
    )
    p.add_argument("dir", metavar="DIR", help="folder holding runs (searched 5 levels deep)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to "
        "the network)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise FileNotFoundError(f"{args.dir} {what}: give the folder holding the runs")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port}: give a port from 1 to 65535")
    try:
        import uvicorn

        from makeable.serve import create_app
    except ImportError as exc:
        if exc.name not in ("fastapi", "uvicorn", "starlette", "pydantic"):
            raise  # a bug: its traceback
        print(f"makeable: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    app = create_app(root, label=args.dir)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"makeable: serving the runs under {args.dir} at http://{shown}:{args.port}/")
    print("(read-only; press Ctrl+C to stop)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
