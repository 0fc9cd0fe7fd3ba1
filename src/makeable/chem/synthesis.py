"""Forward synthesis from building blocks: reaction templates, slot tables, synthesis trees.

A *synthesis tree* builds a molecule bottom-up: its leaves are building blocks (molecules of a
stock) and each inner node applies one forward reaction template to the molecules its
children make, so a molecule built this way carries its route by construction (SynNet, SynGA,
RxnFlow, SynFlowNet). This module holds the chemistry of it, with RDKit only:

* :class:`TemplateSet` (:func:`load_templates`): forward templates, one reaction SMARTS a
  line, each with one product and one or more reactant *slots*;
* :class:`SynthesisSpace`: templates + building blocks + the table of which building blocks
  fit each slot (:func:`slot_table`, computed once and cached as ``.npz``), and the moves of
  a search over trees: apply a template (:meth:`SynthesisSpace.react`), find the slots a
  molecule fits, re-run the reactions above a changed subtree
  (:meth:`SynthesisSpace.graft`), Tanimoto neighbours of a building block in its slot;
* :class:`SynthesisTree`: the tree, and its route in the AiZynthFinder / PaRoutes JSON
  format (:meth:`SynthesisTree.to_route_dict`); :func:`replay_route` re-applies the
  recorded templates of such a route and lists what does not give back its products.

Applying a template is deterministic: RDKit's products of the reactants in slot order are
sanitised and canonicalised, those with atoms RDKit cannot sanitise or with more than one
fragment are dropped, and the first canonical SMILES in sorted order is the product.

Template sets. Three are shipped (:data:`TEMPLATE_SETS`; SeonghwanSeo/RxnFlow @ a39c7aeb,
MIT, files copied unchanged): ``hb_edited``, RxnFlow's edited version of the
Hartenfeller-Button reactions (``templates_hb_edited_rxnflow.txt``, 71 templates: 13 uni-
and 58 bi-molecular); ``real``, RxnFlow's 109 templates of the Enamine REAL protocols
(``templates_real109_rxnflow.txt``); and ``hb_real``, the two files in that order (180
templates), the default. The two were chosen by measurement against the shipped stock
``building_blocks`` (23,575 molecules; RDKit 2026.09.1, one core) among the sets of the
shared data folder:

============================  =====  ======  ==============  ====================  ========
set                           parse  usable  >= 10 per slot  products sanitised    matching
============================  =====  ======  ==============  ====================  ========
HB 71 (RxnFlow, edited)       71/71  66      55              4,345/4,365 (99.5 %)  27 s
HB 91 (SynNet)                91/91  86      73              5,477/5,588 (98.0 %)  40 s
HB 105 (SynFlowNet)           105    89      77              2,655/2,670 (99.4 %)  56 s
Enamine REAL 109 (RxnFlow)    109    102     79              3,037/3,060 (99.2 %)  30 s
============================  =====  ======  ==============  ====================  ========

(*usable*: every slot fits at least one building block; *products sanitised*: of all
products of 40 random building-block combinations per usable template.) The edited set is
the SynNet set less 23 reactions that are ill-posed on purchasable building blocks (a
reductive amination whose product never sanitises, a Paal-Knorr pyrrole at 51 %, Grignard,
Wittig, homo-couplings, decarboxylative couplings) and with three Pictet-Spengler-type
products corrected; the reactions themselves are the published, robust Hartenfeller-Button
collection. Joining the Enamine REAL reactions, which were written for purchasable building
blocks, raised the synthesis GA's AUC top-10 on six PMO tasks where it was weakest from
3.393 to 3.609 (with the block focus on; docs/benchmarks/makeable.md). Any other set can be
given as a file (one reaction SMARTS a line).

Slot table. Matching 23,575 building blocks against the 129 reactant slots of ``hb_edited``
takes about 30 s on one core (168,166 matches; RDKit's SubstructLibrary with pattern
fingerprints was slower, 43 s, the recursive SMARTS defeat its screen; the 340 slots of
``hb_real`` took 77 s on a core shared with other jobs); the table is cached
as an ``.npz`` file (no pickle) keyed by a hash of the RDKit version, the templates and the
building blocks, and loads in milliseconds. The table of the defaults (``hb_real`` and the
shipped stock ``building_blocks``, RDKit as pinned) ships in ``resources/synthesis/``, so a
fresh installation's first synthesis run starts at once.

References:
    Hartenfeller et al., "A collection of robust organic synthesis reactions for in silico
    molecule design", J. Chem. Inf. Model. 51, 3093 (2011). https://doi.org/10.1021/ci200379p
    Button et al., "Automated de novo molecular design by hybrid machine intelligence and
    rule-driven chemical synthesis", Nat. Mach. Intell. 1, 307 (2019).
    Gao, Mercado, Coley, "Amortized tree generation for bottom-up synthesis planning and
    synthesizable molecular design" (SynNet), ICLR 2022.
    Seo et al., "Generative Flows on Synthetic Pathway for Drug Design" (RxnFlow), ICLR 2025.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import rdChemReactions

from makeable.chem.fingerprints import morgan_bits
from makeable.chem.molecule import canonical_smiles, parse_smiles, quiet_rdkit

log = logging.getLogger(__name__)

TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "hb_edited": ("templates_hb_edited_rxnflow.txt",),
    "real": ("templates_real109_rxnflow.txt",),
    "hb_real": ("templates_hb_edited_rxnflow.txt", "templates_real109_rxnflow.txt"),
}
"""Template sets shipped in ``makeable/resources/synthesis``: name → its files, read in order."""

DEFAULT_TEMPLATE_SET = "hb_real"

Slot = tuple[int, int]
"""A reactant slot: (template index, reactant position in the template)."""

TreePath = tuple[int, ...]
"""Where a subtree sits in a tree: the child positions from the root down."""

_MEMO_LIMIT = 500_000  # entries per memo table before it is cleared (memos are pure functions)


@dataclass(frozen=True)
class Template:
    """One forward reaction template.

    Attributes:
        index: its position in its set (recorded in routes).
        smarts: the reaction SMARTS, as written in the file.
        reaction: the parsed RDKit reaction.
    """

    index: int
    smarts: str
    reaction: rdChemReactions.ChemicalReaction = field(compare=False, repr=False)

    @property
    def n_slots(self) -> int:
        """How many reactants it takes."""
        return int(self.reaction.GetNumReactantTemplates())

    def slot_query(self, slot: int) -> Chem.Mol:
        """The substructure pattern a reactant in position ``slot`` must contain."""
        return self.reaction.GetReactantTemplate(slot)


@dataclass(frozen=True)
class TemplateSet:
    """Forward reaction templates, in file order.

    Attributes:
        name: the shipped set's name or the file it was read from.
        templates: the templates.
    """

    name: str
    templates: tuple[Template, ...]

    def __len__(self) -> int:
        return len(self.templates)

    def __getitem__(self, index: int) -> Template:
        return self.templates[index]

    def __iter__(self) -> Iterator[Template]:
        return iter(self.templates)

    @property
    def slots(self) -> list[Slot]:
        """Every reactant slot, template by template."""
        return [(t.index, s) for t in self.templates for s in range(t.n_slots)]


def parse_templates(text: str, name: str) -> TemplateSet:
    """Read forward templates: one reaction SMARTS a line; blank lines and ``#`` lines skipped.

    Raises:
        ValueError: a line RDKit cannot read as a reaction, or one without exactly one
            product template (the message names the line); no template at all.
    """
    templates: list[Template] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        smarts = line.strip()
        if not smarts or smarts.startswith("#"):
            continue
        try:
            with quiet_rdkit():
                reaction = rdChemReactions.ReactionFromSmarts(smarts)
                reaction.Initialize()
        except ValueError:
            reaction = None
        if reaction is None or reaction.GetNumReactantTemplates() < 1:
            raise ValueError(f"{name}, line {lineno}: not a reaction SMARTS: {smarts[:80]}")
        if reaction.GetNumProductTemplates() != 1:
            raise ValueError(
                f"{name}, line {lineno}: a forward template needs exactly one product, "
                f"this one has {reaction.GetNumProductTemplates()}"
            )
        templates.append(Template(len(templates), smarts, reaction))
    if not templates:
        raise ValueError(f"{name} holds no reaction template")
    return TemplateSet(name, tuple(templates))


def load_templates(name_or_path: str | Path = DEFAULT_TEMPLATE_SET) -> TemplateSet:
    """A shipped template set by name (:data:`TEMPLATE_SETS`) or a file of reaction SMARTS.

    Raises:
        ValueError: neither a shipped set nor a file, or a file that is not a template set.
    """
    name = str(name_or_path)
    if name in TEMPLATE_SETS:
        folder = resources.files("makeable.resources").joinpath("synthesis")
        text = "\n".join(folder.joinpath(file).read_text() for file in TEMPLATE_SETS[name])
        return parse_templates(text, name)
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"unknown template set {name!r}: give one of {', '.join(TEMPLATE_SETS)} or a file "
            "of reaction SMARTS (one a line)"
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"template file {path} cannot be read as text: {exc}") from exc
    return parse_templates(text, str(path))


def run_reaction(
    reaction: rdChemReactions.ChemicalReaction, reactants: Sequence[Chem.Mol]
) -> list[str]:
    """The products of a forward template, as sorted canonical SMILES.

    Args:
        reaction: the template.
        reactants: one molecule per slot, in slot order.

    Returns:
        The distinct products that RDKit can sanitise and that are one molecule (no ``.``),
        sorted; empty when a reactant does not fit its slot.
    """
    if len(reactants) != reaction.GetNumReactantTemplates():
        return []
    products: set[str] = set()
    with quiet_rdkit():
        for outcome in reaction.RunReactants(tuple(reactants)):
            mol = Chem.Mol(outcome[0])
            for atom in mol.GetAtoms():
                atom.SetAtomMapNum(0)
            try:
                Chem.SanitizeMol(mol)
            except (ValueError, RuntimeError):
                continue
            smiles = canonical_smiles(Chem.MolToSmiles(mol))
            if smiles and "." not in smiles:
                products.add(smiles)
    return sorted(products)


def template_products(smarts: str, reactants: Sequence[str]) -> list[str]:
    """:func:`run_reaction` from text: a reaction SMARTS and reactant SMILES in slot order.

    Raises:
        ValueError: the SMARTS is not a reaction or a reactant SMILES is invalid.
    """
    reaction = parse_templates(smarts, "template").templates[0].reaction
    mols = [parse_smiles(s) for s in reactants]
    bad = [s for s, m in zip(reactants, mols, strict=True) if m is None]
    if bad:
        raise ValueError(f"invalid reactant SMILES {bad[0]!r}")
    return run_reaction(reaction, mols)


@dataclass(frozen=True)
class SynthesisTree:
    """A molecule and how it is made from building blocks.

    Attributes:
        smiles: the molecule (canonical SMILES): the building block at a leaf, the product at
            a node.
        template: the index of the template that makes it; ``None`` at a leaf.
        children: the trees of its reactants, in the template's slot order (empty at a leaf).
    """

    smiles: str
    template: int | None = None
    children: tuple[SynthesisTree, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return self.template is None

    @property
    def n_reactions(self) -> int:
        """How many reactions the tree has (0 for a building block)."""
        return 0 if self.is_leaf else 1 + sum(c.n_reactions for c in self.children)

    def leaves(self) -> list[str]:
        """The building blocks, left to right."""
        if self.is_leaf:
            return [self.smiles]
        return [leaf for child in self.children for leaf in child.leaves()]

    def nodes(self, path: TreePath = ()) -> Iterator[tuple[TreePath, SynthesisTree]]:
        """Every subtree with its path, the root first (depth first, slot order)."""
        yield path, self
        for i, child in enumerate(self.children):
            yield from child.nodes((*path, i))

    def at(self, path: TreePath) -> SynthesisTree:
        """The subtree at ``path``."""
        tree = self
        for i in path:
            tree = tree.children[i]
        return tree

    def to_route_dict(self, templates: TemplateSet, source: str = "synthesis") -> dict[str, Any]:
        """The route in the AiZynthFinder / PaRoutes JSON format.

        Leaves are ``in_stock`` (the tree was built from a stock); each reaction's SMILES
        lists the reactants in slot order (``r1.r2>>p``) and its metadata records the template
        (SMARTS, index, set) and ``source``.
        """
        if self.template is None:
            return {"type": "mol", "smiles": self.smiles, "in_stock": True}
        template = templates[self.template]
        reaction = {
            "type": "reaction",
            "smiles": ".".join(c.smiles for c in self.children) + ">>" + self.smiles,
            "metadata": {
                "template": template.smarts,
                "template_index": template.index,
                "template_set": templates.name,
                "source": source,
            },
            "children": [c.to_route_dict(templates, source) for c in self.children],
        }
        return {"type": "mol", "smiles": self.smiles, "in_stock": False, "children": [reaction]}


def replay_route(route: Mapping[str, Any]) -> list[str]:
    """Re-apply every reaction of a constructed route with its recorded template.

    Args:
        route: a route dictionary as written by :meth:`SynthesisTree.to_route_dict`.

    Returns:
        One line per reaction that does not give back its product (no template recorded,
        the template does not apply, or it gives another product); empty when every
        reaction does.
    """
    problems: list[str] = []
    for reaction in route.get("children") or []:
        product = route.get("smiles", "")
        reactants = [c.get("smiles", "") for c in reaction.get("children") or []]
        problem = _replay_step((reaction.get("metadata") or {}).get("template"), reactants, product)
        if problem:
            problems.append(f"{product}: {problem}")
        for child in reaction.get("children") or []:
            problems.extend(replay_route(child))
    return problems


def _replay_step(smarts: str | None, reactants: list[str], product: str) -> str | None:
    if not smarts:
        return "the reaction records no template"
    try:
        made = template_products(smarts, reactants)
    except ValueError as exc:
        return str(exc)
    if made[:1] == [product]:
        return None
    return f"{'.'.join(reactants)} gives {made[0] if made else 'nothing'} with its template"


def table_key(templates: TemplateSet, building_blocks: Sequence[str]) -> str:
    """The slot table's cache key: a hash of the RDKit version, templates and building blocks."""
    digest = hashlib.sha256(f"rdkit {rdBase.rdkitVersion}\n".encode())
    digest.update("\n".join(t.smarts for t in templates).encode())
    digest.update(b"\n\n")
    digest.update("\n".join(building_blocks).encode())
    return digest.hexdigest()


