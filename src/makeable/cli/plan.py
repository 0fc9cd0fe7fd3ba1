"""``makeable retro plan`` (multi-step synthesis planning), ``makeable retro improve``
(self-improved planning) and ``makeable bench planning``.

Wired by :mod:`makeable.cli.retro` and :mod:`makeable.cli.bench`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from makeable.cli.flags import (
    add_executor,
    add_no_progress,
    add_out,
    add_seed,
    add_threads,
    at_least_one,
    executor_args,
)
from makeable.data.stocks import DEFAULT_STOCK
from makeable.synthesis import PLANNING_MODEL

# = makeable.retro.planning.search.ALGORITHMS (repeated: no torch import here)
ALGORITHMS = ("retro_star", "mcts")


def _add_search_flags(p: argparse.ArgumentParser, top_k: int) -> None:
    p.add_argument(
        "--stock",
        default=DEFAULT_STOCK,
        help="where routes may end: a named stock (building_blocks, shipped, the default; "
        "paroutes_n1, paroutes_n1_inchikey; zinc_instock, a Bloom filter whose leaves stay "
        "unverified), a file (SMILES/InChIKeys a line, or CSV with smiles and price columns), "
        "or several joined by + (building_blocks+zinc_instock)",
    )
    p.add_argument(
        "--model",
        default=PLANNING_MODEL,
        help=f"registered name or saved model folder (default {PLANNING_MODEL}, shipped)",
    )
    p.add_argument(
        "--model-param",
        action="append",
        metavar="KEY=VALUE",
        help="override a saved inference setting of the model (e.g. max_templates=50)",
    )
    p.add_argument(
        "--algorithm", choices=ALGORITHMS, default="retro_star", help="search (default retro_star)"
    )
    p.add_argument(
        "--budget",
        "--max-calls",
        dest="max_calls",
        type=at_least_one,
        default=500,
        metavar="N",
        help="single-step model calls per target (500)",
    )
    p.add_argument("--time-limit", type=float, help="seconds per target (default: none)")
    p.add_argument("--top-k", type=int, default=top_k, help=f"routes kept per target ({top_k})")
    p.add_argument("--expansion-k", type=int, default=50, help="reactant sets per expansion (50)")
    p.add_argument(
        "--max-depth", type=int, help="expansion limit in reactions (default: syntheseus's)"
    )
    add_seed(p, draws="the search's random choices")
    p.add_argument(
        "--value-model",
        help="Retro* value function: a folder made by `makeable retro train-value` "
        "(default: none, Retro*-0)",
    )
    p.add_argument(
        "--reaction-filter",
        metavar="FORWARD",
        help="keep only the proposed steps from which this forward reaction model (name or "
        "folder, e.g. from `makeable retro train template_mlp_forward`) gives back the product "
        "among its 5 best outcomes (default: no filter)",
    )


def add_retro_parser(rsub: Any) -> None:
    """Add ``makeable retro plan`` to the ``retro`` subcommand's subparsers."""
    p = rsub.add_parser(
        "plan",
        help="multi-step synthesis planning: routes from a target down to a stock",
        description="Search for synthesis routes of SMILES with Retro* or MCTS (syntheseus) "
        "and a single-step model, under a budget of model calls. Prints a summary and the best "
        "route; --json prints the routes in PaRoutes format; --out writes routes.json, "
        "result.json, route.html, one SVG and PNG picture per route, config.json and "
        "versions.json.",
    )
    p.add_argument("smiles", help="target SMILES")
    _add_search_flags(p, top_k=5)
    p.add_argument(
        "--stop-on-first-solution",
        action="store_true",
        help="end the search at the first solved route",
    )
    p.add_argument(
        "--expand-stock-target",
        action="store_true",
        help="search even if the target is in stock (else it is solved by buying it)",
    )
    p.add_argument("--json", action="store_true", help="print the result and routes as JSON")
    add_out(
        p,
        "folder for routes.json, result.json, route.html, route_N.svg|png, config.json, "
        "versions.json (default: none, print only)",
        required=False,
    )
    add_no_progress(p)
    add_threads(p)
    p.set_defaults(func=run_plan)


