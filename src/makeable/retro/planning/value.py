"""A learned value function for Retro*: how far is this molecule from the stock?

Retro* (Chen et al., ICML 2020) orders its search by the cost of the cheapest route through
each open molecule; for a molecule not yet expanded, that cost is the value function's
estimate (Retro*-0 uses 0, which makes the search breadth-first in cost). Here the value is
learned from the planner's own searches — the self-improvement of the search, beside the
single-step model's:

* every molecule of a solved route that is not bought gets the number of reactions of its
  sub-route;
* a target the search did not solve within its budget has at least the ``unsolved_quantile``
  of the solved targets' reaction counts (a one-sided, hinge loss: the search only says that
  it is hard, not how hard).

The search's costs are ``-log p`` per reaction, so the estimate is used as *reactions × the
mean step cost of the training routes* (``step_cost``, saved with the model). Reaction counts
rather than the routes' ``-log p`` sums are learned because they generalise: trained on 1,000
training searches, the rank correlation on held-out targets is 0.41 for reaction counts and
0.06–0.09 for ``-log p`` sums (three network sizes; docs/benchmarks/planning.md).

Model: Morgan count fingerprint (radius 2, 2048 bits, log(1 + count)) → hidden layer (ELU,
dropout) → softplus, so the value is never negative. Saved as ``config.json`` +
``model.safetensors``; nothing is unpickled.

Train it with ``makeable retro train-value PLANS --out DIR`` from the ``plans.jsonl`` of
``makeable retro improve`` (the training targets' searches), and use it with
``--value-model DIR`` on ``retro plan`` and ``bench planning`` (Retro* only).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from makeable.results_csv import read_jsonl
from makeable.retro.planning.routes import Route, search_step_cost
from makeable.retro.single_step.base import one_line, read_weights, weights_digest
from makeable.retro.single_step.template_mlp import SparseFingerprints, TemplateNet
from makeable.settings import read_json_object

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
KIND = "retro_star_value"


@dataclass(frozen=True)
class ValueExamples:
    """Training examples: molecule, reactions to the stock, whether that is only a lower
    bound, and the target (search) each came from (validation splits by target).
    ``step_cost``: the mean ``-log p`` per reaction of the solved routes."""

    smiles: list[str]
    cost: np.ndarray
    censored: np.ndarray
    group: np.ndarray
    step_cost: float = 1.0

    def __len__(self) -> int:
        return len(self.smiles)

    def subset(self, mask: np.ndarray) -> ValueExamples:
        idx = np.flatnonzero(mask)
        return ValueExamples(
            [self.smiles[i] for i in idx],
            self.cost[idx],
            self.censored[idx],
            self.group[idx],
            self.step_cost,
        )


def value_examples(
    plans: Iterable[Mapping[str, Any]], unsolved_quantile: float = 0.9
) -> ValueExamples:
    """Examples from planning records (lines of ``plans.jsonl``: ``canonical``, ``solved``,
    ``routes`` in PaRoutes format, best first).

    Raises:
        ValueError: no solved route to learn from, or a bad quantile.
    """
    if not 0.0 <= unsolved_quantile <= 1.0:
        raise ValueError(f"unsolved_quantile must be in [0, 1], got {unsolved_quantile}")
    solved: dict[str, tuple[int, int]] = {}  # smiles -> (reactions, group)
    unsolved: dict[str, int] = {}
    target_reactions: list[int] = []
    route_cost = 0.0
    for group, record in enumerate(plans):
        target = record.get("canonical") or record.get("target")
        if not target or record.get("error"):
            continue
        routes = record.get("routes") or []
        if not record.get("solved") or not routes:
            unsolved.setdefault(target, group)
            continue
        route = Route.from_dict(routes[0])
        if route.root.reaction is None:  # bought: nothing to learn
            continue
        target_reactions.append(route.n_reactions)
        # the search's cost of a step: -log p, or 1 for a model without probabilities (RetCL)
        route_cost += sum(search_step_cost(rxn.probability) for _, rxn in route.reactions())
        for node in route.molecules():
            if node.reaction is None:
                continue
            n = Route(node).n_reactions
            old = solved.get(node.smiles)
            if old is None or n < old[0]:
                solved[node.smiles] = (n, group)
    if not target_reactions:
        raise ValueError("no solved route in the plans: nothing to learn a value from")
    step_cost = route_cost / sum(target_reactions)  # > 0: a step costs at least -log 0.999
    bound = float(np.quantile(target_reactions, unsolved_quantile))
    hard = {s: g for s, g in unsolved.items() if s not in solved}
    return ValueExamples(
        list(solved) + list(hard),
        np.asarray([n for n, _ in solved.values()] + [bound] * len(hard), np.float32),
        np.asarray([False] * len(solved) + [True] * len(hard)),
        np.asarray([g for _, g in solved.values()] + list(hard.values()), np.int64),
        step_cost=step_cost,
    )


def read_plans(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The records of ``plans.jsonl`` files; a folder stands for every ``plans.jsonl`` under
    it (a ``retro improve`` run). A torn last line is skipped.

    Raises:
        FileNotFoundError: a path that does not exist or holds no ``plans.jsonl``.
    """
    records: list[dict[str, Any]] = []
    for item in paths:
        path = Path(item)
        files = sorted(path.rglob("plans.jsonl")) if path.is_dir() else [path]
        if not files or not all(f.is_file() for f in files):
            raise FileNotFoundError(f"no plans.jsonl at {path}")
        for file in files:
            records.extend(read_jsonl(file))
    return records


