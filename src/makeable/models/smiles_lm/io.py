"""Save and load SMILES language models without pickle.

A model folder holds ``model.safetensors`` (weights), ``vocab.json`` (the tokenizer) and
``config.json`` (``{"class": "SmilesLSTM", "args": {...}}`` plus free-form metadata). Nothing is
unpickled, so loading a folder from elsewhere cannot run code.

Shipped priors live in the package under ``makeable/resources/priors/<name>/`` and are loaded by
name with :func:`load_prior`.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from makeable.chem.smiles_tokens import SmilesTokenizer
from makeable.models.checkpoints import load_weights
from makeable.models.smiles_lm import DEFAULT_PRIOR
from makeable.models.smiles_lm.lstm import SmilesLSTM
from makeable.settings import read_json_object

log = logging.getLogger(__name__)

WEIGHTS, VOCAB, CONFIG = "model.safetensors", "vocab.json", "config.json"
MODEL_CLASSES: dict[str, type[SmilesLSTM]] = {"SmilesLSTM": SmilesLSTM}


class PriorNotFoundError(FileNotFoundError):
    """A named prior or model folder is missing (or its weights are not there yet)."""


def save_model(
    model: SmilesLSTM, folder: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` into ``folder`` (created) as safetensors + vocab.json + config.json."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS))
    model.tokenizer.save(out / VOCAB)
    config = {"class": type(model).__name__, "args": model.config(), **(metadata or {})}
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return out


def read_config(folder: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a model folder.

    Raises:
        ValueError: the file is not valid JSON or holds no object (one line naming it).
    """
    return read_json_object(Path(folder) / CONFIG)


def load_model(folder: str | Path) -> SmilesLSTM:
    """Rebuild a model saved by :func:`save_model` (in eval mode, on the CPU).

    Raises:
        PriorNotFoundError: a file is missing.
        ValueError: unknown model class, a file that cannot be read, or weights that do not
            fit the config (one line naming the file).
    """
    path = Path(folder)
    missing = [f for f in (WEIGHTS, VOCAB, CONFIG) if not (path / f).is_file()]
    if missing:
        raise PriorNotFoundError(f"model folder {path} lacks {', '.join(missing)}")
    config = read_config(path)
    cls = MODEL_CLASSES.get(config.get("class", ""))
    if cls is None:
        raise ValueError(f"unknown model class {config.get('class')!r} in {path / CONFIG}")
    try:
        tokenizer = SmilesTokenizer.load(path / VOCAB)
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path / VOCAB} is not a SMILES vocabulary ({exc!r})") from None
    try:
        model = cls(tokenizer, **config["args"])
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"{path / CONFIG} lacks a setting or holds a wrong one ({exc!r})"
        ) from None
    load_weights(model, path / WEIGHTS, path / CONFIG)
    return model


def prior_path(name_or_path: str | Path = DEFAULT_PRIOR) -> Path:
    """The folder of a prior: an existing folder path, or the name of a shipped prior.

    Raises:
        PriorNotFoundError: neither a model folder nor a shipped prior with weights.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    name = str(name_or_path)
    shipped = resources.files("makeable.resources").joinpath("priors", name)
    if shipped.is_dir():
        folder = Path(str(shipped))
        if (folder / WEIGHTS).is_file():
            return folder
        raise PriorNotFoundError(
            f"the shipped prior {name!r} has no weights yet ({folder / WEIGHTS}); train one with "
            "`makeable prior train --data zinc250k --out DIR` and pass DIR instead"
        )
    raise PriorNotFoundError(
        f"no prior {name!r}: neither a model folder nor a shipped prior "
        f"(shipped: {', '.join(shipped_priors()) or 'none'}); train one with `makeable prior "
        "train --out DIR` (add `--notation safe` for a SAFE model) and pass DIR instead"
    )


def shipped_priors() -> list[str]:
    """Names of the priors shipped with the package (with weights)."""
    root = resources.files("makeable.resources").joinpath("priors")
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.joinpath(WEIGHTS).is_file())


def load_prior(name_or_path: str | Path = DEFAULT_PRIOR) -> SmilesLSTM:
    """Load a shipped prior by name (default ``zinc250k_lstm``) or a model folder by path."""
    return load_model(prior_path(name_or_path))


def clone_model(model: SmilesLSTM) -> SmilesLSTM:
    """An independent copy (same class, config, vocabulary and weights)."""
    copy = type(model)(model.tokenizer, **model.config())
    copy.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})
    copy.train(model.training)
    return copy
