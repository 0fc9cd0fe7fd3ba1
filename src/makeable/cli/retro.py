"""``makeable retro``: train single-step retrosynthesis models and predict reactants.

Also defines ``makeable bench uspto50k`` (wired by :mod:`makeable.cli.bench`); ``makeable
retro plan`` (multi-step planning) lives in :mod:`makeable.cli.plan`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from makeable.cli.flags import add_device, add_no_progress, add_out, add_threads, at_least_one
from makeable.cli.params import parse_params
from makeable.cli.paths import output_file
from makeable.cli.plan import add_improve_parser, add_train_value_parser
from makeable.cli.plan import add_retro_parser as add_plan_parser


def _model_names() -> list[str]:
    from makeable.retro import MODELS  # imports torch: only when a retro command runs

    return MODELS.names()


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "retro",
        help="single-step retrosynthesis: train a model, predict reactants",
        description="Single-step retrosynthesis models trained on USPTO-50k "
        "($MAKEABLE_DATA/reactions/uspto50k).",
    )
    rsub = p.add_subparsers(dest="retro", required=True, metavar="ACTION")

    train = rsub.add_parser(
        "train",
        help="train a model on the USPTO-50k train split",
        description="Train MODEL on the 40,008 GLN training reactions (validation: the GLN "
        "val split) and save it to --out (default: the user cache, where --model NAME finds "
        "it).",
    )
    train.add_argument("model", help="registered model (`makeable retro models` lists them)")
    add_out(train, "folder for the trained model (default: <cache>/retro/MODEL)", required=False)
    train.add_argument("--param", action="append", metavar="KEY=VALUE", help="model parameter")
    train.add_argument("--limit", type=int, help="train on the first N reactions only (tests)")
    train.add_argument(
        "--corpus",
        metavar="FOLDER",
        help="train on a corpus built by `makeable retro corpus` instead of the USPTO-50k train "
        "split (validation stays the USPTO-50k val split)",
    )
    add_device(train)
    add_no_progress(train)
    add_threads(train)
    train.set_defaults(func=run_train)

    corpus = rsub.add_parser(
        "corpus",
        help="build a leakage-filtered training corpus (USPTO-50k + USPTO-500-MT)",
        description="Collect the USPTO-50k train reactions and USPTO-500-MT "
        "($MAKEABLE_DATA/reactions/uspto500mt.csv.gz), drop every reaction whose product is a "
        "PaRoutes n1/n5 route molecule or a USPTO-50k val/test product, atom-map the rest with "
        "RXNMapper (extra: makeable[mapping]) in resumable chunks and extract rdchiral "
        "templates. Rerun the same command to resume.",
    )
    add_out(corpus, "corpus folder (resumed if it exists)")
    corpus.add_argument(
        "--sources",
        nargs="+",
        default=["uspto50k", "uspto500mt"],
        help="reaction sources (default: uspto50k uspto500mt)",
    )
    corpus.add_argument(
        "--jobs", type=at_least_one, default=1, help="mapping processes (default 1)"
    )
    corpus.add_argument(
        "--chunk-size",
        type=at_least_one,
        default=500,
        help="reactions per resumable chunk (default 500)",
    )
    corpus.add_argument(
        "--remap-uspto50k",
        action="store_true",
        help="atom-map the USPTO-50k train and val reactions too, so that every template comes "
        "from one mapper (default: USPTO-50k keeps the MHN file's templates)",
    )
    corpus.add_argument("--limit", type=int, help="read the first N rows of each source (tests)")
    add_no_progress(corpus)
    corpus.set_defaults(func=run_corpus)

    ens = rsub.add_parser(
        "ensemble",
        help="combine single-step models into one (proposals re-scored by all)",
        description="Write a model folder that asks each member model for its proposals and "
        "scores every proposed reactant set by the weighted geometric mean of the members' "
        "scores (a member that did not propose it counts --floor). Use the folder as --model.",
    )
    ens.add_argument("members", nargs="+", help="member models: registered names or folders")
    ens.add_argument("--weights", nargs="+", type=float, help="one per member (default 1 each)")
    ens.add_argument("--floor", type=float, default=1e-4, help="score of a set not proposed")
    add_out(ens, "model folder to write")
    ens.set_defaults(func=run_ensemble)

    classes = rsub.add_parser(
        "template-classes",
        help="record the templates each USPTO reaction class uses (for --class-known)",
        description="Read USPTO-50k's training split (with its reaction classes 1-10), find the "
        "template the model learns from each reaction, and write the model again with "
        "template_classes.json.gz: told a product's class, the model then applies only the "
        "templates seen with that class (`bench uspto50k --class-known`). For the template "
        "models (template_mlp, template_mlp_uspto500mt, local_gnn and folders of them).",
    )
    classes.add_argument("model", help="a template model: registered name or saved folder")
    classes.add_argument("--jobs", type=at_least_one, default=1, help="worker processes")
    add_out(classes, "model folder to write (the model with its class map)")
    add_no_progress(classes)
    classes.set_defaults(func=run_template_classes)

    pred = rsub.add_parser(
        "predict",
        help="ranked reactant sets for product SMILES",
        description="Print up to K ranked reactant sets with scores for each product; "
        "--html writes a page with pictures.",
    )
    pred.add_argument("smiles", nargs="+", help="product SMILES")
    pred.add_argument("--model", required=True, help="registered name or saved model folder")
    pred.add_argument("-k", type=int, default=10, help="reactant sets per product (default 10)")
    pred.add_argument(
        "--reaction-class",
        help="only proposals of this USPTO reaction class: 1-10 or alkylation, acylation, cc, "
        "heterocycle, protection, deprotection, reduction, oxidation, fgi, fga (models with "
        "classes: the shipped template models, retcl)",
    )
    pred.add_argument(
        "--stock",
        help="named stock or file to prepare the model for (RetCL adds its molecules to the "
        "candidates it chooses from, as in planning)",
    )
    pred.add_argument(
        "--round-trip",
        metavar="FORWARD",
        help="check each proposal with this forward model (name or folder): does it give back "
        "the product? Marks passing sets with ✓ and prints the share",
    )
    pred.add_argument(
        "--round-trip-k", type=int, default=5, help="forward outcomes looked at (default 5)"
    )
    pred.add_argument(
        "--round-trip-templates",
        type=int,
        default=10,
        help="templates the forward Template-MLP applies per set (default 10)",
    )
    pred.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pred.add_argument("--html", help="also write an HTML report with pictures to this file")
    pred.set_defaults(func=run_predict)

    add_plan_parser(rsub)
    add_improve_parser(rsub)
    add_train_value_parser(rsub)

    models = rsub.add_parser("models", help="list the registered single-step models")
    models.set_defaults(func=lambda args: print("\n".join(_model_names())) or 0)


def add_bench_parser(bench_sub: Any) -> None:
    """Add ``makeable bench uspto50k`` to the ``bench`` subcommand's subparsers."""
    p = bench_sub.add_parser(
        "uspto50k",
        help="USPTO-50k single-step retrosynthesis: top-k exact match on the test split",
        description="Predict 50 reactant sets for each of the 5,007 test products and write "
        "OUT/results.csv (top-1/3/5/10/50 exact match), OUT/predictions.csv, OUT/summary.md.",
    )
    p.add_argument("--model", required=True, help="registered name or saved model folder")
    p.add_argument("--limit", type=int, help="first N test reactions only (quick check)")
    p.add_argument("--class-known", action="store_true", help="give the reaction class")
    p.add_argument("--batch-size", type=int, help="products per predict call")
    add_threads(p)
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    add_no_progress(p)
    add_out(p, "benchmark folder: results.csv, predictions.csv, model.json, summary.md")
    p.set_defaults(func=run_bench)


