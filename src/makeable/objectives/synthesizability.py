"""``synth_score``: a learned synthesizability score, P(the planner finds a route).

In the spirit of RAscore (Thakkar et al. 2021): a classifier trained on the outcomes of
makeable's own planner (:mod:`makeable.synthesis`: Retro* with the planning default
``template_mlp_uspto500mt`` and the shipped exact stock ``building_blocks`` under a fixed call
budget) that answers in a millisecond what a search answers in seconds, so it can be a term of a
design objective. The score is the predicted probability that the planner solves the molecule
(a *makeable* route, every starting material in the stock), in ``[0, 1]``; it is an estimate,
never a verdict: plan the molecules that matter (``makeable retro plan``).

Two kinds of model folder, told apart by ``config.json``'s format:

* an **MLP** on fingerprints (``makeable synth train --model mlp``), evaluated here in numpy
  (nothing imports torch): the Morgan count fingerprint of radius 2 folded to 2048 bits as
  ``log1p(count)``, ReLU hidden layers, a sigmoid; ``model.safetensors`` holds
  ``layers.{i}.weight`` ``(out, in)`` and ``layers.{i}.bias``;
* a **D-MPNN** predictor of the label ``solved`` (``makeable synth train --model mpnn``; a
  :mod:`makeable.predict` folder, loaded by :class:`PredictorSynthModel`, with torch): the
  shipped model, an ensemble of three.

Nothing is unpickled either way. The shipped model lives in
``makeable/resources/synthesizability/``; ``synth_score`` with ``model=DIR`` uses another
folder. On the same labels and splits the D-MPNN ranks held-out molecules better than the MLP
(test ROC-AUC about 0.89 against 0.85, scaffold splits; the shipped one 0.894), short of the
0.9 aimed for; it scores about 1,200 molecules per CPU-second from SMILES, the MLP about 5,300
(``docs/benchmarks/synthesizability.md``).

References:
    Thakkar, Chadimová, Bjerrum, Engkvist, Reymond, "Retrosynthetic accessibility score
    (RAscore) - rapid machine learned synthesizability classification from AI driven
    retrosynthetic planning", Chem. Sci. 12, 3339 (2021). https://doi.org/10.1039/D0SC05401A
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from makeable.objectives.base import OBJECTIVES, Objective

__all__ = [
    "CONFIG",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WEIGHTS",
    "SynthModelError",
    "SynthScore",
    "SynthScoreModel",
    "featurize",
    "load_synth_model",
    "read_model_files",
    "shipped_model_dir",
]

FORMAT_NAME = "makeable-synth-score"
FORMAT_VERSION = 1
WEIGHTS, CONFIG = "model.safetensors", "config.json"
FEATURE_KIND = "morgan_counts_log1p"
"""The one feature kind: ``log1p`` of folded Morgan counts."""


class SynthModelError(ValueError):
    """A synthesizability model folder that is missing, incomplete or unreadable."""


def shipped_model_dir() -> Path:
    """The folder of the shipped model (``makeable/resources/synthesizability``)."""
    return Path(str(resources.files("makeable.resources").joinpath("synthesizability")))


@functools.lru_cache(maxsize=4)  # per process; generators are never pickled
def _generator(radius: int, n_bits: int) -> Any:
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def featurize(mols: Sequence[Chem.Mol], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """``log1p`` of folded Morgan count fingerprints, float32, shape ``(len(mols), n_bits)``.

    Args:
        mols: RDKit molecules.
        radius: Morgan radius (2: ECFP4-like environments).
        n_bits: length of the folded vector; ids sharing a bit have their counts summed.
    """
    gen = _generator(radius, n_bits)
    out = np.zeros((len(mols), n_bits), dtype=np.float32)
    for i, mol in enumerate(mols):
        out[i] = gen.GetCountFingerprintAsNumPy(mol)
    return np.log1p(out, out=out)


class SynthScoreModel:
    """A loaded synthesizability classifier: features, then the MLP, in numpy float32.

    Args:
        config: the folder's ``config.json``.
        tensors: the weights, ``layers.{i}.weight`` ``(out, in)`` and ``layers.{i}.bias``.

    Raises:
        SynthModelError: a config of another format, or weights that do not fit it.
    """

    def __init__(self, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        if config.get("format") != FORMAT_NAME or config.get("format_version") != FORMAT_VERSION:
            raise SynthModelError(
                f"not a {FORMAT_NAME} v{FORMAT_VERSION} model: config says format "
                f"{config.get('format')!r} v{config.get('format_version')!r}"
            )
        features = config.get("features", {})
        if features.get("kind") != FEATURE_KIND:
            raise SynthModelError(f"unknown feature kind {features.get('kind')!r}")
        self.config = config
        self.radius = int(features["radius"])
        self.n_bits = int(features["n_bits"])
        sizes = [self.n_bits, *(int(h) for h in config["hidden"]), 1]
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            weight, bias = tensors.get(f"layers.{i}.weight"), tensors.get(f"layers.{i}.bias")
            if weight is None or bias is None:
                raise SynthModelError(f"the weights lack layer {i} (layers.{i}.weight / bias)")
            if weight.shape != (n_out, n_in) or bias.shape != (n_out,):
                raise SynthModelError(
                    f"layer {i} has weights {weight.shape} and bias {bias.shape}; the config "
                    f"needs {(n_out, n_in)} and {(n_out,)}"
                )
            self.layers.append(
                (np.ascontiguousarray(weight.T, dtype=np.float32), bias.astype(np.float32))
            )

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The network's output before the sigmoid, float32, shape ``(n,)``."""
        h = np.asarray(x, dtype=np.float32)
        for i, (weight_t, bias) in enumerate(self.layers):
            h = h @ weight_t + bias
            if i < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
        return h[:, 0]

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        """P(solved) from a feature matrix (:func:`featurize`), float64, shape ``(n,)``."""
        z = self.logits(x).astype(np.float64)
        e = np.exp(-np.abs(z))  # a sigmoid that overflows on neither side
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def predict(self, mols: Sequence[Chem.Mol], chunk_size: int = 1024) -> np.ndarray:
        """P(solved) per molecule, in chunks to bound memory."""
        out = np.zeros(len(mols), dtype=np.float64)
        for start in range(0, len(mols), chunk_size):
            chunk = mols[start : start + chunk_size]
            x = featurize(chunk, self.radius, self.n_bits)
            out[start : start + len(chunk)] = self.predict_features(x)
        return out


