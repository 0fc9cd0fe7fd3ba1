"""Template-MLP: a product fingerprint → template classifier whose top templates are applied.

The "neuralsym" baseline: the product's folded Morgan count fingerprint (radius 2, chirality
on, log(1 + count) values) goes through an MLP with a softmax over the retro templates seen in
the training split; at prediction time the most probable templates are applied with rdchiral
until enough distinct reactant sets are found. A reactant set's score is the summed
probability of the templates that produce it.

The first layer is an ``EmbeddingBag`` over the fingerprint's non-zero bits, so its cost is
proportional to the ~50 set bits of a molecule, not to the fingerprint length.

References:
    Segler, Waller, "Neural-Symbolic Machine Learning for Retrosynthesis and Reaction
    Prediction", Chem. Eur. J. 2017. https://doi.org/10.1002/chem.201605499
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from makeable.chem.molecule import Molecule, parse_smiles
from makeable.chem.reaction import Reaction
from makeable.retro.single_step.base import MODELS, ReactantSet, SingleStepModel
from makeable.retro.single_step.templates import (
    apply_template,
    forward_template,
    prepare_product,
)

log = logging.getLogger(__name__)

TEMPLATES_FILE = "templates.json.gz"
CLASSES_FILE = "template_classes.json.gz"
"""Optional: for each USPTO reaction class, the templates seen with it in training
(:meth:`TemplateNetFiles.learn_classes`); with it a model can be told the class."""
_INFERENCE_PARAMS = ("max_templates", "min_prob_mass")
"""Parameters that change only prediction: a training may resume with other values."""


def _digest(templates: Sequence[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(templates).encode()).hexdigest()


class SparseFingerprints:
    """Folded Morgan count fingerprints as (indices, offsets, weights) for ``EmbeddingBag``."""

    def __init__(self, n_bits: int, radius: int) -> None:
        from rdkit.Chem import rdFingerprintGenerator

        self.n_bits = n_bits
        self.radius = radius
        self._gen = rdFingerprintGenerator.GetMorganGenerator(
            radius=radius, fpSize=n_bits, includeChirality=True
        )

    def __getstate__(self) -> dict[str, int]:
        """RDKit's generator does not pickle: a copy (a Ray worker's model) builds its own."""
        return {"n_bits": self.n_bits, "radius": self.radius}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["n_bits"], state["radius"])  # type: ignore[misc]

    def one(self, smiles: str) -> tuple[np.ndarray, np.ndarray]:
        """Bit indices (int64) and log(1 + count) weights (float32) of one molecule."""
        mol = parse_smiles(smiles)
        if mol is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        counts = self._gen.GetCountFingerprint(mol).GetNonzeroElements()
        idx = np.fromiter(counts.keys(), np.int64, len(counts))
        val = np.log1p(np.fromiter(counts.values(), np.float32, len(counts)))
        return idx, val

    def batch(
        self, rows: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Concatenate per-molecule rows: ``indices (nnz,)``, ``offsets (B,)``, ``weights``."""
        lengths = [len(r[0]) for r in rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        idx = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64)
        val = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
        return torch.from_numpy(idx), torch.from_numpy(offsets), torch.from_numpy(val)