def add_improve_parser(rsub: Any) -> None:
    """Add ``makeable retro improve`` to the ``retro`` subcommand's subparsers."""
    p = rsub.add_parser(
        "improve",
        help="self-improved planning: fine-tune a model on the routes its search solves",
        description="Self-improved retrosynthetic planning (Kim et al., ICML 2021): plan the "
        "training targets, fine-tune the model on the reactions of the solved routes, repeat "
        "--iterations times. OUT holds the final model (--model OUT), improve_log.jsonl, "
        "summary.md and iterations/N/ (plans, reactions, model); re-running resumes. Keep the "
        "training targets disjoint from a benchmark sample: --exclude BENCH/targets.txt "
        "(written by `makeable bench planning --sample 1000 --sample-seed 0 --out BENCH`). "
        "--seed also seeds fine-tuning and the replay draws.",
    )
    p.add_argument(
        "--targets", required=True, help="training targets: named set (paroutes_n1) or SMILES file"
    )
    p.add_argument(
        "--exclude",
        action="append",
        metavar="FILE",
        help="drop the targets listed in FILE (e.g. a benchmark's targets.txt); repeatable",
    )
    _add_search_flags(p, top_k=1)
    p.add_argument(
        "--full-budget",
        action="store_true",
        help="keep searching after the first solution (default: stop there)",
    )
    p.add_argument(
        "--sample", type=at_least_one, help="a fixed sample of N targets (after --exclude)"
    )
    p.add_argument("--sample-seed", type=int, default=0, help="seed of --sample (default 0)")
    p.add_argument("--limit", type=at_least_one, help="first N targets only (after --sample)")
    p.add_argument("--iterations", type=int, default=1, help="plan/fine-tune rounds (default 1)")
    p.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs per round (3)")
    p.add_argument("--lr", type=float, default=1e-4, help="fine-tuning learning rate (1e-4)")
    p.add_argument("--batch-size", type=int, help="fine-tuning batch size (default: model's)")
    p.add_argument(
        "--all-routes",
        action="store_true",
        help="learn from every solved route returned, not only the best one (useful with "
        "--top-k N --full-budget)",
    )
    p.add_argument(
        "--min-probability",
        type=float,
        default=0.0,
        help="learn only from route steps the model proposed with at least this probability "
        "(the paper's code: 0.8; default 0: every step)",
    )
    p.add_argument(
        "--augment-forward",
        metavar="MODEL",
        help="a forward reaction model (`makeable retro train template_mlp_forward`, or its "
        "folder): add the paper's forward-model augmentations of the route reactions",
    )
    p.add_argument(
        "--replay-fraction",
        type=float,
        default=0.0,
        help="share of USPTO-50k train reactions mixed into each fine-tuning set, in [0, 1) "
        "(needs $MAKEABLE_DATA; default 0)",
    )
    p.add_argument("--jobs", type=int, default=1, help="planning workers (default 1)")
    add_executor(p, "targets")
    add_no_progress(p)
    add_threads(p)
    add_out(p, "output folder (the improved model; resumed if it exists)")
    p.set_defaults(func=run_improve)


def add_train_value_parser(rsub: Any) -> None:
    """Add ``makeable retro train-value`` to the ``retro`` subcommand's subparsers."""
    p = rsub.add_parser(
        "train-value",
        help="learn a Retro* value function from the planner's own searches",
        description="Learn Retro*'s value function (reactions from a molecule to the stock) "
        "from planning records: the plans.jsonl files of `makeable retro improve` runs. "
        "Molecules of solved routes give their sub-route's reaction count; unsolved targets "
        "a lower bound. Use the result with --value-model.",
    )
    p.add_argument(
        "plans", nargs="+", help="plans.jsonl files or `retro improve` folders (all their plans)"
    )
    p.add_argument("--epochs", type=int, default=40, help="training epochs (40)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (1e-3)")
    add_seed(p, draws="the split and the training")
    p.add_argument(
        "--unsolved-quantile",
        type=float,
        default=0.9,
        help="lower bound for unsolved targets: this quantile of the solved targets' "
        "reaction counts (0.9)",
    )
    add_out(p, "output folder (config.json, model.safetensors)")
    add_threads(p)
    p.set_defaults(func=run_train_value)


def run_train_value(args: argparse.Namespace) -> int:
    from makeable.retro.planning.value import ValueModel, read_plans, value_examples

    records = read_plans(args.plans)
    examples = value_examples(records, args.unsolved_quantile)
    model = ValueModel()
    record = model.fit(examples, epochs=args.epochs, lr=args.lr, seed=args.seed)
    record.update(plans=[str(p) for p in args.plans], n_records=len(records))
    model.save(args.out, record)
    val = record.get("val", {})
    print(
        f"value model: {len(examples)} molecules ({record['n_lower_bounds']} lower bounds) "
        f"from {len(records)} searches; step cost {examples.step_cost:.3f}; held-out targets: "
        + ", ".join(f"{k} {v:.3f}" for k, v in val.items())
    )
    print(f"wrote {args.out}")
    return 0


