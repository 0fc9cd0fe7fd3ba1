"""RetCL: retrosynthesis as selection of reactants from a candidate set.

A graph encoder gives every molecule a *key* (what it is) and two *query* vectors. Reactants
are chosen one at a time: the first with the product's query, each next one with the product
query minus the reactant queries of those already chosen, and a learned *halt* key ends the
set. Scores are cosine similarities over a temperature. A forward check scores how well the
summed reactant queries point back to the product's key. Training is contrastive (InfoNCE)
against every other molecule of the batch plus hard negatives: the nearest neighbours, in
key space, of the true reactants among all candidates (re-mined once per epoch).

Prediction is a beam search over the whole candidate set with precomputed candidate keys,
so each step is one matrix product and a top-k. The candidates are every molecule that is a
reactant in USPTO-50k (train + val + test, 52,845 molecules), the paper's "USPTO-50k
candidates" setting. The larger 671k USPTO candidate set of the paper is not available
offline.

References:
    Lee, Ahn, Seo, Song, Yang, Hwang, Shin, "RetCL: A Selection-based Approach for
    Retrosynthesis via Contrastive Learning", IJCAI 2021. https://arxiv.org/abs/2105.00795
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from makeable.chem.molecule import Molecule
from makeable.chem.reaction import Reaction
from makeable.data.stocks import Stock
from makeable.retro.single_step.base import MODELS, ReactantSet, SingleStepModel
from makeable.retro.single_step.gnn import GraphBatch, GraphEncoder, MolGraph, mol_graph

log = logging.getLogger(__name__)

CANDIDATES_FILE = "candidates.txt.gz"
N_CLASSES = 11  # USPTO-50k classes 1-10, 0 = unknown


def _mlp(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))


class RetCLNet(nn.Module):
    """Graph encoder with key, product-query, reactant-query heads and a halt key."""

    def __init__(self, dim: int, n_layers: int) -> None:
        super().__init__()
        self.encoder = GraphEncoder(dim, n_layers)
        self.key = _mlp(dim)
        self.product_query = _mlp(dim)
        self.reactant_query = _mlp(dim)
        self.class_embed = nn.Embedding(N_CLASSES, dim)
        nn.init.zeros_(self.class_embed.weight)
        self.halt = nn.Parameter(torch.randn(dim) / dim**0.5)

    def forward(self, batch: GraphBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(keys, product queries, reactant queries)``, each ``(n_graphs, dim)``."""
        pooled = self.encoder.mean_pool(self.encoder(batch), batch)
        return self.key(pooled), self.product_query(pooled), self.reactant_query(pooled)


class GraphCache:
    """Featurised molecules by SMILES, built once (RDKit work is the slow part)."""

    def __init__(self) -> None:
        self._graphs: dict[str, MolGraph] = {}

    def get(self, smiles: str) -> MolGraph:
        g = self._graphs.get(smiles)
        if g is None:
            g = self._graphs[smiles] = mol_graph(smiles)
        return g

    def batch(self, smiles: Sequence[str]) -> GraphBatch:
        return GraphBatch.collate([self.get(s) for s in smiles])


