"""Train a SMILES language model by maximum likelihood, with checkpoints and resume.

Data: ``zinc250k`` (the full set, ``$MAKEABLE_DATA/molecules/zinc250k.smi.gz``), ``moses``
(``$MAKEABLE_DATA/molecules/moses/train.csv.gz``, column ``SMILES``) or a SMILES file (one a
line, optional ``.gz``). A fixed fraction is held out for validation, chosen by the seed.

Output folder layout::

    OUT/vocab.json               the vocabulary (built from the data)
    OUT/train_log.jsonl          one line per evaluation (step, epoch, train/valid NLL, validity)
    OUT/checkpoints/step_N/      model.safetensors, optimizer.safetensors, state.json
    OUT/best/                    the model with the lowest validation NLL (a model folder)
    OUT/final/                   the model when training ended (a model folder)

Re-running with the same folder resumes from the latest checkpoint: weights, Adam state, the
torch RNG state and the position in the epoch are restored, so the resumed run takes the same
steps as an uninterrupted one. Only ``epochs``, ``max_steps``, ``checkpoint_every`` and ``bf16``
may differ from the recorded settings when resuming (the learning-rate schedule then follows the
new total from the resumed step on).
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from makeable.chem.smiles_tokens import SmilesTokenizer, TokenizeError, split_smiles
from makeable.models.checkpoints import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from makeable.models.smiles_lm.io import save_model
from makeable.models.smiles_lm.lstm import SmilesLSTM, pad_batch
from makeable.models.toolkit import bf16_autocast
from makeable.results_csv import open_append
from makeable.run_folder import RunFolder
from makeable.runtime import resolve_device
from makeable.settings import write_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (written to ``OUT/train_config.json``; must match on resume).

    Attributes:
        data: ``zinc250k``, ``moses`` or a SMILES file path.
        epochs: passes over the training split.
        batch_size: molecules per step.
        lr: Adam learning rate.
        lr_final_fraction: the learning rate decays linearly to ``lr * lr_final_fraction`` at
            the last step (1.0: constant).
        embedding_dim, hidden_size, n_layers, dropout: the model's size.
        max_len: SMILES with more tokens are left out.
        valid_fraction: share of the data held out for validation (at most ``valid_max``).
        valid_max: most validation molecules.
        max_steps: stop after this many steps in all (0: no limit).
        checkpoint_every: steps between checkpoints and evaluations.
        seed: split, initialisation, batch order and dropout.
        clip_grad: gradient norm clip.
        n_eval_samples: samples drawn at each evaluation to measure validity.
        bf16: compute the training steps under bfloat16 autocast (weights and Adam state stay
            float32; about 1.7 times faster on CPUs with AVX512-BF16). Evaluation is float32.
        notation: ``smiles``, or ``safe``: each molecule is written as a SAFE string
            (:mod:`makeable.chem.safe`) with its fragments in a random order (seeded), so that
            the model can complete a molecule from a prompt of some of its fragments. The
            strings are made once and kept in ``OUT/safe_strings.txt.gz``.
        device: where torch trains (``cpu``, ``cuda``, ``cuda:N``, ``auto``;
            :func:`makeable.runtime.resolve_device`). Checkpoints and saved models are
            device-free, so a run may resume on another device (a GPU resume is not bit-exact:
            the GPU's own random state is not checkpointed).
    """

    data: str = "zinc250k"
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    lr_final_fraction: float = 1.0
    embedding_dim: int = 128
    hidden_size: int = 512
    n_layers: int = 3
    dropout: float = 0.2
    max_len: int = 100
    valid_fraction: float = 0.02
    valid_max: int = 5000
    max_steps: int = 0
    checkpoint_every: int = 500
    seed: int = 0
    clip_grad: float = 1.0
    n_eval_samples: int = 500
    bf16: bool = False
    device: str = "cpu"
    notation: str = "smiles"

    def __post_init__(self) -> None:
        from makeable.models.smiles_lm.lstm import NOTATIONS

        if self.notation not in NOTATIONS:
            raise ValueError(
                f"notation must be one of {', '.join(NOTATIONS)}, got {self.notation!r}"
            )


# settings that may change when a run is resumed (they do not change the data or the model)
RESUME_FREE = {"epochs", "max_steps", "checkpoint_every", "bf16", "device"}


# -- data ----------------------------------------------------------------------------------------
def load_training_smiles(data: str) -> tuple[list[str], str]:
    """The SMILES of a named data set or file, and a description of the source.

    Raises:
        FileNotFoundError: the data set is not available locally.
    """
    from makeable.data.molecules import data_file, read_smiles_file, zinc250k, zinc250k_source

    if data == "zinc250k":
        return list(zinc250k(require_full=True)), zinc250k_source(full=True)
    if data == "moses":
        path = data_file(
            "molecules/moses/train.csv.gz",
            "the MOSES training set",
            " (column SMILES; from PyPI molsets==0.3.1)",
        )
        with gzip.open(path, "rt", newline="") as fh:
            return [row["SMILES"] for row in csv.DictReader(fh)], "moses train (molsets 0.3.1)"
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(f"--data {data!r} is neither zinc250k, moses nor a SMILES file")
    return read_smiles_file(path), f"file {path.name}"