def add_bench_parser(bench_sub: Any) -> None:
    """Add ``makeable bench planning`` to the ``bench`` subcommand's subparsers."""
    p = bench_sub.add_parser(
        "planning",
        help="multi-step planning: solved rate of a target set under a call budget",
        description="Plan every target and write OUT/results.csv (target, solved, calls, "
        "seconds, route_length, ...), OUT/routes.jsonl, OUT/summary.md and OUT/config.json. "
        "Re-running on the same OUT resumes (planned targets are skipped). --sample N "
        "--sample-seed S picks a fixed subset (the N smallest BLAKE2b hashes of 'S:smiles'), "
        "written to OUT/targets.txt.",
    )
    p.add_argument(
        "--targets", required=True, help="named target set (paroutes_n1) or a SMILES file"
    )
    _add_search_flags(p, top_k=1)
    p.add_argument(
        "--full-budget",
        action="store_true",
        help="keep searching after the first solution (default: stop there, as Retro* does)",
    )
    p.add_argument("--sample", type=at_least_one, help="plan a fixed sample of N targets")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of --sample (default 0)")
    p.add_argument("--limit", type=at_least_one, help="first N targets only (after --sample)")
    p.add_argument(
        "--reference-routes",
        metavar="FILE",
        help="PaRoutes reference routes (a JSON list, one route per target, e.g. n1-routes.json): "
        "adds route_rank to results.csv and top-1/5/10 route accuracy to summary.md (a predicted "
        "route matches when it is the same reaction tree; keep routes with --top-k 10 "
        "--full-budget)",
    )
    p.add_argument(
        "--round-trip",
        metavar="FORWARD",
        help="a forward reaction model (name or folder): adds the round-trip validity of each "
        "solved target's best route (its steps whose product the model gives back among its 5 "
        "best outcomes) and the mean to summary.md",
    )
    p.add_argument("--jobs", type=int, default=1, help="planning workers (default 1)")
    add_executor(p, "targets")
    add_no_progress(p)
    add_threads(p)
    add_out(p, "benchmark folder (created, or resumed): results.csv, routes.jsonl, summary.md")
    p.set_defaults(func=run_bench)


def _settings(args: argparse.Namespace, stop: bool) -> Any:
    from makeable.retro.planning.search import SearchSettings

    return SearchSettings(
        expand_stock_target=bool(getattr(args, "expand_stock_target", False)),
        algorithm=args.algorithm,
        max_calls=args.max_calls,
        time_limit_s=args.time_limit,
        top_k=args.top_k,
        expansion_k=args.expansion_k,
        max_depth=args.max_depth,
        stop_on_first_solution=stop,
        seed=args.seed,
        value_model=_value_model(args),
        reaction_filter=_reaction_filter(args),
    )


def _value_model(args: argparse.Namespace) -> str | None:
    """The --value-model folder, checked before any search starts."""
    if not getattr(args, "value_model", None):
        return None
    from makeable.retro.planning.value import load_value_model

    load_value_model(str(args.value_model))  # FileNotFoundError / ValueError: clear message
    return str(args.value_model)


def _reaction_filter(args: argparse.Namespace) -> str | None:
    """The --reaction-filter model, loaded (and so checked) before any search starts."""
    if not getattr(args, "reaction_filter", None):
        return None
    from makeable.retro.planning.reaction_filter import load_reaction_filter

    load_reaction_filter(str(args.reaction_filter))  # FileNotFoundError / ValueError: clear
    return str(args.reaction_filter)