@MODELS.register("retcl")
class RetCL(SingleStepModel):
    """Selection-based retrosynthesis with contrastive learning (Lee et al., IJCAI 2021).

    Args:
        dim: width of the graph encoder and of keys and queries.
        n_layers: message-passing layers.
        temperature: softmax temperature of the cosine similarities.
        max_reactants: largest reactant set proposed.
        beam: beam width of the search (at least ``k`` is used).
        forward_weight: weight of the forward check (cosine / temperature) in the final score.
        epochs, lr, train_batch_size, hard_negatives, class_dropout, eval_size, seed: training
            settings (see :mod:`makeable.retro.single_step.retcl_train`).

    The defaults are the settings of the benchmarked model (docs/benchmarks/uspto50k.md): sized
    to train in about an hour on two CPU cores; the paper's encoder is larger.
    """

    name = "retcl"
    batch_size = 32

    @property
    def supports_classes(self) -> bool:
        return True

    def __init__(
        self,
        dim: int = 96,
        n_layers: int = 2,
        temperature: float = 0.1,
        max_reactants: int = 3,
        beam: int = 10,
        forward_weight: float = 1.0,
        epochs: int = 3,
        lr: float = 3e-3,
        train_batch_size: int = 64,
        hard_negatives: int = 1,
        class_dropout: float = 0.5,
        eval_size: int = 500,
        seed: int = 0,
    ) -> None:
        super().__init__(
            dim=int(dim),
            n_layers=int(n_layers),
            temperature=float(temperature),
            max_reactants=int(max_reactants),
            beam=int(beam),
            forward_weight=float(forward_weight),
            epochs=int(epochs),
            lr=float(lr),
            train_batch_size=int(train_batch_size),
            hard_negatives=int(hard_negatives),
            class_dropout=float(class_dropout),
            eval_size=int(eval_size),
            seed=int(seed),
        )
        torch.manual_seed(self.params["seed"])
        dim = self.params["dim"]
        self.net = RetCLNet(dim, self.params["n_layers"])
        self.graphs = GraphCache()
        self.candidates: list[str] = []
        self.candidate_index: dict[str, int] = {}
        self.cand_keys = torch.zeros(0, dim)  # normalised keys (C, dim)
        self.cand_rq = torch.zeros(0, dim)  # reactant queries (C, dim)
        self._unlisted_stocks: set[str] = set()  # warned about once

    # ------------------------------------------------------------------ candidates
    def set_candidates(self, smiles: Sequence[str], progress: bool = False) -> None:
        """Use these molecules as the candidate set and precompute their embeddings."""
        self.candidates = list(dict.fromkeys(smiles))
        self.candidate_index = {s: i for i, s in enumerate(self.candidates)}
        self.refresh_candidates(progress=progress)

    @torch.no_grad()
    def embed(
        self, smiles: Sequence[str], chunk: int = 512, progress: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised keys, product queries and reactant queries of molecules (eval mode)."""
        from tqdm import tqdm

        self.net.eval()
        outs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        starts = range(0, len(smiles), chunk)
        for start in tqdm(starts, desc="embedding", disable=not progress, unit="chunk"):
            k, pq, rq = self.net(self.graphs.batch(smiles[start : start + chunk]))
            outs.append((F.normalize(k, dim=1), pq, rq))
        if not outs:
            dim = self.params["dim"]
            return torch.zeros(0, dim), torch.zeros(0, dim), torch.zeros(0, dim)
        return (
            torch.cat([o[0] for o in outs]),
            torch.cat([o[1] for o in outs]),
            torch.cat([o[2] for o in outs]),
        )

    def refresh_candidates(self, progress: bool = False) -> None:
        """Recompute the candidate keys and reactant queries with the current weights."""
        keys, _, rq = self.embed(self.candidates, progress=progress)
        self.cand_keys, self.cand_rq = keys, rq

    def add_candidates(self, smiles: Sequence[str], progress: bool = False) -> int:
        """Append the molecules that are not candidates yet (embedded with the current
        weights); returns how many were added. Existing candidates keep their indices."""
        new = [s for s in dict.fromkeys(smiles) if s not in self.candidate_index]
        if not new:
            return 0
        keys, _, rq = self.embed(new, progress=progress)
        for s in new:
            self.candidate_index[s] = len(self.candidates)
            self.candidates.append(s)
        self.cand_keys = torch.cat([self.cand_keys, keys])
        self.cand_rq = torch.cat([self.cand_rq, rq])
        return len(new)

    def prepare_for_stock(self, stock: Stock) -> None:
        """Add the stock's molecules to the candidates: RetCL proposes only candidates, and a
        route must end in the stock (the paper's multi-step setting chooses reactants from
        the building blocks). A stock that cannot be listed (InChIKeys, a Bloom filter)
        adds nothing; the model then proposes its own candidates only. Idempotent: molecules
        already among the candidates are skipped, so calling it before every search is cheap."""
        listed = stock.molecules()
        if not listed:
            if stock.name not in self._unlisted_stocks:
                self._unlisted_stocks.add(stock.name)
                log.warning(
                    "retcl: stock %s cannot be listed as SMILES; proposing only the model's "
                    "%d candidates",
                    stock.name,
                    len(self.candidates),
                )
            return
        added = self.add_candidates(listed)
        if added:
            log.info(
                "retcl: added %d molecules of stock %s to the candidates (%d in all)",
                added,
                stock.name,
                len(self.candidates),
            )

    # ------------------------------------------------------------------ search
    @torch.no_grad()
    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        if not len(self.candidates):
            raise RuntimeError("retcl has no candidate set: train it or load a saved model")
        smiles = [m.smiles for m in products]
        return self.search(smiles, classes or [0] * len(smiles), max(k, self.params["beam"]))

    @torch.no_grad()
    def search(
        self, products: Sequence[str], classes: Sequence[int], beam: int
    ) -> list[list[ReactantSet]]:
        """Beam search over the candidate set for each product.

        A partial set's score is the sum of the log-probabilities of its choices (softmax over
        all candidates plus halt); a finished set adds ``forward_weight`` × its forward
        cosine / temperature.
        """
        self.net.eval()
        tau = self.params["temperature"]
        last = self.params["max_reactants"]
        keys, pq, _ = self.embed(products)
        base = pq + self.net.class_embed(torch.as_tensor(list(classes), dtype=torch.long))
        halt = F.normalize(self.net.halt, dim=0)
        n_cand = len(self.candidates)
        self_idx = [self.candidate_index.get(s, -1) for s in products]
        # beams[i] = list of (chosen candidate indices, summed log-prob)
        beams: list[list[tuple[tuple[int, ...], float]]] = [[((), 0.0)] for _ in products]
        finals: list[list[ReactantSet]] = [[] for _ in products]
        for step in range(last + 1):
            rows = [(i, chosen, lp) for i, b in enumerate(beams) for chosen, lp in b]
            if not rows:
                break
            q = torch.stack(
                [
                    base[i] - self.cand_rq[list(chosen)].sum(0) if chosen else base[i]
                    for i, chosen, _ in rows
                ]
            )
            q = F.normalize(q, dim=1)
            # softmax over the candidates plus halt, normalised before any choice is banned
            logits = q @ self.cand_keys.T / tau  # (rows, C)
            halt_logit = q @ halt / tau  # (rows,)
            log_z = torch.logaddexp(logits.logsumexp(dim=1), halt_logit)
            halt_lp = (halt_logit - log_z).tolist()
            top_lp: list[list[float]] = [[] for _ in rows]
            top_idx: list[list[int]] = [[] for _ in rows]
            if step < last:  # at the last step only halting is left
                for r, (i, chosen, _) in enumerate(rows):
                    banned = list(chosen) + ([self_idx[i]] if self_idx[i] >= 0 else [])
                    logits[r, banned] = float("-inf")
                values, idx = logits.topk(min(beam + 1, n_cand), dim=1)
                top_lp, top_idx = (values - log_z[:, None]).tolist(), idx.tolist()
            new: list[list[tuple[tuple[int, ...], float]]] = [[] for _ in products]
            for r, (i, chosen, lp) in enumerate(rows):
                options = list(zip(top_lp[r], top_idx[r], strict=True))
                if step > 0:  # an empty set is not an answer
                    options.append((halt_lp[r], n_cand))
                options.sort(key=lambda o: -o[0])
                for v, j in options[: beam + 1]:
                    if v == float("-inf"):
                        break
                    if j == n_cand:
                        finals[i].append(self._finish_set(chosen, lp + v, keys[i]))
                    else:
                        new[i].append((tuple(sorted((*chosen, j))), lp + v))
            beams = [self._prune(b, beam) for b in new]
        return finals

    @staticmethod
    def _prune(
        partials: list[tuple[tuple[int, ...], float]], beam: int
    ) -> list[tuple[tuple[int, ...], float]]:
        best: dict[tuple[int, ...], float] = {}
        for chosen, lp in partials:
            if lp > best.get(chosen, float("-inf")):
                best[chosen] = lp
        return sorted(best.items(), key=lambda x: -x[1])[:beam]

    def _finish_set(self, chosen: tuple[int, ...], logp: float, key: torch.Tensor) -> ReactantSet:
        fwd = F.normalize(self.cand_rq[list(chosen)].sum(0), dim=0) @ key
        score = logp + self.params["forward_weight"] * float(fwd) / self.params["temperature"]
        reactants = tuple(sorted(self.candidates[j] for j in chosen))
        return ReactantSet(reactants, score, {"log_prob": logp, "forward_cos": float(fwd)})

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: Sequence[Reaction],
        val: Sequence[Reaction] | None = None,
        progress: bool = False,
        candidates: Sequence[str] | None = None,
        **_: Any,
    ) -> None:
        """Contrastive training; see :func:`makeable.retro.single_step.retcl_train.train_retcl`.

        Args:
            train: training reactions.
            val: reactions to report top-k accuracy on after each epoch (a subset).
            progress: show progress bars.
            candidates: the candidate set (default: every reactant of ``train`` and ``val``).
        """
        from makeable.retro.single_step.retcl_train import train_retcl

        if candidates is None:
            pool = {m.smiles for r in [*train, *(val or ())] for m in r.reactants}
            candidates = sorted(pool)
        self.training = train_retcl(self, train, val, list(candidates), progress=progress)

    def fine_tune(
        self,
        reactions: Sequence[Reaction],
        epochs: int = 1,
        lr: float = 1e-4,
        batch_size: int | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Continue the contrastive training on ``reactions`` with the same candidate set; see
        :func:`makeable.retro.single_step.retcl_train.fine_tune_retcl` (reactions with a
        reactant outside the candidates are skipped and counted)."""
        from makeable.retro.single_step.retcl_train import fine_tune_retcl

        size = int(batch_size or self.params["train_batch_size"])
        return fine_tune_retcl(self, reactions, epochs, lr, size, seed, progress=progress)

    # ------------------------------------------------------------------ persistence
    def _tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        tensors["candidate_keys"] = self.cand_keys
        tensors["candidate_reactant_queries"] = self.cand_rq
        return tensors

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        self.net.load_state_dict(state)
        self.net.eval()
        if "candidate_keys" in tensors and len(tensors["candidate_keys"]) == len(self.candidates):
            self.cand_keys = tensors["candidate_keys"].float()
            self.cand_rq = tensors["candidate_reactant_queries"].float()
        else:
            self.refresh_candidates()

    def _save_files(self, folder: Path) -> None:
        with gzip.open(folder / CANDIDATES_FILE, "wt") as fh:
            fh.write("\n".join(self.candidates) + "\n")

    def _load_files(self, folder: Path) -> None:
        with gzip.open(folder / CANDIDATES_FILE, "rt") as fh:
            self.candidates = [line.strip() for line in fh if line.strip()]
        self.candidate_index = {s: i for i, s in enumerate(self.candidates)}