def safe_strings(smiles: Sequence[str], seed: int, cache: Path, progress: bool) -> list[str]:
    """The SAFE string of each molecule (fragments shuffled by a generator seeded with
    ``seed``; invalid SMILES left out), read from ``cache`` when it was made before."""
    import random

    from makeable.chem import safe

    if cache.is_file():
        with gzip.open(cache, "rt") as fh:
            return [line.rstrip("\n") for line in fh]
    rng = random.Random(seed)
    out = []
    for s in tqdm(smiles, desc="SAFE strings", unit="mol", disable=not progress):
        encoded = safe.encode(s, rng)
        if encoded is not None:
            out.append(encoded)
    tmp = cache.with_name(cache.name + ".tmp")
    with gzip.open(tmp, "wt") as fh:
        fh.writelines(line + "\n" for line in out)
    tmp.replace(cache)
    return out


def split_data(smiles: Sequence[str], config: TrainConfig) -> tuple[list[str], list[str]]:
    """Drop untokenizable or too long SMILES, then split train/valid by a seeded permutation."""
    kept = []
    for s in smiles:
        try:
            if len(split_smiles(s)) <= config.max_len:
                kept.append(s)
        except TokenizeError:
            continue
    if len(kept) < len(smiles):
        log.info(
            "left out %d SMILES (untokenizable or > %d tokens)",
            len(smiles) - len(kept),
            config.max_len,
        )
    g = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(kept), generator=g).tolist()
    n_valid = min(config.valid_max, max(1, int(len(kept) * config.valid_fraction)))
    valid = [kept[i] for i in order[:n_valid]]
    train = [kept[i] for i in order[n_valid:]]
    return train, valid


