"""Fragment retrieval-augmented generation: a language model prompted with the best fragments
found so far, and a genetic step beside it.

In the spirit of f-RAG (Lee, Nam, Kim, Kim, Hwang, "Molecule Generation with Fragment
Retrieval Augmentation", NeurIPS 2024, https://arxiv.org/abs/2411.12078) and GenMol (Lee et
al., "GenMol: A Drug Discovery Generalist with Discrete Diffusion", ICML 2025), sized for a
CPU. Each round:

1. **Fragment vocabulary.** The population's molecules (the best seen) are cut at their BRICS
   bonds (:func:`makeable.chem.safe.fragments`); each fragment is scored by the mean score of
   the population molecules that hold it. *Arms* have one attachment point, *linkers* two.
2. **Retrieval-augmented generation.** A language model is prompted with retrieved fragments,
   drawn by rank from the vocabulary, and writes the rest of the molecule:

   * a SMILES model (the default, the shipped ZINC250k prior): the prompt is one arm written so
     that the model continues at its attachment atom (:func:`makeable.chem.safe.arm_prefix`),
     or, for ``linker_share`` of the prompts, an arm extended by a retrieved linker;
   * a SAFE model (``notation="safe"``, ``makeable prior train --notation safe``): one arm
     (motif extension) or, for ``linker_share`` of the prompts, two (linker design).

   f-RAG instead feeds retrieved fragments to a SAFE-GPT through a trained fragment-injection
   module; here the prompt is the retrieval.
3. **Genetic fragment modification.** Graph GA crossover and mutation
   (:mod:`makeable.optimizers.graph_ga_ops`) on a mating pool drawn from the population, as
   f-RAG does.
4. The new molecules of both are scored together; the population keeps the best
   ``population_size``. The language model then takes ``finetune_steps`` maximum-likelihood
   steps on the population's strings (SAFE strings in new random fragment orders for a SAFE
   model), which neither paper does: without them the prior writes the rest of a prompted
   molecule as it would any ZINC molecule (AUC top-10 on the PMO tuning tasks, seed 0: 0.977
   without, 1.033 with; ``docs/benchmarks/pmo.md``).

The first population is drawn from the pool (ZINC250k), as Graph GA's is.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from rdkit import Chem

from makeable.chem import safe
from makeable.chem.molecule import parse_smiles
from makeable.models.smiles_lm import DEFAULT_PRIOR
from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
)
from makeable.oracle.oracle import Oracle, OracleResult
from makeable.params import require_int, require_probability, require_real

if TYPE_CHECKING:
    from makeable.models.smiles_lm.lstm import SmilesLSTM

log = logging.getLogger(__name__)


FRAGMENT_SCORES = ("mean", "max")
"""How a fragment is scored from the molecules holding it: their mean score, or the best (as
f-RAG ranks a fragment by the molecule it came from)."""


def fragment_vocabulary(
    population: dict[str, float], size: int, score: str = "mean"
) -> tuple[list[str], list[str]]:
    """The ``size`` best arms (one attachment point) and linkers (two) of the population's
    molecules, each scored by the ``mean`` or ``max`` score of the molecules holding it (best
    first; ties by SMILES). A fragment's attachment number is set to 1 (arms) or 1 and 2
    (linkers)."""
    totals: dict[str, list[float]] = defaultdict(list)
    for smiles, value in population.items():
        for frag in _molecule_fragments(smiles):
            totals[frag].append(value)
    if score == "max":
        scored = {f: max(v) for f, v in totals.items()}
    else:
        scored = {f: sum(v) / len(v) for f, v in totals.items()}
    ranked = sorted(scored, key=lambda f: (-scored[f], f))
    arms = [f for f in ranked if safe.attachments(f) == 1][:size]
    linkers = [f for f in ranked if safe.attachments(f) == 2][:size]
    return arms, linkers


@lru_cache(maxsize=100_000)
def _molecule_fragments(smiles: str) -> tuple[str, ...]:
    """The distinct normalised fragments of a molecule, sorted (cached: the population keeps
    most of its molecules from one round to the next)."""
    found = {_normalised(f) for f in safe.fragments(smiles)}
    return tuple(sorted(f for f in found if f is not None))


def _normalised(fragment: str) -> str | None:
    """A fragment with its attachment points renumbered 1, 2, ... (so that equal fragments
    from different molecules are one entry)."""
    mol = parse_smiles(fragment)
    if mol is None:
        return None
    number = 0
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 0:
            number += 1
            atom.SetIsotope(number)
    return str(Chem.MolToSmiles(mol))


def prompt(arms: Sequence[str]) -> str | None:
    """A SAFE prompt from one or two arms: their attachment points get distinct open
    ring-closure numbers, and a ``.`` asks the model for the next fragment."""
    relabelled = [a.replace("[1*]", f"[{i + 1}*]") for i, a in enumerate(arms)]
    joined = safe.join(relabelled, open_ok=True)
    return None if joined is None else joined + "."


def _rank_pick(items: Sequence[str], ctx: DesignContext) -> str:
    """An item drawn with weight ``1 / (rank + 10)`` (rank 0 is the best), so the best items
    come up most often but none is shut out (a heavy-tailed rank weighting)."""
    weights = [1.0 / (rank + 10.0) for rank in range(len(items))]
    return ctx.rng.choices(list(items), weights=weights, k=1)[0]


@OPTIMIZERS.register("fragment_rag")
class FragmentRAG(Optimizer):
    """A language model prompted with the best fragments, and Graph GA beside it.

    Args:
        prior: language model: shipped name or model folder, SMILES or SAFE notation.
        population_size: best molecules kept (and mined for fragments).
        lm_samples: molecules the language model writes per round.
        ga_offspring: Graph GA children per round.
        vocab_size: arms and linkers kept in the fragment vocabulary.
        fragment_score: a fragment's score: the ``mean`` or the ``max`` score of the
            population molecules holding it.
        linker_share: share of prompts of two fragments: two arms (a SAFE model writes what
            joins them) or an arm extended by a linker (a SMILES model); the rest have one arm.
        mutation_rate: Graph GA's mutation probability.
        temperature: the language model's sampling temperature.
        finetune_steps: maximum-likelihood steps on the population per round (0: none).
        finetune_lr: their Adam learning rate.
        max_len: most tokens per sample.
        threads: torch CPU threads (0 keeps torch's setting).
    """

    name = "fragment_rag"

    def __init__(
        self,
        prior: str = DEFAULT_PRIOR,
        population_size: int = 100,
        lm_samples: int = 32,
        ga_offspring: int = 96,
        vocab_size: int = 50,
        fragment_score: str = "mean",
        linker_share: float = 0.5,
        mutation_rate: float = 0.1,
        temperature: float = 1.0,
        finetune_steps: int = 8,
        finetune_lr: float = 5e-4,
        max_len: int = 100,
        threads: int = 1,
    ) -> None:
        for key, value, least in (
            ("population_size", population_size, 1),
            ("lm_samples", lm_samples, 0),
            ("ga_offspring", ga_offspring, 0),
            ("vocab_size", vocab_size, 1),
            ("finetune_steps", finetune_steps, 0),
            ("max_len", max_len, 1),
            ("threads", threads, 0),
        ):
            require_int(key, value, least)
        if lm_samples + ga_offspring == 0:
            raise ValueError("lm_samples and ga_offspring are both 0: nothing to propose")
        if fragment_score not in FRAGMENT_SCORES:
            raise ValueError(
                f"fragment_score must be one of {', '.join(FRAGMENT_SCORES)}, "
                f"got {fragment_score!r}"
            )
        require_probability("linker_share", linker_share)
        require_probability("mutation_rate", mutation_rate)
        require_real("temperature", temperature, above=0.0)
        require_real("finetune_lr", finetune_lr, above=0.0)
        self.prior = prior
        self.population_size = population_size
        self.lm_samples = lm_samples
        self.ga_offspring = ga_offspring
        self.vocab_size = vocab_size
        self.fragment_score = fragment_score
        self.linker_share = linker_share
        self.mutation_rate = mutation_rate
        self.temperature = temperature
        self.finetune_steps = finetune_steps
        self.finetune_lr = finetune_lr
        self.max_len = max_len
        self.threads = threads

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        import torch

        from makeable.optimizers.checkpoint import restore_state, save_if_due
        from makeable.optimizers.lm_common import log_round, resolve_prior, torch_session

        with torch_session(ctx.seed, self.threads) as generator:
            with ctx.proposing():
                model = resolve_prior(self.prior)
                model.eval()
                optimizer = (
                    torch.optim.Adam(model.parameters(), lr=self.finetune_lr)
                    if self.finetune_steps
                    else None
                )
            modules = {"model": model}
            optimizers = {"adam": optimizer} if optimizer is not None else {}
            guard, round_ = StallGuard(), 0
            restored = restore_state(ctx, oracle, generator, modules, optimizers)
            if restored is not None:
                state = restored[1]
                population = dict(state["population"])
                round_ = state["round"]
                vars(guard).update(state["guard"])
            else:
                picks = ctx.np_rng.integers(0, len(ctx.pool), size=self.population_size)
                result = oracle.evaluate([ctx.pool[int(i)] for i in picks])
                population = _best({}, result, self.population_size)
            while not oracle.finished:
                round_ += 1
                with ctx.proposing():
                    arms, linkers = fragment_vocabulary(
                        population, self.vocab_size, self.fragment_score
                    )
                    written = self._write(model, arms, linkers, ctx, generator)
                    children = self._children(population, ctx)
                    proposals = list(dict.fromkeys(m for m in [*written, *children] if m))
                    new = [m for m in proposals if m not in population]
                if not new:
                    if guard.stalled(oracle):
                        return
                    continue
                result = oracle.evaluate(new)
                population = _best(population, result, self.population_size)
                loss = None
                if optimizer is not None and not oracle.finished:
                    with ctx.proposing():
                        loss = self._finetune(model, optimizer, population, ctx)
                extra: dict[str, float] = {
                    "arms": len(arms),
                    "linkers": len(linkers),
                    "written": len(written),
                }
                if loss is not None:
                    extra["loss"] = loss
                log_round(ctx, round_, population, **extra)
                if guard.stalled(oracle):
                    return
                state = {
                    "population": list(population.items()),
                    "round": round_,
                    "guard": vars(guard),
                }
                save_if_due(ctx, oracle, generator, modules, optimizers, state)

    def _write(
        self,
        model: SmilesLSTM,
        arms: Sequence[str],
        linkers: Sequence[str],
        ctx: DesignContext,
        generator: object,
    ) -> list[str]:
        """Molecules the language model writes from prompts of retrieved fragments (free
        samples while the vocabulary has no arm)."""
        if not self.lm_samples:
            return []
        prompts: list[list[int]] = []
        for _ in range(self.lm_samples):
            text = None
            if arms and model.notation == "safe":
                two = len(arms) > 1 and ctx.rng.random() < self.linker_share
                chosen = [_rank_pick(arms, ctx)]
                if two:
                    chosen.append(_rank_pick(arms, ctx))
                text = prompt(chosen)
            elif arms:
                arm = _rank_pick(arms, ctx)
                if linkers and ctx.rng.random() < self.linker_share:
                    arm = safe.extend_arm(arm, _rank_pick(linkers, ctx)) or arm
                text = safe.arm_prefix(arm)
            ids: list[int] = []
            # a prompt the model cannot read (an unknown token) or finish in max_len tokens
            # is dropped: the model samples freely instead
            if text and model.tokenizer.covers(text):
                ids = model.tokenizer.encode(text, add_special=False)
                if len(ids) > self.max_len // 2:
                    ids = []
            prompts.append(ids)
        tokens, ended = model.sample_tokens(
            self.lm_samples,
            self.max_len,
            generator,  # type: ignore[arg-type]
            temperature=self.temperature,
            prompts=prompts,
            close_rings=model.notation == "safe",  # an open attachment is never a molecule
        )
        return [m for m in model.molecules(model.decode_batch(tokens, ended)) if m]

    def _children(self, population: dict[str, float], ctx: DesignContext) -> list[str]:
        """Graph GA children of a mating pool drawn from the population."""
        from makeable.optimizers.graph_ga_ops import make_mating_pool, reproduce_seeded

        if not self.ga_offspring or not population:
            return []
        items = sorted(population.items(), key=lambda kv: (-kv[1], kv[0]))
        mols = [parse_smiles(s) for s, _ in items]
        kept = [(m, v) for m, (_, v) in zip(mols, items, strict=True) if m is not None]
        pool = make_mating_pool([m for m, _ in kept], [v for _, v in kept], len(kept), ctx.rng)
        seeds = [ctx.rng.getrandbits(64) for _ in range(self.ga_offspring)]
        children = reproduce_seeded(pool, self.mutation_rate, seeds)
        return [Chem.MolToSmiles(c) for c in children if c is not None]

    def _finetune(
        self,
        model: SmilesLSTM,
        optimizer: object,
        population: dict[str, float],
        ctx: DesignContext,
    ) -> float:
        """Maximum-likelihood steps on the population's strings (SAFE strings in new fragment
        orders for a SAFE model)."""
        from makeable.optimizers.lm_common import fits, imitation_step

        molecules = sorted(population)
        strings: Sequence[str | None] = molecules
        if model.notation == "safe":
            strings = [safe.encode(s, ctx.rng) for s in molecules]
        data = [s for s in strings if s and fits(model, s, self.max_len)]
        loss = float("nan")
        if not data:
            return loss
        model.train()
        try:
            for _ in range(self.finetune_steps):
                batch = ctx.rng.choices(data, k=min(64, len(data)))
                loss = imitation_step(model, optimizer, batch)  # type: ignore[arg-type]
        finally:
            model.eval()
        return loss


def _best(population: dict[str, float], result: OracleResult, size: int) -> dict[str, float]:
    """The ``size`` best of the population and the newly scored molecules (ties by SMILES)."""
    merged = dict(population)
    for s, v, ok in zip(result.smiles, result.scores, result.valid, strict=True):
        if s is not None and ok:
            merged[s] = float(v)
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
    return dict(ranked)
