"""Local reaction-centre templates: the changed atoms only, applied at a chosen site.

A *local template* is an rdchiral retro template of radius 0 (in the spirit of LocalRetro,
Chen & Jung, JACS Au 2021): its product side holds only the product atoms whose bonding,
charge or hydrogens change in the reaction (the reaction centre), its reactant side those
atoms plus every leaving-group atom. Without neighbours, one template covers every reaction
that makes the same change, so a few thousand templates describe USPTO; which *atoms* of a
product react is left to a model that scores each atom (``local_gnn``).

The *site* of a reaction is the set of product atoms (indices in the product SMILES as
parsed) that form its reaction centre. :func:`apply_at_site` applies a template only where
its product pattern maps onto exactly those atoms, so a template that matches several places
in a molecule gives the reactants of each place separately, each with its own score.

References:
    Chen, Jung, "Deep Retrosynthetic Reaction Prediction using Local Reactivity and Global
    Attention", JACS Au 2021. https://doi.org/10.1021/jacsau.1c00246
    Coley, Green, Jensen, "RDChiral", JCIM 2019. https://doi.org/10.1021/acs.jcim.9b00286
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rdkit import Chem

from makeable.chem.molecule import quiet_rdkit
from makeable.retro.single_step.templates import (
    ReactantTuple,
    canonical_outcome,
    compile_template,
    prepare_product,
    run_rdchiral,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Site = tuple[int, ...]
"""Product atom indices (sorted) of a reaction centre."""


@dataclass(frozen=True)
class LocalExample:
    """One atom-mapped reaction seen as (product, reaction-centre site, local template).

    Attributes:
        product: the product's canonical SMILES without atom maps.
        site: the reaction-centre atoms, as indices of ``product`` parsed by RDKit.
        template: the local retro template (rdchiral SMARTS, radius 0).
        reactants: the reactants as a sorted tuple of canonical SMILES.
    """

    product: str
    site: Site
    template: str
    reactants: ReactantTuple


def _mols(smiles: str) -> list[Chem.Mol] | None:
    from rdchiral.template_extractor import replace_deuterated

    mols = []
    for part in replace_deuterated(smiles).split("."):
        mol = Chem.MolFromSmiles(part)
        if mol is None:
            return None
        mol = Chem.RemoveHs(mol)
        Chem.SanitizeMol(mol)
        mol.UpdatePropertyCache()
        mols.append(mol)
    return mols


def extract_local(mapped: str) -> LocalExample | None:
    """The local template and site of one atom-mapped reaction ``reactants>reagents>product``
    (or ``reactants>>product``) with one product.

    Returns ``None`` when rdchiral finds no changed atom, a product atom has no map number, the
    centre does not touch the product, or a molecule does not parse.
    """
    from rdchiral.template_extractor import (
        canonicalize_transform,
        expand_changed_atom_tags,
        get_changed_atoms,
        get_fragments_for_changed_atoms,
    )

    if mapped.count(">") != 2:
        return None
    reactant_smiles, _, product_smiles = mapped.split(">")
    if "." in product_smiles or not reactant_smiles:
        return None
    with quiet_rdkit(), contextlib.redirect_stdout(io.StringIO()):
        try:
            reactants = _mols(reactant_smiles)
            products = _mols(product_smiles)
            if reactants is None or products is None:
                return None
            product = products[0]
            if any(not a.GetAtomMapNum() for a in product.GetAtoms()):
                return None
            _, tags, err = get_changed_atoms(reactants, products)
            if err or not tags:
                return None
            r_frag, _, _ = get_fragments_for_changed_atoms(
                reactants, tags, radius=0, expansion=[], category="reactants"
            )
            p_frag, _, _ = get_fragments_for_changed_atoms(
                products,
                tags,
                radius=0,
                expansion=expand_changed_atom_tags(tags, r_frag),
                category="products",
            )
            forward = canonicalize_transform(f"{r_frag}>>{p_frag}")
        except Exception as exc:  # rdchiral raises assorted errors on odd reactions
            log.debug("local template extraction failed: %s", exc)
            return None
        left, right = forward.split(">>")
        template = right[1:-1].replace(").(", ".") + ">>" + left[1:-1].replace(").(", ".")
        changed = {int(t) for t in tags}
        maps = [a.GetAtomMapNum() for a in product.GetAtoms()]
        for atom in product.GetAtoms():
            atom.SetAtomMapNum(0)
        smiles = Chem.MolToSmiles(product)
        order = list(product.GetPropsAsDict(True, True)["_smilesAtomOutputOrder"])
        # atom i of the canonical SMILES is atom order[i] of the mapped product
        site = tuple(sorted(i for i, old in enumerate(order) if maps[old] in changed))
        if not site:
            return None
        truth = canonical_outcome(".".join(_unmapped(m) for m in reactants))
        if truth is None:
            return None
    return LocalExample(smiles, site, template, truth)


def _unmapped(mol: Chem.Mol) -> str:
    mol = Chem.Mol(mol)
    for atom in mol.GetAtoms():
        atom.SetAtomMapNum(0)
    return Chem.MolToSmiles(mol)


class _Outcomes:
    """Stands in for a compiled reaction inside rdchiral: returns given outcomes."""

    def __init__(self, outcomes: Sequence[Any]) -> None:
        self.outcomes = tuple(outcomes)

    def RunReactants(self, *args: Any, **kwargs: Any) -> tuple[Any, ...]:  # noqa: N802
        return self.outcomes


def outcome_site(outcome: Sequence[Chem.Mol]) -> Site:
    """The product atoms a raw ``RunReactants`` outcome of a retro template matched."""
    return tuple(
        sorted(
            {
                int(a.GetProp("react_atom_idx"))
                for mol in outcome
                for a in mol.GetAtoms()
                if a.HasProp("old_mapno") and a.HasProp("react_atom_idx")
            }
        )
    )


def compile_local(template: str) -> Any:
    """The compiled ``rdchiralReaction`` of a local template (cached per process).

    A reaction may change atoms in two places of its product at once (two esters hydrolysed,
    say): the product side then has two disconnected patterns, which RDKit would read as two
    reactant molecules. They are grouped into one (``(a.b)>>...``), so that both match in the
    one product.
    """
    product, _, reactants = template.partition(">>")
    if "." in product and not product.startswith("("):
        template = f"({product})>>{reactants}"
    return compile_template(template)


def template_sites(template: str | Any, product: str | Any) -> dict[Site, list[Any]]:
    """Where a retro template matches a product: its raw outcomes grouped by site (none
    when RDKit cannot run the template on this product)."""
    rxn = compile_local(template) if isinstance(template, str) else template
    prod = prepare_product(product) if isinstance(product, str) else product
    rxn.reset()
    with quiet_rdkit():
        try:
            outcomes = rxn.rxn.RunReactants((prod.reactants_achiral,))
        except Exception as exc:  # RDKit refuses some template/molecule pairs
            log.debug("template matching failed: %s", exc)
            return {}
    groups: dict[Site, list[Any]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome_site(outcome), []).append(outcome)
    return groups


def apply_outcomes(
    template: str | Any, product: str | Any, outcomes: Iterable[Any]
) -> list[ReactantTuple]:
    """rdchiral's processing (stereo checks, clean-up) of some raw outcomes of one template."""
    import copy

    rxn = compile_local(template) if isinstance(template, str) else template
    prod = prepare_product(product) if isinstance(product, str) else product
    proxy = copy.copy(rxn)
    proxy.rxn = _Outcomes(list(outcomes))
    return run_rdchiral(proxy, prod)


