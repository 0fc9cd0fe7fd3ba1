"""The single-step retrosynthesis interface: products in, ranked reactant sets out.

A model subclasses :class:`SingleStepModel` and implements one hook, :meth:`_predict`, which
receives valid, canonical, de-duplicated products. The public :meth:`SingleStepModel.predict`
does the cross-cutting work once: parsing, flagging invalid input (an empty result, never an
exception), canonicalising and de-duplicating reactant sets, dropping trivial ones (the
product among its own reactants), ranking, and the top-k cut. A failure inside a model for one
product is caught and reported on that product's :class:`Prediction` only.

Models that can learn from more reactions after training implement :meth:`fine_tune`, the hook
of self-improved planning (:mod:`makeable.retro.planning.improve`).

Saved models are a folder: ``config.json`` (registry name, class, constructor arguments,
training record), ``model.safetensors`` (tensors) and model-specific plain files (JSON, text).
Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from makeable import __version__
from makeable.chem.molecule import Molecule, too_large
from makeable.chem.reaction import Reaction, canonical_unmapped
from makeable.data.molecules import cache_dir
from makeable.registry import Registry
from makeable.retro.single_step.templates import canonical_outcome
from makeable.settings import read_json_object

if TYPE_CHECKING:
    from makeable.data.stocks import Stock

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class ReactantSet:
    """One proposed set of reactants with its model score (higher is better).

    ``reactants`` is a sorted tuple of unique canonical SMILES; ``info`` carries model details
    (template, per-step scores, ...) outside identity.
    """

    reactants: tuple[str, ...]
    score: float
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def smiles(self) -> str:
        """The reactants as one dot-joined SMILES."""
        return ".".join(self.reactants)


@dataclass(frozen=True)
class Prediction:
    """The ranked reactant sets proposed for one input product.

    ``product`` is the input as given; ``canonical`` its canonical SMILES (atom maps removed),
    ``None`` when the input is not a valid SMILES. ``error`` explains an invalid input or a
    model failure on this product; ``reactant_sets`` is then empty.
    """

    product: str
    canonical: str | None
    reactant_sets: tuple[ReactantSet, ...] = ()
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.canonical is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (what ``makeable retro predict --json`` prints)."""
        return {
            "product": self.product,
            "canonical": self.canonical,
            "valid": self.valid,
            "error": self.error,
            "predictions": [
                {"rank": i, "reactants": rs.smiles, "score": rs.score, **dict(rs.info)}
                for i, rs in enumerate(self.reactant_sets, start=1)
            ],
        }


Answer = tuple[tuple[ReactantSet, ...], str | None]
"""A model's answer for one product: its ranked reactant sets and an error (``None``: none)."""


