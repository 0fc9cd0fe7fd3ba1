"""Train a SMILES VAE (:mod:`makeable.generative.vae`) in resumable chunks of steps.

The data (``zinc250k``, ``moses``, a SMILES file or a CSV with property columns) is read,
checked, canonicalised and split once, by :mod:`makeable.generative.vae_data`. Output folder
layout (the folder is also a model folder: ``makeable vae sample --model OUT``)::

    OUT/model.safetensors, config.json    the model at the latest checkpoint (vae_io)
    OUT/train.csv.gz, valid.csv.gz        the split: canonical SMILES and properties
    OUT/data.json                         where the data came from, what was left out
    OUT/train_config.json, versions.json  the settings (must match on resume), versions
    OUT/train_log.csv                     one row per evaluation (:data:`LOG_COLUMNS`)
    OUT/checkpoints/step_N/               weights, Adam state, RNG (models/checkpoints.py)

Each call trains ``steps`` more steps. A folder that already holds a run is continued only with
``resume``, from its latest checkpoint: weights, Adam state, torch's RNG state and the position
in the epoch are restored, so ``2K`` steps in one call and ``K + K`` in two give the same
weights. Only ``checkpoint_every`` and ``eval_size`` may differ from the recorded settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from makeable.chem.molecule import canonical_smiles
from makeable.chem.smiles_tokens import SmilesTokenizer
from makeable.generative.vae import (
    LossParts,
    SmilesVAE,
    beta_at,
    kl_divergence,
    masked_mse,
    reconstruction_nll,
    vae_loss,
)
from makeable.generative.vae_data import prepare_split, read_split
from makeable.generative.vae_io import save_vae
from makeable.models.checkpoints import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from makeable.models.smiles_lm.lstm import pad_batch
from makeable.models.smiles_lm.train import epoch_batches
from makeable.models.toolkit import torch_settings
from makeable.results_csv import append_csv, read_csv, write_csv
from makeable.run_folder import RunFolder
from makeable.settings import read_settings

log = logging.getLogger(__name__)

__all__ = ["LOG_COLUMNS", "VAETrainConfig", "evaluate", "train_vae"]

LOG_COLUMNS = (
    "step",
    "epoch",
    "beta",
    "train_recon_nll",
    "train_kl",
    "train_property_mse",
    "valid_recon_nll",
    "valid_kl",
    "valid_property_mse",
    "recon_accuracy",
    "sample_validity",
    "train_s",
)
"""``train_log.csv``: the ``train_`` columns are running means (exponential, weight 0.02) per
molecule; the ``valid_`` ones and ``recon_accuracy`` (greedy decoding of the latent mean gives
the same molecule) are measured on the first ``eval_size`` validation molecules at the latent
mean; ``sample_validity`` is the share of ``eval_size`` samples from ``N(0, I)`` that parse.
Property columns are empty for a model without property heads."""


@dataclass(frozen=True)
class VAETrainConfig:
    """Training settings (written to ``OUT/train_config.json``; must match on resume).

    Attributes:
        data: ``zinc250k``, ``moses``, a SMILES file or a CSV file.
        properties: property names (columns of the CSV, or
            :data:`~makeable.generative.vae_data.COMPUTED` names).
        latent_dim, embedding_dim, encoder_hidden, decoder_hidden, decoder_layers,
            property_hidden, max_len: the model (see :class:`SmilesVAE`).
        batch_size: molecules per step.
        lr: Adam learning rate.
        beta_max: the KL weight after the warm-up (0.05, MOSES's VAE: at 1 the decoder learns
            to ignore ``z`` on a CPU-sized run, reconstruction 0 %).
        beta_warmup: steps over which the KL weight grows linearly from 0 to ``beta_max``.
        free_bits: nats per latent dimension below which the KL is not penalised (0: off).
        property_weight: weight of the property MSE in the loss.
        clip_grad: gradient norm clip.
        valid_fraction: share of the data held out for validation (at most ``valid_max``).
        valid_max: most validation molecules.
        checkpoint_every: steps between checkpoints and evaluations (also at each call's end).
        eval_size: validation molecules and prior samples of each evaluation.
        seed: split, initialisation, batch order and the reparameterisation noise.
    """

    data: str = "zinc250k"
    properties: tuple[str, ...] = ()
    latent_dim: int = 56
    embedding_dim: int = 64
    encoder_hidden: int = 256
    decoder_hidden: int = 256
    decoder_layers: int = 1
    property_hidden: int = 64
    max_len: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    beta_max: float = 0.05
    beta_warmup: int = 10_000
    free_bits: float = 0.0
    property_weight: float = 1.0
    clip_grad: float = 1.0
    valid_fraction: float = 0.02
    valid_max: int = 5000
    checkpoint_every: int = 500
    eval_size: int = 500
    seed: int = 0


RESUME_FREE = {"checkpoint_every", "eval_size"}


# -- evaluation ----------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: SmilesVAE, smiles: Sequence[str], properties: np.ndarray, seed: int
) -> dict[str, float | None]:
    """Validation NLL, KL and property MSE (``None`` without heads) at the latent mean, greedy
    reconstruction accuracy and the validity of ``len(smiles)`` prior samples (drawn with
    ``seed``).

    Args:
        model: the VAE (any mode; left as it was). Torch's global RNG is not used.
        smiles: canonical SMILES the model can encode.
        properties: ``(n, K)`` raw values, ``NaN`` where missing.
        seed: seed of the prior samples.
    """
    was_training = model.training
    model.eval()
    try:
        tokens = model.token_batch(smiles)
        mu, logvar = model.encode_tokens(tokens)
        logits = model.decode_logits(tokens[:, :-1], mu)
        out: dict[str, float | None] = {
            "valid_recon_nll": float(
                reconstruction_nll(logits, tokens[:, 1:], model.tokenizer.pad_id).mean()
            ),
            "valid_kl": float(kl_divergence(mu, logvar)),
            "valid_property_mse": None,
        }
        if model.property_head is not None:
            target = model.standardize(torch.as_tensor(properties, dtype=torch.float32))
            out["valid_property_mse"] = float(masked_mse(model.property_predictions(mu), target))
        decoded = model.decode(mu, greedy=True)
        same = sum(canonical_smiles(d) == s for d, s in zip(decoded, smiles, strict=True))
        samples = model.sample(len(smiles), seed=seed)
        parsed = sum(canonical_smiles(s) is not None for s in samples)
        out["recon_accuracy"] = same / max(1, len(smiles))
        out["sample_validity"] = parsed / max(1, len(samples))
    finally:
        model.train(was_training)
    return out


# -- the loop ------------------------------------------------------------------------------------
def _build_model(
    config: VAETrainConfig, tokenizer: SmilesTokenizer, train_props: np.ndarray
) -> SmilesVAE:
    means, stds = [], []
    for j, name in enumerate(config.properties):
        column = train_props[:, j].astype(np.float64)
        column = column[~np.isnan(column)]
        std = float(column.std()) if len(column) > 1 else 0.0
        if not std > 0:
            raise ValueError(
                f"property {name!r} has fewer than two distinct labels in the training split"
            )
        means.append(float(column.mean()))
        stds.append(std)
    return SmilesVAE(
        tokenizer,
        latent_dim=config.latent_dim,
        embedding_dim=config.embedding_dim,
        encoder_hidden=config.encoder_hidden,
        decoder_hidden=config.decoder_hidden,
        decoder_layers=config.decoder_layers,
        max_len=config.max_len,
        property_names=config.properties,
        property_means=means,
        property_stds=stds,
        property_hidden=config.property_hidden,
    )


@dataclass
class _Position:
    """Where a run stands (saved in each checkpoint's ``state.json``)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    train_s: float = 0.0
    running: dict[str, float] = field(default_factory=dict)

    def update_running(self, parts: LossParts) -> None:
        """Fold a step's loss parts into the running means (exponential, weight 0.02)."""
        values = {"recon": parts.recon, "kl": parts.kl, "property_mse": parts.property_mse}
        for key, value in values.items():
            old = self.running.get(key)
            self.running[key] = float(value) if old is None else 0.98 * old + 0.02 * float(value)


class _Training:
    """One call's training: the data and model of a folder, and the steps."""

    def __init__(self, config: VAETrainConfig, out: Path, ckpt: Path | None) -> None:
        self.config, self.out = config, out
        self.data_info = read_settings(out / "data.json")
        train, train_props = read_split(out / "train.csv.gz", config.properties)
        valid, valid_props = read_split(out / "valid.csv.gz", config.properties)
        tokenizer = SmilesTokenizer.build([*train, *valid])
        self.train_ids = [tokenizer.encode(s) for s in train]
        self.train_props = torch.as_tensor(train_props) if config.properties else None
        self.eval_smiles = valid[: config.eval_size]
        self.eval_props = valid_props[: config.eval_size]
        torch.manual_seed(config.seed)
        self.model = _build_model(config, tokenizer, train_props)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.pos = _Position()
        if ckpt is not None:
            state, _ = load_checkpoint(ckpt, self.model, self.optimizer)
            self.pos = _Position(**{k: state[k] for k in asdict(self.pos)})
            # rows logged after the checkpoint (a killed call) are taken again: drop them
            log_rows = read_csv(out / "train_log.csv", missing_ok=True)
            kept = [r for r in log_rows if int(r["step"]) <= self.pos.step]
            write_csv(out / "train_log.csv", LOG_COLUMNS, kept)
            log.info("resuming from %s (step %d, epoch %d)", ckpt, self.pos.step, self.pos.epoch)

    def run(self, steps: int, progress: bool) -> None:
        pos, config = self.pos, self.config
        lengths = [len(t) for t in self.train_ids]
        target = pos.step + steps
        bar = tqdm(
            total=target,
            initial=pos.step,
            desc="vae",
            unit="step",
            disable=not progress,
            dynamic_ncols=True,
        )
        self.model.train()
        try:
            while pos.step < target:
                batches = epoch_batches(lengths, config.batch_size, config.seed, pos.epoch)
                while pos.batch_in_epoch < len(batches) and pos.step < target:
                    beta = beta_at(pos.step, config.beta_max, config.beta_warmup)
                    start = time.perf_counter()
                    parts = self._update(batches[pos.batch_in_epoch], beta)
                    pos.train_s += time.perf_counter() - start
                    pos.step += 1
                    pos.batch_in_epoch += 1
                    pos.update_running(parts)
                    bar.update(1)
                    recon, kl = pos.running["recon"], pos.running["kl"]
                    bar.set_postfix(
                        recon=f"{recon:.2f}", kl=f"{kl:.2f}", beta=f"{beta:.3f}", refresh=False
                    )
                    epochs = pos.epoch + pos.batch_in_epoch / len(batches)
                    if pos.batch_in_epoch == len(batches):
                        pos.epoch, pos.batch_in_epoch = pos.epoch + 1, 0
                    if pos.step % config.checkpoint_every == 0 or pos.step == target:
                        self._checkpoint(beta, epochs)
                    if pos.batch_in_epoch == 0:
                        break  # the next epoch's batches
        finally:
            bar.close()

    def _update(self, rows: list[int], beta: float) -> LossParts:
        tokens = pad_batch([self.train_ids[i] for i in rows], self.model.tokenizer.pad_id)
        props = None if self.train_props is None else self.train_props[rows]
        parts = vae_loss(
            self.model,
            tokens,
            props,
            beta=beta,
            free_bits=self.config.free_bits,
            property_weight=self.config.property_weight,
        )
        self.optimizer.zero_grad()
        parts.total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad)
        self.optimizer.step()
        return parts

    def _checkpoint(self, beta: float, epochs: float) -> None:
        """Evaluate; save the model, a checkpoint and a row of ``train_log.csv``.

        Args:
            beta: the KL weight of the last step.
            epochs: passes over the training split done (fractional).
        """
        pos, config = self.pos, self.config
        has_props = bool(config.properties)
        row: dict[str, Any] = {
            "step": pos.step,
            "epoch": round(epochs, 4),
            "beta": beta,
            "train_recon_nll": pos.running["recon"],
            "train_kl": pos.running["kl"],
            "train_property_mse": pos.running["property_mse"] if has_props else None,
            **evaluate(self.model, self.eval_smiles, self.eval_props, config.seed),
            "train_s": round(pos.train_s, 2),
        }
        log.info(
            "step %d: recon NLL %.3f, KL %.3f, beta %.3f, reconstructed %.3f, sample validity %.3f",
            pos.step, row["valid_recon_nll"], row["valid_kl"], beta, row["recon_accuracy"],
            row["sample_validity"],
        )  # fmt: skip
        save_vae(self.model, self.out, {**self.data_info, "train_config": asdict(config), **row})
        state = {**asdict(pos), "seed": config.seed}
        ckpt = self.out / "checkpoints" / f"step_{pos.step}"
        save_checkpoint(ckpt, self.model, self.optimizer, state)
        prune_checkpoints(self.out, keep=2)
        append_csv(self.out / "train_log.csv", LOG_COLUMNS, row)


def train_vae(
    config: VAETrainConfig,
    out_dir: str | Path,
    *,
    steps: int,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Train a :class:`SmilesVAE` ``steps`` more steps; returns the model folder (``out_dir``).

    Args:
        config: the settings.
        out_dir: the training folder (created; a model folder from the first checkpoint on).
        steps: steps to take in this call.
        resume: continue the run the folder holds (required when it holds one; a folder
            without a checkpoint starts a new run).
        progress: show a progress bar on stderr.

    Raises:
        FileNotFoundError: the data is not available (checked before the folder is made).
        ValueError: the folder holds a run and ``resume`` is not set, or its run has other
            settings; bad data (:func:`makeable.generative.vae_data.read_table`).
    """
    out = Path(out_dir)
    named = config.data in ("zinc250k", "moses")
    if not named and not Path(config.data).is_file() and not (out / "data.json").is_file():
        raise FileNotFoundError(f"no such data file: {config.data} (nor zinc250k or moses)")
    with RunFolder(out) as folder, torch_settings(0, deterministic=True):
        ckpt = latest_checkpoint(out)
        if ckpt is not None and not resume:
            raise ValueError(
                f"{out} holds a VAE training run ({ckpt.name}): pass --resume to train it "
                "further, or use another --out"
            )
        if ckpt is None and resume:
            log.info("%s holds no checkpoint: starting a new run", out)
        folder.check_settings(
            "train_config.json",
            asdict(config),
            holds=f"{out} holds a VAE training run",
            ignore=RESUME_FREE,
        )
        if not (out / "data.json").is_file():
            prepare_split(
                out,
                config.data,
                config.properties,
                max_len=config.max_len,
                valid_fraction=config.valid_fraction,
                valid_max=config.valid_max,
                seed=config.seed,
                progress=progress,
            )
        folder.record(asdict(config), config_name="train_config.json")
        _Training(config, out, ckpt).run(steps, progress)
    return out