def epoch_batches(
    lengths: Sequence[int], batch_size: int, seed: int, epoch: int
) -> list[list[int]]:
    """Batches of indices for one epoch: shuffled, then sorted by length within chunks of 50
    batches (less padding), then the batches shuffled. Depends only on (seed, epoch)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(lengths), generator=g).tolist()
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    perm = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in perm]


# -- evaluation ----------------------------------------------------------------------------------
@torch.no_grad()
def validation_nll(
    model: SmilesLSTM, encoded: Sequence[Sequence[int]], batch_size: int = 512
) -> tuple[float, float]:
    """Mean NLL per molecule and per token (nats) of encoded sequences."""
    was_training = model.training
    model.eval()
    total, n_tokens = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        batch = pad_batch(encoded[start : start + batch_size], model.tokenizer.pad_id)
        total -= float(model.log_likelihood(batch).sum())
        n_tokens += int((batch[:, 1:] != model.tokenizer.pad_id).sum())
    model.train(was_training)
    return total / max(1, len(encoded)), total / max(1, n_tokens)


def sample_validity(model: SmilesLSTM, n: int, max_len: int, seed: int) -> float:
    """Share of ``n`` samples that RDKit parses."""
    if n <= 0:
        return float("nan")
    g = torch.Generator().manual_seed(seed)
    smiles = model.sample(n, max_len=max_len, generator=g)
    return sum(m is not None for m in model.molecules(smiles)) / n


# -- the loop ------------------------------------------------------------------------------------
def train_prior(config: TrainConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Train (or resume training) a :class:`SmilesLSTM`; returns the ``best`` model folder.

    Raises:
        ValueError: the folder holds a run with a different configuration.
    """
    out = Path(out_dir)
    with RunFolder(out) as folder:  # one process per training folder
        folder.check_settings(
            "train_config.json",
            asdict(config),
            holds=f"{out} holds a training run",
            ignore=RESUME_FREE,
        )
        write_settings(out / "train_config.json", asdict(config), indent=1)

        smiles, source = load_training_smiles(config.data)
        if config.notation == "safe":
            smiles = safe_strings(smiles, config.seed, out / "safe_strings.txt.gz", progress)
            source += ", as SAFE strings"
        train, valid = split_data(smiles, config)
        vocab_path = out / "vocab.json"
        if vocab_path.is_file():
            tokenizer = SmilesTokenizer.load(vocab_path)
        else:
            tokenizer = SmilesTokenizer.build(train)
            tokenizer.save(vocab_path)
        log.info(
            "%s: %d train / %d valid molecules, %d tokens",
            source,
            len(train),
            len(valid),
            len(tokenizer),
        )
        train_ids = [tokenizer.encode(s) for s in train]
        valid_ids = [tokenizer.encode(s) for s in valid]
        lengths = [len(s) for s in train_ids]

        device = resolve_device(config.device)  # a missing GPU fails before any work
        torch.manual_seed(config.seed)
        model = SmilesLSTM(
            tokenizer,
            config.embedding_dim,
            config.hidden_size,
            config.n_layers,
            config.dropout,
            config.notation,
        ).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        step, epoch, batch_in_epoch, best_nll, train_s = 0, 0, 0, math.inf, 0.0
        running: float | None = None
        ckpt = latest_checkpoint(out)
        if ckpt is not None:
            meta, _ = load_checkpoint(ckpt, model, optimizer)
            step, epoch, batch_in_epoch = meta["step"], meta["epoch"], meta["batch_in_epoch"]
            best_nll, train_s = meta["best_valid_nll"], meta["train_s"]
            running = meta.get("running_loss")
            log.info("resuming from %s (step %d, epoch %d)", ckpt, step, epoch)
        n_batches = math.ceil(len(train_ids) / config.batch_size)
        total_steps = config.epochs * n_batches
        if config.max_steps:
            total_steps = min(total_steps, config.max_steps)
        metadata = {
            "data": source,
            "n_train": len(train),
            "n_valid": len(valid),
            "max_len": config.max_len,
            "train_config": asdict(config),
        }
        bar = tqdm(
            total=total_steps,
            initial=step,
            desc="prior",
            unit="step",
            disable=not progress,
            dynamic_ncols=True,
        )
        model.train()
        try:
            while step < total_steps:
                batches = epoch_batches(lengths, config.batch_size, config.seed, epoch)
                while batch_in_epoch < len(batches) and step < total_steps:
                    start = time.perf_counter()
                    batch = pad_batch(
                        [train_ids[i] for i in batches[batch_in_epoch]], tokenizer.pad_id
                    )
                    n_tok = int((batch[:, 1:] != tokenizer.pad_id).sum())
                    decay = 1.0 - (1.0 - config.lr_final_fraction) * step / max(1, total_steps - 1)
                    for group in optimizer.param_groups:
                        group["lr"] = config.lr * decay
                    with bf16_autocast(device.type, config.bf16):
                        loss = -model.log_likelihood(batch).sum() / n_tok
                    optimizer.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
                    optimizer.step()
                    step += 1
                    batch_in_epoch += 1
                    train_s += time.perf_counter() - start
                    value = loss.item()
                    running = value if running is None else 0.98 * running + 0.02 * value
                    bar.update(1)
                    bar.set_postfix(loss=f"{running:.3f}", epoch=epoch, refresh=False)
                    position = epoch + batch_in_epoch / len(batches)
                    end_of_epoch = batch_in_epoch >= len(batches)
                    if end_of_epoch:
                        epoch, batch_in_epoch = epoch + 1, 0
                    if step % config.checkpoint_every == 0 or end_of_epoch or step >= total_steps:
                        record = {
                            "step": step,
                            "epoch": round(position, 4),
                            "train_loss_per_token": running,
                            **_evaluate(model, valid_ids, config, step),
                            "train_s": train_s,
                        }
                        with open_append(out / "train_log.jsonl") as fh:
                            fh.write(json.dumps(record) + "\n")
                        log.info(
                            "step %d: valid NLL %.3f/mol %.4f/token, sample validity %.3f",
                            step,
                            record["valid_nll_per_mol"],
                            record["valid_nll_per_token"],
                            record["sample_validity"],
                        )
                        info = {**metadata, **record}
                        if record["valid_nll_per_mol"] < best_nll:
                            best_nll = record["valid_nll_per_mol"]
                            save_model(model, out / "best", info)  # weights copied to the CPU
                        save_model(model, out / "final", info)
                        state = {
                            "step": step,
                            "epoch": epoch,
                            "batch_in_epoch": batch_in_epoch,
                            "best_valid_nll": best_nll,
                            "train_s": train_s,
                            "running_loss": running,
                            "seed": config.seed,
                        }
                        save_checkpoint(
                            out / "checkpoints" / f"step_{step}", model, optimizer, state
                        )
                        prune_checkpoints(out, keep=2)
                    if end_of_epoch:
                        break
        finally:
            bar.close()
        return out / "best"


def _evaluate(
    model: SmilesLSTM, valid_ids: Sequence[Sequence[int]], config: TrainConfig, step: int
) -> dict[str, float]:
    nll_mol, nll_tok = validation_nll(model, valid_ids)
    validity = sample_validity(model, config.n_eval_samples, config.max_len, config.seed + step)
    return {
        "valid_nll_per_mol": nll_mol,
        "valid_nll_per_token": nll_tok,
        "sample_validity": validity,
    }