class PredictionMemo:
    """The answers a model whose weights no longer change has given, for repeats.

    Planning many targets with one model asks about the same molecules again and again (the
    precursors that similar targets share: 25 % of the expansions of a design run's top 30
    molecules were repeats). A model with a memo (``model.memo = PredictionMemo()``) answers a
    repeat — same canonical product, reaction class and ``k`` — from it, so only the work is
    saved: a search still counts the call against its budget. Answers with an error are not
    kept. Bounded: the least recently used answer goes first (an answer of 40 reactant sets
    holds about 23 KiB, so the default 5,000 answers hold about 115 MB).

    Only while a model is not trained may it have one, since training would make the kept
    answers stale: :func:`~makeable.retro.planning.search.plan_many` lends one for its call
    (and a worker's copy keeps one); the owners of models never trained keep theirs (the
    verdict planner of ``bench makeable``, a design run's ``--synthesis plan``).
    """

    def __init__(self, maxsize: int = 5_000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._answers: OrderedDict[tuple[str, int, int], Answer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: tuple[str, int, int]) -> Answer | None:
        """The kept answer for ``(canonical product, class, k)``, or ``None``."""
        answer = self._answers.get(key)
        if answer is None:
            self.misses += 1
            return None
        self.hits += 1
        self._answers.move_to_end(key)
        return answer

    def put(self, key: tuple[str, int, int], answer: Answer) -> None:
        if answer[1] is not None:
            return
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self.maxsize:
            self._answers.popitem(last=False)


class SingleStepModel(ABC):
    """A single-step retrosynthesis model: batch of products → ranked reactant sets.

    Subclasses set ``self.params`` (their constructor arguments, JSON-serialisable) so that
    :meth:`save` can record them, implement :meth:`_predict`, and — when they hold tensors or
    side files — :meth:`_tensors`, :meth:`_load_tensors`, :meth:`_save_files`,
    :meth:`_load_files`. Training is :meth:`fit`.
    """

    name: ClassVar[str] = ""
    score_merge: ClassVar[str] = "max"
    """How scores of duplicate reactant sets combine: ``"max"`` or ``"sum"`` (probabilities)."""
    scores_are_probabilities: ClassVar[bool] = False
    """True for a model whose scores are probabilities in (0, 1]: planning then costs a step
    ``-log p`` (Retro*) and uses ``p`` as MCTS's policy; otherwise every step costs the same."""
    requires_corpus: ClassVar[bool] = False
    """True for a model that trains on a ``retro corpus`` folder, not on USPTO-50k alone."""
    direction: ClassVar[str] = "retro"
    """``"retro"``: products in, reactant sets out. ``"forward"``: a reaction-prediction model
    with the same interface read the other way (reactant sets in, products out as the
    :class:`ReactantSet` values); planning and the retrosynthesis benchmarks refuse it."""
    batch_size: int = 64
    resumable_training: ClassVar[bool] = False
    """True for a model whose ``fit`` takes ``checkpoint_dir`` and ``device``: it writes a
    checkpoint per epoch there and resumes from it (``retro train`` passes its ``--out``)."""

    params: dict[str, Any]
    training: dict[str, Any]
    memo: PredictionMemo | None = None
    """Answers kept for repeats (:class:`PredictionMemo`); ``None``: every call computes."""

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)
        self.training = {}

    @property
    def supports_classes(self) -> bool:
        """True for a model that can use the reaction class of a product (``predict(...,
        classes=...)``; USPTO-50k's "class known" setting)."""
        return False

    def classes_missing(self) -> str:
        """Why this model cannot use reaction classes (the end of a one-line error)."""
        return "it has no use for them"

    def require_classes(self, shown: str | None = None) -> None:
        """Refuse reaction classes unless this model can use them.

        Raises:
            ValueError: one line naming the model (as ``shown``) and why.
        """
        if not self.supports_classes:
            name = shown or self.name
            raise ValueError(f"{name} cannot use reaction classes: {self.classes_missing()}")

    # ---------------------------------------------------------------- prediction
    def predict(
        self, products: Sequence[str], k: int = 10, classes: Sequence[int] | None = None
    ) -> list[Prediction]:
        """Propose up to ``k`` ranked reactant sets for each product.

        Args:
            products: product SMILES (atom maps allowed; they are removed).
            k: how many reactant sets to return per product at most.
            classes: optional reaction class of each product (USPTO classes 1-10, 0 =
                unknown), for models with ``supports_classes``.

        Returns:
            One :class:`Prediction` per input, same order. Invalid SMILES, and products too
            large to predict (:data:`makeable.chem.molecule.MAX_SMILES_LENGTH` characters,
            :data:`~makeable.chem.molecule.MAX_HEAVY_ATOMS` heavy atoms), give an empty,
            invalid-flagged prediction whose ``error`` says why; they never raise.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if classes is not None:
            self.require_classes()
            if len(classes) != len(products):
                raise ValueError("classes must have one entry per product")
        cls = [int(c) for c in classes] if classes is not None else [0] * len(products)
        canon = [
            canonical_unmapped(p, limit_size=True) if isinstance(p, str) else None for p in products
        ]
        keys = list(dict.fromkeys((c, y) for c, y in zip(canon, cls, strict=True) if c))
        results: dict[tuple[str, int], Answer] = {}
        memo = self.memo
        if memo is not None:
            for key in keys:
                kept = memo.get((*key, k))
                if kept is not None:
                    results[key] = kept
            keys = [key for key in keys if key not in results]
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            for key, result in zip(chunk, self._predict_safely(chunk, k), strict=True):
                results[key] = result
                if memo is not None:
                    memo.put((*key, k), result)
        out = []
        for given, c, y in zip(products, canon, cls, strict=True):
            if c is None:
                reason = too_large(given) or "invalid SMILES: RDKit cannot parse"
                out.append(Prediction(str(given), None, (), reason))
            else:
                sets, error = results[(c, y)]
                out.append(Prediction(given, c, sets, error))
        return out

    def _predict_safely(self, keys: list[tuple[str, int]], k: int) -> list[Answer]:
        mols = [Molecule(s) for s, _ in keys]
        classes = [y for _, y in keys] if self.supports_classes else None
        try:
            raw = self._predict(mols, k, classes) if classes else self._predict(mols, k)
            if len(raw) != len(mols):
                raise RuntimeError(f"{type(self).__name__}._predict returned a wrong length")
            return [(self._finish(m.smiles, r, k), None) for m, r in zip(mols, raw, strict=True)]
        except Exception as exc:
            if len(mols) == 1:
                log.warning("%s failed on %s: %s", type(self).__name__, keys[0][0], exc)
                return [((), f"model error: {exc}")]
        # one product broke the batch: retry one at a time so only it fails
        return [self._predict_safely([key], k)[0] for key in keys]

    def _finish(self, product: str, raw: Sequence[ReactantSet], k: int) -> tuple[ReactantSet, ...]:
        merged: dict[tuple[str, ...], ReactantSet] = {}
        for rs in raw:
            key = canonical_outcome(".".join(rs.reactants))
            if key is None or product in key:
                continue
            old = merged.get(key)
            if old is None:
                merged[key] = ReactantSet(key, float(rs.score), rs.info)
            elif self.score_merge == "sum":
                merged[key] = ReactantSet(key, old.score + float(rs.score), old.info)
            elif rs.score > old.score:
                merged[key] = ReactantSet(key, float(rs.score), rs.info)
        ranked = sorted(merged.values(), key=lambda rs: -rs.score)
        return tuple(ranked[:k])

    @abstractmethod
    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        """Reactant sets for valid, unique products (any order, any number; scores high=good).

        Return at least ``k`` sets where possible; duplicates are merged afterwards.
        ``classes`` (reaction class per product, 0 = unknown) is passed only to models with
        ``supports_classes``.
        """

    # ---------------------------------------------------------------- training
    def fit(self, train: Sequence[Any], val: Sequence[Any] | None = None, **kw: Any) -> None:
        """Train on reactions (``makeable.chem.reaction.Reaction``); models override."""
        raise NotImplementedError(f"{type(self).__name__} cannot be trained")

    def fine_tune(
        self,
        reactions: Sequence[Reaction],
        epochs: int = 1,
        lr: float = 1e-4,
        batch_size: int | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Continue training a trained model on ``reactions`` with its own supervised loss.

        The imitation step of self-improved planning (Kim et al., "Self-Improved
        Retrosynthetic Planning", ICML 2021, https://arxiv.org/abs/2106.04880): the reactions
        of routes the search solved become (product, reactants) training pairs. The weights
        are updated in place; the output space (templates, candidates) does not change, so
        reactions the model cannot express are skipped and counted in the record.

        Args:
            reactions: training reactions (``metadata`` may hold a ``template``).
            epochs: passes over ``reactions``.
            lr: learning rate (constant).
            batch_size: reactions per step (default: the model's training batch size).
            seed: seed of the data order and dropout.
            progress: show a progress bar.

        Returns:
            A JSON-ready record (examples used and skipped, loss per epoch, seconds), also
            appended to ``self.training["fine_tuning"]`` so that a saved model keeps it.

        Raises:
            FineTuningNotSupportedError: this model cannot be fine-tuned (the default).
        """
        raise FineTuningNotSupportedError(
            f"single-step model {self.name or type(self).__name__!r} does not support "
            "fine-tuning (self-improved planning needs SingleStepModel.fine_tune); models "
            f"that do: {', '.join(fine_tunable_models()) or 'none'}"
        )

    def _fine_tune_epochs(
        self,
        counts: Mapping[str, int],
        epochs: int,
        lr: float,
        batch_size: int,
        seed: int,
        progress: bool,
        train_epoch: Callable[[Any], float],
        loss: Callable[[], float] | None = None,
        finish: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """The loop and the record of a :meth:`fine_tune` whose examples are ready.

        ``counts`` holds ``n_given``, ``n_used`` and the skipped counts; ``train_epoch(rng)``
        is one pass over the examples, returning its mean training loss (a NumPy generator
        seeded with ``seed`` orders the data; torch is seeded too); ``loss()``, when given,
        the model's loss on the examples in eval mode, recorded before and after; ``finish()``
        runs after the last epoch (RetCL re-embeds its candidates). The model is then stored
        in float32 (``storage_dtype``): fine-tuning moves weights by less than float16's
        resolution (~3e-5 at a weight of 0.05), which rounding would undo. The record is
        appended to ``self.training["fine_tuning"]`` and returned.
        """
        import time

        import numpy as np
        import torch
        from tqdm import tqdm

        record: dict[str, Any] = {
            **counts,
            "epochs": int(epochs),
            "lr": float(lr),
            "batch_size": int(batch_size),
            "seed": int(seed),
        }
        t0 = time.perf_counter()
        history: list[float] = []
        if counts["n_used"]:
            if loss is not None:
                record["loss_before"] = loss()
            torch.manual_seed(seed)
            rng = np.random.default_rng(seed)
            bar = tqdm(range(epochs), desc="fine-tuning", disable=not progress, unit="epoch")
            for _ in bar:
                history.append(train_epoch(rng))
                bar.set_postfix(loss=round(history[-1], 4))
            if finish is not None:
                finish()
            if "storage_dtype" in self.params:
                self.params["storage_dtype"] = "float32"
            if loss is not None:
                record["loss_after"] = loss()
        else:
            log.warning("%s fine-tuning: no usable reaction, weights unchanged", self.name)
        record["train_loss"] = history
        record["seconds"] = round(time.perf_counter() - t0, 2)
        self.training.setdefault("fine_tuning", []).append(record)
        return record

    def prepare_for_stock(self, stock: Stock) -> None:  # noqa: B027 (optional hook)
        """Get ready to plan routes down to ``stock`` (called before each search).

        Nothing by default. A model that chooses reactants from a candidate set (RetCL) adds
        the stock's molecules to it, so that it can propose what the search may buy.
        """

    @property
    def supports_fine_tuning(self) -> bool:
        """Whether this model implements :meth:`fine_tune`."""
        return type(self).fine_tune is not SingleStepModel.fine_tune

    # ---------------------------------------------------------------- persistence
    def digest(self) -> str:
        """A SHA-256 of the model's name, parameters and tensors (what it would save): two
        models with the same digest answer alike. Results folders record it, so a model
        retrained into the same folder is not mistaken for the one they were made with."""
        return weights_digest([self.name, self.params], self._tensors())

    def _tensors(self) -> dict[str, Any]:
        """Named tensors to store in ``model.safetensors`` (none by default)."""
        return {}

    def _load_tensors(self, tensors: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what :meth:`_tensors` returned."""

    def _save_files(self, folder: Path) -> None:  # noqa: B027 (optional hook)
        """Write model-specific plain files (templates, candidate lists, ...)."""

    def _load_files(self, folder: Path) -> None:  # noqa: B027 (optional hook)
        """Read what :meth:`_save_files` wrote."""

    def save(self, folder: str | Path) -> Path:
        """Save into ``folder``: config.json + model.safetensors + model files."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "model": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": self.params,
            "training": self.training,
            "makeable_version": __version__,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._tensors().items()}
        save_file(tensors, str(folder / WEIGHTS_FILE))
        self._save_files(folder)
        return folder

    @staticmethod
    def load(folder: str | Path, overrides: Mapping[str, Any] | None = None) -> SingleStepModel:
        """Rebuild a saved model from its folder (registry name + constructor arguments).

        Args:
            folder: the saved model.
            overrides: constructor arguments replacing the saved ones, meant for inference
                settings (for example Template-MLP's ``max_templates``); unknown names are
                rejected by the registry.
        """
        folder = Path(folder)
        path = folder / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"not a saved single-step model (no {CONFIG_FILE}): {folder}")
        config = read_json_object(path)
        if not isinstance(config.get("model"), str) or not isinstance(config.get("params"), dict):
            raise ValueError(f"{path} is not a single-step model's config (no model and params)")
        model = MODELS.build(config["model"], **{**config["params"], **(overrides or {})})
        model.training = dict(config.get("training", {}))
        try:
            model._load_files(folder)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise ValueError(f"{folder}: cannot read the model's files ({exc})") from None
        weights = folder / WEIGHTS_FILE
        tensors = read_weights(weights) if weights.is_file() else {}
        try:
            model._load_tensors(tensors)
        except RuntimeError as exc:  # load_state_dict: missing, unexpected or misshapen tensors
            raise ValueError(f"{weights} does not fit {path} ({one_line(exc)})") from None
        return model


