"""Graph-based genetic operators (crossover, mutation, mating) of Jensen's Graph GA.

Re-implements J. H. Jensen, "A graph-based genetic algorithm and generative model/Monte Carlo
tree search for the exploration of chemical space", Chem. Sci. 2019, 10, 3567 (doi:
10.1039/C8SC05372C), as run by the PMO benchmark (Gao et al. 2022): wenhao-gao/mol_opt
``main/graph_ga/{crossover,mutate,run}.py`` (MIT licence; from jensengroup/GB_GA via
BenevolentAI guacamol_baselines). Same SMARTS, probabilities, 10 retries at every level and size
check (more than 5 atoms, fewer than a fresh draw of N(39.15, 3.50)), with mol_opt's quirks kept:
ring crossover keeps only the double-bond join's products (it resets its list inside the loop over
the two joins) and re-sanitizes each joined molecule before each ring closure.

Differences, none of which changes the distribution of offspring:

* All randomness comes from an explicit :class:`random.Random` (no global ``random`` or
  ``np.random``), so a run replays from its seed. Crossover consumes the generator exactly as
  mol_opt's code would with ``rng`` in place of ``random`` and ``rng.gauss`` for ``randn``.
* Mutation draws only the operator it applies (mol_opt builds all seven each try) and flattens
  "bond order, then element" into one weighted draw with the same probabilities.
* Inputs are never modified (parents are kekulized on copies; mol_opt kekulizes in place).
* SMARTS and reactions are compiled once; a parent's matches and cuts are cached per call.
* Change atom on a molecule with none of C, N, O, F, S, Cl, Br applies nothing (mol_opt hangs).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from itertools import accumulate

from rdkit import Chem
from rdkit.Chem import rdChemReactions
from rdkit.Chem.rdChemReactions import ChemicalReaction as Reaction

from makeable.chem.molecule import quiet_rdkit

AVERAGE_SIZE = 39.15  # mean of the random upper bound on a child's atom count
SIZE_STDEV = 3.50  # its standard deviation
MIN_ATOMS = 5  # a child needs strictly more atoms than this
MAX_TRIES = 10  # retries at every level of crossover and mutation
MINIMUM_SCORE = 1e-10  # added to every score when drawing the mating pool

_smarts = Chem.MolFromSmarts
_reaction = rdChemReactions.ReactionFromSmarts

# --- crossover patterns -------------------------------------------------------------------------
_ANY_RING = _smarts("[R]")
_ACYCLIC_SINGLE = _smarts("[*]-;!@[*]")
_RING_CHAIN = _smarts("[R]@[R]@[R]@[R]")
_RING_BRANCH = _smarts("[R]@[R;!D2]@[R]")
_RING_ALLENE = _smarts("[R]=[R]=[R]")
_SMALL_RING_DOUBLE = _smarts("[r3,r4]=[r3,r4]")
_JOIN_ACYCLIC = _reaction("[*:1]-[1*].[1*]-[*:2]>>[*:1]-[*:2]")
# mol_opt also runs the single-bond join ('>>[*:1]-[*:2]') but discards its products.
_JOIN_RING = _reaction("[*:1]~[1*].[1*]~[*:2]>>[*:1]=[*:2]")
_CLOSE_RING = (
    _reaction("([*:1]~[1*].[1*]~[*:2])>>[*:1]-[*:2]"),
    _reaction("([*:1]~[1*].[1*]~[*:2])>>[*:1]=[*:2]"),
)


# --- mutation reactions: (reactions, cumulative weights) tables -------------------------------
_Table = tuple[list[Reaction], list[float]]


def _table(entries: Sequence[tuple[float, str]]) -> _Table:
    return [_reaction(s) for _, s in entries], list(accumulate(w for w, _ in entries))


def _by_bond_order(*groups: tuple[Sequence[str], str]) -> _Table:
    """Bond order (single/double/triple: 0.60/0.35/0.05), then a uniform element: one table."""
    entries: list[tuple[float, str]] = []
    for p_order, (elements, template) in zip((0.60, 0.35, 0.05), groups, strict=True):
        entries += [(p_order / len(elements), template.replace("X", e)) for e in elements]
    return _table(entries)


_INSERT_ATOM = _by_bond_order(
    (("C", "N", "O", "S"), "[*:1]~[*:2]>>[*:1]X[*:2]"),
    (("C", "N"), "[*;!H0:1]~[*:2]>>[*:1]=X-[*:2]"),
    (("C",), "[*;!R;!H1;!H0:1]~[*:2]>>[*:1]#X-[*:2]"),
)
_APPEND_ATOM = _by_bond_order(
    (("C", "N", "O", "F", "S", "Cl", "Br"), "[*;!H0:1]>>[*:1]-X"),
    (("C", "N", "O"), "[*;!H0;!H1:1]>>[*:1]=X"),
    (("C", "N"), "[*;H3:1]>>[*:1]#X"),
)
_CHANGE_BOND_ORDER = _table(
    [
        (0.45, "[*:1]!-[*:2]>>[*:1]-[*:2]"),
        (0.45, "[*;!H0:1]-[*;!H0:2]>>[*:1]=[*:2]"),
        (0.05, "[*:1]#[*:2]>>[*:1]=[*:2]"),
        (0.05, "[*;!R;!H1;!H0:1]~[*:2]>>[*:1]#[*:2]"),
    ]
)
_DELETE_CYCLIC_BOND = _table([(1.0, "[*:1]@[*:2]>>([*:1].[*:2])")])
_ADD_RING = _table(
    [
        (0.05, "[*;!r;!H0:1]~[*;!r:2]~[*;!r;!H0:3]>>[*:1]1~[*:2]~[*:3]1"),
        (0.05, "[*;!r;!H0:1]~[*!r:2]~[*!r:3]~[*;!r;!H0:4]>>[*:1]1~[*:2]~[*:3]~[*:4]1"),
        (0.45, "[*;!r;!H0:1]~[*!r:2]~[*:3]~[*:4]~[*;!r;!H0:5]>>[*:1]1~[*:2]~[*:3]~[*:4]~[*:5]1"),
        (
            0.45,
            "[*;!r;!H0:1]~[*!r:2]~[*:3]~[*:4]~[*!r:5]~[*;!r;!H0:6]"
            ">>[*:1]1~[*:2]~[*:3]~[*:4]~[*:5]~[*:6]1",
        ),
    ]
)
_DELETE_ATOM = _table(
    [
        (0.25, "[*:1]~[D1:2]>>[*:1]"),
        (0.25, "[*:1]~[D2:2]~[*:3]>>[*:1]-[*:3]"),
        (0.25, "[*:1]~[D3:2](~[*;!H0:3])~[*:4]>>[*:1]-[*:3]-[*:4]"),
        (0.1875, "[*:1]~[D4:2](~[*;!H0:3])(~[*;!H0:4])~[*:5]>>[*:1]-[*:3]-[*:4]-[*:5]"),
        (0.0625, "[*:1]~[D4:2](~[*;!H0;!H1:3])(~[*:4])~[*:5]>>[*:1]-[*:3](-[*:4])-[*:5]"),
    ]
)
# Change atom: element X (present in the molecule) becomes element Y != X.
_ELEMENTS = (6, 7, 8, 9, 16, 17, 35)
_ELEMENT_WEIGHTS = (0.15, 0.15, 0.14, 0.14, 0.14, 0.14, 0.14)
_CHANGE_ATOM = {
    (x, y): _reaction(f"[#{x}:1]>>[#{y}:1]") for x in _ELEMENTS for y in _ELEMENTS if x != y
}
# Operators in mol_opt's order, with its probabilities; None stands for change atom.
_OPERATORS = (
    _INSERT_ATOM,
    _CHANGE_BOND_ORDER,
    _DELETE_CYCLIC_BOND,
    _ADD_RING,
    _DELETE_ATOM,
    None,
    _APPEND_ATOM,
)
_OPERATOR_CUM_WEIGHTS = list(accumulate((0.15, 0.14, 0.14, 0.14, 0.14, 0.14, 0.15)))


def _change_atom(mol: Chem.Mol, rng: random.Random) -> Reaction | None:
    """Draw X among the elements present, then Y != X: the law of mol_opt's rejection loops."""
    present = {atom.GetAtomicNum() for atom in mol.GetAtoms()}
    weighted = list(zip(_ELEMENTS, _ELEMENT_WEIGHTS, strict=True))
    sources = [(e, w) for e, w in weighted if e in present]
    if not sources:
        return None
    x = rng.choices([e for e, _ in sources], weights=[w for _, w in sources])[0]
    targets = [(e, w) for e, w in weighted if e != x]
    y = rng.choices([e for e, _ in targets], weights=[w for _, w in targets])[0]
    return _CHANGE_ATOM[x, y]


