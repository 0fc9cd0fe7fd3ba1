"""Synthesis GA: a genetic algorithm over synthesis trees, so every molecule is makeable.

Each individual is a :class:`~makeable.chem.synthesis.SynthesisTree`: building blocks of an
exact stock (default ``building_blocks``, 23,575 purchasable molecules) joined by forward
reaction templates (default ``hb_real``, 180 reactions: 71 Hartenfeller-Button + 109 Enamine
REAL; see :mod:`makeable.chem.synthesis` for why), at most ``max_reactions`` reactions. The molecule
scored is the tree's product, so every proposal comes with its route by construction:
:meth:`SynthesisGA.constructed_route` returns it (PaRoutes JSON) for every molecule the run
proposed, the shortest tree found for it. The initial molecule pool (ZINC250k) is not used:
the population is made by construction only.

The loop follows Graph GA (:mod:`makeable.optimizers.graph_ga`): an initial population of
random trees (a building block, or one or two reactions on random building blocks) is
scored; each generation makes ``offspring_size`` children, scores them, and keeps the best
``population_size`` distinct molecules. A child comes from parents drawn by tournament
(``tournament_size``): with probability ``crossover_rate`` from a crossover of two parents,
then, with probability ``mutation_rate`` (always when there was no crossover, or it failed),
a mutation. Children whose molecule the run has already proposed are drawn again (up to 10
times), so no generation is spent on repeats.

Operators (after SynGA, Lo et al. 2025, on trees of templates as in SynNet):

* crossover: *graft* a subtree of the second parent into a slot of the first that it fits,
  or *join* the two parents' products with a bi-molecular template (one of the two, evenly);
* mutation, one of (weights :data:`MUTATIONS`): *swap* a building block for one of its
  ``neighbours`` most similar building blocks (Tanimoto, 2048-bit ECFP4) that fit the same
  slot; *grow*: a random template the product fits, its other slots filled with random
  building blocks; *shrink*: keep one reactant subtree of the last reaction; *replace* a
  subtree by a random building block of its slot, grown by one reaction half of the time.

Block focus (after SynGA's building-block filter, here learned online from the run's own
scores): after each generation a ridge regression of the scores on the products' folded
ECFP4 bits (1024 bits) is refitted, and every building block gets the utility ``w . x`` of
its own bits. Then a building block drawn for a slot (grow, replace, random trees) is, with
probability ``focus``, one of that slot's ``focus_top`` blocks of highest utility, else any
block of the slot. ``focus=0`` turns it off.

After an operator changes a subtree, the reactions above it are re-run (a child whose
reaction no longer applies is dropped). All randomness comes from ``ctx.rng``, so a run
replays exactly on resume. Early stopping (``patience``) is Graph GA's.

The slot table (which building blocks fit each template slot) is computed once, about 30 s
for the shipped stock and templates on one core, and cached in
``<user cache>/synthesis/`` as ``.npz``.

References:
    Lo, Coley, Matusik, "A Genetic Algorithm for Navigating Synthesizable Molecular Spaces"
    (SynGA), arXiv:2509.20719 (2025).
    Gao, Mercado, Coley, "Amortized tree generation for bottom-up synthesis planning and
    synthesizable molecular design" (SynNet), ICLR 2022.
    Seo et al., "Generative Flows on Synthetic Pathway for Drug Design" (RxnFlow), ICLR 2025
    (the template set).
    Hartenfeller et al., "A collection of robust organic synthesis reactions for in silico
    molecule design", J. Chem. Inf. Model. 51, 3093 (2011) (the reactions).
"""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import DataStructs

from makeable.chem.fingerprints import morgan_bits
from makeable.chem.molecule import canonical_smiles, parse_smiles
from makeable.chem.synthesis import (
    DEFAULT_TEMPLATE_SET,
    TEMPLATE_SETS,
    Slot,
    SynthesisSpace,
    SynthesisTree,
    TreePath,
    load_templates,
)
from makeable.data.molecules import cache_dir
from makeable.data.stocks import DEFAULT_STOCK, STOCKS, load_stock
from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
    TopMeanPatience,
)
from makeable.oracle.oracle import Oracle
from makeable.params import require_int, require_probability

