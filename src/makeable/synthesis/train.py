"""Train the synthesizability classifier on planner labels, test it, save it.

Two models (``model``): ``mlp``, a small MLP on Morgan fingerprints evaluated in numpy, and
``mpnn``, a D-MPNN (:mod:`makeable.predict`) of the label ``solved``, saved as a predictor folder
that ``synth_score`` loads the same way. On the same labels and split the D-MPNN ranks better
(docs/benchmarks/synthesizability.md).

:func:`train_synth_model` reads a labelling folder (:mod:`makeable.synthesis.labels`; rows
with an error or an unparseable SMILES are left out), splits the molecules into training,
validation and test sets, trains a small MLP (torch; binary cross-entropy, Adam) on the
features of :func:`makeable.objectives.synthesizability.featurize`, keeps the epoch with the
best validation ROC-AUC (stopping after ``patience`` epochs without a better one), saves it
(:func:`save_synth_model`: ``model.safetensors`` + ``config.json``, never a pickle) and
scores the held-out test set *with the saved model*, through the numpy objective's own code,
into ``metrics.json``: ROC-AUC, PR-AUC (average precision; a random ranking scores the
positive share), the sizes and the class balance of each set.

Splits (``split``):

* ``random``: molecules shuffled with the seed;
* ``scaffold``: molecules grouped by Bemis-Murcko scaffold, whole groups assigned to one set
  (a test molecule's scaffold is never seen in training), as in Chemprop's balanced scaffold
  split: groups larger than half the test set go to training, the others in seeded random
  order fill validation, then test, then training.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rdkit import Chem
from safetensors.numpy import save_file
from torch import nn
from tqdm import tqdm

from makeable.chem.molecule import parse_smiles, quiet_rdkit
from makeable.objectives.synthesizability import (
    CONFIG,
    FEATURE_KIND,
    FORMAT_NAME,
    FORMAT_VERSION,
    WEIGHTS,
    SynthScoreModel,
    featurize,
    read_model_files,
)
from makeable.predict.splits import average_precision, roc_auc
from makeable.predict.splits import split_indices as split_molecules
from makeable.results_csv import read_csv
from makeable.run_folder import RunFolder
from makeable.settings import read_settings
from makeable.synthesis.labels import CONFIG as LABELS_CONFIG
from makeable.synthesis.labels import LABELS

log = logging.getLogger(__name__)

SPLITS = ("scaffold", "random")
MODELS = ("mlp", "mpnn")
METRICS = "metrics.json"


@dataclass(frozen=True)
class TrainSettings:
    """How the classifier is trained.

    Args:
        split: ``"scaffold"`` or ``"random"`` (module docstring).
        model: ``"mlp"`` (fingerprints, numpy at score time) or ``"mpnn"`` (a D-MPNN).
        val_fraction, test_fraction: shares of the molecules for validation and test.
        hidden: hidden layer sizes of the MLP; for ``mpnn`` one number, the width of the
            messages and of the head.
        dropout: dropout after each hidden layer (training only).
        lr, weight_decay: Adam's learning rate and L2 weight decay.
        batch_size: molecules per step.
        max_epochs: the most epochs (``mpnn``: the epochs, the best on validation kept).
        ensemble: ``mpnn`` only: networks trained from other initial weights on the same
            split, their probabilities averaged.
        patience: stop after this many epochs without a better validation ROC-AUC.
        radius, n_bits: the Morgan fingerprint (:func:`featurize`).
        storage_dtype: how the weights are stored (``float16`` halves the file; the saved
            model is what the test metrics measure).
        seed: seed of the split, the initial weights and the batch order.
    """

    split: str = "scaffold"
    model: str = "mlp"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    hidden: tuple[int, ...] = (64,)
    dropout: float = 0.3
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    max_epochs: int = 200
    ensemble: int = 1
    patience: int = 20
    radius: int = 2
    n_bits: int = 2048
    storage_dtype: str = "float16"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose one of: {', '.join(SPLITS)}")
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(MODELS)}")
        if self.model == "mpnn" and len(self.hidden) != 1:
            raise ValueError(f"an mpnn takes one hidden width, not {list(self.hidden)}")
        if self.ensemble < 1 or (self.ensemble > 1 and self.model != "mpnn"):
            raise ValueError(f"ensemble {self.ensemble}: 1, or more for an mpnn")
        if not 0 < self.val_fraction < 1 or not 0 < self.test_fraction < 1:
            raise ValueError("val_fraction and test_fraction must lie between 0 and 1")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave molecules to train on")
        if self.storage_dtype not in ("float16", "float32"):
            raise ValueError(f"storage_dtype must be float16 or float32, not {self.storage_dtype}")


# ---------------------------------------------------------------------- data
def load_labels(labels_dir: str | Path) -> tuple[list[Chem.Mol], np.ndarray, dict[str, Any]]:
    """The labelled molecules of a labelling folder: molecules, labels (1 = solved) and the
    folder's ``config.json``. Rows with an error or an unparseable SMILES are left out.

    Raises:
        FileNotFoundError: the folder has no ``labels.csv``.
        ValueError: it holds no usable row.
    """
    folder = Path(labels_dir)
    if not (folder / LABELS).is_file():
        raise FileNotFoundError(
            f"{folder / LABELS} not found: label molecules first (`makeable synth label`)"
        )
    config = read_settings(folder / LABELS_CONFIG) if (folder / LABELS_CONFIG).is_file() else {}
    mols, labels = [], []
    with quiet_rdkit():
        for row in read_csv(folder / LABELS):
            mol = None if row["error"] else parse_smiles(row["smiles"])
            if mol is not None:
                mols.append(mol)
                labels.append(row["solved"] == "1")
    if not mols:
        raise ValueError(f"{folder / LABELS} holds no usable labelled molecule")
    return mols, np.array(labels, dtype=bool), config


def split_indices(
    mols: Sequence[Chem.Mol], settings: TrainSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the training, validation and test molecules (module docstring;
    :func:`makeable.predict.splits.split_indices`)."""
    return split_molecules(
        mols, settings.split, settings.seed, settings.val_fraction, settings.test_fraction
    )


