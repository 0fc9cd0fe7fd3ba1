"""Training checkpoints in safe formats: resume a killed training where it stopped.

A checkpoint is a folder ``<root>/checkpoints/<prefix>_<N>/`` (``N`` = steps or epochs done)::

    model.safetensors       the network's weights
    optimizer.safetensors   the optimizer's tensors (Adam moments) and torch's RNG state
    extra.safetensors       optional tensors of the caller (e.g. the best weights so far)
    state.json              the caller's state, the optimizer's scalars and param groups

It is written to a ``.tmp`` folder first and renamed, so a kill leaves the previous one whole.
Nothing is unpickled. Used by the SMILES language model's and the VAE's training, and — through
:class:`EpochRun`, the bookkeeping of an epoch-based training that keeps its best epoch — by
the Template-MLP and the Local-GNN.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def save_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: Mapping[str, Any],
    extra: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Write a checkpoint folder atomically (see the module docstring)."""
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(
        {k: v.contiguous().cpu() for k, v in model.state_dict().items()},
        str(tmp / "model.safetensors"),
    )
    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {"torch_rng_state": torch.get_rng_state()}
    scalars: dict[str, Any] = {}
    for pid, pstate in opt["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{pid}.{key}"] = value.contiguous().cpu()
            else:
                scalars[f"state.{pid}.{key}"] = value
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    if extra:
        extra_cpu = {k: v.contiguous().cpu() for k, v in extra.items()}
        save_file(extra_cpu, str(tmp / "extra.safetensors"))
    meta = {**state, "param_groups": opt["param_groups"], "optimizer_scalars": scalars}
    (tmp / "state.json").write_text(json.dumps(meta, indent=1) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)


def load_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore weights, optimizer state and torch's RNG; returns ``(state, extra tensors)``."""
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    meta: dict[str, Any] = json.loads((folder / "state.json").read_text())
    tensors = load_file(str(folder / "optimizer.safetensors"))
    torch.set_rng_state(tensors.pop("torch_rng_state"))
    per_param: dict[int, dict[str, Any]] = {}
    for name, value in [*tensors.items(), *meta["optimizer_scalars"].items()]:
        _, pid, key = name.split(".", 2)
        per_param.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
    extra_path = folder / "extra.safetensors"
    extra = load_file(str(extra_path)) if extra_path.is_file() else {}
    return meta, extra


def _number(path: Path) -> int:
    return int(path.name.rsplit("_", 1)[1])


def latest_checkpoint(root: Path, prefix: str = "step") -> Path | None:
    """The finished checkpoint of ``root/checkpoints`` with the largest number, if any."""
    folders = [
        p for p in (root / "checkpoints").glob(f"{prefix}_*") if (p / "state.json").is_file()
    ]
    return max(folders, key=_number, default=None)


def prune_checkpoints(root: Path, keep: int, prefix: str = "step") -> None:
    """Delete all but the ``keep`` latest checkpoints."""
    folders = sorted((root / "checkpoints").glob(f"{prefix}_*"), key=_number)
    for folder in folders[:-keep]:
        shutil.rmtree(folder, ignore_errors=True)


log = logging.getLogger(__name__)


@dataclass
class EpochRun:
    """An epoch-based training that keeps the weights of its best epoch and resumes.

    :meth:`resume` starts it (from the last checkpoint of ``root``, when one of the same
    ``identity`` is there), :meth:`keep_best` after each epoch, :meth:`save` writes the
    epoch's checkpoint (the network, the optimizer, the best weights so far, the history,
    the time spent, and the caller's own ``state`` and ``extra`` tensors), and
    :meth:`best_weights` gives the kept weights at the end. ``state`` and ``extra`` hold what
    the resumed checkpoint had, for the caller's own fields (a scheduler, a second
    optimizer, the data order's RNG).
    """

    root: Path | None
    identity: dict[str, Any]
    start: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float | None = None
    best: dict[str, torch.Tensor] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    t0: float = field(default_factory=time.perf_counter)

    @classmethod
    def resume(
        cls,
        root: str | Path | None,
        identity: dict[str, Any],
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        name: str,
        epochs: int,
    ) -> EpochRun:
        """A fresh run, or the one whose last checkpoint is in ``root`` (restored into
        ``model`` and ``optimizer``).

        Raises:
            ValueError: ``root`` holds checkpoints of a training with another ``identity``
                (other data, templates or parameters).
        """
        folder = Path(root) if root is not None else None
        last = latest_checkpoint(folder, "epoch") if folder is not None else None
        if last is None:
            return cls(folder, identity)
        if json.loads((last / "state.json").read_text()).get("identity") != identity:
            raise ValueError(
                f"{folder} holds checkpoints of another training (other data, templates or "
                "parameters); use another output folder or delete its checkpoints folder"
            )
        state, extra = load_checkpoint(last, model, optimizer)
        log.info("%s: resuming after epoch %d of %d", name, state["epoch"], epochs)
        return cls(
            folder,
            identity,
            start=state["epoch"],
            history=state["history"],
            best_score=state["best_score"],
            best={k[5:]: v for k, v in extra.items() if k.startswith("best.")},
            state=state,
            extra={k: v for k, v in extra.items() if not k.startswith("best.")},
            t0=time.perf_counter() - state["train_time_s"],
        )

    @property
    def seconds(self) -> float:
        """Training time so far, over all sessions."""
        return time.perf_counter() - self.t0

    def keep_best(self, score: float, model: torch.nn.Module) -> None:
        """Keep ``model``'s weights when ``score`` is at least the best so far."""
        if self.best_score is None or score >= self.best_score:
            self.best_score = score
            self.best = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def save(
        self,
        epoch: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        state: Mapping[str, Any] | None = None,
        extra: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        """Write the checkpoint of ``epoch`` (epochs done) and drop the older ones; nothing
        without a ``root``."""
        if self.root is None:
            return
        full_state = {
            **(state or {}),
            "epoch": epoch,
            "identity": self.identity,
            "train_time_s": self.seconds,
            "history": self.history,
            "best_score": self.best_score,
        }
        tensors = {f"best.{k}": v for k, v in (self.best or {}).items()}
        tensors.update(extra or {})
        save_checkpoint(
            self.root / "checkpoints" / f"epoch_{epoch}", model, optimizer, full_state, tensors
        )
        prune_checkpoints(self.root, keep=1, prefix="epoch")

    def best_weights(self, storage_dtype: str = "float32") -> dict[str, torch.Tensor]:
        """The kept weights; with ``storage_dtype="float16"`` rounded to float16 (and back),
        so that a model saved in float16 predicts what the trained one does."""
        if self.best is None:
            raise RuntimeError("no epoch was trained")
        if storage_dtype == "float16":
            return {k: v.half().float() for k, v in self.best.items()}
        return self.best


def load_weights(model: torch.nn.Module, weights: Path, config: Path) -> torch.nn.Module:
    """Load a saved model's ``weights`` (safetensors) into ``model``, built from ``config``,
    and put it in eval mode.

    Raises:
        ValueError: the file cannot be read, or its tensors do not fit the model (one line
            naming both files).
    """
    try:
        tensors = load_file(str(weights), device="cpu")
    except SafetensorError as exc:
        raise ValueError(f"{weights} is not a readable safetensors file ({exc})") from None
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        message = " ".join(str(exc).split())[:300]
        raise ValueError(f"{weights} does not fit {config} ({message})") from None
    return model.eval()
