"""Use any makeable single-step model as a syntheseus ``BackwardReactionModel``.

syntheseus's multi-step search algorithms (Retro*, MCTS, PDVN) call a backward model on
batches of its ``Molecule`` values and expect, per molecule, a list of
``SingleProductReaction``. :func:`to_syntheseus` wraps a :class:`SingleStepModel` so that
those searches can use it; syntheseus is imported only here.

References:
    Maziarz et al., "Re-evaluating Retrosynthesis Algorithms with Syntheseus", Faraday
    Discussions 2024. https://arxiv.org/abs/2310.19796
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from makeable.retro.single_step.base import Prediction, SingleStepModel

INSTALL_HINT = "pip install syntheseus==0.9.0 (or: pip install 'makeable[retro]')"


@lru_cache(maxsize=1)
def _adapter_class() -> type:
    try:
        from syntheseus import BackwardReactionModel, Bag, SingleProductReaction
        from syntheseus import Molecule as SynMolecule
    except ImportError as exc:  # pragma: no cover - syntheseus is a dependency
        raise ImportError(f"the syntheseus adapter needs syntheseus: {INSTALL_HINT}") from exc

    def _reactant(smiles: str) -> Any:
        # a prediction's reactants are canonical already (SingleStepModel._finish), so
        # syntheseus's own parse-and-write of each one (3 % of a Retro* search) is skipped
        return SynMolecule(smiles, canonicalize=False, make_rdkit_mol=False)

    class SortedSet(set):  # type: ignore[type-arg]
        """A set that iterates in sorted order (not in the order of this process's hashes)."""

        def __iter__(self) -> Any:
            return iter(sorted(set.__iter__(self)))

    class OrderedReaction(SingleProductReaction):  # type: ignore[misc,valid-type]
        """A reaction whose distinct reactants iterate in sorted order.

        syntheseus's AND-OR graph creates a reaction's reactant nodes by iterating
        ``unique_reactants``, a ``set`` of molecules: in the order of the SMILES strings'
        hashes, which Python randomises per process. That order breaks ties in the search's
        queue, so the same search made different numbers of model calls in different
        processes. Sorted, it is the same everywhere.
        """

        @property
        def unique_reactants(self) -> set[Any]:
            return SortedSet(self.reactants)

    class MakeableBackwardModel(BackwardReactionModel):  # type: ignore[misc,valid-type]
        """A syntheseus backward model backed by a makeable single-step model.

        ``model_seconds`` accumulates the time spent in the makeable model's ``predict`` and
        ``adapter_seconds`` the time spent converting its answers to syntheseus reactions:
        the only overhead makeable adds to a syntheseus search. ``errors`` holds the model's
        failures by molecule (such a molecule gets no reactions: a dead end for the search).
        A ``reaction_filter`` (:mod:`makeable.retro.planning.reaction_filter`) drops the
        proposals it rejects; its time counts as the model's.
        """

        def __init__(
            self,
            model: SingleStepModel,
            reaction_filter: ReactionCheck | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.model = model
            self.reaction_filter = reaction_filter
            self.model_seconds = 0.0
            self.adapter_seconds = 0.0
            self.errors: dict[str, str] = {}

        def _get_reactions(self, inputs: list[Any], num_results: int) -> list[Sequence[Any]]:
            t0 = time.perf_counter()
            preds = self.model.predict([m.smiles for m in inputs], k=num_results)
            if self.reaction_filter is not None:
                preds = [_keep_passing(p, self.reaction_filter) for p in preds]
            t1 = time.perf_counter()
            self.model_seconds += t1 - t0
            is_prob = self.model.scores_are_probabilities
            out: list[Sequence[Any]] = []
            for mol, pred in zip(inputs, preds, strict=True):
                if pred.error:
                    self.errors[mol.smiles] = pred.error
                reactions = []
                for rs in pred.reactant_sets:
                    meta: dict[str, Any] = {"score": rs.score, "source": self.model.name}
                    if is_prob:
                        meta["probability"] = min(1.0, rs.score)
                    if "template" in rs.info:
                        meta["template"] = rs.info["template"]
                    reactions.append(
                        OrderedReaction(
                            reactants=Bag(_reactant(s) for s in rs.reactants),
                            product=mol,
                            metadata=meta,
                        )
                    )
                out.append(reactions)
            self.adapter_seconds += time.perf_counter() - t1
            return out

        def get_parameters(self) -> list[Any]:
            net = getattr(self.model, "net", None)
            return list(net.parameters()) if net is not None else []

    return MakeableBackwardModel


ReactionCheck = Callable[[str, Sequence[Iterable[str]]], list[bool]]
"""(product, reactant sets) → whether each set is kept (e.g. a
:class:`makeable.retro.planning.reaction_filter.ReactionFilter`)."""


def _keep_passing(pred: Prediction, check: ReactionCheck) -> Prediction:
    sets = pred.reactant_sets
    if not sets or pred.canonical is None:
        return pred
    keep = check(pred.canonical, [rs.reactants for rs in sets])
    return dataclasses.replace(
        pred, reactant_sets=tuple(rs for rs, ok in zip(sets, keep, strict=True) if ok)
    )


def to_syntheseus(
    model: SingleStepModel, reaction_filter: ReactionCheck | None = None, **kwargs: Any
) -> Any:
    """Wrap ``model`` as a ``syntheseus.BackwardReactionModel``.

    Args:
        model: any trained single-step model.
        reaction_filter: keeps only the proposals it passes (default: all).
        **kwargs: passed to ``BackwardReactionModel`` (``use_cache``,
            ``default_num_results``, ...).

    Raises:
        ImportError: syntheseus is not installed (the message says what to install).
    """
    return _adapter_class()(model, reaction_filter, **kwargs)
