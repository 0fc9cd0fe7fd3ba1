"""A saved property predictor: an ensemble of D-MPNNs that predicts a mean and a standard
deviation per target.

A predictor folder holds ``config.json`` (the format, the feature version, the task, the
targets, the network, the target scaling, the calibration and the test metrics) and
``model_<i>.safetensors`` per ensemble member, and ``domain.npz``: the Morgan fingerprints
(radius 2, 2,048 bits, packed) of its training molecules, for the applicability domain
(:meth:`Predictor.nearest_similarity`). Loading reads JSON, safetensors and npz (without
pickle) only. A folder of another format or feature version is refused with one line.
"""

from __future__ import annotations

import json
import math
import zipfile
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
DOMAIN = "domain.npz"
DOMAIN_BITS = 2048


def save_domain(path: Path, mols: Sequence[Any]) -> None:
    """Write the training molecules' Morgan fingerprints (radius 2, :data:`DOMAIN_BITS` bits)
    to ``path`` as one packed ``uint8`` array ``bits`` (``(n, DOMAIN_BITS / 8)``)."""
    from rdkit import DataStructs

    from makeable.chem.fingerprints import morgan_bits

    packed = np.zeros((len(mols), DOMAIN_BITS // 8), dtype=np.uint8)
    bits = np.zeros(DOMAIN_BITS, dtype=np.uint8)
    for i, mol in enumerate(mols):  # one row at a time: 256 bytes a molecule in memory
        DataStructs.ConvertToNumpyArray(morgan_bits(mol, 2, DOMAIN_BITS), bits)
        packed[i] = np.packbits(bits)
    np.savez_compressed(path, bits=packed)


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

    def __init__(
        self, config: dict[str, Any], members: list[torch.nn.Module], folder: Path | None = None
    ) -> None:
        self.config = config
        self.folder = folder
        self._domain: list[Any] | None = None
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

    @property
    def has_domain(self) -> bool:
        """Whether the folder holds its training molecules' fingerprints (``domain.npz``)."""
        return self.folder is not None and (self.folder / DOMAIN).is_file()

    def nearest_similarity(self, mols: Sequence[Any]) -> np.ndarray:
        """For each parsed molecule, the Tanimoto similarity (Morgan, radius 2, 2,048 bits) of
        its nearest training molecule: the applicability domain (near 1: like what the model
        learned from; low: the prediction is an extrapolation).

        Raises:
            PredictorError: the folder has no ``domain.npz`` (a predictor trained by an older
                makeable) or it is unreadable.
        """
        from rdkit import DataStructs

        from makeable.chem.fingerprints import morgan_bits

        if self._domain is None:
            if not self.has_domain:
                raise PredictorError(
                    f"{self.folder}: no {DOMAIN} (its training molecules' fingerprints; a "
                    "predictor trained before they were saved): train it again"
                )
            assert self.folder is not None
            try:
                with np.load(self.folder / DOMAIN, allow_pickle=False) as data:
                    packed = np.asarray(data["bits"], dtype=np.uint8)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                raise PredictorError(f"{self.folder / DOMAIN}: unreadable ({exc})") from None
            if packed.ndim != 2 or packed.shape[1] != DOMAIN_BITS // 8:
                raise PredictorError(
                    f"{self.folder / DOMAIN}: bits of shape {packed.shape}, expected "
                    f"(n, {DOMAIN_BITS // 8}): train the predictor again"
                )
            self._domain = []
            for row in packed:
                fp = DataStructs.ExplicitBitVect(DOMAIN_BITS)
                fp.SetBitsFromList(np.flatnonzero(np.unpackbits(row)[:DOMAIN_BITS]).tolist())
                self._domain.append(fp)
        if not self._domain:
            return np.zeros(len(mols))
        domain = self._domain
        return np.array(
            [max(DataStructs.BulkTanimotoSimilarity(morgan_bits(m, 2, DOMAIN_BITS), domain))
             for m in mols],
            dtype=np.float64,
        )  # fmt: skip

    def predict(self, smiles: Sequence[str]) -> Prediction:
        """Predict for SMILES strings (invalid ones get NaN and ``valid`` False)."""
        with quiet_rdkit():
            mols = [parse_smiles(s, limit_size=True) for s in smiles]
        return self.predict_parsed(mols)

    def predict_parsed(self, mols: Sequence[Any]) -> Prediction:
        """Predict for molecules parsed already (``None``: invalid; its row gets NaN)."""
        ok = np.array([m is not None for m in mols], dtype=bool)
        mean = np.full((len(mols), len(self.targets)), math.nan)
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
    return Predictor(config, members, path)


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
