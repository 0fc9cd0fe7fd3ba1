"""Reaction templates: extraction from atom-mapped reactions and application with rdchiral.

Templates are *retro* templates in rdchiral's SMARTS form ``product_pattern>>reactant_patterns``
(the form of the ``reaction_smarts`` column of the MHN USPTO-50k file). Compiled templates are
cached per process, so a model applying the same few thousand templates to many products
compiles each once.

References:
    Coley, Green, Jensen, "RDChiral: An RDKit Wrapper for Handling Stereochemistry in
    Retrosynthetic Template Extraction and Application", JCIM 2019.
    https://doi.org/10.1021/acs.jcim.9b00286
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from makeable.chem.molecule import quiet_rdkit
from makeable.chem.reaction import Reaction, canonical_unmapped, split_components

log = logging.getLogger(__name__)

ReactantTuple = tuple[str, ...]
"""A reactant set as a sorted tuple of unique canonical SMILES."""


def extract_template(reaction: Reaction | str, reaction_id: str = "") -> str | None:
    """Extract the retro template of an atom-mapped reaction (rdchiral, radius 1).

    Args:
        reaction: an atom-mapped reaction SMILES ``reactants>reagents>product``, or a
            ``Reaction`` whose ``metadata["mapped"]`` holds one.
        reaction_id: an identifier passed to rdchiral (shown in its messages).

    Returns:
        The retro template SMARTS, or ``None`` when rdchiral cannot extract one (no mapped
        atoms changed, too many unmapped product atoms, unparseable molecules, ...).
    """
    from rdchiral.template_extractor import extract_from_reaction

    mapped = reaction.metadata.get("mapped") if isinstance(reaction, Reaction) else reaction
    if not mapped or mapped.count(">") != 2:
        return None
    reactants, _, products = mapped.split(">")
    record = {"reactants": reactants, "products": products, "_id": reaction_id}
    # rdchiral prints diagnostics to stdout; keep them out of the user's terminal
    with quiet_rdkit(), contextlib.redirect_stdout(io.StringIO()):
        try:
            result = extract_from_reaction(record)
        except Exception as exc:  # rdchiral raises assorted errors on odd input
            log.debug("template extraction failed for %s: %s", reaction_id, exc)
            return None
    if not result or "reaction_smarts" not in result:
        return None
    return str(result["reaction_smarts"])


@lru_cache(maxsize=50_000)
def compile_template(smarts: str) -> Any:
    """The compiled ``rdchiralReaction`` of a retro template (cached per process).

    Raises:
        ValueError: the SMARTS cannot be compiled.
    """
    from rdchiral.initialization import rdchiralReaction

    with quiet_rdkit(), contextlib.redirect_stdout(io.StringIO()):
        try:
            return rdchiralReaction(smarts)
        except Exception as exc:
            raise ValueError(f"invalid template {smarts!r}: {exc}") from None


def forward_template(retro: str) -> str:
    """The forward form of a retro template: ``(reactant_patterns)>>product_pattern``.

    The reactant side is grouped in parentheses so that RDKit matches all its patterns in
    one molecule (the reactant set, dot-joined), which is how rdchiral applies a template to
    a single input. On 196 of 200 USPTO-50k test reactions the forward template of the
    reaction's own retro template gives back its product.

    Raises:
        ValueError: ``retro`` is not ``product_pattern>>reactant_patterns``.
    """
    parts = retro.split(">>")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"not a retro template (product>>reactants): {retro!r}")
    product, reactants = parts
    return f"({reactants})>>{product}"


def prepare_product(smiles: str) -> Any:
    """The ``rdchiralReactants`` of a product SMILES (prepare once, apply many templates).

    Raises:
        ValueError: the SMILES cannot be parsed.
    """
    from rdchiral.initialization import rdchiralReactants

    with quiet_rdkit(), _listed_atoms_and_bonds():
        try:
            return rdchiralReactants(smiles)
        except Exception as exc:
            raise ValueError(f"invalid product SMILES {smiles!r}: {exc}") from None


@lru_cache(maxsize=200_000)
def _canon(smiles: str) -> str | None:
    return canonical_unmapped(smiles)


def canonical_outcome(outcome: str) -> ReactantTuple | None:
    """A template outcome (dot-joined SMILES) as a sorted tuple of unique canonical SMILES."""
    parts = []
    for s in split_components(outcome):
        c = _canon(s)
        if c is None:
            return None
        parts.extend(split_components(c))
    return tuple(sorted(set(parts))) if parts else None


def apply_template(template: str | Any, product: str | Any) -> list[ReactantTuple]:
    """Apply one retro template to one product.

    Args:
        template: a template SMARTS (compiled and cached) or a compiled ``rdchiralReaction``.
        product: a product SMILES or a prepared ``rdchiralReactants`` (see
            :func:`prepare_product`; prepare once when applying many templates).

    Returns:
        The distinct reactant sets the template produces, each a sorted tuple of canonical
        SMILES, in sorted order; empty if the template does not match (or rdchiral fails on
        this pair). Sorted because rdchiral returns its outcomes from a ``set``, in the order of
        the strings' hashes, which Python draws anew per process: the sets of one template
        share one probability, so their order breaks ties in the search and in the
        single-step ranks, and runs were not repeatable (docs/benchmarks/rerun_check.md).
    """
    rxn = compile_template(template) if isinstance(template, str) else template
    prod = prepare_product(product) if isinstance(product, str) else product
    return run_rdchiral(rxn, prod)


def run_rdchiral(rxn: Any, prod: Any) -> list[ReactantTuple]:
    """rdchiral's run of a compiled template on a prepared product: the distinct reactant
    sets, sorted (empty when rdchiral fails on the pair)."""
    from rdchiral.main import rdchiralRun

    with quiet_rdkit(), _listed_atoms_and_bonds(), _outcomes_as_written():
        try:
            outcomes = rdchiralRun(rxn, prod, combine_enantiomers=False)
        except Exception as exc:  # rdchiral can fail on unusual valences or stereo
            log.debug("template application failed: %s", exc)
            return []
    results = {canonical_outcome(outcome) for outcome in outcomes}
    return sorted(r for r in results if r is not None)


def map_by_template(reaction: Reaction, template: str) -> str | None:
    """An atom-mapped ``reactants>>product`` SMILES of an unmapped reaction, rebuilt from its
    rdchiral retro ``template``: the template is run on the product with every atom numbered,
    and the outcome that gives the recorded reactants keeps those numbers; leaving-group atoms
    stay unmapped. ``None`` when the template does not give the recorded reactants.

    This lets a model whose templates are extracted from mapped reactions (``local_gnn``) read
    USPTO-50k's training split, which is stored without atom maps but with each reaction's
    template.
    """
    import re

    from rdchiral.main import rdchiralRun
    from rdkit import Chem

    with quiet_rdkit(), _listed_atoms_and_bonds():
        mol = Chem.MolFromSmiles(reaction.product.smiles)
        if mol is None:
            return None
        for i, atom in enumerate(mol.GetAtoms()):
            atom.SetAtomMapNum(i + 1)
        product = Chem.MolToSmiles(mol)
        want = tuple(sorted(m.smiles for m in reaction.reactants))
        try:
            outcomes = rdchiralRun(
                compile_template(template),
                prepare_product(product),
                keep_mapnums=True,
                combine_enantiomers=False,
            )
        except Exception:  # rdchiral can fail on unusual valences or stereo
            return None
        for outcome in sorted(outcomes):
            if canonical_outcome(outcome) == want:
                # rdchiral numbers template atoms that are not in the product from 900 on
                return re.sub(r":9\d\d\]", "]", outcome) + ">>" + product
    return None


@contextlib.contextmanager
def _listed_atoms_and_bonds() -> Iterator[None]:
    """Inside the block ``Mol.GetAtoms()`` and ``Mol.GetBonds()`` return lists.

    RDKit's own versions return a pure-Python sequence whose every step re-checks the molecule's
    size through three Python calls; rdchiral walks atoms and bonds millions of times, so in a
    Retro* search with the Template-MLP that overhead was a third of the template application
    time (33 of 95 s in a profile of 12 searches). rdchiral never changes a molecule while it
    walks it, so a list gives the same atoms and bonds; its outcomes are unchanged (tested).
    """
    from rdkit.Chem import rdchem

    atoms, bonds = rdchem.Mol.GetAtoms, rdchem.Mol.GetBonds
    rdchem.Mol.GetAtoms = _atom_list
    rdchem.Mol.GetBonds = _bond_list
    try:
        yield
    finally:
        rdchem.Mol.GetAtoms, rdchem.Mol.GetBonds = atoms, bonds


@contextlib.contextmanager
def _outcomes_as_written() -> Iterator[None]:
    """Inside the block rdchiral returns each outcome as RDKit writes it, without its own
    SMILES → molecule → SMILES round trip.

    :func:`canonical_outcome` canonicalises every outcome anyway (per component, atom maps
    removed, cached), so rdchiral's round trip parsed and wrote each outcome once more for
    nothing: 2.7 of 36 s in a profile of 12 Retro* searches with the Template-MLP. An outcome
    that does not parse is still dropped, by :func:`canonical_outcome`. rdchiral's set of
    outcomes may then hold one reactant set under two spellings; ours is a set of canonical
    tuples, so the result is the same.
    """
    import rdchiral.main

    canonicalize = rdchiral.main.canonicalize_outcome_smiles
    rdchiral.main.canonicalize_outcome_smiles = _as_written
    try:
        yield
    finally:
        rdchiral.main.canonicalize_outcome_smiles = canonicalize


def _as_written(smiles: str, ensure: bool = True) -> str:
    return smiles


def _atom_list(mol: Any) -> list[Any]:
    return [mol.GetAtomWithIdx(i) for i in range(mol.GetNumAtoms())]


def _bond_list(mol: Any) -> list[Any]:
    return [mol.GetBondWithIdx(i) for i in range(mol.GetNumBonds())]


def apply_templates(
    templates: Sequence[str], product_smiles: str, max_outcomes: int | None = None
) -> list[tuple[int, ReactantTuple]]:
    """Apply templates in order to one product; ``(template index, reactant set)`` pairs.

    Stops once ``max_outcomes`` distinct reactant sets were found (if given).
    """
    prod = prepare_product(product_smiles)
    seen: set[ReactantTuple] = set()
    found: list[tuple[int, ReactantTuple]] = []
    for i, template in enumerate(templates):
        for outcome in apply_template(template, prod):
            if outcome not in seen:
                seen.add(outcome)
                found.append((i, outcome))
        if max_outcomes is not None and len(seen) >= max_outcomes:
            break
    return found