def run_plan(args: argparse.Namespace) -> int:
    from makeable.cli.paths import output_folder
    from makeable.data.stocks import load_stock
    from makeable.retro.planning.search import canonical_target, plan
    from makeable.retro.single_step.base import load_model
    from makeable.run_folder import RunFolder

    canonical_target(args.smiles)  # fail fast, before the model and stock load
    settings = _settings(args, args.stop_on_first_solution)
    stock = load_stock(args.stock)  # a missing stock file fails before the model loads
    model = load_model(args.model, _model_params(args))
    out = output_folder(args.out, "--out") if args.out else None  # before the search
    result = plan(args.smiles, model, stock, progress=not args.no_progress, **settings.to_dict())
    if out is not None:
        from makeable.retro.planning.route_report import route_png, route_svg, write_route_html
        from makeable.retro.planning.routes import write_routes

        write_routes(out / "routes.json", list(result.routes))
        config = {
            "target": args.smiles,
            "model": str(args.model),
            "model_params": model.params,
            "stock": str(args.stock),
            "stock_size": len(stock),
            "search": settings.to_dict(),
        }
        RunFolder(out, lock=False).record(
            config, config_name="config.json", extra_versions=("syntheseus", "rdchiral")
        )
        summary = {k: v for k, v in result.to_dict().items() if k not in ("routes",)}
        (out / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
        info = {"model": args.model, "stock": stock.describe()}
        write_route_html(result, out / "route.html", info)
        for rank, route in enumerate(result.routes, start=1):  # pictures for slides and papers
            (out / f"route_{rank}.svg").write_text(route_svg(route))
            route_png(route, out / f"route_{rank}.png")
        print(
            f"wrote {out}/routes.json, result.json, route.html, route_*.svg|png (one per "
            "route), config.json, versions.json",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    status = result.verdict
    if result.best is not None and result.best.n_reactions == 0 and result.solved:
        status += " (the target is in stock; --expand-stock-target searches anyway)"
    print(
        f"{result.canonical}: {status} ({result.algorithm}, {result.calls} model calls, "
        f"{result.seconds:.1f} s, {len(result.routes)} route(s))"
    )
    if result.unverified:
        print(
            "unverified: every route found needs a starting material that only a Bloom filter "
            "accepts; such a filter calls some molecules it lacks purchasable"
        )
    if result.first_solution_calls is not None:
        print(
            f"first solution after {result.first_solution_calls} calls "
            f"({result.first_solution_s or 0:.1f} s)"
        )
    best = result.best
    if best is not None:
        from makeable.retro.planning.route_report import route_verdict

        print(
            f"\nbest route: {best.n_reactions} reaction(s), length {best.depth}, "
            f"score {best.score:.4g}, {route_verdict(best)}\n"
        )
        print(best.to_text())
    return 0


def _model_params(args: argparse.Namespace) -> dict[str, Any]:
    from makeable.cli.params import parse_params

    return parse_params(getattr(args, "model_param", None))


def _model(args: argparse.Namespace) -> Any:
    """``--model`` as given (a name or folder), or loaded when ``--model-param`` overrides it."""
    params = _model_params(args)
    if not params:
        return args.model
    from makeable.retro.single_step.base import load_model

    return load_model(args.model, params)


def run_bench(args: argparse.Namespace) -> int:
    from makeable.bench.planning import load_targets, run_planning_bench, sample_targets

    targets = load_targets(args.targets)
    source = str(args.targets)
    if args.sample is not None:
        targets = sample_targets(targets, args.sample, args.sample_seed)
        source += f" (sample {args.sample}, seed {args.sample_seed})"
    if args.limit is not None:
        targets = targets[: args.limit]
        source += f" (first {args.limit})"
    settings = _settings(args, not args.full_budget)
    references = None
    if args.reference_routes:  # read and checked before anything is planned
        from makeable.retro.planning.route_quality import read_reference_routes

        references = read_reference_routes(args.reference_routes)
    if args.round_trip:
        from makeable.retro.planning.reaction_filter import load_reaction_filter

        load_reaction_filter(str(args.round_trip))  # FileNotFoundError / ValueError: clear
    out = Path(args.out)
    run_planning_bench(
        targets,
        args.model,
        args.stock,
        out,
        settings,
        jobs=args.jobs,
        **executor_args(args),
        progress=not args.no_progress,
        source=source,
        model_params=_model_params(args),
        references=references,
        round_trip=args.round_trip,
    )
    print((out / "summary.md").read_text())
    return 0


def run_improve(args: argparse.Namespace) -> int:
    from makeable.bench.planning import load_targets, sample_targets
    from makeable.retro.planning.improve import drop_targets, improve
    from makeable.retro.single_step.base import FineTuningNotSupportedError

    targets = load_targets(args.targets)
    for path in args.exclude or ():
        before = len(targets)
        targets = drop_targets(targets, load_targets(path))
        print(f"--exclude {path}: dropped {before - len(targets)} target(s)", file=sys.stderr)
    if args.sample is not None:
        targets = sample_targets(targets, args.sample, args.sample_seed)
    if args.limit is not None:
        targets = targets[: args.limit]
    replay: Any = ()
    if args.replay_fraction:
        from makeable.retro.single_step.data import load_uspto50k

        replay = load_uspto50k("train")
    try:
        improve(
            _model(args),
            args.stock,
            targets,
            _settings(args, not args.full_budget),
            out_dir=args.out,
            iterations=args.iterations,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            jobs=args.jobs,
            **executor_args(args),
            routes="all" if args.all_routes else "best",
            min_probability=args.min_probability,
            forward=args.augment_forward,
            replay=replay,
            replay_fraction=args.replay_fraction,
            seed=args.seed,
            progress=not args.no_progress,
        )
    except FineTuningNotSupportedError as exc:
        print(f"makeable: error: {exc}", file=sys.stderr)
        return 2
    print((Path(args.out) / "summary.md").read_text())
    return 0