class _ValueNet(TemplateNet):
    """Template-MLP's network with one output, made non-negative (softplus)."""

    def __init__(self, n_bits: int, hidden: int, dropout: float) -> None:
        super().__init__(n_bits, [hidden], 1, dropout)

    def forward(self, idx: torch.Tensor, offsets: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(super().forward(idx, offsets, w)).squeeze(-1)


class ValueModel:
    """The learned cost-to-stock estimate of a molecule (see the module docstring)."""

    def __init__(
        self, n_bits: int = 2048, radius: int = 2, hidden: int = 64, dropout: float = 0.5
    ) -> None:
        self.config: dict[str, Any] = {
            "kind": KIND,
            "n_bits": n_bits,
            "radius": radius,
            "hidden": hidden,
            "dropout": dropout,
            "step_cost": 1.0,
        }
        self._fp = SparseFingerprints(n_bits, radius)
        self.net = _ValueNet(n_bits, hidden, dropout)
        self.net.eval()

    def _batch(self, smiles: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._fp.batch([self._fp.one(s) for s in smiles])

    def cost(self, smiles: Sequence[str]) -> np.ndarray:
        """The search's estimate: reactions × the training routes' mean step cost."""
        return self.predict(smiles) * float(self.config["step_cost"])

    @torch.no_grad()
    def predict(self, smiles: Sequence[str]) -> np.ndarray:
        """Estimated reactions (≥ 0) from each molecule to the stock; an unreadable SMILES
        gets the value of an empty fingerprint."""
        if not smiles:
            return np.zeros(0, np.float32)
        self.net.eval()
        return self.net(*self._batch(smiles)).numpy()

    def fit(
        self,
        examples: ValueExamples,
        epochs: int = 40,
        lr: float = 1e-3,
        batch_size: int = 128,
        weight_decay: float = 1e-3,
        val_fraction: float = 0.1,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Train on ``examples`` (squared error; hinge for lower bounds). A ``val_fraction``
        of the targets (with all their molecules) is held out and the epoch with the lowest
        validation loss is kept. Returns the training record."""
        if len(examples) == 0:
            raise ValueError("no examples to train the value model on")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.config["step_cost"] = examples.step_cost
        gen = np.random.default_rng(seed)
        torch.manual_seed(seed)
        groups = np.unique(examples.group)
        # at least one target's molecules stay for training
        n_val = min(int(round(val_fraction * len(groups))), len(groups) - 1)
        val_groups = set(gen.choice(groups, size=n_val, replace=False).tolist())
        is_val = np.array([g in val_groups for g in examples.group])
        train, val = examples.subset(~is_val), examples.subset(is_val)
        rows = [self._fp.one(s) for s in train.smiles]
        val_batch = self._batch(val.smiles) if len(val) else None
        opt = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=weight_decay)
        best: tuple[float, dict[str, torch.Tensor]] | None = None
        history: list[dict[str, float]] = []
        for epoch in range(1, epochs + 1):
            self.net.train()
            order = gen.permutation(len(train))
            total = 0.0
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                pred = self.net(*self._fp.batch([rows[i] for i in idx]))
                loss = _loss(pred, train.cost[idx], train.censored[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            record = {"epoch": epoch, "train_loss": total / len(train)}
            if val_batch is not None:
                self.net.eval()
                with torch.no_grad():
                    record["val_loss"] = float(_loss(self.net(*val_batch), val.cost, val.censored))
                if best is None or record["val_loss"] < best[0]:
                    best = (record["val_loss"], _copy_state(self.net))
            history.append(record)
        if best is not None:
            self.net.load_state_dict(best[1])
        self.net.eval()
        summary: dict[str, Any] = {
            "n_examples": len(examples),
            "n_lower_bounds": int(examples.censored.sum()),
            "n_val_targets": n_val,
            "epochs": epochs,
            "lr": lr,
            "seed": seed,
            "best_val_loss": best[0] if best else None,
            "history": history,
        }
        if len(val):
            summary["val"] = self.evaluate(val)
        return summary

    def evaluate(self, examples: ValueExamples) -> dict[str, float]:
        """On exact reaction counts: mean absolute error and Spearman rank correlation; the
        share of lower bounds met."""
        pred = self.predict(examples.smiles)
        exact = ~examples.censored
        out: dict[str, float] = {}
        if exact.any():
            out["mae"] = float(np.abs(pred[exact] - examples.cost[exact]).mean())
            out["mean_reactions"] = float(examples.cost[exact].mean())
            out["spearman"] = _spearman(pred[exact], examples.cost[exact])
        if examples.censored.any():
            hard = examples.censored
            out["lower_bounds_met"] = float((pred[hard] >= examples.cost[hard]).mean())
        return out

    def digest(self) -> str:
        """A SHA-256 of the configuration and weights (see ``SingleStepModel.digest``)."""
        return weights_digest(self.config, self.net.state_dict())

    # ------------------------------------------------------------------ saving
    def save(self, folder: str | Path, record: Mapping[str, Any] | None = None) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        data = dict(self.config, training=dict(record or {}))
        (folder / CONFIG_FILE).write_text(json.dumps(data, indent=1) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ValueModel:
        """Read a saved value model.

        Raises:
            FileNotFoundError: ``folder`` holds no value model.
            ValueError: ``folder`` holds something else (e.g. a single-step model).
        """
        folder = Path(folder)
        path = folder / CONFIG_FILE
        if not path.is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(
                f"no value model in {folder} (expected {CONFIG_FILE}, {WEIGHTS_FILE})"
            )
        config = read_json_object(path)
        if config.get("kind") != KIND:
            raise ValueError(f"{folder} holds no Retro* value model (kind {config.get('kind')!r})")
        tensors = read_weights(folder / WEIGHTS_FILE)
        try:
            model = cls(config["n_bits"], config["radius"], config["hidden"], config["dropout"])
            model.config["step_cost"] = float(config["step_cost"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} lacks a setting or holds a wrong one ({exc!r})") from None
        try:
            model.net.load_state_dict(tensors)
        except RuntimeError as exc:
            raise ValueError(
                f"{folder / WEIGHTS_FILE} does not fit {path} ({one_line(exc)})"
            ) from None
        model.net.eval()
        return model


def load_value_model(folder: str | Path) -> ValueModel:
    """:meth:`ValueModel.load`, once per folder and process (every search of a benchmark
    uses the same one) unless its weights file changed since."""
    weights = Path(folder) / WEIGHTS_FILE
    return _load_once(str(folder), weights.stat().st_mtime_ns if weights.is_file() else None)


def value_digest(folder: str | Path | None) -> str | None:
    """The digest of the value model in ``folder`` (``None`` for none: Retro*-0), as results
    folders record it."""
    return None if folder is None else load_value_model(folder).digest()


@lru_cache(maxsize=4)
def _load_once(folder: str, stamp: int | None) -> ValueModel:
    return ValueModel.load(folder)


def _loss(pred: torch.Tensor, cost: np.ndarray, censored: np.ndarray) -> torch.Tensor:
    target = torch.from_numpy(np.asarray(cost, np.float32))
    lower = torch.from_numpy(np.asarray(censored, bool))
    err = torch.where(lower, torch.relu(target - pred), pred - target)
    return (err**2).mean()


def _copy_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); 0 when either is constant."""

    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x), np.float64)
        r[order] = np.arange(len(x))
        for value in np.unique(x):  # average ranks of ties
            tie = x == value
            r[tie] = r[tie].mean()
        return r

    ra, rb = ranks(np.asarray(a)), ranks(np.asarray(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])
