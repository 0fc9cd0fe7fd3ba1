"""Generating molecules with a chosen property value through a VAE's property head.

The multi-task study for generative models asks whether extra property heads (trained jointly
with the VAE) make what the model generates more valid and more *specific*: closer to a property
value asked for. Specificity is measured here as in a latent-space design loop:

1. ``n`` latent points are drawn from the prior ``N(0, I)`` (seeded);
2. each is moved by Adam on ``(head(z) - target)^2 + prior_weight * |z|^2 / d`` (the head's
   standardised prediction of the property; the second term keeps the points where the decoder
   was trained);
3. the points are decoded greedily and the property is computed by RDKit on every molecule that
   parses (:data:`PROPERTIES`);
4. metrics: the share that parses, the share of distinct molecules among those, and the mean
   absolute error to the target and the share within a tolerance over the valid ones.

A target inside the training set's range of the property is *interpolative*, one beyond it
*extrapolative*; the caller says which.

Reference: Gómez-Bombarelli et al., ACS Cent. Sci. 2018 (a property predictor on the latent
vector, optimised by moving in latent space).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from rdkit import Chem

from makeable.chem.descriptors import crippen_logp, qed, sa_score
from makeable.chem.molecule import quiet_rdkit
from makeable.generative.vae import SmilesVAE

__all__ = ["PROPERTIES", "TargetResult", "property_function", "target_latents", "targeted"]

PROPERTIES: dict[str, Callable[[Chem.Mol], float]] = {
    "logp": crippen_logp,
    "qed": qed,
    "sas": sa_score,
    "sa": sa_score,
}
"""RDKit's value of a property a head predicts, by name (case-insensitive): ZINC250k's columns
``logP`` (Crippen), ``qed`` and ``SAS`` (the SA score)."""


def property_function(name: str) -> Callable[[Chem.Mol], float]:
    """RDKit's function for the property ``name``.

    Raises:
        ValueError: a property RDKit cannot compute here (one line naming those it can).
    """
    try:
        return PROPERTIES[name.lower()]
    except KeyError:
        raise ValueError(
            f"no RDKit function for property {name!r}: known are logP, qed, SAS"
        ) from None


def target_latents(
    vae: SmilesVAE,
    prop: str,
    target: float,
    n: int,
    seed: int,
    steps: int = 200,
    lr: float = 0.05,
    prior_weight: float = 0.1,
) -> torch.Tensor:
    """``(n, latent_dim)`` latent points moved from ``N(0, I)`` draws towards ``target``.

    Args:
        vae: a VAE whose heads include ``prop``.
        prop: the property (one of ``vae.property_names``).
        target: the value asked for, in the property's own units.
        n: points.
        seed: seeds the draws.
        steps, lr: Adam steps and learning rate.
        prior_weight: weight of ``|z|^2 / d``.

    Raises:
        ValueError: the VAE has no head for ``prop``.
    """
    if prop not in vae.property_names:
        raise ValueError(
            f"this VAE has no {prop!r} head (its heads: {', '.join(vae.property_names) or 'none'})"
        )
    column = vae.property_names.index(prop)
    goal = (target - vae.property_means[column]) / vae.property_stds[column]
    z0 = torch.randn(n, vae.latent_dim, generator=torch.Generator().manual_seed(seed))
    z = z0.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    was_training = vae.training
    vae.eval()
    try:
        for _ in range(steps):
            optimizer.zero_grad()
            miss = vae.property_predictions(z)[:, column] - goal
            loss = (miss**2).mean() + prior_weight * (z**2).mean()
            loss.backward()
            optimizer.step()
    finally:
        vae.train(was_training)
    return z.detach()


@dataclass(frozen=True)
class TargetResult:
    """What the molecules decoded for one target show.

    Attributes:
        n: latent points decoded.
        valid: share that RDKit parses.
        unique: share of distinct canonical SMILES among the valid ones.
        mae: mean absolute error of the property to the target over the valid ones (``nan``
            when none is valid).
        within: share of the valid ones within ``tolerance`` of the target.
        mean_value: the property's mean over the valid ones.
        tolerance: the tolerance of ``within``.
    """

    n: int
    valid: float
    unique: float
    mae: float
    within: float
    mean_value: float
    tolerance: float


def targeted(smiles: Sequence[str], prop: str, target: float, tolerance: float) -> TargetResult:
    """Score decoded strings against ``target`` (see :class:`TargetResult`)."""
    function = property_function(prop)
    values, canon = [], set()
    with quiet_rdkit():
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if s else None
            if mol is None or mol.GetNumAtoms() == 0:
                continue
            canon.add(Chem.MolToSmiles(mol))
            values.append(function(mol))
    n, k = len(smiles), len(values)
    errors = [abs(v - target) for v in values]
    return TargetResult(
        n=n,
        valid=k / n if n else 0.0,
        unique=len(canon) / k if k else 0.0,
        mae=sum(errors) / k if k else float("nan"),
        within=sum(e <= tolerance for e in errors) / k if k else 0.0,
        mean_value=sum(values) / k if k else float("nan"),
        tolerance=tolerance,
    )