def _pick_mutation(mol: Chem.Mol, rng: random.Random) -> Reaction | None:
    """Draw an operator, then the variant of it to apply (None: nothing applicable)."""
    table = rng.choices(_OPERATORS, cum_weights=_OPERATOR_CUM_WEIGHTS)[0]
    if table is None:
        return _change_atom(mol, rng)
    reactions, cum_weights = table
    return rng.choices(reactions, cum_weights=cum_weights)[0]


# --- checks -------------------------------------------------------------------------------------
def _mol_ok(mol: Chem.Mol, rng: random.Random) -> bool:
    """mol_opt's ``mol_ok``: sanitize in place, then require 5 < atoms < N(39.15, 3.5)."""
    try:
        Chem.SanitizeMol(mol)
    except (ValueError, RuntimeError):
        return False
    target_size = rng.gauss(AVERAGE_SIZE, SIZE_STDEV)  # drawn even if the lower bound fails
    return MIN_ATOMS < mol.GetNumAtoms() < target_size


def _with_rings(mol: Chem.Mol) -> Chem.Mol:
    """``mol``, with ring information perceived if it was never sanitized (else untouched)."""
    try:
        mol.GetRingInfo().NumRings()
    except RuntimeError:
        Chem.GetSymmSSSR(mol)
    return mol


