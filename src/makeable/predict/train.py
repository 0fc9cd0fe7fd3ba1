"""Train a property predictor: an ensemble of D-MPNNs on one split, with calibrated uncertainty.

Protocol (chemprop's defaults where it has one):

* the table's usable rows are split 80 / 10 / 10 (random or scaffold, :mod:`.splits`), once,
  with ``seed``; every ensemble member trains on the same split from its own initial weights
  (``seed + member``);
* regression targets are standardised with the training set's mean and deviation; the loss is
  the mean squared error over the values present (multi-task: missing labels are masked);
  classification uses binary cross-entropy on logits, masked the same way;
* Adam; the learning rate rises linearly from ``lr / 10`` to ``lr`` over two epochs, then
  decays exponentially to ``lr / 10`` at the last epoch (chemprop's Noam-like schedule);
* the epoch with the best validation loss is kept (per member);
* uncertainty: the standard deviation of the members' predictions. For regression it is
  calibrated by one factor per target chosen on the validation set so that 68.3 % of its
  values lie within ±1 calibrated deviation (a quantile of ``|y - mean| / std``: robust to the
  few molecules on which the members agree by chance); the test set then reports how often the true
  value lies within ±1 and ±2 calibrated deviations (ideal: 68 % and 95 %) and the rank
  correlation of error and deviation. For classification, the expected calibration error of
  the mean probability (10 bins) is reported.

The folder (:mod:`.model`) gets ``config.json``, ``model_<i>.safetensors``, ``metrics.json``,
``split.json`` (the indices, into the table's usable rows, of the three sets), ``skipped.csv``
(the table's rows left out, with line numbers) and ``versions.json``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from makeable.chem.smiles_tokens import SmilesTokenizer
from makeable.predict.data import TASKS, PropertyTable
from makeable.predict.features import FEATURES_VERSION, GraphBatch, batch_graphs, mol_graph
from makeable.predict.model import (
    CONFIG,
    DOMAIN,
    FORMAT_NAME,
    FORMAT_VERSION,
    PredictorError,
    forget_loaded,
    load_predictor,
    member_file,
    save_domain,
)
from makeable.predict.mpnn import MPNN, DualEncoder, MixtureOfExperts, NetworkSettings
from makeable.predict.splits import SPLITS, average_precision, roc_auc, split_indices
from makeable.results_csv import write_csv
from makeable.run_folder import RunFolder
from makeable.runtime import threads_set

log = logging.getLogger(__name__)

FEW_STEPS = 200
"""Fewer optimizer steps than this get a warning (50 rows at 50 epochs make 50 steps: in the
scarce-data benchmark every method then under-fitted; docs/benchmarks/properties.md)."""

ONE_SIGMA = 0.6827
"""The share of a normal distribution within ±1 standard deviation: the calibration target."""


@dataclass(frozen=True)
class TrainSettings:
    """How a predictor is trained (defaults: chemprop's, with a 3-model ensemble).

    Attributes:
        task: ``regression`` or ``classification``.
        split: ``random`` or ``scaffold``.
        seed: the split's seed and the first member's.
        val_fraction, test_fraction: shares of the table held out.
        ensemble: models trained (2 or more give an uncertainty).
        epochs: training epochs per model.
        batch_size: molecules per step.
        lr: peak learning rate.
        network: the network's size.
        threads: torch CPU threads while training (1: molecular graphs are small, and one
            thread was 15 times faster than two on a loaded 2-core machine; 0: torch's own).
        experts: predictor folders pretrained on source tasks: train a mixture of experts
            (:class:`~makeable.predict.mpnn.MixtureOfExperts`: their encoders, a gate and a new
            head) instead of a network from scratch.
        fine_tune_experts: train the experts' weights too (default: frozen, as in the paper).
        init_from: a predictor folder whose encoder (its first model) starts every member:
            pairwise transfer learning (fine-tune one source model; a new head).
    """

    task: str = "regression"
    split: str = "random"
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    ensemble: int = 3
    epochs: int = 50
    batch_size: int = 50
    lr: float = 1e-3
    network: NetworkSettings = field(default_factory=NetworkSettings)
    threads: int = 1
    experts: tuple[str, ...] = ()
    fine_tune_experts: bool = False
    init_from: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {self.split!r}")
        for name in ("ensemble", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
        if not 0 < self.val_fraction < 0.5 or not 0 < self.test_fraction < 0.5:
            raise ValueError("val_fraction and test_fraction must be in (0, 0.5)")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, not {self.lr!r}")
        if self.experts and self.init_from:
            raise ValueError("give experts (a mixture) or init_from (transfer), not both")


def _loss(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    mask = ~torch.isnan(y)
    target = torch.where(mask, y, torch.zeros_like(y))
    if task == "classification":
        per = nn.functional.binary_cross_entropy_with_logits(out, target, reduction="none")
    else:
        per = (out - target) ** 2
    return (per * mask).sum() / mask.sum().clamp(min=1)


def _lr_factor(step: int, steps_per_epoch: int, epochs: int) -> float:
    """Learning rate / peak: linear warm-up over 2 epochs from 0.1, then exponential decay
    to 0.1 at the end."""
    warmup = min(2, epochs) * steps_per_epoch
    if step < warmup:
        return 0.1 + 0.9 * step / max(1, warmup)
    total = max(1, epochs * steps_per_epoch - warmup)
    return float(0.1 ** ((step - warmup) / total))


def _outputs(net: nn.Module, graphs: list[Any], batch_size: int = 256) -> np.ndarray:
    net.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(graphs), batch_size):
            parts.append(net(batch_graphs(graphs[start : start + batch_size])).double().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def source_network(folder: str) -> MPNN:
    """A copy of the first network of a saved predictor (an expert, or a transfer source).

    Raises:
        PredictorError: not a loadable plain (not mixture) predictor.
    """
    import copy

    predictor = load_predictor(folder)
    net = predictor.members[0]
    if not isinstance(net, MPNN):
        raise PredictorError(
            f"{folder} is not a plain graph predictor (a mixture, or graph+smiles): give one "
            "trained with --encoder graph"
        )
    return copy.deepcopy(net).train()


def build_network(
    n_outputs: int, settings: TrainSettings, tokens: list[str] | None = None
) -> nn.Module:
    """A fresh member: a mixture of the experts, an MPNN started from ``init_from``'s encoder,
    a graph + SMILES dual encoder (``tokens``: its SMILES vocabulary), or an MPNN."""
    if settings.experts:
        experts = [source_network(f) for f in settings.experts]
        return MixtureOfExperts(
            experts, n_outputs, settings.network, freeze=not settings.fine_tune_experts
        )
    if settings.network.encoder == "graph+smiles":
        if settings.init_from:
            raise ValueError("--init-from starts a graph encoder: use --encoder graph")
        return DualEncoder(n_outputs, list(tokens or []), settings.network)
    net = MPNN(n_outputs, settings.network)
    if settings.init_from:
        source = source_network(settings.init_from)
        if (
            source.settings.hidden != net.settings.hidden
            or source.settings.depth != net.settings.depth
        ):
            raise ValueError(
                f"--init-from {settings.init_from}: its encoder (hidden {source.settings.hidden}, "
                f"depth {source.settings.depth}) differs from this network's"
            )
        encoder = {k: v for k, v in source.state_dict().items() if not k.startswith("head.")}
        net.load_state_dict(encoder, strict=False)
    return net


def train_member(
    train_graphs: list[Any],
    y_train: np.ndarray,
    val_graphs: list[Any],
    y_val: np.ndarray,
    settings: TrainSettings,
    member: int,
    bar: Any = None,
    tokens: list[str] | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train one ensemble member on standardised targets; returns it at its best epoch."""
    torch.manual_seed(settings.seed + member)
    rng = np.random.default_rng(settings.seed + member)
    net = build_network(y_train.shape[1], settings, tokens)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=settings.lr)
    steps_per_epoch = math.ceil(len(train_graphs) / settings.batch_size)
    y_t = torch.from_numpy(y_train.astype(np.float32))
    y_v = torch.from_numpy(y_val.astype(np.float32))
    best_loss, best_state, history, step = math.inf, None, [], 0
    for epoch in range(1, settings.epochs + 1):
        net.train()
        order = rng.permutation(len(train_graphs))
        total = 0.0
        for start in range(0, len(order), settings.batch_size):
            rows = order[start : start + settings.batch_size]
            for group in opt.param_groups:
                group["lr"] = settings.lr * _lr_factor(step, steps_per_epoch, settings.epochs)
            batch: GraphBatch = batch_graphs([train_graphs[i] for i in rows])
            loss = _loss(settings.task, net(batch), y_t[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
            step += 1
        val_out = torch.from_numpy(_outputs(net, val_graphs).astype(np.float32))
        val_loss = float(_loss(settings.task, val_out, y_v))
        history.append({"epoch": epoch, "train_loss": total / len(order), "val_loss": val_loss})
        if val_loss < best_loss:
            best_loss = val_loss
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        if bar is not None:
            bar.update(1)
            bar.set_postfix(member=member, val_loss=f"{val_loss:.4f}", refresh=False)
    assert best_state is not None
    net.load_state_dict(best_state)
    return net.eval(), history


def regression_metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE, R² and the uncertainty's quality for one target (values present only)."""
    ok = ~np.isnan(y)
    y, mean, std = y[ok], mean[ok], std[ok]
    if not len(y):
        return {"n": 0}
    err = y - mean
    out: dict[str, Any] = {
        "n": int(len(y)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": float(1 - np.sum(err**2) / max(1e-12, np.sum((y - y.mean()) ** 2))),
    }
    if np.all(np.isfinite(std)) and np.all(std > 0):
        z = np.abs(err) / std
        out["within_1std"] = float(np.mean(z <= 1))
        out["within_2std"] = float(np.mean(z <= 2))
        out["spearman_error_std"] = _spearman(np.abs(err), std)
    return out


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """ROC-AUC, PR-AUC and the expected calibration error (10 bins) for one target."""
    ok = ~np.isnan(y)
    y, p = y[ok], p[ok]
    if not len(y):
        return {"n": 0}
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        abs(float(np.mean(y[bins == b])) - float(np.mean(p[bins == b]))) * np.mean(bins == b)
        for b in range(10)
        if np.any(bins == b)
    )
    return {
        "n": int(len(y)),
        "n_positive": int(y.sum()),
        "roc_auc": roc_auc(y, p),
        "pr_auc": average_precision(y, p),
        "ece": float(ece),
    }


def target_metrics(
    task: str,
    targets: list[str],
    y: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray | None = None,
) -> dict[str, Any]:
    """The metrics of every target column (``std``: the predicted deviations, regression)."""
    if std is None:
        std = np.full_like(mean, np.nan)
    return {
        name: classification_metrics(y[:, j], mean[:, j])
        if task == "classification"
        else regression_metrics(y[:, j], mean[:, j], std[:, j])
        for j, name in enumerate(targets)
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return math.nan
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def train_predictor(
    table: PropertyTable,
    out: str | Path,
    settings: TrainSettings | None = None,
    progress: bool = False,
    source: dict[str, Any] | None = None,
    split: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Train an ensemble on ``table``, save it into ``out`` and return the test metrics.

    ``split``: the training, validation and test rows, when given (else ``settings.split``
    makes them).

    Raises:
        ValueError: too few rows for the split, or a split without labels for a target.
        RunInUseError: another process trains into ``out``.
    """
    settings = settings or TrainSettings()
    out = Path(out)
    with RunFolder(out) as folder, threads_set(settings.threads):
        folder.record()
        return _train(table, out, settings, progress, source or {}, split)


def _train(
    table: PropertyTable,
    out: Path,
    settings: TrainSettings,
    progress: bool,
    source: dict[str, Any],
    split: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    if len(table) < 10:
        raise ValueError(f"{len(table)} usable rows: a predictor needs at least 10")
    t0 = time.perf_counter()
    train, val, test = split or split_indices(
        table.mols, settings.split, settings.seed, settings.val_fraction, settings.test_fraction
    )
    y = table.y
    for name, idx in (("training", train), ("validation", val)):
        empty = [t for j, t in enumerate(table.targets) if np.all(np.isnan(y[idx, j]))]
        if empty:
            raise ValueError(f"the {name} set has no value of target(s) {', '.join(empty)}")
    steps = math.ceil(len(train) / settings.batch_size) * settings.epochs
    if steps < FEW_STEPS:
        log.warning(
            "%d training rows in batches of %d for %d epochs: only %d optimizer steps, which "
            "under-fitted every model of the scarce-data benchmark; small sets learn better "
            "with more epochs (e.g. --epochs %d)",
            len(train), settings.batch_size, settings.epochs, steps,
            math.ceil(FEW_STEPS / math.ceil(len(train) / settings.batch_size)),
        )  # fmt: skip
    if settings.task == "classification":
        mean, scale = np.zeros(y.shape[1]), np.ones(y.shape[1])
    else:
        mean = np.nanmean(y[train], axis=0)
        scale = np.nanstd(y[train], axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    graphs = [mol_graph(m, settings.network.encoder == "graph+smiles") for m in table.mols]
    tokens = None
    if settings.network.encoder == "graph+smiles":  # the vocabulary of the training SMILES
        tokens = SmilesTokenizer.build(graphs[i].smiles for i in train).itos[4:]
    scaled = (y - mean) / scale

    def pick(idx: np.ndarray) -> list[Any]:
        return [graphs[i] for i in idx]

    bar = tqdm(
        total=settings.ensemble * settings.epochs,
        desc="predictor",
        unit="epoch",
        disable=not progress,
        dynamic_ncols=True,
    )
    members, histories = [], []
    partial = _Finished(out / PARTIAL, _training_key(settings, table, train, val, scaled))
    try:
        for k in range(settings.ensemble):
            found = partial.load(k, lambda: build_network(y.shape[1], settings, tokens))
            if found is None:
                start = time.perf_counter()
                net, history = train_member(
                    pick(train), scaled[train], pick(val), scaled[val], settings, k, bar, tokens
                )
                partial.save(k, net, history, time.perf_counter() - start)
            else:
                net, history = found
                bar.update(settings.epochs)
            members.append(net)
            histories.append(history)
    finally:
        bar.close()
    train_s = time.perf_counter() - t0 + partial.earlier_s

    def ensemble(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = np.stack([_outputs(net, pick(idx)) for net in members])
        values = 1 / (1 + np.exp(-raw)) if settings.task == "classification" else raw * scale + mean
        return values.mean(axis=0), values.std(axis=0)

    val_mean, val_std = ensemble(val)
    std_scale = np.ones(y.shape[1])
    if settings.task == "regression" and settings.ensemble > 1:
        for j in range(y.shape[1]):
            ok = ~np.isnan(y[val, j]) & (val_std[:, j] > 0)
            if ok.any():
                z = (y[val, j][ok] - val_mean[ok, j]) / val_std[ok, j]
                std_scale[j] = float(np.quantile(np.abs(z), ONE_SIGMA))
    test_mean, test_std = ensemble(test)
    calibrated = test_std * std_scale if settings.ensemble > 1 else test_std * 0
    per_target = target_metrics(settings.task, table.targets, y[test], test_mean, calibrated)
    if settings.task == "regression":
        plot_parity(y[test], test_mean, calibrated, table.targets, out / "test_parity.png")
    metrics = {
        "task": settings.task,
        "split": settings.split if split is None else "given",
        "seed": settings.seed,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "test": per_target,
        "train_s": round(train_s, 1),
        "s_per_epoch": round(train_s / (settings.ensemble * settings.epochs), 3),
        "best_epochs": [int(np.argmin([h["val_loss"] for h in hist])) + 1 for hist in histories],
    }
    for i, net in enumerate(members):
        save_file(
            {k: v.contiguous() for k, v in net.state_dict().items()}, str(out / member_file(i))
        )
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "features_version": FEATURES_VERSION,
        "task": settings.task,
        "targets": table.targets,
        "n_models": settings.ensemble,
        "network": settings.network.to_dict(),
        **_mixture_config(settings, members),
        **({"smiles_tokens": tokens} if tokens is not None else {}),
        "scaler": {"mean": mean.tolist(), "std": scale.tolist()},
        "calibration": {"std_scale": std_scale.tolist()},
        "training": {
            **{
                k: v
                for k, v in asdict(settings).items()
                if k not in ("network", "threads", "experts")
            },
            "data": {**source, "n_rows": len(table), "n_skipped": len(table.skipped)},
        },
        "test_metrics": per_target,
    }
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    (out / "metrics.json").write_text(
        json.dumps({**metrics, "history": histories}, indent=1) + "\n"
    )
    write_csv(
        out / "skipped.csv",
        ["line", "reason"],
        [{"line": line, "reason": why} for line, why in table.skipped],
    )
    save_domain(out / DOMAIN, [table.mols[i] for i in train])
    indices = {"train": train.tolist(), "val": val.tolist(), "test": test.tolist()}
    (out / "split.json").write_text(json.dumps(indices) + "\n")  # rows of the usable table
    forget_loaded()  # a predictor loaded before from this folder is stale now
    partial.remove()
    return metrics


PARTIAL = "partial"
"""Subfolder of a predictor being trained: its finished ensemble members, so that an
interrupted training resumes with the next member (removed when the predictor is saved)."""


def _training_key(
    settings: TrainSettings,
    table: PropertyTable,
    train: np.ndarray,
    val: np.ndarray,
    scaled: np.ndarray,
) -> str:
    """What a finished member depends on: the settings, the data and the split."""
    import hashlib

    digest = hashlib.sha256()
    plain = {k: v for k, v in asdict(settings).items() if k != "threads"}
    digest.update(json.dumps(plain, sort_keys=True, default=str).encode())
    digest.update("\n".join(table.smiles).encode())
    for array in (train, val, np.nan_to_num(scaled, nan=1e300)):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class _Finished:
    """The finished members of an interrupted training (safetensors + JSON, no pickle)."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder, self.key = folder, key
        self.earlier_s = 0.0  # training seconds of the members loaded back

    def load(self, k: int, build: Any) -> tuple[nn.Module, list[dict[str, float]]] | None:
        from safetensors.torch import load_file

        meta_path = self.folder / f"member_{k}.json"
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("key") != self.key:
                return None
            net = build()
            net.load_state_dict(load_file(str(self.folder / f"member_{k}.safetensors")))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None  # none saved, or not from this training: train it
        log.info("predictor: member %d was trained before the interruption, loaded", k)
        self.earlier_s += float(meta.get("train_s", 0.0))
        return net.eval(), list(meta["history"])

    def save(self, k: int, net: nn.Module, history: list[dict[str, float]], seconds: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tensors = {n: v.contiguous() for n, v in net.state_dict().items()}
        save_file(tensors, str(self.folder / f"member_{k}.safetensors"))
        meta = {"key": self.key, "history": history, "train_s": seconds}
        (self.folder / f"member_{k}.json").write_text(json.dumps(meta) + "\n")

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def _mixture_config(settings: TrainSettings, members: list[nn.Module]) -> dict[str, Any]:
    """What :mod:`.model` needs to rebuild a mixture, and its learned gate weights."""
    if not settings.experts:
        return {"model": "mpnn"}
    experts = []
    for folder in settings.experts:
        expert = load_predictor(folder)  # cached: loaded when the members were built
        experts.append(
            {
                "source": Path(folder).name,
                "targets": expert.targets,
                "n_outputs": len(expert.targets),
                "network": NetworkSettings(**expert.config["network"]).to_dict(),
            }
        )
    gates = [m.gate_weights().tolist() for m in members if isinstance(m, MixtureOfExperts)]
    return {
        "model": "moe",
        "experts": experts,
        "freeze_experts": not settings.fine_tune_experts,
        "gate_weights": gates,
    }


def plot_parity(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, targets: list[str], path: Path
) -> None:
    """Predicted against measured values of the test set, one panel per target (at most 4),
    with the calibrated ±1 std as error bars: ``test_parity.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = targets[:4]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4), dpi=110)
    for j, (ax, name) in enumerate(zip(np.atleast_1d(axes), shown, strict=False)):
        ok = ~np.isnan(y[:, j])
        yerr = std[ok, j] if np.all(np.isfinite(std[ok, j])) and std[ok, j].any() else None
        ax.errorbar(y[ok, j], mean[ok, j], yerr=yerr, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
        low = float(min(y[ok, j].min(), mean[ok, j].min())) if ok.any() else 0.0
        high = float(max(y[ok, j].max(), mean[ok, j].max())) if ok.any() else 1.0
        ax.plot([low, high], [low, high], color="tab:gray", lw=1)
        pad = 0.05 * (high - low or 1.0)
        ax.set_xlim(low - pad, high + pad)  # the points decide the view, not long error bars
        ax.set_ylim(low - pad, high + pad)
        ax.set_xlabel(f"measured {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.set_title(f"test set ({int(ok.sum())} molecules)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