MODELS: Registry[SingleStepModel] = Registry("single-step model", group="makeable.models")
"""Single-step retrosynthesis models by short name."""


class FineTuningNotSupportedError(NotImplementedError):
    """The model does not implement :meth:`SingleStepModel.fine_tune`."""


def fine_tunable_models() -> list[str]:
    """Registered model names whose class implements :meth:`SingleStepModel.fine_tune`."""
    import makeable.retro  # noqa: F401  (registers the models)

    names = []
    for name in MODELS.names():
        factory = MODELS.factory(name)
        if (
            isinstance(factory, type)
            and issubclass(factory, SingleStepModel)
            and factory.fine_tune is not SingleStepModel.fine_tune
        ):
            names.append(name)
    return names


def default_model_dir(name: str) -> Path:
    """Where ``makeable retro train NAME`` writes by default: ``<cache>/retro/NAME``."""
    return cache_dir() / "retro" / name


def shipped_model_dir(name: str) -> Path | None:
    """The folder of trained weights shipped inside the package for ``name``, if any."""
    ref = resources.files("makeable.resources").joinpath("retro", name, CONFIG_FILE)
    try:
        with resources.as_file(ref) as p:
            return Path(p).parent if Path(p).is_file() else None
    except (FileNotFoundError, ModuleNotFoundError):
        return None