def _ring_ok(mol: Chem.Mol) -> bool:
    """No ring allenes, no rings larger than 6, no double bonds inside 3- or 4-rings."""
    ring_info = _with_rings(mol).GetRingInfo()
    if ring_info.NumRings() == 0:
        return True
    if max(len(ring) for ring in ring_info.AtomRings()) > 6:
        return False
    return not (mol.HasSubstructMatch(_RING_ALLENE) or mol.HasSubstructMatch(_SMALL_RING_DOUBLE))


# --- crossover ----------------------------------------------------------------------------------
Fragments = tuple[Chem.Mol, ...]


class _Parent:
    """A copy of a parent (kekulized by the caller) with its matches and cuts cached."""

    def __init__(self, mol: Chem.Mol) -> None:
        self.mol = _with_rings(Chem.Mol(mol))
        self._matches: dict[int, tuple[tuple[int, ...], ...]] = {}
        self._cuts: dict[tuple[tuple[int, int], ...], Fragments | None] = {}

    def matches(self, query: Chem.Mol) -> tuple[tuple[int, ...], ...]:
        key = id(query)  # only module-level queries are used, so ids are stable
        if key not in self._matches:
            self._matches[key] = self.mol.GetSubstructMatches(query)
        return self._matches[key]

    def cut(self, bonds: tuple[tuple[int, int], ...]) -> Fragments | None:
        """Break ``bonds`` (atom pairs), adding [1*] dummies; sanitized fragments or None."""
        if bonds not in self._cuts:
            bond_ids = [self.mol.GetBondBetweenAtoms(a, b).GetIdx() for a, b in bonds]
            broken = Chem.FragmentOnBonds(
                self.mol, bond_ids, addDummies=True, dummyLabels=[(1, 1)] * len(bonds)
            )
            try:
                self._cuts[bonds] = Chem.GetMolFrags(broken, asMols=True, sanitizeFrags=True)
            except (ValueError, RuntimeError):
                self._cuts[bonds] = None
        return self._cuts[bonds]