def run_train(args: argparse.Namespace) -> int:
    import logging

    from makeable.retro import MODELS
    from makeable.retro.single_step.base import default_model_dir
    from makeable.retro.single_step.corpus import corpus_metadata, load_corpus, load_corpus_val
    from makeable.retro.single_step.data import attach_mhn_templates, load_uspto50k, reactant_pool
    from makeable.retro.single_step.template_mlp import TemplateMLP
    from makeable.run_folder import RunFolder

    log = logging.getLogger("makeable.retro")
    model = MODELS.build(args.model, **parse_params(args.param))
    args.model = MODELS.canonical(args.model)  # template-mlp → template_mlp: its default folder
    if model.requires_corpus and not args.corpus:
        raise ValueError(
            f"{args.model} trains on a corpus: build one with `makeable retro corpus --out "
            f"CORPUS`, then run `makeable retro train {args.model} --corpus CORPUS`"
        )
    if args.corpus:
        train = load_corpus(args.corpus, args.limit)
    else:
        train = load_uspto50k("train", args.limit)
    corpus_val = load_corpus_val(args.corpus) if args.corpus else None
    if corpus_val is not None:  # templates from the corpus's own mapper, as in training
        val = corpus_val[: args.limit]
    else:
        val = load_uspto50k("val", args.limit)
        if isinstance(model, TemplateMLP):  # retro and forward
            val = attach_mhn_templates(val)  # template accuracy is the model-selection signal
    extra: dict[str, Any] = {}
    if args.model == "retcl" and args.limit is None:
        extra["candidates"] = reactant_pool()  # the paper's USPTO-50k candidate setting
    out = Path(args.out) if args.out else default_model_dir(args.model)
    if model.resumable_training:  # a checkpoint per epoch: rerun the command to resume
        extra["checkpoint_dir"] = out
        extra["device"] = args.device
    elif args.device != "cpu":
        raise ValueError(f"--device {args.device}: {args.model} trains on the CPU only")
    log.info("training %s on %d reactions (val %d)", args.model, len(train), len(val))
    with RunFolder(out) as folder:  # one process per model folder; versions.json beside it
        folder.record()
        model.fit(train, val, progress=not args.no_progress, **extra)
        if args.corpus:  # the training set, its counts and exclusions travel with the weights
            model.training["corpus"] = corpus_metadata(args.corpus)
        model.save(out)
        shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the model is whole: not needed
    print(f"saved {args.model} to {out} ({model.training.get('train_time_s', '?')} s training)")
    return 0