# ---------------------------------------------------------------------- model
def build_network(n_bits: int, hidden: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """The MLP: ``Linear → ReLU → Dropout`` per hidden layer, then ``Linear`` to one logit."""
    layers: list[nn.Module] = []
    size = n_bits
    for width in hidden:
        layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
        size = width
    layers.append(nn.Linear(size, 1))
    return nn.Sequential(*layers)


def _linears(net: nn.Sequential) -> list[nn.Linear]:
    return [layer for layer in net if isinstance(layer, nn.Linear)]


def save_synth_model(
    net: nn.Sequential,
    out: str | Path,
    settings: TrainSettings,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``net`` into ``out`` (created): ``model.safetensors`` + ``config.json``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for i, linear in enumerate(_linears(net)):
        tensors[f"layers.{i}.weight"] = linear.weight.detach().cpu().numpy()
        tensors[f"layers.{i}.bias"] = linear.bias.detach().cpu().numpy()
    dtype = np.dtype(settings.storage_dtype)
    save_file(
        {k: np.ascontiguousarray(v, dtype=dtype) for k, v in tensors.items()}, str(folder / WEIGHTS)
    )
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "features": {"kind": FEATURE_KIND, "radius": settings.radius, "n_bits": settings.n_bits},
        "hidden": list(settings.hidden),
        "output": "sigmoid: P(the planner solves the molecule)",
        **(metadata or {}),
    }
    (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return folder


def load_torch_network(folder: str | Path) -> nn.Sequential:
    """The saved MLP as a torch network (eval mode, float32): the same weights the numpy
    objective computes with."""
    config, tensors = read_model_files(folder)
    net = build_network(int(config["features"]["n_bits"]), [int(h) for h in config["hidden"]])
    with torch.no_grad():
        for i, linear in enumerate(_linears(net)):
            linear.weight.copy_(torch.from_numpy(tensors[f"layers.{i}.weight"].astype(np.float32)))
            linear.bias.copy_(torch.from_numpy(tensors[f"layers.{i}.bias"].astype(np.float32)))
    return net.eval()


def _predict(net: nn.Sequential, x: torch.Tensor) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return torch.sigmoid(net(x)[:, 0]).numpy().astype(np.float64)


def _balance(y: np.ndarray) -> dict[str, Any]:
    return {
        "n": len(y),
        "n_solved": int(y.sum()),
        "solved_share": float(y.mean()) if len(y) else None,
    }


def train_synth_model(
    labels_dir: str | Path,
    out: str | Path,
    settings: TrainSettings | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Train on a labelling folder, save the model to ``out`` and write ``out/metrics.json``.

    Args:
        labels_dir: a folder written by :func:`makeable.synthesis.labels.label_molecules`.
        out: the model folder (created; files replaced).
        settings: training settings (default :class:`TrainSettings`).
        progress: show a progress bar over epochs.

    Returns:
        The metrics (what ``metrics.json`` holds).

    Raises:
        FileNotFoundError: no ``labels.csv`` in ``labels_dir``.
        ValueError: no usable rows, or a set without both classes.
    """
    settings = settings or TrainSettings()
    if settings.model == "mpnn":  # the predictor's trainer keeps its own run folder
        return _train_mpnn(labels_dir, Path(out), settings, progress)
    with RunFolder(out) as run:  # one process per model folder; versions.json beside it
        run.record()
        return _train(labels_dir, out, settings, progress)


def _labels_and_split(
    labels_dir: str | Path, settings: TrainSettings
) -> tuple[list[Chem.Mol], np.ndarray, dict[str, Any], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The labelled molecules, their labels, the labelling config and the split (each set
    must hold both classes)."""
    mols, y, label_config = load_labels(labels_dir)
    train, val, test = split_indices(mols, settings)
    for name, idx in (("training", train), ("validation", val), ("test", test)):
        if len(set(y[idx].tolist())) < 2:
            raise ValueError(
                f"the {name} set ({len(idx)} molecules) lacks solved or unsolved ones: "
                f"label more molecules ({len(y)} usable, {int(y.sum())} solved)"
            )
    return mols, y, label_config, (train, val, test)


def _trained_on(labels_dir: str | Path, n: int, label_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "labels": str(labels_dir),
        "n_molecules": n,
        "labelling": {
            k: v for k, v in label_config.items() if k not in ("jobs", "cpu_count", "versions")
        },
    }


def _metrics(
    y: np.ndarray,
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
    test_scores: np.ndarray,
    settings: TrainSettings,
    labels_dir: str | Path,
    train_s: float,
) -> dict[str, Any]:
    """What ``metrics.json`` holds for either model (the test set scored by the saved model)."""
    train, val, test = split
    return {
        "model": settings.model,
        "split": settings.split,
        "test_roc_auc": roc_auc(y[test], test_scores),
        "test_pr_auc": average_precision(y[test], test_scores),
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "balance": {
            "all": _balance(y),
            "train": _balance(y[train]),
            "val": _balance(y[val]),
            "test": _balance(y[test]),
        },
        "train_s": round(train_s, 1),
        "labels": str(labels_dir),
        "settings": asdict(settings),
    }


def _write_metrics(folder: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """Write ``metrics.json`` into the model folder, log the test scores, return ``metrics``."""
    (folder / METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info(
        "test ROC-AUC %.3f, PR-AUC %.3f (%s split, %d test molecules)",
        metrics["test_roc_auc"],
        metrics["test_pr_auc"],
        metrics["split"],
        metrics["n_test"],
    )
    return metrics


def _train_mpnn(
    labels_dir: str | Path, out: Path, settings: TrainSettings, progress: bool
) -> dict[str, Any]:
    """A D-MPNN of ``solved`` trained by :func:`makeable.predict.train.train_predictor` on the
    same split as the MLP, saved as a predictor folder and tested through ``synth_score``'s
    own loading code."""
    from makeable.objectives.synthesizability import load_synth_model
    from makeable.predict.data import PropertyTable
    from makeable.predict.model import CONFIG as PREDICTOR_CONFIG
    from makeable.predict.mpnn import NetworkSettings
    from makeable.predict.train import TrainSettings as PredictorSettings
    from makeable.predict.train import train_predictor

    t0 = time.perf_counter()
    mols, y, label_config, split = _labels_and_split(labels_dir, settings)
    table = PropertyTable(
        [Chem.MolToSmiles(m) for m in mols], list(mols), y.astype(np.float64)[:, None], ["solved"]
    )
    width = settings.hidden[0]
    predictor = PredictorSettings(
        task="classification",
        split=settings.split,
        seed=settings.seed,
        val_fraction=settings.val_fraction,
        test_fraction=settings.test_fraction,
        ensemble=settings.ensemble,
        epochs=settings.max_epochs,
        lr=settings.lr,
        network=NetworkSettings(hidden=width, ffn_hidden=width),
    )
    train_predictor(table, out, predictor, progress=progress, split=split)
    config = json.loads((out / PREDICTOR_CONFIG).read_text())
    config["synthesizability"] = {
        "output": "P(the planner solves the molecule): the predictor's target solved",
        "trained_on": _trained_on(labels_dir, len(y), label_config),
        "training": asdict(settings),
    }
    (out / PREDICTOR_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    saved = load_synth_model(out, fresh=True)  # test what was saved, as synth_score loads it
    test_scores = saved.predict([mols[i] for i in split[2]])
    metrics = _metrics(y, split, test_scores, settings, labels_dir, time.perf_counter() - t0)
    return _write_metrics(out, metrics)


def _train(
    labels_dir: str | Path, out: str | Path, settings: TrainSettings, progress: bool
) -> dict[str, Any]:
    t0 = time.perf_counter()
    mols, y, label_config, (train, val, test) = _labels_and_split(labels_dir, settings)
    x = torch.from_numpy(featurize(mols, settings.radius, settings.n_bits))
    target = torch.from_numpy(y.astype(np.float32))
    torch.manual_seed(settings.seed)
    net = build_network(settings.n_bits, settings.hidden, settings.dropout)
    optimizer = torch.optim.Adam(
        net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(settings.seed)
    train_t = torch.from_numpy(train)
    best_auc, best_epoch, best_state = -1.0, 0, None
    history = []
    bar = tqdm(
        range(1, settings.max_epochs + 1), desc="training", unit="epoch", disable=not progress
    )
    for epoch in bar:
        net.train()
        perm = train_t[torch.randperm(len(train_t), generator=generator)]
        for start in range(0, len(perm), settings.batch_size):
            batch = perm[start : start + settings.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(net(x[batch])[:, 0], target[batch])
            loss.backward()
            optimizer.step()
        val_auc = roc_auc(y[val], _predict(net, x[val]))
        history.append(round(val_auc, 5))
        if val_auc > best_auc:
            best_auc, best_epoch = val_auc, epoch
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        bar.set_postfix(val_auc=f"{val_auc:.3f}", best=f"{best_auc:.3f}@{best_epoch}")
        if epoch - best_epoch >= settings.patience:
            break
    bar.close()
    assert best_state is not None  # at least one epoch ran
    net.load_state_dict(best_state)
    train_s = time.perf_counter() - t0

    metadata = {
        "trained_on": _trained_on(labels_dir, len(y), label_config),
        "training": asdict(settings),
    }
    folder = save_synth_model(net, out, settings, metadata)
    saved = SynthScoreModel(*read_model_files(folder))  # test what was saved, in numpy
    test_scores = saved.predict_features(x[test].numpy())
    metrics = {
        **_metrics(y, (train, val, test), test_scores, settings, labels_dir, train_s),
        "best_val_roc_auc": best_auc,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "val_roc_auc_by_epoch": history,
    }
    return _write_metrics(folder, metrics)