def slot_table(
    templates: TemplateSet, building_blocks: Sequence[str], cache: Path | None = None
) -> list[np.ndarray]:
    """Which building blocks fit each slot: one sorted ``int32`` index array per slot.

    Args:
        templates: the templates (slots in :attr:`TemplateSet.slots` order).
        building_blocks: canonical SMILES; indices refer to this list.
        cache: a folder for the table (``slots-<key>.npz``); read when it holds the table of
            these templates and building blocks, written after computing it otherwise. A table
            shipped in ``resources/synthesis/`` under the same name is read first.

    Returns:
        The arrays, in :attr:`TemplateSet.slots` order.
    """
    key = table_key(templates, building_blocks)
    name = f"slots-{key[:24]}.npz"
    path = cache / name if cache is not None else None
    shipped = Path(str(resources.files("makeable.resources").joinpath("synthesis", name)))
    for known in (shipped, path):
        if known is not None and known.is_file():
            table = _read_table(known, key, len(templates.slots))
            if table is not None:
                return table
    start = time.perf_counter()
    with quiet_rdkit():
        mols = [Chem.MolFromSmiles(s) for s in building_blocks]
    table = []
    for t, s in templates.slots:
        query = templates[t].slot_query(s)
        fits = [i for i, m in enumerate(mols) if m is not None and m.HasSubstructMatch(query)]
        table.append(np.asarray(fits, dtype=np.int32))
    log.info(
        "matched %d building blocks against %d template slots in %.1f s",
        len(building_blocks),
        len(table),
        time.perf_counter() - start,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        offsets = np.cumsum([0, *(len(a) for a in table)]).astype(np.int64)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, key=np.array(key), indices=np.concatenate(table), offsets=offsets
            )
        os.replace(tmp, path)
    return table