def load_model(
    name_or_path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    direction: str | None = "retro",
) -> SingleStepModel:
    """A trained model: a saved folder, or a registered name (shipped weights, then cache).

    ``overrides`` replace saved constructor arguments (inference settings such as
    Template-MLP's ``max_templates``; see :meth:`SingleStepModel.load`). ``direction``: the
    kind of model the caller needs (:attr:`SingleStepModel.direction`; ``None``: either).

    Raises:
        FileNotFoundError: no saved folder and no trained weights for that name (the message
            says which command makes them).
        makeable.registry.UnknownNameError: neither a folder nor a registered name.
        ValueError: the model predicts in the other direction (a forward reaction model
            where a retrosynthesis model is needed, or the reverse).
    """
    model = _load_any(name_or_path, overrides)
    if direction is not None and model.direction != direction:
        reads = "products → reactants" if direction == "retro" else "reactants → products"
        raise ValueError(
            f"{name_or_path} is a {model.direction} reaction model; a {direction} model "
            f"({reads}) is needed here"
        )
    return model


def _load_any(name_or_path: str | Path, overrides: Mapping[str, Any] | None) -> SingleStepModel:
    import makeable.retro  # noqa: F401  (registers the models)

    path = Path(name_or_path)
    if (path / CONFIG_FILE).is_file():
        return SingleStepModel.load(path, overrides)
    name = MODELS.canonical(str(name_or_path))  # unknown names fail here, listing the choices
    for folder in (shipped_model_dir(name), default_model_dir(name)):
        if folder is not None and (folder / CONFIG_FILE).is_file():
            log.info("loading %s from %s", name, folder)
            return SingleStepModel.load(folder, overrides)
    cls = MODELS.factory(name)
    if name == "ensemble":
        make = "`makeable retro ensemble MODEL MODEL --out DIR` (then --model DIR)"
    elif getattr(cls, "requires_corpus", False):
        make = f"`makeable retro train {name} --corpus CORPUS` (writes {default_model_dir(name)})"
    else:
        make = f"`makeable retro train {name}` (writes {default_model_dir(name)})"
    raise FileNotFoundError(
        f"no trained weights for {name!r}: run {make}, or pass --model a saved model folder"
    )


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (whitespace runs joined), cut at ``limit``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_weights(path: Path) -> dict[str, Any]:
    """The tensors of a ``.safetensors`` file (torch).

    Raises:
        ValueError: the file is not a readable safetensors file (one line naming it).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise ValueError(f"{path} is not a readable safetensors file ({exc})") from None


def weights_digest(header: Any, tensors: Mapping[str, Any]) -> str:
    """A SHA-256 of ``header`` (as JSON) and the named tensors' bytes, in name order."""
    import torch

    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for name, tensor in sorted(tensors.items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