def _cut(parent: _Parent, rng: random.Random) -> Fragments | None:
    matches = parent.matches(_ACYCLIC_SINGLE)
    if not matches:
        return None
    a, b = rng.choice(matches)
    return parent.cut(((a, b),))


def _cut_ring(parent: _Parent, rng: random.Random) -> Fragments | None:
    for _ in range(MAX_TRIES):
        chain = rng.random() < 0.5  # two bonds of a 4-atom ring path, else both sides of a fusion
        matches = parent.matches(_RING_CHAIN if chain else _RING_BRANCH)
        if not matches:
            return None
        m = rng.choice(matches)
        fragments = parent.cut(((m[0], m[1]), (m[2], m[3]) if chain else (m[1], m[2])))
        if fragments is None:
            return None
        if len(fragments) == 2:
            return fragments
    return None


def _join(reaction: Reaction, frags_a: Fragments, frags_b: Fragments) -> list[Chem.Mol]:
    """First product of ``reaction`` for every (fragment of A, fragment of B) pair."""
    joined = []
    for fa in frags_a:
        for fb in frags_b:
            try:
                products = reaction.RunReactants((fa, fb), 1)  # first product only
            except (ValueError, RuntimeError):
                continue
            if products:
                joined.append(products[0][0])
    return joined


def _crossover_non_ring(a: _Parent, b: _Parent, rng: random.Random) -> Chem.Mol | None:
    for _ in range(MAX_TRIES):
        frags_a = _cut(a, rng)
        frags_b = _cut(b, rng)
        if frags_a is None or frags_b is None:
            return None
        children = [m for m in _join(_JOIN_ACYCLIC, frags_a, frags_b) if _mol_ok(m, rng)]
        if children:
            return rng.choice(children)
    return None


def _crossover_ring(a: _Parent, b: _Parent, rng: random.Random) -> Chem.Mol | None:
    if not a.mol.HasSubstructMatch(_ANY_RING) and not b.mol.HasSubstructMatch(_ANY_RING):
        return None
    for _ in range(MAX_TRIES):
        frags_a = _cut_ring(a, rng)
        frags_b = _cut_ring(b, rng)
        if frags_a is None or frags_b is None:
            return None
        joined = _join(_JOIN_RING, frags_a, frags_b)
        closed: list[Chem.Mol] = []
        for reaction in _CLOSE_RING:
            for m in joined:
                # Re-checked (and re-sanitized) per closing reaction, as in mol_opt: a second
                # sanitization can succeed where the first failed, and the size is redrawn.
                if _mol_ok(m, rng):
                    closed += [p[0] for p in reaction.RunReactants((m,))]
        children = [m for m in closed if _mol_ok(m, rng) and _ring_ok(m)]
        if children:
            return rng.choice(children)
    return None


def _crossover(parent_a: Chem.Mol, parent_b: Chem.Mol, rng: random.Random) -> Chem.Mol | None:
    parent_smiles = {Chem.MolToSmiles(parent_a), Chem.MolToSmiles(parent_b)}
    a, b = _Parent(parent_a), _Parent(parent_b)
    try:
        Chem.Kekulize(a.mol, clearAromaticFlags=True)
        Chem.Kekulize(b.mol, clearAromaticFlags=True)
    except ValueError:
        pass
    for _ in range(MAX_TRIES):
        operator = _crossover_non_ring if rng.random() <= 0.5 else _crossover_ring
        child = operator(a, b, rng)
        if child is not None and Chem.MolToSmiles(child) not in parent_smiles:
            return child
    return None


def crossover(parent_a: Chem.Mol, parent_b: Chem.Mol, rng: random.Random) -> Chem.Mol | None:
    """Graph crossover of two parents (non-ring or ring cut, 50/50, up to 10 tries).

    Args:
        parent_a: First parent (not modified).
        parent_b: Second parent (not modified).
        rng: Source of all randomness.

    Returns:
        A sanitized child whose canonical SMILES differs from both parents', or ``None``.
    """
    with quiet_rdkit():
        return _crossover(parent_a, parent_b, rng)