def read_model_files(folder: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The ``config.json`` and the weights of a model folder, as stored.

    Raises:
        SynthModelError: the folder or a file is missing, or a file cannot be read.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(folder)
    if not path.is_dir():
        raise SynthModelError(f"synthesizability model folder not found: {path}")
    missing = [name for name in (CONFIG, WEIGHTS) if not (path / name).is_file()]
    if missing:
        raise SynthModelError(
            f"{path} is not a synthesizability model folder: it lacks {', '.join(missing)} "
            "(`makeable synth train` writes both)"
        )
    try:
        config = json.loads((path / CONFIG).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SynthModelError(f"{path / CONFIG} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise SynthModelError(f"{path / CONFIG} does not hold a JSON object")
    try:
        tensors = load_file(str(path / WEIGHTS))
    except SafetensorError as exc:
        raise SynthModelError(
            f"{path / WEIGHTS} is not a readable safetensors file ({exc})"
        ) from None
    return config, tensors


class PredictorSynthModel:
    """A synthesizability model that is a predictor folder (:mod:`makeable.predict`, written by
    ``makeable synth train --model mpnn``): a D-MPNN of the target ``solved``. Loading it
    imports torch; it reads JSON and safetensors only.

    Raises:
        SynthModelError: the predictor cannot be loaded or has no target ``solved``.
    """

    def __init__(self, folder: Path) -> None:
        from makeable.predict.model import PredictorError, load_predictor

        try:
            self.predictor = load_predictor(folder)
        except PredictorError as exc:
            raise SynthModelError(str(exc)) from None
        if self.predictor.task != "classification" or "solved" not in self.predictor.targets:
            raise SynthModelError(
                f"{folder} is a predictor, but not of the label solved (a classification "
                "trained by `makeable synth train --model mpnn`)"
            )
        self.config = self.predictor.config
        self.column = self.predictor.target_index("solved")

    def predict(self, mols: Sequence[Chem.Mol], chunk_size: int = 1024) -> np.ndarray:
        """P(solved) per molecule."""
        mean, _ = self.predictor.predict_mols(list(mols), batch_size=chunk_size)
        return np.asarray(mean[:, self.column], dtype=np.float64)


SynthModel = SynthScoreModel | PredictorSynthModel


def _is_predictor(folder: Path) -> bool:
    """Whether ``folder``'s config names the predictor format (a D-MPNN model)."""
    from makeable.predict import FORMAT_NAME as PREDICTOR_FORMAT

    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False  # read_model_files says what is wrong
    return isinstance(config, dict) and config.get("format") == PREDICTOR_FORMAT


@functools.lru_cache(maxsize=4)  # per process: workers load each model once
def _load(folder: str) -> SynthModel:
    if _is_predictor(Path(folder)):
        return PredictorSynthModel(Path(folder))
    config, tensors = read_model_files(folder)
    try:
        return SynthScoreModel(config, tensors)
    except (KeyError, TypeError) as exc:
        raise SynthModelError(f"{Path(folder) / CONFIG} lacks a setting ({exc!r})") from None
    except SynthModelError as exc:
        raise SynthModelError(f"{folder}: {exc}") from None


def load_synth_model(folder: str | Path | None = None, fresh: bool = False) -> SynthModel:
    """Load a synthesizability model folder (``None``: the shipped model): an MLP folder, or a
    predictor folder of the label ``solved``. ``fresh``: read the files again (a folder just
    rewritten) instead of this process's loaded copy.

    Raises:
        SynthModelError: the folder is missing, incomplete or unreadable (one line saying
            which and why).
    """
    key = str(Path(folder).resolve() if folder is not None else shipped_model_dir())
    if fresh:
        _load.cache_clear()
        from makeable.predict.model import forget_loaded

        forget_loaded()
    return _load(key)


class SynthScore(Objective):
    """``synth_score``: the predicted probability that the planner solves the molecule.

    The model loads when the objective is made (so a bad folder fails at once, not as
    invalid scores later) and is dropped when the objective is pickled, so sending it to
    worker processes stays cheap; a worker loads it again on its first score.

    Args:
        model: a model folder (``makeable synth train --out DIR``); ``None``: the shipped one.

    Raises:
        SynthModelError: the folder is missing, incomplete or unreadable.
    """

    name = "synth_score"

    def __init__(self, model: str | Path | None = None) -> None:
        self._source = None if model is None else str(model)
        self._model: SynthModel | None = load_synth_model(self._source)

    @property
    def model(self) -> SynthModel:
        """The loaded model (loaded on first access)."""
        if self._model is None:
            self._model = load_synth_model(self._source)
        return self._model

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        return self.model.predict(list(mols))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state


OBJECTIVES.add("synth_score", SynthScore)
