"""Synthesis GA: forward templates, slot tables, synthesis trees and their routes; design runs
that make only molecules with a route from the stock, replay exactly and resume."""

from __future__ import annotations

import numpy as np
import pytest

from makeable.chem.synthesis import (
    SynthesisSpace,
    SynthesisTree,
    load_templates,
    parse_templates,
    replay_route,
    slot_table,
    template_products,
)
from makeable.runs.config import DesignConfig
from makeable.runs.design import run_design
from tests.lm_toys import calls_table, interrupted_then_resumed

ACID, AMINE, AMIDE = "OC(=O)c1ccccc1", "NCc1ccccc1", "O=C(NCc1ccccc1)c1ccccc1"


@pytest.fixture(scope="module", autouse=True)
def shared_cache(tmp_path_factory):
    """One user cache for the module (the slot table is computed once), the shipped ZINC."""
    from makeable.data import molecules

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MAKEABLE_DATA", raising=False)
        mp.setenv("MAKEABLE_CACHE", str(tmp_path_factory.mktemp("cache")))
        molecules.zinc250k.cache_clear()
        yield
    molecules.zinc250k.cache_clear()


# ---------------------------------------------------------------------- templates and trees
def test_shipped_template_sets_parse():
    sizes = {name: len(load_templates(name)) for name in ("hb_edited", "real", "hb_real")}
    assert sizes == {"hb_edited": 71, "real": 109, "hb_real": 180}
    default = load_templates()
    assert [t.smarts for t in default] == [
        t.smarts for name in ("hb_edited", "real") for t in load_templates(name)
    ]  # the default (hb_real) is the two files in order, so hb_edited's indices hold


def test_shipped_templates_parse_and_couple_an_acid_and_an_amine():
    templates = load_templates("hb_edited")
    assert len(templates) == 71
    assert sorted(t.n_slots for t in templates) == [1] * 13 + [2] * 58
    coupling = [
        t.index for t in templates if t.n_slots == 2 and template_products(t.smarts, [ACID, AMINE])
    ]
    assert coupling == [56]  # the amide coupling
    assert template_products(templates[56].smarts, [ACID, AMINE]) == [AMIDE]
    assert template_products(templates[56].smarts, [AMINE, ACID]) == []  # slot order matters


def test_bad_template_files_give_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="line 2: not a reaction SMARTS"):
        parse_templates("[C:1]=[O:2]>>[C:1][O:2]\nnot a reaction\n", "mine.txt")
    with pytest.raises(ValueError, match="exactly one product"):
        parse_templates("[C:1][O:2]>>[C:1].[O:2]", "mine.txt")
    with pytest.raises(ValueError, match="holds no reaction template"):
        parse_templates("# only a comment\n\n", "mine.txt")
    with pytest.raises(ValueError, match="unknown template set 'nope'"):
        load_templates("nope")
    path = tmp_path / "amide.txt"
    path.write_text("# amide coupling\n" + load_templates()[56].smarts + "\n")
    assert len(load_templates(path)) == 1


def test_slot_table_is_cached_as_npz_and_recomputed_when_unreadable(tmp_path):
    templates = load_templates()
    blocks = sorted([ACID, AMINE, "CCO", "Brc1ccccc1", "OB(O)c1ccccc1"])
    table = slot_table(templates, blocks, cache=tmp_path)
    (cached,) = tmp_path.glob("slots-*.npz")
    assert all(
        np.array_equal(a, b)
        for a, b in zip(table, slot_table(templates, blocks, tmp_path), strict=True)
    )
    acid_slot = templates.slots.index((56, 0))
    assert [blocks[i] for i in table[acid_slot]] == [ACID]
    cached.write_bytes(b"not an npz file")
    again = slot_table(templates, blocks, cache=tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(table, again, strict=True))
    with np.load(cached, allow_pickle=False) as data:  # rewritten, and no pickle inside
        assert set(data.files) == {"key", "indices", "offsets"}


def test_the_defaults_slot_table_ships_and_holds_true_matches(tmp_path):
    """The slot table of the default templates and stock ships (a fresh installation does not
    spend a minute matching 23,575 blocks); it is read without writing to the cache, and a
    sample of its entries and non-entries agrees with RDKit's substructure match."""
    import random
    from importlib import resources

    from rdkit import Chem

    from makeable.chem.synthesis import table_key
    from makeable.data.stocks import load_stock

    templates, blocks = load_templates(), load_stock("building_blocks").molecules()
    name = f"slots-{table_key(templates, blocks)[:24]}.npz"
    assert resources.files("makeable.resources").joinpath("synthesis", name).is_file()
    table = slot_table(templates, blocks, cache=tmp_path)
    assert not list(tmp_path.iterdir())  # the shipped table was read, nothing computed
    rng = random.Random(0)
    for slot in rng.sample(range(len(templates.slots)), 8):
        t, s = templates.slots[slot]
        query = templates[t].slot_query(s)
        fits = set(table[slot].tolist())
        for i in rng.sample(range(len(blocks)), 150) + rng.sample(sorted(fits), min(20, len(fits))):
            assert Chem.MolFromSmiles(blocks[i]).HasSubstructMatch(query) == (i in fits)


