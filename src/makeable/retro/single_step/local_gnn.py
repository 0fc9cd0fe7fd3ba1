"""Local-GNN: a graph network scores each atom's reaction-centre templates (after LocalRetro).

LocalRetro's idea (Chen & Jung, JACS Au 2021) on this project's pieces: a reaction is a *local
template* (:mod:`~makeable.retro.single_step.local_templates`: the changed atoms and the leaving
groups, no neighbours) applied at a *site* of the product (the atoms that change). A message-
passing network reads the product and gives every atom ``a``

- ``p(a reacts)`` (a logistic output), and
- ``p(t | a reacts)`` over the local templates ``t`` (a softmax),

each from the atom's state concatenated with the molecule's mean state (a global context, in
place of LocalRetro's attention layer). A candidate (template ``t``, site ``S``), where ``S`` is
a place the template's product pattern matches, scores the mean over its atoms of
``log p(a reacts) + log p(t | a reacts)``; its reactant set's score is ``exp`` of that. The
network is trained on the reaction centres of atom-mapped reactions: every atom gets the
logistic target "in the site or not", site atoms also the template's class.

At prediction, the templates most probable at any atom are matched (``max_templates`` at
most, taken over the ``top_per_atom`` best of each atom); their matches are ranked by score,
and rdchiral turns the best into reactants until ``k`` distinct sets are found. A template that
matches a molecule at several places gives each place its own score, which a whole-molecule
template classifier (:mod:`~makeable.retro.single_step.template_mlp`) cannot.

Differences from LocalRetro: one template vocabulary over atom sets of any size (LocalRetro
splits atom and bond templates and scores bonds from their two atoms); rdchiral's radius-0
templates with specific atom descriptors (LocalRetro generalises its atoms more); the global
context is a mean, not attention.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from makeable.chem.molecule import Molecule
from makeable.chem.reaction import Reaction
from makeable.retro.single_step.base import MODELS, ReactantSet, SingleStepModel
from makeable.retro.single_step.gnn import GraphBatch, GraphEncoder, MolGraph, mol_graph
from makeable.retro.single_step.local_templates import (
    LocalExample,
    apply_outcomes,
    compile_local,
    extract_local,
    extract_many,
    map_in_chunks,
    template_sites,
)
from makeable.retro.single_step.template_mlp import TemplateNetFiles
from makeable.retro.single_step.templates import map_by_template, prepare_product

log = logging.getLogger(__name__)

EXAMPLES_FILE = "local_examples.json.gz"
_INFERENCE_PARAMS = ("max_templates", "top_per_atom", "storage_dtype")


class LocalNet(nn.Module):
    """Product graph → per-atom ``log p(react)`` and ``log p(template | react)``."""

    def __init__(
        self, dim: int, n_layers: int, n_templates: int, dropout: float, env_buckets: int
    ) -> None:
        super().__init__()
        self.encoder = GraphEncoder(dim, n_layers, env_buckets)
        self.react = nn.Sequential(
            nn.Linear(2 * dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, 1)
        )
        self.template = nn.Sequential(
            nn.Linear(2 * dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, n_templates)
        )

    def atom_states(self, batch: GraphBatch) -> torch.Tensor:
        """Each atom's state beside its molecule's mean state, ``(n_atoms, 2 * dim)``."""
        h = self.encoder(batch)
        return torch.cat([h, GraphEncoder.mean_pool(h, batch)[batch.graph]], dim=1)

    def forward(self, batch: GraphBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(react logits (n_atoms,), template log-probabilities (n_atoms, n_templates))``."""
        z = self.atom_states(batch)
        return self.react(z).squeeze(1), torch.log_softmax(self.template(z), dim=1)


def _dense_and_sparse(net: LocalNet) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    sparse = list(net.encoder.env_embed.parameters())
    dense = [w for w in net.parameters() if all(w is not v for v in sparse)]
    return dense, sparse


