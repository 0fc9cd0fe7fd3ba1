"""Route quality: reaction-tree matching against PaRoutes reference routes (their own analysis
fixtures and hand-made routes), round-trip validity of route steps, and both in
``makeable bench planning``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from makeable.retro.planning.route_quality import (
    read_reference_routes,
    references_digest,
    round_trip_validity,
    route_key,
    route_rank,
    route_round_trip,
    top_k_route_accuracy,
)
from makeable.retro.planning.routes import (
    MolNode,
    ReactionNode,
    Route,
    RouteFormatError,
    read_route_lists,
)
from tests.test_retro_planning import (
    AMINE,
    NITRO,
    TARGET,
    UNSOLVABLE,
    ForwardToy,
    PlanningToy,
    _write_toy,
    best_known_route,
)


def made(smiles: str, *reactants: MolNode) -> MolNode:
    return MolNode(smiles, False, ReactionNode("", reactants))


def leaf(smiles: str, in_stock: bool = True) -> MolNode:
    return MolNode(smiles, in_stock)


def acid_route() -> Route:
    """The toy target through the acid (the planner's second-best route)."""
    return Route(made(TARGET, leaf("CC(=O)O"), made(AMINE, leaf(NITRO))))


def nitro_route() -> Route:
    return Route(made(AMINE, leaf(NITRO)))


# ---------------------------------------------------------------------- hand-made routes
def test_reactant_order_and_the_way_smiles_are_written_do_not_matter() -> None:
    reference = best_known_route()
    swapped = Route(
        made(
            "CC(=O)Nc1ccc(O)cc1",
            made("Nc1ccc(O)cc1", MolNode("[O-][N+](=O)c1ccc(O)cc1", False)),  # not in stock
            leaf("ClC(C)=O"),
        ),
        {"algorithm": "mcts", "rank": 3},  # metadata stays out of identity
    )
    assert route_key(swapped) == route_key(reference)
    assert route_rank([acid_route(), swapped], reference) == 2
    # atom maps in the molecules are removed before comparing
    step = reference.root.reaction
    assert step is not None
    mapped = Route(made("[CH3:1]C(=O)Nc1ccc(O)cc1", *step.reactants))
    assert route_key(mapped) == route_key(reference)


def test_another_intermediate_or_a_longer_route_is_another_route() -> None:
    reference = best_known_route()
    assert route_rank([acid_route()], reference) is None  # another reactant of the last step
    other_intermediate = Route(made(TARGET, leaf("CC(=O)Cl"), made("Nc1ccc(O)cc1C", leaf(NITRO))))
    assert route_key(other_intermediate) != route_key(reference)
    # the same target and steps, and one step more: the nitrophenol made, not bought
    nitration = made(NITRO, leaf("Oc1ccccc1"), leaf("O=[N+]([O-])O"))
    longer = Route(made(TARGET, leaf("CC(=O)Cl"), made(AMINE, nitration)))
    assert route_key(longer) != route_key(reference)
    shorter = Route(made(TARGET, leaf("CC(=O)Cl"), leaf(AMINE)))  # the amine bought
    assert route_rank([longer, shorter, reference], reference) == 3
    assert route_rank([], reference) is None
    assert route_rank([Route(leaf(TARGET))], reference) is None  # the target bought


def test_top_k_route_accuracy_over_targets() -> None:
    references = {TARGET: best_known_route(), AMINE: nitro_route(), "CCO": Route(leaf("CCO"))}
    predicted = {
        TARGET: [acid_route(), best_known_route()],  # rank 2
        "Nc1ccc(O)cc1": [nitro_route()],  # rank 1 (same target, written alike)
        UNSOLVABLE: [acid_route()],  # no reference: not counted
    }  # CCO: no routes at all, a miss
    assert top_k_route_accuracy(predicted, references, ks=(1, 2, 10)) == {
        1: pytest.approx(1 / 3),
        2: pytest.approx(2 / 3),
        10: pytest.approx(2 / 3),
    }


# ---------------------------------------------------------------------- PaRoutes fixtures
@pytest.fixture
def paroutes(data_dir: Path) -> Path:
    folder = data_dir / "planning" / "paroutes"
    if not (folder / "test_fixture_routes.json").is_file():
        pytest.skip("PaRoutes analysis fixtures not in the data folder")
    return folder


def test_paroutes_fixtures(paroutes: Path) -> None:
    references = read_reference_routes(paroutes / "test_fixture_ref-routes.json")
    predicted = read_route_lists(paroutes / "test_fixture_routes.json")
    first, second = (canon for canon in references)
    assert [len(p) for p in predicted] == [2, 7]
    assert [p[0].target for p in predicted] == [first, second]  # already canonical SMILES
    # target 1: the first predicted route is the reference (3 reactions; the prediction's
    # reaction SMILES are atom-mapped templates, the stock flags agree); the second makes the
    # amidoxime on the alkylated indole instead, so its intermediates differ
    assert route_rank(predicted[0], references[first]) == 1
    assert route_rank(predicted[0][1:], references[first]) is None
    assert predicted[0][0].n_reactions == predicted[0][1].n_reactions == 3
    # target 2: only the last of the seven predicted routes is the reference's tree (the only
    # one with four reactions, and the only one with sulfate among its starting materials).
    # PaRoutes' own test finds it within the top 5 because it re-orders unscored routes by a
    # simple route cost, equal costs sharing a rank; here routes count in the order given.
    assert route_rank(predicted[1], references[second]) == 7
    assert [r.n_reactions for r in predicted[1]] == [2, 2, 3, 3, 3, 3, 4]
    sulfate = "O=S(=O)([O-])[O-]"
    assert [sulfate in {m.smiles for m in r.leaves()} for r in predicted[1]] == [False] * 6 + [True]
    assert references[second].n_reactions == 4
    by_target = {p[0].target: p for p in predicted}
    assert top_k_route_accuracy(by_target, references) == {1: 0.5, 5: 0.5, 10: 1.0}
    # a file of per-target lists is not a reference file
    with pytest.raises(RouteFormatError, match="one route per target"):
        read_reference_routes(paroutes / "test_fixture_routes.json")


def test_reference_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="reference routes file not found"):
        read_reference_routes(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(RouteFormatError, match="bad.json is not a JSON file"):
        read_reference_routes(bad)
    bad.write_text(json.dumps({"routes": []}))
    with pytest.raises(RouteFormatError, match="expected a JSON list"):
        read_reference_routes(bad)
    bad.write_text(json.dumps([{"type": "reaction"}]))
    with pytest.raises(RouteFormatError, match="bad.json: route: expected a molecule"):
        read_reference_routes(bad)
    bad.write_text(json.dumps([best_known_route().to_dict(), acid_route().to_dict()]))
    with pytest.raises(RouteFormatError, match="two different reference routes"):
        read_reference_routes(bad)
    good = tmp_path / "refs.json"
    good.write_text(json.dumps([best_known_route().to_dict(), best_known_route().to_dict()]))
    refs = read_reference_routes(good)  # the same tree twice is one reference
    assert list(refs) == [TARGET]
    assert references_digest(refs) == references_digest({TARGET: best_known_route()})
    assert references_digest(refs) != references_digest({TARGET: acid_route()})


# ---------------------------------------------------------------------- round trip
def test_round_trip_of_route_steps() -> None:
    forward = ForwardToy()
    # the toy forward model makes the target from the acid, not from the acid chloride
    assert route_round_trip(best_known_route(), forward) == [False, True]
    assert round_trip_validity(best_known_route(), forward) == 0.5
    assert route_round_trip(acid_route(), forward) == [True, True]
    assert round_trip_validity(acid_route(), forward) == 1.0
    assert round_trip_validity(Route(leaf(TARGET)), forward) is None  # bought: no steps
    with pytest.raises(ValueError, match="forward reaction model"):
        route_round_trip(acid_route(), PlanningToy())


# ---------------------------------------------------------------------- the benchmark
def test_cli_bench_planning_route_quality(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.bench.planning import RESULT_FIELDS
    from makeable.cli.main import main

    folder, stock_file = _write_toy(tmp_path)
    ForwardToy().save(tmp_path / "forward")
    targets = tmp_path / "targets.smi"
    targets.write_text(f"{TARGET}\n{AMINE}\n{UNSOLVABLE}\n")
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps([acid_route().to_dict(), nitro_route().to_dict()]))
    base = ["bench", "planning", "--targets", str(targets), "--stock", str(stock_file)]
    base += ["--model", str(folder), "--max-calls", "30", "--no-progress"]
    base += ["--top-k", "5", "--full-budget"]
    quality = ["--reference-routes", str(refs), "--round-trip", str(tmp_path / "forward")]
    out = tmp_path / "bench"
    assert main([*base, *quality, "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert list(rows[0]) == [*RESULT_FIELDS, "has_reference", "route_rank"] + [
        "round_trip_passed",
        "round_trip_validity",
    ]
    assert [r["solved"] for r in rows] == ["1", "1", "0"]
    # the acid route is the planner's second route for the target; the nitro reduction its
    # first for the amine; the unsolvable target has no reference
    assert [(r["has_reference"], r["route_rank"]) for r in rows] == [
        ("1", "2"),
        ("1", "1"),
        ("0", ""),
    ]
    # the best routes: through the acid chloride (1 of 2 steps confirmed) and the reduction
    assert [(r["round_trip_passed"], r["round_trip_validity"]) for r in rows] == [
        ("1", "0.5"),
        ("1", "1.0"),
        ("", ""),
    ]
    summary = (out / "summary.md").read_text()
    assert "| targets with a reference route | 2 / 3 |" in summary
    assert (
        "| top-1 route accuracy (reference route among the first 1) | 1 / 2 (50.0 %) |" in summary
    )
    assert (
        "| top-5 route accuracy (reference route among the first 5) | 2 / 2 (100.0 %) |" in summary
    )
    assert (
        "top-10 route accuracy (reference route among the first 10) | – (the run keeps 5" in summary
    )
    assert "| mean round-trip validity" in summary and "75.0 % over 2 best routes" in summary
    config = json.loads((out / "config.json").read_text())
    assert config["round_trip_k"] == 5 and config["n_reference_routes"] == 2
    capsys.readouterr()

    # resuming needs the same references and forward model, and refuses them missing
    assert main([*base, *quality, "--out", str(out)]) == 0
    assert main([*base, "--out", str(out)]) == 2
    assert "other settings" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps([best_known_route().to_dict()]))
    assert main([*base, *quality[2:], "--reference-routes", str(other), "--out", str(out)]) == 2
    assert "reference_digest" in capsys.readouterr().err

    # without the options: the columns of before, and no route-quality rows
    plain = tmp_path / "plain"
    assert main([*base, "--out", str(plain)]) == 0
    assert next(csv.reader((plain / "results.csv").open())) == RESULT_FIELDS
    assert "route accuracy" not in (plain / "summary.md").read_text()
    assert main([*base, *quality, "--out", str(plain)]) == 2  # nor added to its rows later
    assert "other settings" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--reference-routes", "missing.json", "reference routes file not found"),
        ("--reference-routes", "bad.json", "expected a JSON list of reference routes"),
        ("--round-trip", "retro_model", "forward"),
    ],
)
def test_cli_bench_planning_bad_route_quality_input(
    flag: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main

    folder, stock_file = _write_toy(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"type": "mol"}))
    PlanningToy().save(tmp_path / "retro_model")
    targets = tmp_path / "targets.smi"
    targets.write_text(f"{TARGET}\n")
    out = tmp_path / "bench"
    args = ["bench", "planning", "--targets", str(targets), "--stock", str(stock_file)]
    args += ["--model", str(folder), "--no-progress", "--out", str(out)]
    assert main([*args, flag, str(tmp_path / value)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()  # refused before anything is planned
