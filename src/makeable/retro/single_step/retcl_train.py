"""Contrastive training of :class:`~makeable.retro.single_step.retcl.RetCL`, hard negatives mined.

For a reaction ``R1 + R2 → P`` and every order of its reactants, the selection queries
``q(P)``, ``q(P) - r(R1)``, ``q(P) - r(R1) - r(R2)`` must pick ``R1``, ``R2`` and *halt*
among the keys of every molecule in the batch (the other true reactants not yet chosen are
left out of the denominator); the loss of a reaction is the smallest summed InfoNCE loss over
orders, plus the forward loss (``r(R1) + r(R2)`` must pick ``P``'s key). Hard negatives are
the ``hard_negatives`` nearest candidates, in key space, of each true reactant, re-mined at
the start of every epoch from freshly computed candidate keys.

References:
    Lee et al., "RetCL: A Selection-based Approach for Retrosynthesis via Contrastive
    Learning", IJCAI 2021, Sections 3.2-3.3. https://arxiv.org/abs/2105.00795
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from makeable.chem.reaction import Reaction
from makeable.retro.single_step.metrics import match_rank, top_k_accuracy

if TYPE_CHECKING:
    from makeable.retro.single_step.retcl import RetCL

log = logging.getLogger(__name__)

Example = tuple[str, tuple[str, ...], int]
"""(product SMILES, unique reactant SMILES, reaction class)."""


def _examples(reactions: Sequence[Reaction]) -> list[Example]:
    return [
        (
            r.product.smiles,
            tuple(dict.fromkeys(m.smiles for m in r.reactants)),
            int(r.metadata.get("class", 0) or 0),
        )
        for r in reactions
    ]


@torch.no_grad()
def mine_neighbours(
    keys: torch.Tensor, n: int, chunk: int = 2048, rows: Sequence[int] | None = None
) -> np.ndarray:
    """Indices ``(C, n)`` of each candidate's ``n`` nearest other candidates (cosine).

    ``rows``: mine only these candidates (the reactants of the reactions being learned; the
    other rows stay 0), which is what fine-tuning on a few hundred route reactions needs
    instead of all pairs of tens of thousands of candidates.
    """
    which = np.arange(len(keys)) if rows is None else np.unique(np.asarray(rows, np.int64))
    out = np.zeros((len(keys), n), dtype=np.int64)
    for start in range(0, len(which), chunk):
        part = torch.from_numpy(which[start : start + chunk])
        sims = keys[part] @ keys.T
        sims[torch.arange(len(part)), part] = float("-inf")
        out[part.numpy()] = sims.topk(n, dim=1).indices.numpy()
    return out


def batch_loss(
    model: RetCL,
    batch: Sequence[Example],
    neighbours: np.ndarray | None,
    class_mask: np.ndarray,
) -> tuple[torch.Tensor, float]:
    """Mean loss over the reactions of ``batch`` and the fraction solved greedily.

    Args:
        model: the RetCL model (its ``net`` is trained).
        batch: reactions as examples.
        neighbours: hard-negative candidate indices per candidate, or ``None``.
        class_mask: per reaction, whether its class is shown to the model (else 0).
    """
    net, tau = model.net, model.params["temperature"]
    mols: dict[str, int] = {}

    def idx(s: str) -> int:
        return mols.setdefault(s, len(mols))

    items = [(idx(prod), [idx(r) for r in reacts], c) for prod, reacts, c in batch]
    if neighbours is not None:
        for _, reacts, _ in batch:
            for r in reacts:
                ci = model.candidate_index.get(r)
                if ci is not None:
                    for j in neighbours[ci]:
                        idx(model.candidates[j])
    keys, pq, rq = net(model.graphs.batch(list(mols)))
    m = len(mols)
    all_keys = F.normalize(torch.cat([keys, net.halt[None]]), dim=1)  # (M + 1, dim)

    # selection queries: one row per (reaction, order, step)
    owner, order_id, subtract, positive, ignore = [], [], [], [], []
    for b, (p, rs, _) in enumerate(items):
        for o, perm in enumerate(itertools.permutations(rs)):
            for t in range(len(perm) + 1):
                owner.append(b)
                order_id.append(o)
                subtract.append(perm[:t])
                positive.append(perm[t] if t < len(perm) else m)
                ignore.append((p, *perm[t + 1 :]))
    n_q = len(owner)
    sub = torch.zeros(n_q, m)
    mask = torch.zeros(n_q, m + 1, dtype=torch.bool)
    for row in range(n_q):
        for j in subtract[row]:
            sub[row, j] += 1.0
        for j in ignore[row]:
            mask[row, j] = True
    classes = torch.as_tensor(
        [c if show else 0 for (_, _, c), show in zip(items, class_mask, strict=True)]
    )
    base = pq[[p for p, _, _ in items]] + net.class_embed(classes)
    q = base[owner] - sub @ rq
    logits = (F.normalize(q, dim=1) @ all_keys.T / tau).masked_fill(mask, float("-inf"))
    pos = torch.as_tensor(positive)
    rows = torch.arange(n_q)
    step_loss = logits.logsumexp(dim=1) - logits[rows, pos]
    step_ok = logits.argmax(dim=1) == pos

    # forward check: summed reactant queries must pick the product among molecule keys
    fsub = torch.zeros(len(items), m)
    fmask = torch.zeros(len(items), m, dtype=torch.bool)
    for b, (_, rs, _) in enumerate(items):
        for j in rs:
            fsub[b, j] = 1.0
            fmask[b, j] = True
    flogits = (F.normalize(fsub @ rq, dim=1) @ all_keys[:m].T / tau).masked_fill(
        fmask, float("-inf")
    )
    fpos = torch.as_tensor([p for p, _, _ in items])
    f_loss = flogits.logsumexp(dim=1) - flogits[torch.arange(len(items)), fpos]

    losses, solved = [], 0
    owner_t, order_t = torch.as_tensor(owner), torch.as_tensor(order_id)
    for b in range(len(items)):
        rows_b = owner_t == b
        per_order = torch.zeros(int(order_t[rows_b].max()) + 1).index_add(
            0, order_t[rows_b], step_loss[rows_b]
        )
        losses.append(per_order.min() + f_loss[b])
        for o in range(len(per_order)):
            if bool(step_ok[rows_b][order_t[rows_b] == o].all()):
                solved += 1
                break
    return torch.stack(losses).mean(), solved / len(items)


def evaluate(
    model: RetCL, examples: Sequence[Example], class_known: bool = False
) -> dict[str, float]:
    """Top-1/10 exact match of the beam search on ``examples`` (candidates must be set)."""
    ranks = []
    for start in range(0, len(examples), model.batch_size):
        chunk = examples[start : start + model.batch_size]
        classes = [c if class_known else 0 for _, _, c in chunk]
        found = model.search([p for p, _, _ in chunk], classes, model.params["beam"])
        for (p, rs, _), sets in zip(chunk, found, strict=True):
            ranked = [s.reactants for s in model._finish(p, sets, 10)]
            ranks.append(match_rank(ranked, rs))
    acc = top_k_accuracy(ranks, (1, 10))
    return {"val_top1": acc[1], "val_top10": acc[10]}


def train_retcl(
    model: RetCL,
    train: Sequence[Reaction],
    val: Sequence[Reaction] | None,
    candidates: Sequence[str],
    progress: bool = False,
) -> dict[str, Any]:
    """Train ``model`` in place; returns the training record saved with the model."""
    from tqdm import tqdm

    p = model.params
    rng = np.random.default_rng(p["seed"])
    torch.manual_seed(p["seed"])
    model.candidates = list(dict.fromkeys(candidates))
    model.candidate_index = {s: i for i, s in enumerate(model.candidates)}
    examples = _examples(train)
    val_examples = _examples(val or ())
    if len(val_examples) > p["eval_size"]:
        pick = rng.choice(len(val_examples), p["eval_size"], replace=False)
        val_examples = [val_examples[i] for i in sorted(pick)]
    t0 = time.perf_counter()
    needed = [*model.candidates, *(e[0] for e in examples), *(e[0] for e in val_examples)]
    for s in tqdm(needed, desc="featurising", disable=not progress, unit="mol"):
        model.graphs.get(s)
    featurise_s = time.perf_counter() - t0
    n_steps = p["epochs"] * ((len(examples) + p["train_batch_size"] - 1) // p["train_batch_size"])
    opts = _optimisers(model, p["lr"])
    scheds = [
        torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=p["lr"], total_steps=max(1, n_steps), pct_start=0.05
        )
        for o in opts
    ]
    history: list[dict[str, Any]] = []
    for epoch in range(p["epochs"]):
        neighbours = None
        if p["hard_negatives"] > 0:
            model.refresh_candidates(progress=progress)
            neighbours = mine_neighbours(model.cand_keys, p["hard_negatives"])
        desc = f"retcl epoch {epoch + 1}/{p['epochs']}"
        loss, acc = _run_epoch(
            model, examples, opts, scheds, neighbours, rng, p["train_batch_size"], desc, progress
        )
        model.refresh_candidates(progress=progress)
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": loss,
            "train_batch_acc": acc,
            "elapsed_s": round(time.perf_counter() - t0, 1),
        }
        if val_examples:
            record.update(evaluate(model, val_examples))
        history.append(record)
        log.info("retcl %s", record)
    return {
        "n_train": len(examples),
        "n_candidates": len(model.candidates),
        "featurise_s": round(featurise_s, 1),
        "train_time_s": round(time.perf_counter() - t0, 1),
        "history": history,
    }


def _optimisers(model: RetCL, lr: float) -> list[torch.optim.Optimizer]:
    """Adam for the dense weights, SparseAdam for the sparse environment embedding."""
    sparse = list(model.net.encoder.env_embed.parameters())
    dense = [w for w in model.net.parameters() if all(w is not v for v in sparse)]
    return [torch.optim.Adam(dense, lr=lr), torch.optim.SparseAdam(sparse, lr=lr)]


def _run_epoch(
    model: RetCL,
    examples: Sequence[Example],
    opts: Sequence[torch.optim.Optimizer],
    scheds: Sequence[Any],
    neighbours: np.ndarray | None,
    rng: np.random.Generator,
    batch_size: int,
    desc: str,
    progress: bool,
) -> tuple[float, float]:
    """One pass over ``examples`` in random order: mean loss and greedy batch accuracy."""
    from tqdm import tqdm

    p = model.params
    model.net.train()
    dense = opts[0].param_groups[0]["params"]
    order = rng.permutation(len(examples))
    total, solved, n_batches = 0.0, 0.0, 0
    bar = tqdm(range(0, len(order), batch_size), desc=desc, disable=not progress, unit="batch")
    for start in bar:
        batch = [examples[i] for i in order[start : start + batch_size]]
        class_mask = rng.random(len(batch)) >= p["class_dropout"]
        loss, acc = batch_loss(model, batch, neighbours, class_mask)
        for o in opts:
            o.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dense, 5.0)
        for o in opts:
            o.step()
        for sc in scheds:
            sc.step()
        total, solved, n_batches = total + float(loss.detach()), solved + acc, n_batches + 1
        if n_batches % 20 == 0:
            bar.set_postfix(loss=round(total / n_batches, 3), acc=round(solved / n_batches, 3))
    return total / max(1, n_batches), solved / max(1, n_batches)


def fine_tune_retcl(
    model: RetCL,
    reactions: Sequence[Reaction],
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool = False,
) -> dict[str, Any]:
    """Continue the contrastive training of a trained ``model`` on ``reactions``.

    The training loss of :func:`train_retcl` (selection InfoNCE over the batch plus hard
    negatives re-mined each epoch, and the forward loss) with the same candidate set, Adam
    at a constant ``lr`` from a fresh state. Reactions the model cannot propose are skipped
    and counted: a reactant outside the candidate set, or more than ``max_reactants``
    reactants. The candidate embeddings are recomputed at the end.

    References:
        Kim, Ahn, Lee, Shin, "Self-Improved Retrosynthetic Planning", ICML 2021.
        https://arxiv.org/abs/2106.04880

    Returns:
        The fine-tuning record (see
        :meth:`makeable.retro.single_step.base.SingleStepModel.fine_tune`), also appended to
        ``model.training["fine_tuning"]``.
    """
    if not model.candidates:
        raise RuntimeError("retcl has no candidate set: train it or load a saved model")
    p = model.params
    examples, not_candidates, too_many = [], 0, 0
    for ex in _examples(reactions):
        if len(ex[1]) > p["max_reactants"]:
            too_many += 1
        elif any(r not in model.candidate_index for r in ex[1]):
            not_candidates += 1
        else:
            examples.append(ex)
    if not_candidates or too_many:
        log.info(
            "retcl fine-tuning: skipped %d reaction(s) with a reactant outside the candidate set "
            "and %d with more than %d reactants",
            not_candidates,
            too_many,
            p["max_reactants"],
        )
    counts = {
        "n_given": len(reactions),
        "n_used": len(examples),
        "skipped_not_candidate": not_candidates,
        "skipped_too_many_reactants": too_many,
    }
    opts = _optimisers(model, lr) if examples else []
    used = [model.candidate_index[r] for _, reactants, _ in examples for r in reactants]
    done = [0]  # epochs run, for the progress label

    def train_epoch(rng: np.random.Generator) -> float:
        neighbours = None
        if p["hard_negatives"] > 0:
            model.refresh_candidates(progress=progress)
            neighbours = mine_neighbours(model.cand_keys, p["hard_negatives"], rows=used)
        done[0] += 1
        desc = f"retcl fine-tuning {done[0]}/{epochs}"
        loss, _ = _run_epoch(model, examples, opts, (), neighbours, rng, batch_size, desc, progress)
        return loss

    return model._fine_tune_epochs(
        counts,
        epochs,
        lr,
        batch_size,
        seed,
        progress,
        train_epoch=train_epoch,
        finish=lambda: model.refresh_candidates(progress=progress),
    )