class TemplateNet(nn.Module):
    """Sparse fingerprint → hidden layers (ELU, dropout) → template logits."""

    def __init__(self, n_bits: int, hidden: Sequence[int], n_templates: int, dropout: float):
        super().__init__()
        self.first = nn.EmbeddingBag(n_bits, hidden[0], mode="sum")
        self.first_bias = nn.Parameter(torch.zeros(hidden[0]))
        layers: list[nn.Module] = [nn.ELU(), nn.Dropout(dropout)]
        for a, b in zip(hidden[:-1], hidden[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ELU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(hidden[-1], n_templates))
        self.rest = nn.Sequential(*layers)
        nn.init.normal_(self.first.weight, std=1.0 / math.sqrt(50.0))

    def forward(self, idx: torch.Tensor, offsets: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_templates)`` from a batch built by :meth:`SparseFingerprints.batch`."""
        h = self.first(idx, offsets, per_sample_weights=w) + self.first_bias
        return self.rest(h)


class TemplateNetFiles:
    """Saving and loading of a model that is a template list and a network over it.

    The weights go to ``model.safetensors`` (float16 with ``storage_dtype="float16"``), the
    templates to ``templates.json.gz``. Used by :class:`TemplateMLP` and ``local_gnn``; the
    model provides ``name``, ``params``, ``templates``, ``net`` and ``_build(n_templates)``.
    """

    name: ClassVar[str]
    params: dict[str, Any]
    templates: list[str]
    net: nn.Module | None
    class_templates: dict[int, list[int]] = {}
    """Reaction class (1-10) → indices of the templates seen with it (none: classes unknown)."""

    @property
    def supports_classes(self) -> bool:
        return bool(self.class_templates)

    def classes_missing(self) -> str:
        return (
            f"this copy has no {CLASSES_FILE} (add one with `makeable retro template-classes "
            f"{self.name} --out DIR` and use --model DIR)"
        )

    def reaction_templates(
        self, reactions: Sequence[Reaction], jobs: int = 1, progress: bool = False
    ) -> list[str | None]:
        """The template this model learns from each reaction (``None``: none)."""
        raise NotImplementedError

    def learn_classes(
        self, reactions: Sequence[Reaction], jobs: int = 1, progress: bool = False
    ) -> dict[str, int]:
        """Record which templates each reaction class uses, from reactions that carry a
        ``class`` (1-10) in their metadata (USPTO-50k's training split); returns counts:
        ``reactions``, ``matched`` (their template is one of the model's), ``templates``
        (templates with at least one class)."""
        index = {template: i for i, template in enumerate(self.templates)}
        by_class: dict[int, set[int]] = {}
        matched = 0
        found = self.reaction_templates(reactions, jobs, progress)
        for reaction, template in zip(reactions, found, strict=True):
            cls = int(reaction.metadata.get("class") or 0)
            if cls and template is not None and template in index:
                by_class.setdefault(cls, set()).add(index[template])
                matched += 1
        self.class_templates = {c: sorted(v) for c, v in sorted(by_class.items())}
        n_templates = len(set().union(*by_class.values())) if by_class else 0
        return {"reactions": len(reactions), "matched": matched, "templates": n_templates}

    def class_mask(self, classes: Sequence[int] | None, n: int) -> torch.Tensor | None:
        """``(len(classes), n)`` booleans: may product ``i`` use template ``j``? A class of 0
        (unknown) allows every template; ``None`` when no class is known."""
        if not classes or not any(classes):
            return None
        mask = torch.ones(len(classes), n, dtype=torch.bool)
        for row, cls in enumerate(classes):
            if cls:
                mask[row] = False
                mask[row, self.class_templates.get(int(cls), [])] = True
        return mask

    def _build(self, n_templates: int) -> nn.Module:
        raise NotImplementedError

    def _tensors(self) -> dict[str, torch.Tensor]:
        if self.net is None:
            raise RuntimeError(f"{self.name} is not trained: nothing to save")
        dtype = torch.float16 if self.params["storage_dtype"] == "float16" else torch.float32
        return {k: v.to(dtype) for k, v in self.net.state_dict().items()}

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        net = self._build(len(self.templates))
        net.load_state_dict({k: v.float() for k, v in tensors.items()})
        net.eval()
        self.net = net

    def _save_files(self, folder: Path) -> None:
        import gzip

        with gzip.open(folder / TEMPLATES_FILE, "wt") as fh:
            json.dump(self.templates, fh)
        if self.class_templates:
            with gzip.open(folder / CLASSES_FILE, "wt") as fh:
                json.dump({str(c): v for c, v in self.class_templates.items()}, fh)

    def _load_files(self, folder: Path) -> None:
        import gzip

        with gzip.open(folder / TEMPLATES_FILE, "rt") as fh:
            self.templates = list(json.load(fh))
        self.class_templates = {}
        if (folder / CLASSES_FILE).is_file():
            with gzip.open(folder / CLASSES_FILE, "rt") as fh:
                data = json.load(fh)
            n = len(self.templates)
            self.class_templates = {
                int(c): [int(i) for i in v if 0 <= int(i) < n] for c, v in data.items()
            }


@MODELS.register("template_mlp")
class TemplateMLP(TemplateNetFiles, SingleStepModel):
    """Neuralsym-style template classifier (Segler & Waller 2017).

    Args:
        n_bits: folded fingerprint length.
        radius: Morgan radius (2 = ECFP4).
        hidden: widths of the hidden layers.
        dropout: dropout after each hidden layer.
        epochs, lr, train_batch_size, weight_decay, label_smoothing: training settings.
        min_template_count: keep templates seen at least this often in the training split.
        max_templates: at most this many of the most probable templates are applied per
            product (fewer if ``k`` distinct reactant sets and ``min_prob_mass`` are reached).
        min_prob_mass: keep applying templates until their cumulative probability reaches
            this, even after ``k`` sets were found (more candidates for the score merge).
        storage_dtype: ``float16`` halves the saved weights; the trained weights are then
            rounded to float16 precision at the end of training, so that a saved and reloaded
            model predicts exactly what the trained one did. :meth:`fine_tune` switches a
            model to ``float32`` (its small updates would be rounded away).
        seed: seed of the initialisation and data order.
    """

    name = "template_mlp"
    resumable_training = True
    score_merge = "sum"
    scores_are_probabilities = True

    def __init__(
        self,
        n_bits: int = 4096,
        radius: int = 2,
        hidden: Sequence[int] = (512,),
        dropout: float = 0.4,
        epochs: int = 14,
        lr: float = 2e-3,
        train_batch_size: int = 512,
        weight_decay: float = 0.0,
        label_smoothing: float = 0.1,
        min_template_count: int = 1,
        max_templates: int = 1000,
        min_prob_mass: float = 0.99,
        storage_dtype: str = "float16",
        seed: int = 0,
    ) -> None:
        if storage_dtype not in ("float32", "float16"):
            raise ValueError(f"storage_dtype must be float32 or float16, got {storage_dtype!r}")
        super().__init__(
            n_bits=int(n_bits),
            radius=int(radius),
            hidden=[int(h) for h in hidden],
            dropout=float(dropout),
            epochs=int(epochs),
            lr=float(lr),
            train_batch_size=int(train_batch_size),
            weight_decay=float(weight_decay),
            label_smoothing=float(label_smoothing),
            min_template_count=int(min_template_count),
            max_templates=int(max_templates),
            min_prob_mass=float(min_prob_mass),
            storage_dtype=storage_dtype,
            seed=int(seed),
        )
        self.fp = SparseFingerprints(self.params["n_bits"], self.params["radius"])
        self.templates: list[str] = []
        self.net: TemplateNet | None = None

    # ------------------------------------------------------------------ training
    def _build(self, n_templates: int) -> TemplateNet:
        p = self.params
        return TemplateNet(p["n_bits"], p["hidden"], n_templates, p["dropout"])

    def fit(
        self,
        train: Sequence[Reaction],
        val: Sequence[Reaction] | None = None,
        progress: bool = False,
        checkpoint_dir: str | Path | None = None,
        device: str = "cpu",
        **_: Any,
    ) -> None:
        """Train the classifier on reactions whose ``metadata["template"]`` is set.

        The epoch with the best validation template accuracy (or the last, without ``val``)
        is kept. Reactions of ``val`` without a template, or with a template unseen in
        training, count as errors (they cannot be predicted by this model).

        With ``checkpoint_dir``, a checkpoint (weights, Adam and scheduler state, the data
        order's RNG, the best weights so far; :mod:`makeable.models.checkpoints`) is written
        after every epoch, and a new call with the same folder, data and parameters goes on
        from the last finished epoch, ending with the same weights as an uninterrupted run.

        ``device`` (``cpu``, ``cuda``, ``cuda:N``, ``auto``) is where the network trains; the
        trained network is moved back to the CPU, where the model predicts.

        Raises:
            ValueError: the checkpoints were made with other templates or parameters, or the
                device is not available.
        """
        from tqdm import tqdm

        from makeable.models.checkpoints import EpochRun
        from makeable.runtime import resolve_device

        p = self.params
        torch.manual_seed(p["seed"])
        rng = np.random.default_rng(p["seed"])
        counts = Counter(r.metadata["template"] for r in train if r.metadata.get("template"))
        kept = [t for t, c in counts.most_common() if c >= p["min_template_count"]]
        self.templates = kept
        index = {t: i for i, t in enumerate(kept)}
        x_train, y_train = self._examples(train, index)
        x_val, y_val = self._examples(val or (), index, keep_unknown=True)
        log.info(
            "template_mlp: %d templates, %d training examples, %d validation examples",
            len(kept),
            len(y_train),
            len(y_val),
        )
        self._device = resolve_device(device)
        net = self._build(len(kept)).to(self._device)
        opt = torch.optim.Adam(net.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, p["epochs"]))
        loss_fn = nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"])
        identity = {
            "params": {k: v for k, v in p.items() if k not in _INFERENCE_PARAMS},
            "templates_digest": _digest(kept),
            "n_train": len(y_train),
        }
        run = EpochRun.resume(checkpoint_dir, identity, net, opt, "template_mlp", p["epochs"])
        if run.start:
            sched.load_state_dict(run.state["scheduler"])
            rng.bit_generator.state = run.state["numpy_rng"]
        elif len(y_val):  # the untrained network, for reference
            run.history.append({"epoch": 0, **self._template_accuracy(net, x_val, y_val)})
        bar = tqdm(
            range(run.start, p["epochs"]),
            desc="template_mlp",
            disable=not progress,
            unit="epoch",
            initial=run.start,
            total=p["epochs"],
        )
        for epoch in bar:
            loss = self._train_epoch(
                net, opt, loss_fn, x_train, y_train, rng, p["train_batch_size"]
            )
            sched.step()
            record = {"epoch": epoch + 1, "train_loss": loss}
            if len(y_val):
                record.update(self._template_accuracy(net, x_val, y_val))
            run.history.append(record)
            bar.set_postfix({k: round(v, 4) for k, v in record.items() if k != "epoch"})
            log.info("template_mlp %s", record)
            run.keep_best(record.get("val_top1", float(epoch)), net)  # without val: the last
            run.save(
                epoch + 1,
                net,
                opt,
                {"scheduler": sched.state_dict(), "numpy_rng": rng.bit_generator.state},
            )
        state = run.best_weights(p["storage_dtype"])
        net.load_state_dict(state)
        net.eval()
        self.net = net.cpu()
        self._device = torch.device("cpu")
        self.training = {
            "n_train": len(y_train),
            "n_val": len(y_val),
            "n_templates": len(kept),
            "train_time_s": round(run.seconds, 1),
            "history": run.history,
        }

    def _train_epoch(
        self,
        net: TemplateNet,
        opt: torch.optim.Optimizer,
        loss_fn: nn.Module,
        xs: list[tuple[np.ndarray, np.ndarray]],
        ys: np.ndarray,
        rng: np.random.Generator,
        batch_size: int,
    ) -> float:
        """One pass over ``(xs, ys)`` in random order; returns the mean training loss."""
        net.train()
        order = rng.permutation(len(ys))
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            logits = net(*self._batch([xs[i] for i in rows]))
            loss = loss_fn(logits, torch.as_tensor(ys[rows], device=logits.device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        return total / max(1, len(ys))

    def fine_tune(
        self,
        reactions: Sequence[Reaction],
        epochs: int = 1,
        lr: float = 1e-4,
        batch_size: int | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Continue training the template classifier on ``reactions`` (imitation learning).

        Each reaction is labelled with a template of the model: its ``metadata["template"]``
        (routes found by planning with this model record the template that proposed each
        step), else the rdchiral template of its atom-mapped SMILES (``metadata["mapped"]``).
        Reactions with neither (unmapped reactions from other models: extracting a template
        needs atom maps) and reactions whose template is not among the model's templates
        (the output layer is fixed) are skipped and counted. The loss is the training loss
        (cross-entropy with the model's label smoothing, dropout on), Adam at a constant
        ``lr`` with the model's weight decay, from a fresh optimiser state. The model is then
        stored in float32 (``storage_dtype``), whatever it was trained in.

        References:
            Kim, Ahn, Lee, Shin, "Self-Improved Retrosynthetic Planning", ICML 2021.
            https://arxiv.org/abs/2106.04880

        Raises:
            RuntimeError: the model is not trained.
        """

        from makeable.retro.single_step.templates import extract_template

        if self.net is None:
            raise RuntimeError("template_mlp is not trained: call fit() or load a saved model")
        p = self.params
        index = {t: i for i, t in enumerate(self.templates)}
        xs, labels = [], []
        no_template = unknown = 0
        for r in reactions:
            template = r.metadata.get("template")
            if not template and r.metadata.get("mapped"):
                template = extract_template(r)
            label = index.get(template) if template else None
            if label is None:
                no_template += not template
                unknown += bool(template)
                continue
            xs.append(self.fp.one(self._input(r)))
            labels.append(label)
        ys = np.asarray(labels, dtype=np.int64)
        if no_template or unknown:
            log.info(
                "template_mlp fine-tuning: skipped %d reaction(s) without a template (unmapped) "
                "and %d whose template is not among the model's %d",
                no_template,
                unknown,
                len(self.templates),
            )
        net = self.net
        loss_fn = nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"])
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=p["weight_decay"])
        size = int(batch_size or p["train_batch_size"])
        counts = {
            "n_given": len(reactions),
            "n_used": len(ys),
            "skipped_no_template": no_template,
            "skipped_unknown_template": unknown,
        }
        return self._fine_tune_epochs(
            counts,
            epochs,
            lr,
            size,
            seed,
            progress,
            loss=lambda: self._eval_loss(net, loss_fn, xs, ys),
            train_epoch=lambda rng: self._train_epoch(net, opt, loss_fn, xs, ys, rng, size),
        )

    @torch.no_grad()
    def _eval_loss(
        self,
        net: TemplateNet,
        loss_fn: nn.Module,
        xs: list[tuple[np.ndarray, np.ndarray]],
        ys: np.ndarray,
    ) -> float:
        """The mean loss on ``(xs, ys)`` in eval mode (no dropout)."""
        net.eval()
        total = 0.0
        for start in range(0, len(ys), 1024):
            logits = net(*self._batch(xs[start : start + 1024]))
            target = torch.as_tensor(ys[start : start + 1024], device=logits.device)
            total += float(loss_fn(logits, target)) * len(logits)
        return total / max(1, len(ys))

    def _examples(
        self, reactions: Sequence[Reaction], index: dict[str, int], keep_unknown: bool = False
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
        xs, ys = [], []
        for r in reactions:
            label = index.get(r.metadata.get("template") or "", -1)
            if label < 0 and not keep_unknown:
                continue
            xs.append(self.fp.one(self._input(r)))
            ys.append(label)
        return xs, np.asarray(ys, dtype=np.int64)

    @torch.no_grad()
    def _template_accuracy(
        self, net: TemplateNet, xs: list[tuple[np.ndarray, np.ndarray]], ys: np.ndarray
    ) -> dict[str, float]:
        net.eval()
        hits = {1: 0, 10: 0, 50: 0}
        for start in range(0, len(ys), 1024):
            logits = net(*self._batch(xs[start : start + 1024]))
            top = logits.topk(min(50, logits.shape[1]), dim=1).indices.cpu().numpy()
            y = ys[start : start + 1024, None]
            for k in hits:
                hits[k] += int((top[:, :k] == y).any(axis=1).sum())
        return {f"val_top{k}": v / len(ys) for k, v in hits.items()}

    def _batch(self, xs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, ...]:
        """The network's input tensors of fingerprints, on the training device."""
        device = getattr(self, "_device", None)
        tensors = self.fp.batch(xs)
        return tensors if device is None else tuple(t.to(device) for t in tensors)

    def _input(self, reaction: Reaction) -> str:
        """The SMILES the classifier reads for a training reaction: its product."""
        return reaction.product.smiles

    def applied_template(self, index: int) -> str:
        """The template applied for class ``index`` (the retro template itself)."""
        return self.templates[index]

    def reaction_templates(
        self, reactions: Sequence[Reaction], jobs: int = 1, progress: bool = False
    ) -> list[str | None]:
        """The retro template recorded with each reaction (what :meth:`fit` counts)."""
        return [str(r.metadata.get("template") or "") or None for r in reactions]

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def template_probabilities(self, products: Sequence[str]) -> torch.Tensor:
        """Softmax over the templates, ``(len(products), n_templates)``."""
        if self.net is None:
            raise RuntimeError("template_mlp is not trained: call fit() or load a saved model")
        self.net.eval()
        return self.net(*self.fp.batch([self.fp.one(s) for s in products])).softmax(dim=1)

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        probs = self.template_probabilities([m.smiles for m in products])
        mask = self.class_mask(classes, probs.shape[1])
        if mask is not None:  # the class's templates only, renormalised
            probs = probs * mask
            probs = probs / probs.sum(dim=1, keepdim=True).clamp_min(1e-12)
        n_apply = min(self.params["max_templates"], probs.shape[1])
        top_p, top_i = probs.topk(n_apply, dim=1)
        out = []
        for mol, ps, ids in zip(products, top_p.tolist(), top_i.tolist(), strict=True):
            prod = prepare_product(mol.smiles)
            found: list[ReactantSet] = []
            distinct: set[tuple[str, ...]] = set()
            mass = 0.0
            for rank, (prob, t) in enumerate(zip(ps, ids, strict=True), start=1):
                if len(distinct) >= k and mass >= self.params["min_prob_mass"]:
                    break
                if mask is not None and prob <= 0.0:  # outside the product's class
                    break
                mass += prob
                for reactants in apply_template(self.applied_template(t), prod):
                    distinct.add(reactants)
                    info = {"template_rank": rank, "template": self.templates[t]}
                    found.append(ReactantSet(reactants, prob, info))
            out.append(found)
        return out


@MODELS.register("template_mlp_forward")
class ForwardTemplateMLP(TemplateMLP):
    """A forward reaction model: reactant-set fingerprint → template, applied forwards.

    The Template-MLP read the other way (``direction = "forward"``): the classifier sees the
    fingerprint of the dot-joined reactants and is trained on the same retro templates of
    the same reactions; a template is applied in its forward form
    (:func:`~makeable.retro.single_step.templates.forward_template`) to the reactants, and the
    outcomes it returns (through :meth:`predict`, as ``ReactantSet`` values) are products.
    This is the forward model of self-improved planning's reaction augmentation (Kim et al.,
    ICML 2021, whose forward model is likewise a template MLP); train it with ``makeable retro
    train template_mlp_forward``. Same arguments as :class:`TemplateMLP`.
    """

    name = "template_mlp_forward"
    direction = "forward"

    def _input(self, reaction: Reaction) -> str:
        return reaction.reactants_smiles

    def applied_template(self, index: int) -> str:
        return forward_template(self.templates[index])


@MODELS.register("template_mlp_uspto500mt")
class CorpusTemplateMLP(TemplateMLP):
    """The Template-MLP trained on the leakage-filtered USPTO-50k + USPTO-500-MT corpus.

    The same network and prediction as :class:`TemplateMLP`, under its own name so that both
    can be used and shipped side by side: ``template_mlp`` learns from the 40,008 USPTO-50k
    training reactions only (the single-step benchmark's setting), this one from the corpus of
    :mod:`makeable.retro.single_step.corpus` (no PaRoutes route molecule and no USPTO-50k
    validation or test product among its products). Made by::

        makeable retro corpus --out CORPUS
        makeable retro train template_mlp_uspto500mt --corpus CORPUS
    """

    name = "template_mlp_uspto500mt"
    requires_corpus = True
