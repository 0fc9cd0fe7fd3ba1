"""``makeable vae``: train a SMILES VAE, sample from it, encode molecules, decode latents."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from makeable.cli.flags import (
    add_no_progress,
    add_out,
    add_seed,
    add_threads,
    at_least_one,
    at_least_zero,
)
from makeable.cli.paths import check_output_folder, output_file

MODEL_HELP = (
    "model folder (a `vae train` --out); default: the VAE shipped with makeable, if one ships "
    "(none does yet)"
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "vae",
        help="SMILES variational autoencoder with property heads (Gómez-Bombarelli et al. 2018)",
        description="A SMILES VAE: a bidirectional GRU encoder to a Gaussian latent space (56 "
        "dimensions by default), a GRU decoder conditioned on the latent vector, and optional "
        "heads predicting properties from the latent mean.",
    )
    psub = p.add_subparsers(dest="vae_command", required=True, metavar="ACTION")
    _add_train(psub)

    s = psub.add_parser(
        "sample",
        help="decode z ~ N(0, I) into SMILES (one a line)",
        description="Writes each generated string as it is, one a line, whether it parses or "
        "not (as MOSES scores a generator); a string never is empty. Prints the speed and the "
        "share that RDKit parses.",
    )
    s.add_argument("--n", type=at_least_one, required=True, help="molecules to generate")
    add_seed(s, draws="the latent vectors and the tokens")
    _add_decoding(s, temperature=1.0)
    s.add_argument(
        "--greedy", action="store_true", help="take the most likely token at each step instead"
    )
    s.add_argument("--model", help=MODEL_HELP)
    add_threads(s)
    add_out(s, "output file (one SMILES a line)")
    s.set_defaults(func=run_sample)

    e = psub.add_parser(
        "encode",
        help="latent means of the SMILES of a file (npz)",
        description="Reads one SMILES a line (the text before the first space or tab; gzip "
        "allowed) and writes an npz: mu and logvar (n x latent), smiles (as read), row (the "
        "line of each), and with property heads properties (n x K) and property_names. A line "
        "the model cannot encode (invalid SMILES, unknown token, too long) stops it with an "
        "error naming the lines.",
    )
    e.add_argument("input", metavar="IN", help="SMILES file, one a line")
    e.add_argument("--model", help=MODEL_HELP)
    add_threads(e)
    add_out(e, "output .npz file")
    e.set_defaults(func=run_encode)

    d = psub.add_parser(
        "decode",
        help="SMILES of the latent vectors of an npz (one a line)",
        description="Decodes the array z (else mu, as `vae encode` writes) of an npz file, one "
        "SMILES a line in row order: the most likely token at each step, or with --temperature "
        "tokens drawn at that temperature (seeded by --seed).",
    )
    d.add_argument("input", metavar="IN", help=".npz file with z or mu (n x latent)")
    d.add_argument("--model", help=MODEL_HELP)
    _add_decoding(d, temperature=None)
    add_seed(d, draws="the tokens drawn with --temperature")
    add_threads(d)
    add_out(d, "output file (one SMILES a line)")
    d.set_defaults(func=run_decode)


def _add_decoding(parser: argparse.ArgumentParser, temperature: float | None) -> None:
    default = "greedy decoding" if temperature is None else str(temperature)
    parser.add_argument(
        "--temperature",
        type=float,
        default=temperature,
        help=f"softmax temperature of the drawn tokens (default {default})",
    )
    parser.add_argument(
        "--max-len",
        type=at_least_one,
        help="most tokens per SMILES (default: the model's training limit)",
    )


def _add_train(psub: Any) -> None:
    t = psub.add_parser(
        "train",
        help="train a SMILES VAE (resumable, --steps more steps each call)",
        description="Trains --steps steps and writes the model into OUT (a model folder for "
        "sample/encode/decode), with train_log.csv (reconstruction NLL, KL, beta, property "
        "MSE, reconstruction accuracy and sample validity on held-out molecules), checkpoints "
        "and the split. Run it again with --resume to train --steps more.",
    )
    t.add_argument(
        "data",
        metavar="DATA",
        help="zinc250k, moses, a SMILES file, or a CSV (.csv/.csv.gz) with a smiles column",
    )
    add_out(t, "training folder and model folder (created, or continued with --resume)")
    t.add_argument(
        "--props",
        nargs="+",
        default=[],
        metavar="NAME",
        help="properties to predict from the latent mean: columns of the CSV, or logp, qed, sa "
        "(computed with RDKit when the data has no such column)",
    )
    t.add_argument("--steps", type=at_least_one, default=1000, help="steps in this call (1000)")
    t.add_argument(
        "--resume", action="store_true", help="continue the run in OUT (its latest checkpoint)"
    )
    add_seed(t, draws="the split, the initial weights, the batches and the noise")
    model = t.add_argument_group("model")
    model.add_argument("--latent", type=at_least_one, default=56, help="latent dimensions (56)")
    model.add_argument("--embedding", type=at_least_one, default=64, help="token embedding (64)")
    model.add_argument(
        "--encoder-hidden", type=at_least_one, default=256, help="encoder GRU units (256)"
    )
    model.add_argument(
        "--decoder-hidden", type=at_least_one, default=256, help="decoder GRU units (256)"
    )
    model.add_argument(
        "--decoder-layers", type=at_least_one, default=1, help="decoder GRU layers (1)"
    )
    model.add_argument(
        "--property-hidden", type=at_least_one, default=64, help="property MLP units (64)"
    )
    model.add_argument("--max-len", type=at_least_one, default=100, help="most tokens (100)")
    opt = t.add_argument_group("optimisation")
    opt.add_argument("--batch-size", type=at_least_one, default=128, help="molecules a step")
    opt.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    opt.add_argument(
        "--beta-max", type=float, default=0.05, help="KL weight after warm-up (0.05, as MOSES)"
    )
    opt.add_argument(
        "--beta-warmup",
        type=at_least_zero,
        default=10000,
        help="steps of the linear KL warm-up from 0 (10000)",
    )
    opt.add_argument(
        "--free-bits", type=float, default=0.0, help="free nats per latent dimension (0: off)"
    )
    opt.add_argument(
        "--property-weight", type=float, default=1.0, help="weight of the property MSE (1)"
    )
    opt.add_argument(
        "--checkpoint-every",
        type=at_least_one,
        default=500,
        help="steps between checkpoints and evaluations (500)",
    )
    opt.add_argument(
        "--eval-size",
        type=at_least_one,
        default=500,
        help="held-out molecules and prior samples of each evaluation (500)",
    )
    add_threads(t)
    add_no_progress(t)
    t.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from makeable.generative.vae_train import VAETrainConfig, train_vae

    out = check_output_folder(args.out, "--out")
    config = VAETrainConfig(
        data=args.data,
        properties=tuple(args.props),
        latent_dim=args.latent,
        embedding_dim=args.embedding,
        encoder_hidden=args.encoder_hidden,
        decoder_hidden=args.decoder_hidden,
        decoder_layers=args.decoder_layers,
        property_hidden=args.property_hidden,
        max_len=args.max_len,
        batch_size=args.batch_size,
        lr=args.lr,
        beta_max=args.beta_max,
        beta_warmup=args.beta_warmup,
        free_bits=args.free_bits,
        property_weight=args.property_weight,
        checkpoint_every=args.checkpoint_every,
        eval_size=args.eval_size,
        seed=args.seed,
    )
    folder = train_vae(
        config, out, steps=args.steps, resume=args.resume, progress=not args.no_progress
    )
    print(f"model: {folder} (log: {folder / 'train_log.csv'})")
    return 0


def _load(model: str | None) -> Any:
    from makeable.generative.vae_io import load_vae, vae_path

    return load_vae(vae_path(model))


def _parse_share(smiles: list[str]) -> float:
    from makeable.chem.molecule import canonical_smiles

    return sum(canonical_smiles(s) is not None for s in smiles) / max(1, len(smiles))


def _write_lines(path: Path, smiles: list[str]) -> None:
    path.write_text("".join(s + "\n" for s in smiles))


def run_sample(args: argparse.Namespace) -> int:
    out = output_file(args.out, "--out")
    model = _load(args.model)
    start = time.perf_counter()
    smiles = model.sample(
        args.n,
        seed=args.seed,
        temperature=args.temperature,
        greedy=args.greedy,
        max_len=args.max_len,
    )
    seconds = time.perf_counter() - start
    _write_lines(out, smiles)
    print(
        f"wrote {len(smiles)} SMILES to {out} in {seconds:.2f} s "
        f"({len(smiles) / seconds:.0f} molecules/s); {_parse_share(smiles):.1%} parse"
    )
    return 0


def _read_lines(path: str) -> list[str]:
    """The SMILES field of each line (:func:`makeable.cli.score.read_lines`), trailing blank
    lines dropped, so that row numbers are line numbers."""
    from makeable.cli.score import read_lines

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {path}")
    lines = read_lines(path)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ValueError(f"{path} holds no SMILES")
    return lines


def run_encode(args: argparse.Namespace) -> int:
    import numpy as np

    out = output_file(args.out, "--out")
    smiles = _read_lines(args.input)
    model = _load(args.model)
    try:
        mu, logvar = model.encode(smiles)
    except ValueError as exc:  # its rows are the file's lines
        raise ValueError(f"{args.input}: {exc}") from None
    arrays = {
        "mu": mu.numpy(),
        "logvar": logvar.numpy(),
        "smiles": np.array(smiles),
        "row": np.arange(1, len(smiles) + 1),
    }
    if model.property_names:
        arrays["properties"] = model.predict_properties(mu).numpy()
        arrays["property_names"] = np.array(model.property_names)
    with open(out, "wb") as fh:
        np.savez(fh, **arrays)
    print(f"encoded {len(smiles)} molecules into {out} ({', '.join(arrays)})")
    return 0


def _read_latents(path: str) -> Any:
    import zipfile

    import numpy as np

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise ValueError(
                f"{path} is not an .npz file (a zip of arrays, as `vae encode` writes)"
            )
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds one array, not an .npz file with an array z or mu")
    with data:
        key = next((k for k in ("z", "mu") if k in data.files), None)
        if key is None:
            raise ValueError(f"{path} holds no array z or mu (it holds {', '.join(data.files)})")
        try:
            z = data[key]
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: cannot read the array {key} ({exc})") from None
    if not np.issubdtype(z.dtype, np.number):
        raise ValueError(f"{path}: the array {key} holds {z.dtype}, not numbers")
    return z


def run_decode(args: argparse.Namespace) -> int:
    out = output_file(args.out, "--out")
    z = _read_latents(args.input)
    model = _load(args.model)
    greedy = args.temperature is None
    smiles = model.decode(
        z,
        greedy=greedy,
        temperature=1.0 if greedy else args.temperature,
        seed=args.seed,
        max_len=args.max_len,
    )
    _write_lines(out, smiles)
    print(f"decoded {len(smiles)} latent vectors into {out}; {_parse_share(smiles):.1%} parse")
    return 0


def add_bench_parser(bench_sub: Any) -> None:
    """Add ``makeable bench vae-heads`` to the ``bench`` subcommand's subparsers."""
    p = bench_sub.add_parser(
        "vae-heads",
        help="do extra property heads make a VAE's molecules more valid and more specific?",
        description="For groups of SMILES VAEs (e.g. one head vs several, each group trained "
        "with several seeds): the validity of prior samples, and for each target value of "
        "--property, latent points moved along the head's gradient, decoded and scored by "
        "RDKit (valid, unique, mean absolute error, share within the tolerance). Writes "
        "OUT/results.csv and OUT/summary.md (mean ± 95 %% interval over each group's models).",
    )
    p.add_argument(
        "--models",
        nargs="+",
        required=True,
        metavar="LABEL=DIR",
        help="VAE folders, each with the group it belongs to (a bare DIR is its own group)",
    )
    p.add_argument("--property", required=True, help="the head to target, e.g. logP")
    p.add_argument("--interpolative", nargs="*", type=float, default=[], metavar="T",
                   help="targets inside the training set's range of the property")  # fmt: skip
    p.add_argument("--extrapolative", nargs="*", type=float, default=[], metavar="T",
                   help="targets beyond that range")  # fmt: skip
    p.add_argument("--n", type=at_least_one, default=500, help="points per model and target")
    p.add_argument(
        "--tolerance",
        type=float,
        help="'within' tolerance in the property's units (default: a quarter of its std)",
    )
    p.add_argument("--steps", type=at_least_zero, default=200, help="Adam steps per target")
    add_seed(p, draws="the latent draws (the same for every model)")
    add_threads(p)
    add_out(p, "benchmark folder: results.csv, summary.md, config.yaml")
    p.set_defaults(func=run_bench_heads)


def run_bench_heads(args: argparse.Namespace) -> int:
    from makeable.bench.vae_heads import HeadsSettings, run_vae_heads

    models = []
    for item in args.models:
        label, sep, folder = item.partition("=")
        models.append((label, folder) if sep else (Path(item).name, item))
    for _, folder in models:
        if not Path(folder).is_dir():
            raise ValueError(f"bench vae-heads: no model folder {folder}")
    settings = HeadsSettings(
        models=tuple(models),
        prop=args.property,
        interpolative=tuple(args.interpolative),
        extrapolative=tuple(args.extrapolative),
        n=args.n,
        seed=args.seed,
        tolerance=args.tolerance,
        steps=args.steps,
    )
    run_vae_heads(settings, args.out)
    print(Path(args.out, "summary.md").read_text())
    return 0