def test_tree_route_is_paroutes_json_and_replays():
    templates = load_templates()
    space = SynthesisSpace(templates, sorted([ACID, AMINE]))
    tree = space.react(56, [SynthesisTree(ACID), SynthesisTree(AMINE)])
    assert tree is not None and tree.smiles == AMIDE and tree.n_reactions == 1
    assert space.react(56, [SynthesisTree(AMINE), SynthesisTree(ACID)]) is None
    route = tree.to_route_dict(templates, source="synthesis_ga")
    assert route["in_stock"] is False and route["smiles"] == AMIDE
    (reaction,) = route["children"]
    assert reaction["smiles"] == f"{ACID}.{AMINE}>>{AMIDE}"
    assert reaction["metadata"]["template_index"] == 56
    assert reaction["metadata"]["source"] == "synthesis_ga"
    assert [c["smiles"] for c in reaction["children"]] == [ACID, AMINE]
    assert all(c["in_stock"] for c in reaction["children"])
    assert replay_route(route) == []
    reaction["children"].reverse()
    assert replay_route(route) == [f"{AMIDE}: {AMINE}.{ACID} gives nothing with its template"]
    from makeable.retro.planning.routes import Route

    assert Route.from_dict(tree.to_route_dict(templates)).target == AMIDE


# ---------------------------------------------------------------------- design runs
def _config(**params) -> DesignConfig:
    return DesignConfig(
        objective="qed", optimizer="synthesis_ga", budget=200, seed=0, optimizer_params=params
    )


@pytest.fixture(scope="module")
def qed_run(tmp_path_factory):
    """A design run of 200 calls, and the optimizer that made it."""
    from makeable.runs import design as design_module

    built = []
    original = design_module.get_optimizer

    def keep(*args, **kwargs):
        built.append(original(*args, **kwargs))
        return built[-1]

    out = tmp_path_factory.mktemp("runs") / "qed"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(design_module, "get_optimizer", keep)
        result = run_design(_config(), out, progress=False)
    return out, result, built[0]


def _leaves_and_reactions(route: dict) -> tuple[list[str], int]:
    leaves, reactions, stack = [], 0, [route]
    while stack:
        node = stack.pop()
        if node.get("children"):
            reactions += 1
            stack.extend(node["children"][0]["children"])
        else:
            leaves.append(node["smiles"])
    return leaves, reactions


@pytest.mark.slow  # the first of them computes the slot table (about 30 s)
def test_design_run_makes_only_molecules_with_a_route_from_the_stock(qed_run):
    from makeable.data.stocks import load_stock

    out, result, optimizer = qed_run
    stock = load_stock("building_blocks")
    calls = calls_table(out)
    assert result.metrics["n_calls"] == len(calls) == 200
    n_reactions = []
    for _, smiles, _, valid in calls:
        assert valid
        route = optimizer.constructed_route(smiles)
        assert route is not None and route["smiles"] == smiles
        assert replay_route(route) == [], smiles
        leaves, reactions = _leaves_and_reactions(route)
        assert all(leaf in stock for leaf in leaves), smiles
        n_reactions.append(reactions)
    assert max(n_reactions) == 3  # trees grow to the limit, never past it
    assert optimizer.constructed_route("CCO") is None  # never proposed


@pytest.mark.slow
def test_same_seed_same_calls(qed_run, tmp_path):
    out, _, _ = qed_run
    run_design(_config(), tmp_path / "again", progress=False)
    assert calls_table(tmp_path / "again") == calls_table(out)


@pytest.mark.slow
def test_interrupted_run_resumes_into_the_same_calls(qed_run, tmp_path):
    out, result, _ = qed_run
    resumed = interrupted_then_resumed(_config(), tmp_path / "cut", stop_at=120)
    assert calls_table(tmp_path / "cut") == calls_table(out)
    assert resumed.metrics["auc_top10"] == result.metrics["auc_top10"]