# --- mutation -----------------------------------------------------------------------------------
def _mutate(mol: Chem.Mol, mutation_rate: float, rng: random.Random, copy: bool) -> Chem.Mol | None:
    if rng.random() > mutation_rate:
        return mol
    work = _with_rings(Chem.Mol(mol)) if copy else mol
    try:
        Chem.Kekulize(work, clearAromaticFlags=True)
    except ValueError:
        return mol
    for _ in range(MAX_TRIES):
        reaction = _pick_mutation(work, rng)
        if reaction is None:
            continue
        products = [p[0] for p in reaction.RunReactants((work,))]
        children = [m for m in products if _mol_ok(m, rng) and _ring_ok(m)]
        if children:
            return rng.choice(children)
    return None


def mutate(mol: Chem.Mol, mutation_rate: float, rng: random.Random) -> Chem.Mol | None:
    """With probability ``mutation_rate``, apply one random graph mutation (up to 10 tries).

    Operators and probabilities: insert atom 0.15, change bond order 0.14, delete cyclic bond
    0.14, add ring 0.14, delete atom 0.14, change atom 0.14, append atom 0.15.

    Args:
        mol: Molecule to mutate (not modified).
        mutation_rate: Probability of attempting a mutation at all.
        rng: Source of all randomness.

    Returns:
        ``mol`` itself when no mutation is attempted (or it cannot be kekulized), a new
        sanitized molecule, or ``None`` when every try failed.
    """
    with quiet_rdkit():
        return _mutate(mol, mutation_rate, rng, copy=True)


# --- selection and reproduction -----------------------------------------------------------------
def make_mating_pool(
    mols: Sequence[Chem.Mol], scores: Sequence[float], size: int, rng: random.Random
) -> list[Chem.Mol]:
    """Sample ``size`` molecules with replacement, with probability proportional to score + 1e-10.

    Negative scores (penalized logP, for example) are shifted so that the lowest is 0 before
    weighting; non-negative scores are used as they are (mol_opt's and Jensen's weighting).

    Args:
        mols: Population.
        scores: Finite score of each molecule.
        size: Number of molecules to draw.
        rng: Source of all randomness.

    Returns:
        The mating pool (molecules may repeat).

    Raises:
        ValueError: On mismatched lengths, an empty population, negative ``size`` or a
            non-finite score.
    """
    if len(mols) != len(scores):
        raise ValueError(f"{len(mols)} molecules but {len(scores)} scores")
    if size < 0:
        raise ValueError(f"size must be non-negative, got {size}")
    if size == 0:
        return []
    if not mols:
        raise ValueError("cannot draw a mating pool from an empty population")
    values = [float(s) for s in scores]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("scores must be finite")
    shift = min(0.0, min(values))
    weights = [v - shift + MINIMUM_SCORE for v in values]
    return rng.choices(list(mols), weights=weights, k=size)


def reproduce(
    mating_pool: Sequence[Chem.Mol], mutation_rate: float, rng: random.Random
) -> Chem.Mol | None:
    """Pick two parents uniformly, cross them over and, if that succeeds, mutate the child.

    Args:
        mating_pool: Molecules to draw the parents from (with replacement).
        mutation_rate: Probability of mutating the child.
        rng: Source of all randomness.

    Returns:
        A sanitized child, or ``None`` when crossover or mutation failed.

    Raises:
        ValueError: If ``mating_pool`` is empty.
    """
    if not mating_pool:
        raise ValueError("empty mating pool")
    parent_a = rng.choice(mating_pool)
    parent_b = rng.choice(mating_pool)
    with quiet_rdkit():
        child = _crossover(parent_a, parent_b, rng)
        if child is not None:
            child = _mutate(child, mutation_rate, rng, copy=False)
    return child


def reproduce_seeded(
    mating_pool: Sequence[Chem.Mol], mutation_rate: float, seeds: Sequence[int]
) -> list[Chem.Mol | None]:
    """One child per seed, each drawn by :func:`reproduce` with ``random.Random(seed)``: a
    child depends only on the pool, the rate and its own seed, so children may be made in any
    process and in any grouping with the same result."""
    return [reproduce(mating_pool, mutation_rate, random.Random(seed)) for seed in seeds]
