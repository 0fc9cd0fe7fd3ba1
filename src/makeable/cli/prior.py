"""``makeable prior``: train, sample and evaluate SMILES language-model priors."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from makeable.cli.flags import add_device, add_no_progress, add_out, add_seed, add_threads


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "prior",
        help="train, sample and evaluate the SMILES LSTM prior of the language-model optimizers",
    )
    psub = p.add_subparsers(dest="prior_command", required=True, metavar="ACTION")

    t = psub.add_parser(
        "train",
        help="train a SMILES LSTM by maximum likelihood",
        description="Trains a SMILES LSTM with progress, validation NLL and checkpoints in "
        "--out. Re-running the same command on the same --out resumes from the latest "
        "checkpoint. The model with the best validation NLL is written to OUT/best.",
    )
    t.add_argument("--data", default="zinc250k", help="zinc250k, moses or a SMILES file")
    add_out(t, "training folder (created, or resumed)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument(
        "--lr-final-fraction",
        type=float,
        default=1.0,
        help="decay the learning rate linearly to lr × this at the last step (1: constant)",
    )
    t.add_argument("--embedding", type=int, default=128, help="token embedding size")
    t.add_argument("--hidden", type=int, default=512, help="LSTM units per layer")
    t.add_argument("--layers", type=int, default=3, help="stacked LSTM layers")
    t.add_argument("--dropout", type=float, default=0.2)
    t.add_argument("--max-len", type=int, default=100, help="most tokens per SMILES")
    t.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: no limit)")
    t.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    add_seed(t)
    add_threads(t)
    t.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the training steps")
    add_device(t)
    t.add_argument(
        "--notation",
        choices=("smiles", "safe"),
        default="smiles",
        help="train on SMILES, or on SAFE strings (fragments joined by ring-closure digits, in "
        "a random order: a model that completes molecules from some of their fragments)",
    )
    add_no_progress(t)
    t.set_defaults(func=run_train)

    s = psub.add_parser(
        "sample",
        help="sample SMILES from a prior (one a line; a SAFE prior's samples decoded, an invalid "
        "one as an empty line)",
    )
    s.add_argument("--prior", default="zinc250k_lstm", help="shipped prior name or model folder")
    s.add_argument("-n", type=int, default=10000, help="number of samples")
    s.add_argument("--max-len", type=int, default=100)
    add_seed(s)
    add_threads(s)
    add_out(s, "output file (one SMILES a line)")
    s.set_defaults(func=run_sample)

    e = psub.add_parser(
        "eval",
        help="validity, uniqueness and novelty (vs ZINC250k) of samples",
        description="Samples from --prior (or reads --smiles) and reports validity (RDKit "
        "parses), uniqueness (distinct canonical SMILES among the valid ones) and novelty "
        "(unique molecules absent from the canonical ZINC250k).",
    )
    e.add_argument("--prior", default="zinc250k_lstm", help="shipped prior name or model folder")
    e.add_argument("--smiles", help="evaluate this file of samples instead of sampling")
    e.add_argument("-n", type=int, default=10000)
    e.add_argument("--max-len", type=int, default=100)
    add_seed(e)
    add_threads(e)
    e.add_argument("--json", help="also write the numbers to this JSON file")
    e.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    from makeable.models.smiles_lm.train import TrainConfig, train_prior

    config = TrainConfig(
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_final_fraction=args.lr_final_fraction,
        embedding_dim=args.embedding,
        hidden_size=args.hidden,
        n_layers=args.layers,
        dropout=args.dropout,
        max_len=args.max_len,
        max_steps=args.max_steps,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        bf16=args.bf16,
        device=args.device,
        notation=args.notation,
    )
    best = train_prior(config, args.out, progress=not args.no_progress)
    print(f"best model: {best}")
    return 0


def _sample(args: argparse.Namespace) -> tuple[list[str], float]:
    import torch

    from makeable.models.smiles_lm.io import load_prior

    model = load_prior(args.prior)
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    smiles = model.sample(args.n, max_len=args.max_len, generator=generator)
    if model.notation == "safe":
        smiles = [m or "" for m in model.molecules(smiles)]
    return smiles, time.perf_counter() - start


def run_sample(args: argparse.Namespace) -> int:
    smiles, seconds = _sample(args)
    Path(args.out).write_text("".join(s + "\n" for s in smiles))
    print(f"{len(smiles)} samples in {seconds:.1f} s ({len(smiles) / seconds:.0f} molecules/s)")
    return 0


def sample_metrics(smiles: list[str]) -> dict[str, Any]:
    """Validity, uniqueness (of the valid) and novelty (of the unique) against ZINC250k."""
    from makeable.chem.molecule import canonical_smiles
    from makeable.data.molecules import zinc250k_novelty_reference

    canon = [canonical_smiles(s) for s in smiles]
    valid = [c for c in canon if c is not None]
    unique = set(valid)
    reference = zinc250k_novelty_reference()
    novel = [c for c in unique if c not in reference]
    n = max(1, len(smiles))
    return {
        "n": len(smiles),
        "validity": len(valid) / n,
        "uniqueness": len(unique) / max(1, len(valid)),
        "novelty": len(novel) / max(1, len(unique)),
        "n_valid": len(valid),
        "n_unique": len(unique),
        "n_novel": len(novel),
    }


def run_eval(args: argparse.Namespace) -> int:
    if args.smiles:
        smiles = [line.strip() for line in Path(args.smiles).read_text().splitlines()]
        seconds = float("nan")
    else:
        smiles, seconds = _sample(args)
    metrics = sample_metrics(smiles)
    metrics["prior"] = None if args.smiles else str(args.prior)
    metrics["sample_s"] = seconds
    metrics["molecules_per_s"] = len(smiles) / seconds if seconds == seconds else None
    print(json.dumps(metrics, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0