def run_ensemble(args: argparse.Namespace) -> int:
    from makeable.retro.single_step.base import load_model
    from makeable.retro.single_step.ensemble import EnsembleModel

    members = []
    for member in args.members:  # a folder is recorded absolute: the ensemble may move
        path = Path(member)
        members.append(str(path.resolve()) if path.is_dir() else member)
        load_model(member)  # fails here, with its own message, if it cannot load
    model = EnsembleModel(members, args.weights, args.floor)
    model.save(args.out)
    print(f"saved an ensemble of {', '.join(args.members)} to {args.out}")
    return 0


def run_template_classes(args: argparse.Namespace) -> int:
    from makeable.retro.single_step.base import load_model
    from makeable.retro.single_step.data import load_uspto50k
    from makeable.retro.single_step.template_mlp import TemplateNetFiles

    model = load_model(args.model, direction=None)
    if not isinstance(model, TemplateNetFiles):
        raise ValueError(f"{model.name} is not a template model: it has no templates to class")
    counts = model.learn_classes(load_uspto50k("train"), args.jobs, not args.no_progress)
    model.save(args.out)
    print(
        f"saved {model.name} with its class map to {args.out}: {counts['matched']:,} of "
        f"{counts['reactions']:,} USPTO-50k training reactions use one of its templates; "
        f"{counts['templates']:,} of {len(model.templates):,} templates have a class"
    )
    return 0


def run_corpus(args: argparse.Namespace) -> int:
    from makeable.retro.single_step.corpus import build_corpus

    meta = build_corpus(
        args.out,
        sources=args.sources,
        jobs=args.jobs,
        chunk_size=args.chunk_size,
        limit=args.limit,
        progress=not args.no_progress,
        remap=args.remap_uspto50k,
    )
    print(
        f"{args.out}: {meta['n_reactions']:,} reactions, {meta['n_templates']:,} templates "
        f"({meta['n_templates_seen_twice']:,} seen at least twice); counts in corpus.json"
    )
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from makeable.retro.single_step.base import load_model
    from makeable.retro.single_step.report import write_html

    html = output_file(args.html, "--html") if args.html else None  # before the predictions
    classes = None
    if args.reaction_class:  # checked before the model loads
        from makeable.retro.single_step.data import reaction_class

        classes = [reaction_class(args.reaction_class)] * len(args.smiles)
    model = load_model(args.model)
    if args.stock:
        from makeable.data.stocks import load_stock

        model.prepare_for_stock(load_stock(args.stock))
    preds = model.predict(args.smiles, k=args.k, classes=classes)
    passed: list[list[bool]] = [[] for _ in preds]
    if args.round_trip:
        from makeable.retro.single_step.metrics import round_trip

        overrides = {"max_templates": args.round_trip_templates}
        forward = load_model(args.round_trip, overrides, direction="forward")
        passed = [
            round_trip(
                forward, p.product, [rs.reactants for rs in p.reactant_sets], args.round_trip_k
            )
            for p in preds
        ]
    if html is not None:
        path = write_html(preds, html, model.name)
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        records = [p.to_dict() for p in preds]
        if args.round_trip:
            for record, ok in zip(records, passed, strict=True):
                for entry, flag in zip(record["predictions"], ok, strict=True):
                    entry["round_trip"] = flag
        print(json.dumps(records, indent=2))
    else:
        for pred, ok in zip(preds, passed, strict=True):
            print(f"product: {pred.product}")
            if pred.error:
                print(f"  error: {pred.error}")
            marks = ["✓ " if flag else "  " for flag in ok] or [""] * len(pred.reactant_sets)
            for i, (rs, mark) in enumerate(zip(pred.reactant_sets, marks, strict=True), start=1):
                print(f"  {i:>3}  {mark}{rs.score:10.4g}  {rs.smiles}")
    if args.round_trip:
        n_pass = sum(sum(ok) for ok in passed)
        n_all = sum(len(ok) for ok in passed)
        print(
            f"round trip ({args.round_trip}, top {args.round_trip_k}): {n_pass} / {n_all} "
            f"proposals give back their product; products with at least one: "
            f"{sum(any(ok) for ok in passed)} / {len(preds)}"
        )
    invalid = [f"{_shorten(p.product)} ({p.error})" for p in preds if not p.valid]
    if invalid:
        print(f"makeable: error: invalid product SMILES: {', '.join(invalid)}", file=sys.stderr)
        return 2
    return 0


def _shorten(smiles: str, n: int = 60) -> str:
    """``smiles`` cut to ``n`` characters for a message (a product may be huge)."""
    return smiles if len(smiles) <= n else f"{smiles[:n]}... ({len(smiles)} characters)"


def run_bench(args: argparse.Namespace) -> int:
    from makeable.bench.uspto50k import run_uspto50k

    run_uspto50k(  # --threads: applied by makeable.cli.main
        args.model,
        Path(args.out),
        limit=args.limit,
        class_known=args.class_known,
        batch_size=args.batch_size,
        jobs=args.jobs,
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    return 0