def apply_at_site(
    template: str | Any, product: str | Any, site: Iterable[int]
) -> list[ReactantTuple]:
    """The reactant sets a local template gives when its centre is exactly ``site``."""
    key = tuple(sorted(site))
    groups = template_sites(template, product)
    if key not in groups:
        return []
    return apply_outcomes(template, product, groups[key])


def _extract_chunk(chunk: Sequence[str]) -> list[LocalExample | None]:
    return [extract_local(m) if m else None for m in chunk]


def extract_many(
    mapped: Sequence[str], jobs: int = 1, progress: bool = False, chunk_size: int = 500
) -> list[LocalExample | None]:
    """:func:`extract_local` of each reaction, in order, on ``jobs`` processes."""
    return map_in_chunks(_extract_chunk, mapped, jobs, progress, chunk_size)


def map_in_chunks(
    fn: Callable[[list[T]], list[R]],
    items: Sequence[T],
    jobs: int = 1,
    progress: bool = False,
    chunk_size: int = 500,
) -> list[R]:
    """``fn`` (one result per item of its chunk) over ``items`` in chunks of ``chunk_size``, on
    ``jobs`` processes (``fn`` a module-level function), the results in the items' order; a
    "local templates" bar when ``progress``."""
    from tqdm import tqdm

    from makeable.oracle.executor import InProcessExecutor, ProcessPoolExecutorBackend

    chunks = [list(items[i : i + chunk_size]) for i in range(0, len(items), chunk_size)]
    out: list[list[R]] = [[] for _ in chunks]
    executor = ProcessPoolExecutorBackend(jobs) if jobs > 1 and len(chunks) > 1 else None
    with executor or InProcessExecutor() as ex:
        bar = tqdm(total=len(items), desc="local templates", unit="rxn", disable=not progress)
        for i, found in ex.imap_unordered(fn, chunks):
            out[i] = found
            bar.update(len(found))
        bar.close()
    return [r for chunk in out for r in chunk]
