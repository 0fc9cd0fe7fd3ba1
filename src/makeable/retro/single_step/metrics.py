"""The USPTO-50k exact-match metric for single-step retrosynthesis, and the round trip.

A prediction is correct when its set of reactants equals the recorded one. Both sides are
compared as **sets of canonical SMILES of the dot-separated components**, with atom maps
removed, so order, atom mapping and the way a SMILES is written do not matter, and a
component repeated twice counts once (the convention of GLN, LocalRetro and syntheseus, which
compare canonical dot-joined strings of sorted unique fragments).

Stereo policy: by default stereochemistry **counts** (isomeric canonical SMILES, as in the
published USPTO-50k numbers): a prediction with the wrong or missing tetrahedral or double-bond
configuration is wrong. ``stereo=False`` removes all stereo information from both sides before
comparing; benchmarks report it separately, never as the headline number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from makeable.chem.molecule import Molecule
from makeable.chem.reaction import canonical_unmapped, split_components

if TYPE_CHECKING:
    from makeable.retro.single_step.base import SingleStepModel

TOP_KS = (1, 3, 5, 10, 50)
"""The cut-offs reported for USPTO-50k."""


@lru_cache(maxsize=500_000)
def _canon(smiles: str, stereo: bool) -> str | None:
    return canonical_unmapped(smiles, stereo=stereo)


def reactant_key(
    reactants: str | Molecule | Iterable[str | Molecule], stereo: bool = True
) -> frozenset[str] | None:
    """The comparison key of a reactant set: the set of canonical, unmapped components.

    Args:
        reactants: a dot-joined SMILES, or an iterable of SMILES strings / ``Molecule`` values.
        stereo: keep stereochemistry (default) or remove it from every component.

    Returns:
        A frozenset of canonical SMILES, or ``None`` if any component is invalid or the set
        is empty (an invalid prediction never matches).
    """
    if isinstance(reactants, str | Molecule):
        reactants = [reactants]
    parts: list[str] = []
    for r in reactants:
        parts.extend(split_components(r.smiles if isinstance(r, Molecule) else r))
    key = set()
    for part in parts:
        canon = _canon(part, stereo)
        if canon is None:
            return None
        key.update(split_components(canon))
    return frozenset(key) if key else None


def exact_match(
    predicted: str | Iterable[str | Molecule],
    reference: str | Iterable[str | Molecule],
    stereo: bool = True,
) -> bool:
    """Whether two reactant sets are the same set of molecules (see the module docstring)."""
    pred = reactant_key(predicted, stereo)
    ref = reactant_key(reference, stereo)
    return pred is not None and pred == ref


def match_rank(
    ranked: Sequence[str | Iterable[str | Molecule]],
    reference: str | Iterable[str | Molecule],
    stereo: bool = True,
) -> int | None:
    """1-based rank of the first prediction that matches ``reference``, or ``None``."""
    ref = reactant_key(reference, stereo)
    if ref is None:
        return None
    for i, pred in enumerate(ranked, start=1):
        if reactant_key(pred, stereo) == ref:
            return i
    return None


def top_k_accuracy(ranks: Sequence[int | None], ks: Sequence[int] = TOP_KS) -> dict[int, float]:
    """Fraction of examples whose first correct prediction is at rank <= k, for each k."""
    n = len(ranks)
    return {k: (sum(1 for r in ranks if r is not None and r <= k) / n if n else 0.0) for k in ks}


def round_trip(
    forward: SingleStepModel, product: str, reactant_sets: Sequence[Iterable[str]], k: int = 5
) -> list[bool]:
    """Whether a forward model gives back ``product`` from each proposed reactant set.

    The round-trip check of a retrosynthesis proposal (Schwaller et al., "Predicting
    retrosynthetic pathways using transformer-based models and a hyper-graph exploration
    strategy", Chem. Sci. 2020): a proposal passes when ``product`` is among the forward
    model's ``k`` best outcomes for its reactants. It needs no reference answer, so it also
    judges proposals for molecules outside any data set (planning targets).

    Args:
        forward: a forward reaction model (``direction == "forward"``, e.g. the
            ``template_mlp_forward`` model).
        product: the product SMILES.
        reactant_sets: the proposed reactant sets (each an iterable of SMILES).
        k: outcomes of the forward model to look at.

    Raises:
        ValueError: ``forward`` is not a forward model.
    """
    if forward.direction != "forward":
        raise ValueError(f"the round trip needs a forward reaction model, not {forward.name!r}")
    target = reactant_key(product)
    if target is None or not reactant_sets:
        return [False] * len(reactant_sets)
    preds = forward.predict([".".join(rs) for rs in reactant_sets], k=k)
    return [any(reactant_key(o.reactants) == target for o in p.reactant_sets) for p in preds]
