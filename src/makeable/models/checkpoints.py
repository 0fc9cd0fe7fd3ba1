"""Training checkpoints in safe formats: resume a killed training where it stopped.

A checkpoint is a folder ``<root>/checkpoints/<prefix>_<N>/`` (``N`` = steps or epochs done)::

    model.safetensors       the network's weights
    optimizer.safetensors   the optimizer's tensors (Adam moments) and torch's RNG state
    extra.safetensors       optional tensors of the caller (e.g. the best weights so far)
    state.json              the caller's state, the optimizer's scalars and param groups

It is written to a ``.tmp`` folder first and renamed, so a kill leaves the previous one whole.
Nothing is unpickled. Used by the SMILES language model's training and by the Template-MLP.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
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
