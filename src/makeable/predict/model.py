"""A saved property predictor: an ensemble of D-MPNNs that predicts a mean and a standard
deviation per target.

A predictor folder holds ``config.json`` (the format, the feature version, the task, the
targets, the network, the target scaling, the calibration and the test metrics) and
``model_<i>.safetensors`` per ensemble member. Loading reads JSON and safetensors only: nothing
is unpickled. A folder of another format or feature version is refused with one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from makeable.chem.molecule import parse_smiles, quiet_rdkit
from makeable.predict import FORMAT_NAME
from makeable.predict.features import FEATURES_VERSION, batch_graphs, mol_graph
from makeable.predict.mpnn import MPNN, DualEncoder, MixtureOfExperts, NetworkSettings
from makeable.runtime import threads_set

FORMAT_VERSION = 1
CONFIG = "config.json"


def member_file(i: int) -> str:
    return f"model_{i}.safetensors"


class PredictorError(ValueError):
    """A predictor folder cannot be loaded (missing, corrupt, another format)."""


@dataclass
class Prediction:
    """Predictions for a list of molecules.

    Attributes:
        mean: ``(n, n_targets)``; regression: the target's units; classification: P(class 1).
        std: ``(n, n_targets)``: the ensemble's spread, calibrated on the validation set
            (regression), NaN for a single model.
        valid: ``(n,)``: the SMILES parsed (rows of invalid ones are NaN).
    """

    mean: np.ndarray
    std: np.ndarray
    valid: np.ndarray


class Predictor:
    """A loaded predictor (use :func:`load_predictor`)."""

    def __init__(self, config: dict[str, Any], members: list[torch.nn.Module]) -> None:
        self.config = config
        self.members = members
        self.task: str = config["task"]
        self.targets: list[str] = list(config["targets"])
        self.mean_ = np.asarray(config["scaler"]["mean"], dtype=np.float64)
        self.scale_ = np.asarray(config["scaler"]["std"], dtype=np.float64)
        self.calibration = np.asarray(config["calibration"]["std_scale"], dtype=np.float64)
        self.threads = 1
        self.needs_smiles = config["network"].get("encoder") == "graph+smiles"

    def target_index(self, target: str | None) -> int:
        """The column of ``target`` (the first when ``None``).

        Raises:
            PredictorError: no such target.
        """
        if target is None:
            return 0
        if target not in self.targets:
            raise PredictorError(
                f"the predictor has no target {target!r}; its targets: {', '.join(self.targets)}"
            )
        return self.targets.index(target)

    def predict_mols(self, mols: Sequence[Any], batch_size: int = 256) -> tuple[np.ndarray, ...]:
        """``(mean, std)`` arrays, ``(n, n_targets)``, for parsed molecules (torch on
        :attr:`threads` CPU threads: 1 by default, faster for small graphs)."""
        with threads_set(self.threads), torch.no_grad():
            return self._predict(mols, batch_size)

    def _predict(self, mols: Sequence[Any], batch_size: int) -> tuple[np.ndarray, ...]:
        n, t = len(mols), len(self.targets)
        outputs = np.zeros((len(self.members), n, t), dtype=np.float64)
        for start in range(0, n, batch_size):
            chunk = mols[start : start + batch_size]
            batch = batch_graphs([mol_graph(m, self.needs_smiles) for m in chunk])
            for k, net in enumerate(self.members):
                raw = net(batch).double().numpy()
                outputs[k, start : start + batch_size] = raw
        if self.task == "classification":
            values = 1.0 / (1.0 + np.exp(-outputs))
        else:
            values = outputs * self.scale_ + self.mean_
        mean = values.mean(axis=0)
        if len(self.members) > 1:
            std = values.std(axis=0, ddof=0) * self.calibration
        else:
            std = np.full_like(mean, math.nan)
        return mean, std

    def predict(self, smiles: Sequence[str]) -> Prediction:
        """Predict for SMILES strings (invalid ones get NaN and ``valid`` False)."""
        with quiet_rdkit():
            mols = [parse_smiles(s, limit_size=True) for s in smiles]
        ok = np.array([m is not None for m in mols], dtype=bool)
        mean = np.full((len(smiles), len(self.targets)), math.nan)
        std = np.full_like(mean, math.nan)
        if ok.any():
            m, s = self.predict_mols([x for x in mols if x is not None])
            mean[ok], std[ok] = m, s
        return Prediction(mean, std, ok)


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG
    if not folder.is_dir():
        raise PredictorError(f"predictor folder not found: {folder}")
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise PredictorError(f"{folder} is not a predictor folder (no {CONFIG})") from None
    except (OSError, ValueError) as exc:
        raise PredictorError(f"{path} is not readable JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise PredictorError(f"{folder} is not a makeable predictor (format {FORMAT_NAME!r})")
    if config.get("format_version") != FORMAT_VERSION:
        raise PredictorError(
            f"{folder}: predictor format {config.get('format_version')!r}, this makeable reads "
            f"{FORMAT_VERSION}"
        )
    if config.get("features_version") != FEATURES_VERSION:
        raise PredictorError(
            f"{folder} was trained with feature version {config.get('features_version')!r}; "
            f"this makeable computes version {FEATURES_VERSION}: train it again"
        )
    return config


def _network(config: dict[str, Any], n_targets: int, settings: NetworkSettings) -> torch.nn.Module:
    """An untrained network of the saved shape: an MPNN, or a mixture of experts."""
    if config.get("model", "mpnn") == "mpnn":
        if settings.encoder == "graph+smiles":
            return DualEncoder(n_targets, list(config["smiles_tokens"]), settings)
        return MPNN(n_targets, settings)
    experts = [
        MPNN(int(e["n_outputs"]), NetworkSettings(**e["network"])) for e in config["experts"]
    ]
    return MixtureOfExperts(experts, n_targets, settings, freeze=bool(config["freeze_experts"]))


@lru_cache(maxsize=8)
def _load(folder: str) -> Predictor:
    path = Path(folder)
    config = read_config(path)
    try:
        settings = NetworkSettings(**config["network"])
        n_targets = len(config["targets"])
        members: list[torch.nn.Module] = []
        for i in range(int(config["n_models"])):
            net = _network(config, n_targets, settings)
            net.load_state_dict(load_file(str(path / member_file(i))))
            members.append(net.eval())
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError, OSError) as exc:
        raise PredictorError(f"{path}: cannot load the predictor's weights ({exc})") from None
    return Predictor(config, members)


def forget_loaded() -> None:
    """Drop the cached predictors (after one was trained again into its folder)."""
    _load.cache_clear()


def load_predictor(folder: str | Path) -> Predictor:
    """Load a predictor folder (cached per path).

    Raises:
        PredictorError: missing folder, not a predictor, another format or feature version,
            unreadable weights.
    """
    return _load(str(Path(folder).resolve()))