MUTATIONS: dict[str, float] = {"swap": 0.4, "grow": 0.25, "shrink": 0.1, "replace": 0.25}
"""Mutation operators and their weights."""

MAX_TRIES = 10
"""Draws per child before giving up on it (a failed operator or an already proposed molecule)."""

FOCUS_BITS = 1024
"""Folded ECFP4 length of the block-focus regression."""

FOCUS_MIN_SCORED = 100
"""Molecules scored before the block focus is used."""


class BlockFocus:
    """Online ridge regression of scores on ECFP4 bits, read out on building blocks.

    Args:
        building_blocks: the SMILES whose utilities are wanted (in index order).
        ridge: the L2 penalty.

    The sufficient statistics (``X'X``, ``X'y``, sums) are accumulated, so a refit costs one
    ``1024 x 1024`` solve whatever the number of molecules scored.
    """

    def __init__(self, building_blocks: list[str], ridge: float = 1.0) -> None:
        self.ridge = ridge
        self._bits, self._starts, self._empty = _block_rows(tuple(building_blocks))
        self._xtx = np.zeros((FOCUS_BITS, FOCUS_BITS))
        self._xty = np.zeros(FOCUS_BITS)
        self._sx = np.zeros(FOCUS_BITS)
        self._sy = 0.0
        self._w: np.ndarray = np.zeros(FOCUS_BITS)
        self.n = 0

    def add(self, smiles: list[str], scores: list[float]) -> None:
        """Record scored molecules."""
        if not smiles:
            return
        x = _bit_matrix(smiles).astype(np.float64)
        y = np.asarray(scores, dtype=np.float64)
        self._xtx += x.T @ x
        self._xty += x.T @ y
        self._sx += x.sum(axis=0)
        self._sy += float(y.sum())
        self.n += len(y)

    def fit(self) -> np.ndarray:
        """Refit ``w`` on the centred data (kept for :meth:`predict`); returns it."""
        n = max(self.n, 1)
        mx, my = self._sx / n, self._sy / n
        cov = self._xtx - n * np.outer(mx, mx) + self.ridge * np.eye(FOCUS_BITS)
        self._w = np.linalg.solve(cov, self._xty - n * mx * my)
        return self._w

    def predict(self, smiles: list[str]) -> np.ndarray:
        """``w . x`` of molecules under the last :meth:`fit` (a ranking: no intercept)."""
        return np.asarray(_bit_matrix(smiles).astype(np.float64) @ self._w)

    def utilities(self) -> np.ndarray:
        """``w . x`` for every building block, ``w`` refitted on the centred data."""
        w = self.fit()
        # A trailing 0 keeps every row start a valid index (an empty last row); reduceat gives
        # an empty row the next row's first weight, so empty rows are zeroed.
        sums = np.add.reduceat(np.append(w[self._bits], 0.0), self._starts)
        sums[self._empty] = 0.0
        return np.asarray(sums)


