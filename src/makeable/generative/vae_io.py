"""Save and load SMILES VAEs without pickle, and find the shipped default.

A model folder holds ``model.safetensors`` (the weights) and ``config.json``::

    {"format": "makeable-smiles-vae/1", "class": "SmilesVAE",
     "args": {...constructor arguments, property names, means and stds...},
     "vocab": {...the tokenizer...}, "training": {...what the trainer recorded...}}

Loading reads JSON and safetensors only, so a folder from elsewhere cannot run code; a folder
that is missing, damaged or of another kind is refused with one ``ValueError`` line. A training
folder of :mod:`makeable.generative.vae_train` is also a model folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from makeable.chem.smiles_tokens import SmilesTokenizer
from makeable.generative.vae import SmilesVAE
from makeable.models.checkpoints import load_weights
from makeable.settings import read_json_object, write_settings

__all__ = ["DEFAULT_VAE", "FORMAT", "load_vae", "save_vae", "vae_path"]

WEIGHTS, CONFIG = "model.safetensors", "config.json"
FORMAT = "makeable-smiles-vae/1"
DEFAULT_VAE = "zinc250k_vae"
"""The name of the VAE the package would ship under ``makeable/resources/vae/`` (none yet)."""

TRAIN_HINT = "train one with `makeable vae train zinc250k --out DIR` and pass --model DIR"


def save_vae(model: SmilesVAE, folder: str | Path, training: dict[str, Any] | None = None) -> Path:
    """Write ``model`` into ``folder`` (created): weights, then ``config.json`` (atomically)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS))
    config = {
        "format": FORMAT,
        "class": type(model).__name__,
        "args": model.config(),
        "vocab": model.tokenizer.to_dict(),
        "training": training or {},
    }
    write_settings(out / CONFIG, config)
    return out


def load_vae(folder: str | Path) -> SmilesVAE:
    """Rebuild a model saved by :func:`save_vae` (in eval mode, on the CPU).

    Raises:
        ValueError: the folder is missing, lacks a file, holds another kind of model, or a file
            cannot be read or does not fit the config (one line naming the file).
    """
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"no SMILES VAE model folder {path}; {TRAIN_HINT}")
    missing = [f for f in (CONFIG, WEIGHTS) if not (path / f).is_file()]
    if missing:
        raise ValueError(f"{path} is not a SMILES VAE model folder: it lacks {', '.join(missing)}")
    config = read_json_object(path / CONFIG)
    if config.get("format") != FORMAT:
        kind = config.get("class") or config.get("format")
        if kind:
            raise ValueError(f"{path / CONFIG} describes a {kind}, not a SMILES VAE")
        raise ValueError(f"{path / CONFIG} is not a SMILES VAE config (no format {FORMAT!r})")
    try:
        tokenizer = SmilesTokenizer.from_dict(config["vocab"])
        model = SmilesVAE(tokenizer, **config["args"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"{path / CONFIG} lacks a setting or holds a wrong one ({exc!r})"
        ) from None
    load_weights(model, path / WEIGHTS, path / CONFIG)
    return model


def vae_path(model: str | Path | None = None) -> Path:
    """The folder of a VAE: ``model`` as a path, or (``None``) the shipped default.

    Raises:
        ValueError: ``None`` and no VAE ships with the package (saying how to train one).
    """
    if model is not None:
        return Path(model)
    shipped = resources.files("makeable.resources").joinpath("vae", DEFAULT_VAE, WEIGHTS)
    if not shipped.is_file():
        raise ValueError(f"no SMILES VAE ships with makeable yet: {TRAIN_HINT}")
    return Path(str(shipped)).parent