def test_parameters_are_used_and_the_pool_is_not():
    from makeable.objectives import get_objective
    from makeable.optimizers import get_optimizer
    from makeable.optimizers.base import DesignContext
    from makeable.oracle import Oracle

    optimizer = get_optimizer(
        "synthesis_ga", max_reactions=1, population_size=30, offspring_size=20, crossover_rate=0
    )
    oracle = Oracle(get_objective("qed"), 100)
    optimizer.optimize(oracle, DesignContext(seed=1, pool=["CCCCCCCCCC"]))
    smiles, _ = oracle.history()
    assert len(smiles) == 100 and "CCCCCCCCCC" not in smiles
    for s in smiles:
        route = optimizer.constructed_route(s)
        assert route is not None and replay_route(route) == []
        assert _leaves_and_reactions(route)[1] <= 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"population_size": 0}, "population_size must be an integer >= 1, got 0"),
        ({"max_reactions": 1.5}, "max_reactions must be an integer >= 1"),
        ({"mutation_rate": 1.5}, r"mutation_rate must be a probability in \[0, 1\]"),
        ({"focus": -0.1}, r"focus must be a probability in \[0, 1\]"),
        ({"focus_top": 0}, "focus_top must be an integer >= 1, got 0"),
        ({"templates": "nope"}, "unknown template set 'nope'"),
        ({"stock": "nope"}, "unknown stock 'nope'"),
    ],
)
def test_bad_parameters_give_one_clear_error(params, message):
    from makeable.optimizers import get_optimizer

    with pytest.raises(ValueError, match=message):
        get_optimizer("synthesis_ga", **params)


def test_a_stock_without_reactive_building_blocks_is_refused(tmp_path):
    from makeable.optimizers.synthesis_ga import synthesis_space

    path = tmp_path / "inert.smi"
    path.write_text("C\nCC\n")
    with pytest.raises(ValueError, match="no building block fits any reactant"):
        synthesis_space(str(path), "hb_edited")


def test_block_focus_ranks_blocks_by_what_scored_well():
    from makeable.optimizers.synthesis_ga import BlockFocus

    blocks = ["Oc1ccccc1", "CCCCC", "NCCO", "Oc1ccc(Cl)cc1"]
    focus = BlockFocus(blocks)
    phenols = ["Oc1ccc(CC)cc1", "Oc1ccccc1CCN", "Oc1ccc(OC)cc1C", "COc1ccc(O)cc1"]
    others = ["CCCCCC", "CCCCCCCN", "NCCOCC", "CCCC(C)CO"]
    focus.add(phenols, [1.0] * 4)
    focus.add(others, [0.0] * 4)
    assert focus.n == 8
    utility = focus.utilities()
    assert utility.shape == (4,)
    assert min(utility[0], utility[3]) > max(utility[1], utility[2])
    # the same regression ranks whole molecules: a phenol above an alkane
    predicted = focus.predict(["Oc1ccc(CCC)cc1", "CCCCCCC"])
    assert predicted[0] > predicted[1]


def test_screened_children_are_the_ones_the_regression_ranks_highest(monkeypatch):
    """With screen=3 each generation makes three times the children it scores and scores the
    ones the block focus's regression ranks highest; all still carry replayable routes."""
    from makeable.objectives import get_objective
    from makeable.optimizers import get_optimizer
    from makeable.optimizers import synthesis_ga as module
    from makeable.optimizers.base import DesignContext
    from makeable.oracle import Oracle

    monkeypatch.setattr(module, "FOCUS_MIN_SCORED", 20)
    made: list[dict[str, float]] = []  # each generation's candidates and their predictions
    predict = module.BlockFocus.predict

    def spy(self, smiles):
        values = predict(self, smiles)
        made.append(dict(zip(smiles, values.tolist(), strict=True)))
        return values

    monkeypatch.setattr(module.BlockFocus, "predict", spy)
    optimizer = get_optimizer(
        "synthesis_ga", population_size=20, offspring_size=20, screen=3, max_reactions=2
    )
    oracle = Oracle(get_objective("qed"), 120)
    optimizer.optimize(oracle, DesignContext(seed=0, pool=["CCO"]))
    smiles, _ = oracle.history()
    assert len(smiles) == 120 and made  # the budget exactly, and screening happened
    first = made[0]  # the first generation (20 initial molecules scored: the focus is on)
    scored = smiles[20:40]
    assert len(first) > 20 and set(scored) <= set(first)  # more candidates than scored
    rejected = [v for s, v in first.items() if s not in scored]
    assert min(first[s] for s in scored) >= max(rejected)  # the best-ranked were scored
    for s in smiles:
        route = optimizer.constructed_route(s)
        assert route is not None and replay_route(route) == []