@MODELS.register("local_gnn")
class LocalGNN(TemplateNetFiles, SingleStepModel):
    """Local reaction-centre templates scored per atom by a graph network (after LocalRetro).

    Trains on a ``retro corpus`` folder built with ``--remap-uspto50k`` (every reaction
    atom-mapped).

    Args:
        dim: atom state width of the message-passing network.
        n_layers: message-passing layers.
        dropout: dropout in the two heads.
        epochs, lr, train_batch_size: training settings (Adam, cosine decay).
        min_template_count: keep templates seen at least this often in training.
        max_templates: most templates matched per product at prediction.
        top_per_atom: the candidate templates are the ``top_per_atom`` most probable of each
            atom (then the ``max_templates`` best of those).
        jobs: processes that extract the local templates before training.
        env_buckets: rows of the hashed atom-environment embedding (at most 65,536; fewer
            make a smaller model, with more environments sharing a row).
        storage_dtype: ``float16`` halves the saved weights; the trained weights are then
            rounded to float16 at the end of training, so that a saved and reloaded model
            predicts exactly what the trained one did.
        seed: seed of the initialisation and data order.
    """

    name = "local_gnn"
    resumable_training = True
    score_merge = "max"
    scores_are_probabilities = True
    requires_corpus = True
    batch_size = 32

    def __init__(
        self,
        dim: int = 256,
        n_layers: int = 4,
        dropout: float = 0.1,
        epochs: int = 20,
        lr: float = 1e-3,
        train_batch_size: int = 64,
        min_template_count: int = 1,
        max_templates: int = 200,
        top_per_atom: int = 20,
        jobs: int = 1,
        env_buckets: int = 1 << 16,
        storage_dtype: str = "float32",
        seed: int = 0,
    ) -> None:
        if storage_dtype not in ("float32", "float16"):
            raise ValueError(f"storage_dtype must be float32 or float16, got {storage_dtype!r}")
        super().__init__(
            dim=int(dim),
            n_layers=int(n_layers),
            dropout=float(dropout),
            epochs=int(epochs),
            lr=float(lr),
            train_batch_size=int(train_batch_size),
            min_template_count=int(min_template_count),
            max_templates=int(max_templates),
            top_per_atom=int(top_per_atom),
            jobs=int(jobs),
            env_buckets=int(env_buckets),
            storage_dtype=storage_dtype,
            seed=int(seed),
        )
        self.templates: list[str] = []
        self.net: LocalNet | None = None

    # ------------------------------------------------------------------ data
    def _local_examples(
        self, reactions: Sequence[Reaction], cache: Path | None, what: str, progress: bool
    ) -> list[LocalExample]:
        """The local examples of the reactions' ``metadata["mapped"]`` (cached in ``cache``)."""
        mapped = [str(r.metadata.get("mapped") or "") for r in reactions]
        digest = hashlib.sha256("\n".join(mapped).encode()).hexdigest()
        # under checkpoints/: kept for a resumed training, deleted with the checkpoints
        path = cache / "checkpoints" / f"{what}_{EXAMPLES_FILE}" if cache is not None else None
        if path is not None and path.is_file():
            import gzip

            with gzip.open(path, "rt") as fh:
                data = json.load(fh)
            if data.get("digest") == digest:
                return [
                    LocalExample(e[0], tuple(e[1]), e[2], tuple(e[3])) for e in data["examples"]
                ]
        if not any(mapped):
            raise ValueError(
                f"{self.name} needs atom-mapped reactions: build the corpus with "
                "`makeable retro corpus --remap-uspto50k`"
            )
        found = extract_many(mapped, self.params["jobs"], progress)
        examples = [e for e in found if e is not None]
        log.info("%s: %d of %d %s reactions give a local template", self.name, len(examples),
                 len(mapped), what)  # fmt: skip
        if path is not None:
            import gzip

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            with gzip.open(tmp, "wt") as fh:
                json.dump(
                    {
                        "digest": digest,
                        "examples": [
                            [e.product, e.site, e.template, e.reactants] for e in examples
                        ],
                    },
                    fh,
                )
            tmp.replace(path)
        return examples

    @staticmethod
    def _graphs(examples: Sequence[LocalExample]) -> list[MolGraph | None]:
        out: list[MolGraph | None] = []
        for e in examples:
            try:
                out.append(mol_graph(e.product))
            except ValueError:
                out.append(None)
        return out

    def _batch(
        self, graphs: Sequence[MolGraph], examples: Sequence[LocalExample], labels: Sequence[int]
    ) -> tuple[GraphBatch, torch.Tensor, torch.Tensor, torch.Tensor]:
        """A training batch: graphs, per-atom react targets, site atoms and their template."""
        batch = GraphBatch.collate(graphs)
        react = torch.zeros(batch.atoms.shape[0])
        site_atoms: list[int] = []
        site_labels: list[int] = []
        offset = 0
        for g, e, y in zip(graphs, examples, labels, strict=True):
            idx = [offset + a for a in e.site if a < g.n_atoms]
            react[idx] = 1.0
            if y >= 0:
                site_atoms += idx
                site_labels += [y] * len(idx)
            offset += g.n_atoms
        return (
            batch,
            react,
            torch.tensor(site_atoms, dtype=torch.long),
            torch.tensor(site_labels, dtype=torch.long),
        )

    # ------------------------------------------------------------------ training
    def _build(self, n_templates: int) -> LocalNet:
        p = self.params
        return LocalNet(p["dim"], p["n_layers"], n_templates, p["dropout"], p["env_buckets"])

    def _loss(
        self, net: LocalNet, data: tuple[GraphBatch, torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, react, atoms, labels = data
        device = next(net.parameters()).device
        if device.type != "cpu":
            batch, react = batch.to(device), react.to(device)
            atoms, labels = atoms.to(device), labels.to(device)
        z = net.atom_states(batch)
        react_loss = nn.functional.binary_cross_entropy_with_logits(net.react(z).squeeze(1), react)
        if len(atoms):
            logits = net.template(z[atoms])
            template_loss = nn.functional.cross_entropy(logits, labels)
            hits = (logits.argmax(dim=1) == labels).float().sum()
        else:
            template_loss = torch.zeros((), device=device)
            hits = torch.zeros((), device=device)
        return react_loss + template_loss, template_loss, hits

    def fit(
        self,
        train: Sequence[Reaction],
        val: Sequence[Reaction] | None = None,
        progress: bool = False,
        checkpoint_dir: str | Path | None = None,
        device: str = "cpu",
        **_: Any,
    ) -> None:
        """Train on atom-mapped reactions (``metadata["mapped"]``).

        The local templates are extracted once (cached in ``checkpoint_dir``); a checkpoint
        is written after every epoch and a new call with the same folder goes on from the last
        finished epoch. The epoch with the best validation site accuracy (the share of site
        atoms whose most probable template is right) is kept. ``device``
        (``cpu``, ``cuda``, ``cuda:N``, ``auto``) is where the network trains; the trained
        network is moved back to the CPU, where the model predicts.

        Raises:
            ValueError: the reactions are not atom-mapped, or the checkpoints were made with
                other data or parameters.
        """
        from tqdm import tqdm

        from makeable.models.checkpoints import EpochRun
        from makeable.runtime import resolve_device

        p = self.params
        root = Path(checkpoint_dir) if checkpoint_dir is not None else None
        torch.manual_seed(p["seed"])
        rng = np.random.default_rng(p["seed"])
        train_ex = self._local_examples(train, root, "train", progress)
        val_ex = self._local_examples(val or (), root, "val", progress) if val else []
        counts = Counter(e.template for e in train_ex)
        self.templates = [t for t, c in counts.most_common() if c >= p["min_template_count"]]
        index = {t: i for i, t in enumerate(self.templates)}
        train_g, val_g = self._graphs(train_ex), self._graphs(val_ex)
        tr = [
            (g, e, index[e.template])
            for g, e in zip(train_g, train_ex, strict=True)
            if g is not None and e.template in index
        ]
        va = [
            (g, e, index.get(e.template, -1))
            for g, e in zip(val_g, val_ex, strict=True)
            if g is not None
        ]
        log.info(
            "%s: %d templates, %d training and %d validation examples (%.1f %% of validation "
            "templates known)",
            self.name,
            len(self.templates),
            len(tr),
            len(va),
            100.0 * sum(y >= 0 for _, _, y in va) / max(1, len(va)),
        )
        net = self._build(len(self.templates)).to(resolve_device(device))
        dense, sparse = _dense_and_sparse(net)
        opt = torch.optim.Adam(dense, lr=p["lr"])
        opt_sparse = torch.optim.SparseAdam(sparse, lr=p["lr"])
        steps_per_epoch = math.ceil(len(tr) / p["train_batch_size"])
        total = max(1, p["epochs"] * steps_per_epoch)

        def lr_at(step: int) -> float:
            return p["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

        identity = {
            "params": {k: v for k, v in p.items() if k not in (*_INFERENCE_PARAMS, "jobs")},
            "templates": hashlib.sha256("\n".join(self.templates).encode()).hexdigest(),
            "n_train": len(tr),
        }
        run = EpochRun.resume(root, identity, net, opt, self.name, p["epochs"])
        if run.start:
            _load_sparse(opt_sparse, sparse, run.extra, run.state)
            rng.bit_generator.state = run.state["numpy_rng"]
        bar = tqdm(
            range(run.start, p["epochs"]),
            desc=self.name,
            disable=not progress,
            unit="epoch",
            initial=run.start,
            total=p["epochs"],
        )
        for epoch in bar:
            first = epoch * steps_per_epoch
            loss = self._train_epoch(
                net,
                (opt, opt_sparse),
                tr,
                rng,
                p["train_batch_size"],
                lambda i, first=first: lr_at(first + i),
            )
            record = {"epoch": epoch + 1, "train_loss": loss}
            if va:
                record.update(self._validate(net, va))
            run.history.append(record)
            bar.set_postfix({k: round(v, 4) for k, v in record.items() if k != "epoch"})
            log.info("%s %s", self.name, record)
            # the validation loss rises while the template accuracy still does (the network
            # grows over-confident): the accuracy picks the epoch kept
            run.keep_best(record.get("val_site_top1", float(epoch)), net)
            state = {"numpy_rng": rng.bit_generator.state}
            extra = _sparse_state(opt_sparse, sparse, state)
            run.save(epoch + 1, net, opt, state, extra)
        weights = run.best_weights(p["storage_dtype"])
        net.load_state_dict(weights)
        net.eval()
        self.net = net.cpu()
        self.training = {
            "n_train": len(tr),
            "n_val": len(va),
            "n_templates": len(self.templates),
            "train_time_s": round(run.seconds, 1),
            "history": run.history,
        }

    def _train_epoch(
        self,
        net: LocalNet,
        optimizers: Sequence[torch.optim.Optimizer],
        rows: Sequence[tuple[MolGraph, LocalExample, int]],
        rng: np.random.Generator,
        batch_size: int,
        lr_of_step: Any,
    ) -> float:
        """One pass over ``rows`` in a random order (step ``i`` at learning rate
        ``lr_of_step(i)``); the mean loss."""
        net.train()
        order = rng.permutation(len(rows))
        loss_sum = 0.0
        for i, s in enumerate(range(0, len(order), batch_size)):
            batch = [rows[j] for j in order[s : s + batch_size]]
            for o in optimizers:
                for group in o.param_groups:
                    group["lr"] = lr_of_step(i)
            loss = self._loss(net, self._batch(*zip(*batch, strict=True)))[0]
            for o in optimizers:
                o.zero_grad()
            loss.backward()
            for o in optimizers:
                o.step()
            loss_sum += float(loss.detach()) * len(batch)
        return loss_sum / max(1, len(rows))

    def fine_tune(
        self,
        reactions: Sequence[Reaction],
        epochs: int = 1,
        lr: float = 1e-4,
        batch_size: int | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Continue training on ``reactions`` (self-improved planning: the steps of the
        model's own routes).

        A reaction is an example of (product, site, template): from its atom-mapped SMILES
        (``metadata["mapped"]``), else from ``metadata["template"]`` (planning records the
        local template of every step), the site being the place where that template gives the
        step's reactants. Reactions with neither, or whose template is not among the model's
        (the output layer is fixed), are skipped and counted. The training loss, Adam and
        sparse Adam at a constant ``lr``, fresh optimiser states; the model is then stored in
        float32 (a fine-tuning step is finer than float16's resolution).

        Raises:
            RuntimeError: the model is not trained.
        """
        if self.net is None:
            raise RuntimeError("local_gnn is not trained: call fit() or load a saved model")
        index = {t: i for i, t in enumerate(self.templates)}
        rows: list[tuple[MolGraph, LocalExample, int]] = []
        no_example = unknown = 0
        for r in reactions:
            example = self._own_example(r)
            graph = None
            if example is not None:
                try:
                    graph = mol_graph(example.product)
                except ValueError:
                    graph = None
            if example is None or graph is None:
                no_example += 1
            elif example.template not in index:
                unknown += 1
            else:
                rows.append((graph, example, index[example.template]))
        net = self.net
        dense, sparse = _dense_and_sparse(net)
        optimizers = (torch.optim.Adam(dense, lr=lr), torch.optim.SparseAdam(sparse, lr=lr))
        size = int(batch_size or self.params["train_batch_size"])
        counts = {
            "n_given": len(reactions),
            "n_used": len(rows),
            "skipped_no_template": no_example,
            "skipped_unknown_template": unknown,
        }
        return self._fine_tune_epochs(
            counts,
            epochs,
            lr,
            size,
            seed,
            progress,
            loss=lambda: self._validate(net, rows)["val_loss"],
            train_epoch=lambda rng: self._train_epoch(
                net, optimizers, rows, rng, size, lambda i: lr
            ),
        )

    def reaction_templates(
        self, reactions: Sequence[Reaction], jobs: int = 1, progress: bool = False
    ) -> list[str | None]:
        """The local template of each reaction (see :func:`_local_template`), on ``jobs``
        processes."""
        return map_in_chunks(_local_templates, reactions, jobs, progress)

    @staticmethod
    def _own_example(reaction: Reaction) -> LocalExample | None:
        """The (product, site, template) example of a reaction (see :meth:`fine_tune`)."""
        mapped = reaction.metadata.get("mapped")
        if mapped:
            return extract_local(str(mapped))
        template = reaction.metadata.get("template")
        if not template:
            return None
        product = reaction.product.smiles
        want = tuple(sorted(m.smiles for m in reaction.reactants))
        prod = prepare_product(product)
        rxn = compile_local(str(template))
        for site, outcomes in sorted(template_sites(rxn, prod).items()):
            if want in apply_outcomes(rxn, prod, outcomes):
                return LocalExample(product, site, str(template), want)
        return None

    @torch.no_grad()
    def _validate(
        self, net: LocalNet, rows: Sequence[tuple[MolGraph, LocalExample, int]]
    ) -> dict[str, float]:
        """The loss over the validation examples whose template is known, and the share of
        all validation site atoms whose most probable template is right (an unknown template
        is a miss)."""
        net.eval()
        known = [r for r in rows if r[2] >= 0]
        loss = hits = 0.0
        for s in range(0, len(known), 256):
            chunk = known[s : s + 256]
            total, _, h = self._loss(net, self._batch(*zip(*chunk, strict=True)))
            loss += float(total) * len(chunk)
            hits += float(h)
        n_site = sum(len([a for a in e.site if a < g.n_atoms]) for g, e, _ in rows)
        return {"val_loss": loss / max(1, len(known)), "val_site_top1": hits / max(1, n_site)}

    # ---------------------------------------------------------------- prediction
    @torch.no_grad()
    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        if self.net is None:
            raise RuntimeError("local_gnn is not trained: call fit() or load a saved model")
        self.net.eval()
        graphs = [mol_graph(m.smiles) for m in products]
        react, templ = self.net(GraphBatch.collate(graphs))
        atom_scores = torch.nn.functional.logsigmoid(react)[:, None] + templ
        mask = self.class_mask(classes, atom_scores.shape[1])
        out: list[list[ReactantSet]] = []
        offset = 0
        for i, (mol, g) in enumerate(zip(products, graphs, strict=True)):
            scores = atom_scores[offset : offset + g.n_atoms]
            offset += g.n_atoms
            if mask is not None:  # the templates of the product's class only
                scores = scores.masked_fill(~mask[i], -math.inf)
            out.append(self._candidates(mol.smiles, scores, k))
        return out

    def _candidates(self, smiles: str, scores: torch.Tensor, k: int) -> list[ReactantSet]:
        """Match the most probable templates, rank their sites, apply the best."""
        p = self.params
        n_top = min(p["top_per_atom"], scores.shape[1])
        best_of = scores.topk(n_top, dim=1)
        best: dict[int, float] = {}
        for vals, ids in zip(best_of.values.tolist(), best_of.indices.tolist(), strict=True):
            for v, t in zip(vals, ids, strict=True):
                if v > best.get(t, -math.inf):
                    best[t] = v
        chosen = sorted(best, key=lambda t: -best[t])[: p["max_templates"]]
        prod = prepare_product(smiles)
        ranked: list[tuple[float, int, tuple[int, ...], list[Any]]] = []
        for t in chosen:
            rxn = compile_local(self.templates[t])
            for site, outcomes in template_sites(rxn, prod).items():
                if site and max(site) < scores.shape[0]:
                    score = float(scores[list(site), t].mean())
                    ranked.append((score, t, site, outcomes))
        ranked.sort(key=lambda c: (-c[0], c[1], c[2]))
        found: list[ReactantSet] = []
        distinct: set[tuple[str, ...]] = set()
        for score, t, site, outcomes in ranked:
            if len(distinct) >= k:
                break
            rxn = compile_local(self.templates[t])
            for reactants in apply_outcomes(rxn, prod, outcomes):
                distinct.add(reactants)
                info = {"template": self.templates[t], "site": list(site)}
                found.append(ReactantSet(reactants, math.exp(score), info))
        return found


def _sparse_state(
    opt: torch.optim.Optimizer, params: Sequence[nn.Parameter], state: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """SparseAdam's moments as tensors (its step count goes into ``state``)."""
    out: dict[str, torch.Tensor] = {}
    for i, w in enumerate(params):
        s = opt.state.get(w, {})
        if "exp_avg" in s:
            out[f"sparse.{i}.exp_avg"] = s["exp_avg"]
            out[f"sparse.{i}.exp_avg_sq"] = s["exp_avg_sq"]
            state[f"sparse_step_{i}"] = int(s["step"])
    return out


def _load_sparse(
    opt: torch.optim.Optimizer,
    params: Sequence[nn.Parameter],
    extra: dict[str, torch.Tensor],
    state: dict[str, Any],
) -> None:
    for i, w in enumerate(params):
        if f"sparse.{i}.exp_avg" in extra:
            opt.state[w] = {
                "step": int(state[f"sparse_step_{i}"]),
                "exp_avg": extra[f"sparse.{i}.exp_avg"],
                "exp_avg_sq": extra[f"sparse.{i}.exp_avg_sq"],
            }


def _local_template(reaction: Reaction) -> str | None:
    """The local template of a reaction: from its atom-mapped SMILES, or, for an unmapped
    reaction with a recorded retro template (USPTO-50k's training split), from the mapping
    that template gives (:func:`~makeable.retro.single_step.templates.map_by_template`)."""
    mapped = reaction.metadata.get("mapped")
    template = reaction.metadata.get("template")
    if not mapped and template:
        mapped = map_by_template(reaction, str(template))
    example = extract_local(str(mapped)) if mapped else None
    return example.template if example is not None else None


def _local_templates(chunk: Sequence[Reaction]) -> list[str | None]:
    return [_local_template(r) for r in chunk]