@functools.lru_cache(maxsize=2)
def _block_rows(blocks: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The blocks' on-bits as CSR (bit indices, row starts) and which rows are empty; kept for
    the process, so the runs of a benchmark fingerprint the stock once (read-only arrays)."""
    rows = [np.flatnonzero(row) for row in _bit_matrix(list(blocks))]
    bits = np.concatenate([*rows, np.zeros(0, dtype=np.int64)])
    starts = np.cumsum([0, *(len(r) for r in rows)])[:-1]
    empty = np.array([len(r) == 0 for r in rows])
    for array in (bits, starts, empty):
        array.flags.writeable = False
    return bits, starts, empty


def _bit_matrix(smiles: list[str]) -> np.ndarray:
    """Rows of folded ECFP4 bits (uint8; an unparsable SMILES gives zeros)."""
    out = np.zeros((len(smiles), FOCUS_BITS), dtype=np.uint8)
    for i, smi in enumerate(smiles):
        mol = parse_smiles(smi)
        if mol is not None:
            DataStructs.ConvertToNumpyArray(morgan_bits(mol, n_bits=FOCUS_BITS), out[i])
    return out


@functools.lru_cache(maxsize=2)
def synthesis_space(stock: str, templates: str) -> SynthesisSpace:
    """The building blocks of ``stock`` and the ``templates``, with their slot table (cached
    in ``<user cache>/synthesis``; kept for the process, so runs in one process share it).

    Raises:
        ValueError: the stock lists no molecule (a Bloom filter cannot be enumerated), or the
            templates cannot be read.
    """
    template_set = load_templates(templates)
    source = load_stock(stock)
    blocks = source.molecules()
    if not blocks:
        raise ValueError(
            f"stock {stock!r} lists no molecule (a Bloom filter or InChIKeys cannot be "
            "enumerated): synthesis_ga needs building blocks given as SMILES"
        )
    return SynthesisSpace(template_set, blocks, cache=cache_dir() / "synthesis")


@OPTIMIZERS.register("synthesis_ga")
class SynthesisGA(Optimizer):
    """Genetic algorithm over synthesis trees (building blocks + forward templates).

    Args:
        population_size: trees kept each generation (120, as Graph GA).
        offspring_size: children made per generation (70, as Graph GA).
        crossover_rate: probability that a child comes from a crossover (0.5).
        mutation_rate: probability of mutating a crossover child (0.5); a child without
            crossover is always mutated.
        tournament_size: parents are the best of this many random members (5).
        max_reactions: most reactions in a tree (3).
        neighbours: a swapped building block is one of its this many most similar
            building blocks in the same slot (20).
        patience: generations without improvement of the top-100 mean before stopping (5,
            as Graph GA); 0 disables early stopping.
        focus: probability that a building block drawn for a slot comes from the block focus
            (0.5); 0 turns the focus off.
        focus_top: how many of a slot's highest-utility blocks the focus draws from (50).
        screen: candidate children made per child scored (1: off). With ``screen > 1`` and
            the block focus's regression in use, each generation makes ``screen`` times
            ``offspring_size`` new candidates and scores the ``offspring_size`` the
            regression ranks highest (the others are not proposed: they may come again).
        stock: the building blocks: a stock name or a file (``building_blocks``).
        templates: the forward templates: a shipped set (``hb_real``, ``hb_edited``,
            ``real``) or a file of
            reaction SMARTS.

    Raises:
        ValueError: a parameter out of range, an unknown template set or stock.
    """

    name = "synthesis_ga"

    def __init__(
        self,
        population_size: int = 120,
        offspring_size: int = 70,
        crossover_rate: float = 0.5,
        mutation_rate: float = 0.5,
        tournament_size: int = 5,
        max_reactions: int = 3,
        neighbours: int = 20,
        patience: int = 5,
        focus: float = 0.5,
        focus_top: int = 50,
        screen: int = 1,
        stock: str = DEFAULT_STOCK,
        templates: str = DEFAULT_TEMPLATE_SET,
    ) -> None:
        for key, value, low in (
            ("population_size", population_size, 1),
            ("offspring_size", offspring_size, 1),
            ("tournament_size", tournament_size, 1),
            ("max_reactions", max_reactions, 1),
            ("neighbours", neighbours, 1),
            ("patience", patience, 0),
            ("focus_top", focus_top, 1),
            ("screen", screen, 1),
        ):
            require_int(key, value, low)
        for key, rate in (
            ("crossover_rate", crossover_rate),
            ("mutation_rate", mutation_rate),
            ("focus", focus),
        ):
            require_probability(key, rate)
        if templates not in TEMPLATE_SETS and not Path(templates).is_file():
            raise ValueError(
                f"unknown template set {templates!r}: give one of {', '.join(TEMPLATE_SETS)} "
                "or a file of reaction SMARTS"
            )
        if stock not in STOCKS and "+" not in stock and not Path(stock).is_file():
            raise ValueError(
                f"unknown stock {stock!r}: give one of {', '.join(STOCKS.names())} or a file "
                "of building blocks (one SMILES a line)"
            )
        self.population_size = population_size
        self.offspring_size = offspring_size
        self.crossover_rate = float(crossover_rate)
        self.mutation_rate = float(mutation_rate)
        self.tournament_size = tournament_size
        self.max_reactions = max_reactions
        self.neighbours = neighbours
        self.patience = patience
        self.focus = float(focus)
        self.focus_top = focus_top
        self.screen = screen
        self.stock = stock
        self.templates = templates
        self._routes: dict[str, SynthesisTree] = {}
        self._space: SynthesisSpace | None = None
        self._starters: list[int] = []  # templates whose every slot fits a building block
        self._focus: BlockFocus | None = None
        self._utilities: np.ndarray | None = None  # None until the focus is in use
        self._top: dict[Slot, np.ndarray] = {}  # per slot, its focus_top blocks (this generation)

    # ------------------------------------------------------------------ the route hook
    def constructed_route(self, smiles: str) -> dict[str, Any] | None:
        """The route of the shortest tree this run built ``smiles`` by (PaRoutes JSON)."""
        tree = self._routes.get(smiles)
        if tree is None:
            canon = canonical_smiles(smiles)
            tree = self._routes.get(canon) if canon else None
        if tree is None or self._space is None:
            return None
        return tree.to_route_dict(self._space.templates, source=self.name)

    # ------------------------------------------------------------------ the loop
    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        rng = ctx.rng
        with ctx.proposing():
            space = self._space = synthesis_space(self.stock, self.templates)
            self._routes = {}
            self._starters = [
                t.index
                for t in space.templates
                if all(len(space.blocks((t.index, s))) for s in range(t.n_slots))
            ]
            if not self._starters:
                raise ValueError(
                    f"no template of {self.templates!r} has building blocks of {self.stock!r} "
                    "for every reactant: nothing can be built"
                )
            population = self._initial_population(rng)
            self._focus = BlockFocus(space.building_blocks) if self.focus > 0 else None
            self._utilities, self._top = None, {}
        scores = list(oracle([t.smiles for t in population]))
        self._learn(population, scores, ctx)
        guard, generation = StallGuard(), 0
        early = TopMeanPatience(self.patience, min_calls=100, tolerance=1e-3)  # Graph GA's
        early.start(oracle)
        while not oracle.finished:
            with ctx.proposing():
                children = self._offspring(population, scores, rng)
            child_scores = list(oracle([t.smiles for t in children]))
            self._learn(children, child_scores, ctx)
            population, scores = self._survivors([*population, *children], [*scores, *child_scores])
            generation += 1
            ctx.log_event(
                "generation",
                {
                    "generation": generation,
                    "best": scores[0],
                    "mean": float(np.mean(scores)),
                    "children": len(children),
                    "mean_reactions": float(np.mean([t.n_reactions for t in population])),
                },
            )
            if early.stalled(oracle) or guard.stalled(oracle):
                return

    def _learn(self, trees: list[SynthesisTree], scores: list[float], ctx: DesignContext) -> None:
        """Refit the block focus on the newly scored molecules."""
        if self._focus is None:
            return
        with ctx.proposing():
            self._focus.add([t.smiles for t in trees], scores)
            if self._focus.n >= FOCUS_MIN_SCORED:
                self._utilities, self._top = self._focus.utilities(), {}

    def _initial_population(self, rng: random.Random) -> list[SynthesisTree]:
        population: list[SynthesisTree] = []
        for _ in range(MAX_TRIES * self.population_size):
            if len(population) >= self.population_size:
                break
            tree = self._random_tree(rng.randint(0, min(2, self.max_reactions)), rng)
            if tree is not None and self._propose(tree):
                population.append(tree)
        return population

    def _offspring(
        self, population: list[SynthesisTree], scores: list[float], rng: random.Random
    ) -> list[SynthesisTree]:
        screening = self.screen > 1 and self._utilities is not None
        n_make = self.offspring_size * (self.screen if screening else 1)
        children: dict[str, SynthesisTree] = {}
        for _ in range(n_make):
            for _ in range(MAX_TRIES):
                child = self._child(population, scores, rng)
                if child is None:
                    continue
                if child.smiles in self._routes:
                    self._propose(child)  # only keeps a shorter route to a known molecule
                    continue
                if _record(children, child):
                    break
        chosen = list(children.values())
        if screening and len(chosen) > self.offspring_size:
            assert self._focus is not None
            predicted = self._focus.predict([t.smiles for t in chosen])
            order = np.argsort(-predicted, kind="stable")[: self.offspring_size]
            chosen = [chosen[int(i)] for i in sorted(order)]
        for child in chosen:
            self._propose(child)
        return chosen

    def _child(
        self, population: list[SynthesisTree], scores: list[float], rng: random.Random
    ) -> SynthesisTree | None:
        parent = self._tournament(population, scores, rng)
        child = None
        if rng.random() < self.crossover_rate:
            child = self._crossover(parent, self._tournament(population, scores, rng), rng)
        if child is None or rng.random() < self.mutation_rate:
            child = self._mutate(child or parent, rng)
        return child

    def _propose(self, tree: SynthesisTree) -> bool:
        """Record ``tree`` as a route of its molecule; ``True`` if the molecule is new."""
        return _record(self._routes, tree)

    def _tournament(
        self, population: list[SynthesisTree], scores: list[float], rng: random.Random
    ) -> SynthesisTree:
        picks = [rng.randrange(len(population)) for _ in range(self.tournament_size)]
        return population[max(picks, key=lambda i: (scores[i], -i))]

    def _survivors(
        self, trees: list[SynthesisTree], scores: list[float]
    ) -> tuple[list[SynthesisTree], list[float]]:
        first: dict[str, int] = {}
        for i, tree in enumerate(trees):
            first.setdefault(tree.smiles, i)
        order = sorted(first.values(), key=lambda i: scores[i], reverse=True)
        order = order[: self.population_size]
        return [trees[i] for i in order], [scores[i] for i in order]

    # ------------------------------------------------------------------ operators
    @property
    def space(self) -> SynthesisSpace:
        assert self._space is not None, "the synthesis space is loaded by _optimize"
        return self._space

    def _block(self, slot: Slot, rng: random.Random) -> SynthesisTree:
        fits = self.space.blocks(slot)
        if self._utilities is not None and rng.random() < self.focus:
            top = self._top.get(slot)
            if top is None:
                order = np.argsort(-self._utilities[fits], kind="stable")
                top = self._top[slot] = fits[order[: self.focus_top]]
            fits = top
        return SynthesisTree(self.space.building_blocks[int(fits[rng.randrange(len(fits))])])

    def _random_tree(self, n_reactions: int, rng: random.Random) -> SynthesisTree | None:
        """A building block, or a random reaction on building blocks grown to ``n_reactions``."""
        if n_reactions == 0:
            return SynthesisTree(self.space.building_blocks[rng.choice(self.space.reactive_blocks)])
        template = self.space.templates[rng.choice(self._starters)]
        tree = self.space.react(
            template.index, [self._block((template.index, s), rng) for s in range(template.n_slots)]
        )
        for _ in range(n_reactions - 1):
            tree = self._grow(tree, rng) if tree is not None else None
        return tree

    def _mutate(self, tree: SynthesisTree, rng: random.Random) -> SynthesisTree | None:
        operator = rng.choices(list(MUTATIONS), weights=list(MUTATIONS.values()))[0]
        if operator == "swap":
            return self._swap(tree, rng)
        if operator == "grow":
            return self._grow(tree, rng)
        if operator == "shrink":
            return rng.choice(tree.children) if tree.children else None
        return self._replace(tree, rng)

    def _slot_at(self, tree: SynthesisTree, path: TreePath) -> Slot:
        """The slot that the subtree at ``path`` (not the root) fills in its parent."""
        parent = tree.at(path[:-1])
        assert parent.template is not None
        return parent.template, path[-1]

    def _swap(self, tree: SynthesisTree, rng: random.Random) -> SynthesisTree | None:
        if tree.is_leaf:
            near = self.space.nearest_blocks(tree.smiles, None, self.neighbours)
            return SynthesisTree(self.space.building_blocks[rng.choice(near)]) if near else None
        leaves = [path for path, node in tree.nodes() if node.is_leaf]
        path = rng.choice(leaves)
        slot = self._slot_at(tree, path)
        near = self.space.nearest_blocks(tree.at(path).smiles, slot, self.neighbours)
        if not near:
            return None
        block = SynthesisTree(self.space.building_blocks[rng.choice(near)])
        return self.space.graft(tree, path, block)

    def _grow(self, tree: SynthesisTree, rng: random.Random) -> SynthesisTree | None:
        """A new last reaction with ``tree`` in one slot and random building blocks in the
        others (``None`` at ``max_reactions`` or when no template takes the product)."""
        if tree.n_reactions >= self.max_reactions:
            return None
        options = [
            (t, s)
            for t, s in self.space.slots_of(tree.smiles)
            if all(
                len(self.space.blocks((t, j)))
                for j in range(self.space.templates[t].n_slots)
                if j != s
            )
        ]
        if not options:
            return None
        t, s = rng.choice(options)
        children = [
            tree if j == s else self._block((t, j), rng)
            for j in range(self.space.templates[t].n_slots)
        ]
        return self.space.react(t, children)

    def _replace(self, tree: SynthesisTree, rng: random.Random) -> SynthesisTree | None:
        paths = [path for path, _ in tree.nodes() if path]
        if not paths:
            return None
        path = rng.choice(paths)
        block = self._block(self._slot_at(tree, path), rng)
        room = tree.n_reactions - tree.at(path).n_reactions < self.max_reactions
        new = self._grow(block, rng) if rng.random() < 0.5 and room else block
        return self.space.graft(tree, path, new) if new is not None else None

    def _crossover(
        self, first: SynthesisTree, second: SynthesisTree, rng: random.Random
    ) -> SynthesisTree | None:
        space = self.space
        grafts = [
            (path, sub)
            for path, old in first.nodes()
            if path
            for _, sub in second.nodes()
            if sub.smiles != old.smiles
            and first.n_reactions - old.n_reactions + sub.n_reactions <= self.max_reactions
            and space.fits(sub.smiles, self._slot_at(first, path))
        ]
        joins: list[tuple[int, SynthesisTree, SynthesisTree]] = []
        if first.n_reactions + second.n_reactions < self.max_reactions:
            for a, b in ((first, second), (second, first)):
                joins += [
                    (t, a, b)
                    for t, s in space.slots_of(a.smiles)
                    if s == 0 and space.templates[t].n_slots == 2 and space.fits(b.smiles, (t, 1))
                ]
        if grafts and (not joins or rng.random() < 0.5):
            path, sub = rng.choice(grafts)
            return space.graft(first, path, sub)
        if joins:
            t, a, b = rng.choice(joins)
            return space.react(t, [a, b])
        return None


def _record(routes: dict[str, SynthesisTree], tree: SynthesisTree) -> bool:
    """Keep ``tree`` in ``routes`` when its molecule is new there or it is a shorter route to
    it; ``True`` if the molecule is new."""
    known = routes.get(tree.smiles)
    if known is None or tree.n_reactions < known.n_reactions:
        routes[tree.smiles] = tree
    return known is None
