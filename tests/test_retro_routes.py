"""Routes: the frozen tree, its length and score, PaRoutes JSON round trips, syntheseus
conversion and the drawings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from makeable.retro.planning.routes import (
    MolNode,
    ReactionNode,
    Route,
    RouteFormatError,
    read_route_lists,
    read_routes,
    routes_from_json,
    write_routes,
)

PARACETAMOL = {
    "type": "mol",
    "smiles": "CC(=O)Nc1ccc(O)cc1",
    "in_stock": False,
    "children": [
        {
            "type": "reaction",
            "smiles": "CC(=O)Cl.Nc1ccc(O)cc1>>CC(=O)Nc1ccc(O)cc1",
            "metadata": {"probability": 0.5, "score": 0.5, "template": "[C:1]>>[C:1]"},
            "children": [
                {"type": "mol", "smiles": "CC(=O)Cl", "in_stock": True},
                {
                    "type": "mol",
                    "smiles": "Nc1ccc(O)cc1",
                    "in_stock": False,
                    "hide": False,
                    "children": [
                        {
                            "type": "reaction",
                            "smiles": "O=[N+]([O-])c1ccc(O)cc1>>Nc1ccc(O)cc1",
                            "metadata": {"policy_probability": 0.8},
                            "is_reaction": True,
                            "children": [
                                {
                                    "type": "mol",
                                    "smiles": "O=[N+]([O-])c1ccc(O)cc1",
                                    "in_stock": True,
                                }
                            ],
                        }
                    ],
                },
            ],
        }
    ],
}


def test_route_structure_and_scores() -> None:
    route = Route.from_dict(PARACETAMOL)
    assert route.target == "CC(=O)Nc1ccc(O)cc1"
    assert route.n_reactions == 2 and route.depth == 2 and route.solved
    assert [m.smiles for m in route.leaves()] == ["CC(=O)Cl", "O=[N+]([O-])c1ccc(O)cc1"]
    assert [p.smiles for p, _ in route.reactions()] == ["CC(=O)Nc1ccc(O)cc1", "Nc1ccc(O)cc1"]
    (_, first), (_, second) = route.reactions()
    assert first.probability == 0.5 and first.score == 0.5 and first.template == "[C:1]>>[C:1]"
    assert second.probability == 0.8 and second.score is None and second.template is None
    assert route.score == pytest.approx(0.4) and route.cost == pytest.approx(-math.log(0.4))
    bought = Route(MolNode("CCO", True))
    assert bought.n_reactions == 0 and bought.depth == 0 and bought.solved and bought.score == 1.0
    unsolved = Route(MolNode("CCN", False, ReactionNode("", (MolNode("CC=O"), MolNode("N", True)))))
    assert not unsolved.solved and unsolved.score == 1.0  # no probabilities recorded
    # reports say so instead of showing 1.0 as a "product of step probabilities"
    assert route.score_text() == "score 0.4 (product of step probabilities)"
    assert unsolved.score_text().startswith("no step probabilities")
    assert bought.score_text() == "score 1 (product of step probabilities)"
    text = route.to_text()
    assert "p=0.5" in text and "CC(=O)Cl [stock]" in text
    assert "[not in stock]" in unsolved.to_text()


def test_identity_is_chemical_and_order_free() -> None:
    route = Route.from_dict(PARACETAMOL)
    swapped = json.loads(json.dumps(PARACETAMOL))
    rxn = swapped["children"][0]
    rxn["children"].reverse()
    rxn["smiles"] = "mapped text does not matter"
    rxn["metadata"] = {}
    other = Route.from_dict(swapped)
    assert other == route and hash(other) == hash(route) and len({route, other}) == 1
    changed = json.loads(json.dumps(PARACETAMOL))
    changed["children"][0]["children"][0]["in_stock"] = False
    assert Route.from_dict(changed) != route
    with pytest.raises(AttributeError):
        route.root.smiles = "C"  # type: ignore[misc]


def test_json_round_trip_is_exact(tmp_path: Path) -> None:
    route = Route.from_dict(PARACETAMOL)
    assert route.to_dict() == PARACETAMOL  # unknown keys ride along
    assert Route.from_dict(json.loads(route.to_json())) == route
    write_routes(tmp_path / "flat.json", [route, route])
    assert read_routes(tmp_path / "flat.json") == [route, route]
    write_routes(tmp_path / "nested.json", [[route], []])
    assert read_route_lists(tmp_path / "nested.json") == [[route], []]
    with pytest.raises(RouteFormatError, match="read_route_lists"):
        read_routes(tmp_path / "nested.json")
    with pytest.raises(RouteFormatError, match="read_routes"):
        read_route_lists(tmp_path / "flat.json")
    assert routes_from_json(PARACETAMOL) == [route]


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "reaction", "smiles": "C>>C"},
        {"type": "mol"},
        {"type": "mol", "smiles": "C", "children": [{"type": "mol", "smiles": "C"}]},
        {"type": "mol", "smiles": "C", "children": [{"type": "reaction", "children": []}]},
        {
            "type": "mol",
            "smiles": "C",
            "children": [
                {"type": "reaction", "children": [{"type": "mol", "smiles": "O"}]},
                {"type": "reaction", "children": [{"type": "mol", "smiles": "N"}]},
            ],
        },
        [1, 2],
    ],
)
def test_malformed_routes_are_clear_errors(bad: object) -> None:
    with pytest.raises(RouteFormatError):
        routes_from_json(bad)


def test_paroutes_fixtures_round_trip(data_dir: Path, tmp_path: Path) -> None:
    folder = data_dir / "planning" / "paroutes"
    ref_path = folder / "test_fixture_ref-routes.json"
    ref = read_routes(ref_path)
    assert len(ref) == 2 and all(r.solved for r in ref)
    assert [r.to_dict() for r in ref] == json.loads(ref_path.read_text())
    write_routes(tmp_path / "ref.json", ref)
    assert read_routes(tmp_path / "ref.json") == ref
    assert [r.depth for r in ref] == [3, 4] and [r.n_reactions for r in ref] == [3, 4]

    lists_path = folder / "test_fixture_routes.json"
    lists = read_route_lists(lists_path)
    assert [len(group) for group in lists] == [len(g) for g in json.loads(lists_path.read_text())]
    assert [[r.to_dict() for r in g] for g in lists] == json.loads(lists_path.read_text())
    write_routes(tmp_path / "lists.json", lists)
    assert read_route_lists(tmp_path / "lists.json") == lists
    assert lists[0][0].target == ref[0].target


def test_from_syntheseus_synthesis_graph() -> None:
    pytest.importorskip("syntheseus")
    from syntheseus import Bag, SingleProductReaction
    from syntheseus import Molecule as SynMolecule
    from syntheseus.search.graph.route import SynthesisGraph

    def rxn(reactants: list[str], product: str, p: float) -> SingleProductReaction:
        return SingleProductReaction(
            reactants=Bag(SynMolecule(s) for s in reactants),
            product=SynMolecule(product),
            metadata={"probability": p, "score": p},
        )

    top = rxn(["CC(=O)Cl", "Nc1ccc(O)cc1"], "CC(=O)Nc1ccc(O)cc1", 0.5)
    below = rxn(["O=[N+]([O-])c1ccc(O)cc1"], "Nc1ccc(O)cc1", 0.8)
    graph = SynthesisGraph(top)
    graph._graph.add_edge(top, below)
    from makeable.data.stocks import Stock

    stock = Stock(["CC(=O)Cl", "O=[N+]([O-])c1ccc(O)cc1"])
    route = Route.from_syntheseus(graph, stock, rank=1)
    assert route == Route.from_dict(PARACETAMOL) and route.metadata["rank"] == 1
    assert route.makeable and {m.status for m in route.leaves()} == {"verified"}
    assert route.score == pytest.approx(0.4)
    assert json.dumps(route.to_dict())


def test_route_svg_and_html(tmp_path: Path) -> None:
    from makeable.retro.planning.route_report import route_svg, write_route_html
    from makeable.retro.planning.search import PlanResult

    route = Route.from_dict(PARACETAMOL)
    svg = route_svg(route)
    assert svg.startswith("<svg") and svg.count("<rect x=") == 4 and "p=0.5" in svg
    assert svg.count("<circle") == 2 and "in stock" in svg
    bought = route_svg(Route(MolNode("CCO", True)))
    assert bought.count("<rect x=") == 1 and "in stock" in bought
    # the PNG has the SVG's size and draws the boxes in their colours (target blue, leaves green)
    from PIL import Image

    from makeable.retro.planning.route_report import route_png

    png = Image.open(route_png(route, tmp_path / "route.png"))
    width, height = (int(float(svg.split(f"{k}='")[1].split("'")[0])) for k in ("width", "height"))
    assert png.size == (width, height)
    colours = {c for _, c in png.getcolors(maxcolors=1 << 16)}
    assert {(0x15, 0x65, 0xC0), (0x2E, 0x7D, 0x32), (0x78, 0x90, 0x9C)} <= colours
    result = PlanResult(
        target="CC(=O)Nc1ccc(O)cc1",
        canonical="CC(=O)Nc1ccc(O)cc1",
        algorithm="retro_star",
        solved=True,
        calls=3,
        seconds=0.1,
        routes=(route,),
    )
    page = write_route_html(result, tmp_path / "route.html", {"model": "toy"}).read_text()
    assert "Best route" in page and "[C:1]&gt;&gt;[C:1]" in page and "toy" in page
    empty = PlanResult("CCN", "CCN", "mcts", False, 10, 0.1)
    page = write_route_html(empty, tmp_path / "none.html").read_text()
    assert "No solved route" in page