def _read_table(path: Path, key: str, n_slots: int) -> list[np.ndarray] | None:
    """The slot table in ``path`` if it is the one of ``key`` (``None`` otherwise)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) == key:
                indices, offsets = data["indices"], data["offsets"]
                if len(offsets) == n_slots + 1:
                    return [indices[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("slot table %s is unreadable (%s): computing it again", path, exc)
    return None


class SynthesisSpace:
    """The molecules that templates make from building blocks, and the moves between trees.

    Args:
        templates: the forward templates.
        building_blocks: the stock's molecules (canonical SMILES, in a stable order).
        cache: where the slot table is cached (see :func:`slot_table`); ``None``: not cached.

    Raises:
        ValueError: no building block fits any slot of any template.

    Every answer depends only on the arguments, so that a search using it is reproducible;
    answers are memoised.
    """

    def __init__(
        self, templates: TemplateSet, building_blocks: Sequence[str], cache: Path | None = None
    ) -> None:
        self.templates = templates
        self.building_blocks = list(building_blocks)
        slots = templates.slots
        table = slot_table(templates, self.building_blocks, cache)
        self._blocks: dict[Slot, np.ndarray] = dict(zip(slots, table, strict=True))
        self._block_index = {s: i for i, s in enumerate(self.building_blocks)}
        block_slots: dict[int, list[Slot]] = {}
        for slot, fits in self._blocks.items():
            for i in fits.tolist():
                block_slots.setdefault(i, []).append(slot)
        self._block_slots = {i: tuple(v) for i, v in block_slots.items()}
        if not self._block_slots:
            raise ValueError(
                f"no building block fits any reactant of the templates {templates.name}"
            )
        self.reactive_blocks = sorted(self._block_slots)
        """Indices of the building blocks that fit at least one slot."""
        self._fits: dict[str, tuple[Slot, ...]] = {}
        self._products: dict[tuple[int, tuple[str, ...]], str | None] = {}
        self._fps: dict[Slot | None, list[Any]] = {}  # per slot, in blocks(slot) order
        self._block_fps: dict[int, Any] = {}

    # ------------------------------------------------------------------ slots
    def blocks(self, slot: Slot) -> np.ndarray:
        """Indices of the building blocks that fit ``slot``."""
        return self._blocks[slot]

    def slots_of(self, smiles: str) -> tuple[Slot, ...]:
        """Every slot the molecule fits, in :attr:`TemplateSet.slots` order."""
        index = self._block_index.get(smiles)
        if index is not None:
            return self._block_slots.get(index, ())
        found = self._fits.get(smiles)
        if found is None:
            mol = parse_smiles(smiles)
            found = tuple(
                (t, s)
                for t, s in self.templates.slots
                if mol is not None and mol.HasSubstructMatch(self.templates[t].slot_query(s))
            )
            _remember(self._fits, smiles, found)
        return found

    def fits(self, smiles: str, slot: Slot) -> bool:
        return slot in self.slots_of(smiles)

    # ------------------------------------------------------------------ reactions
    def product(self, template: int, reactants: tuple[str, ...]) -> str | None:
        """The product of ``template`` on ``reactants`` (slot order), ``None`` if none."""
        key = (template, reactants)
        if key in self._products:
            return self._products[key]
        mols = [parse_smiles(s) for s in reactants]
        made = (
            run_reaction(self.templates[template].reaction, mols)
            if all(m is not None for m in mols)
            else []
        )
        product = made[0] if made else None
        _remember(self._products, key, product)
        return product

    def react(self, template: int, children: Sequence[SynthesisTree]) -> SynthesisTree | None:
        """A new node: ``template`` applied to the children's molecules (``None`` if it fails)."""
        product = self.product(template, tuple(c.smiles for c in children))
        return SynthesisTree(product, template, tuple(children)) if product else None

    def graft(
        self, tree: SynthesisTree, path: TreePath, new: SynthesisTree
    ) -> SynthesisTree | None:
        """``tree`` with the subtree at ``path`` replaced by ``new`` and the reactions above it
        re-run; ``None`` when one of them no longer applies."""
        if not path:
            return new
        assert tree.template is not None
        child = self.graft(tree.children[path[0]], path[1:], new)
        if child is None:
            return None
        children = list(tree.children)
        children[path[0]] = child
        return self.react(tree.template, children)

    # ------------------------------------------------------------------ similarity
    def nearest_blocks(self, smiles: str, slot: Slot | None, k: int) -> list[int]:
        """The ``k`` building blocks most similar to ``smiles`` (Tanimoto on 2048-bit ECFP4)
        among those that fit ``slot`` (``None``: among all that fit a slot), most similar
        first, ties in index order; ``smiles`` itself excluded."""
        candidates = self.blocks(slot) if slot is not None else self.reactive_blocks
        mol = parse_smiles(smiles)
        if mol is None or len(candidates) == 0:
            return []
        fps = self._fps.get(slot)
        if fps is None:
            fps = self._fps[slot] = [self._block_fp(int(i)) for i in candidates]
        sims = np.asarray(DataStructs.BulkTanimotoSimilarity(morgan_bits(mol), fps))
        order = np.argsort(-sims, kind="stable")
        own = self._block_index.get(smiles)
        return [int(candidates[j]) for j in order[: k + 1] if candidates[j] != own][:k]

    def _block_fp(self, index: int) -> Any:
        fp = self._block_fps.get(index)
        if fp is None:
            with quiet_rdkit():
                fp = self._block_fps[index] = morgan_bits(
                    Chem.MolFromSmiles(self.building_blocks[index])
                )
        return fp


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value
