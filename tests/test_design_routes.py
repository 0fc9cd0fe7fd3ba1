"""Synthesis planning after a design run: routes/, the report section, the makeable share in
metrics.json, resume without re-planning, and the ``makeable design --plan-routes`` flags.

A toy single-step model knows one route (phenacetin from two stock molecules); every other
molecule grows an endless chain of precursors that are never in stock. The design run screens
a six-molecule pool under the heavy-atom count, so its top two are phenacetin (13 heavy atoms,
solved) and decan-1-ol (11, not solved).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from rdkit import Chem

from makeable.chem.molecule import Molecule
from makeable.data.stocks import Stock
from makeable.retro.planning.routes import Route, read_route_lists
from makeable.retro.single_step.base import MODELS, ReactantSet, SingleStepModel
from makeable.runs.config import ConfigError, DesignConfig, RoutesConfig, write_yaml
from makeable.runs.design import run_design

pytest.importorskip("syntheseus")


def canon(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


PHENACETIN = canon("CCOc1ccc(NC(C)=O)cc1")
DECANOL = canon("CCCCCCCCCCO")
BENZENE = canon("c1ccccc1")
POOL = [PHENACETIN, DECANOL, BENZENE, "CCO", "CC(=O)O", "CCN"]
STOCK = ["CC(=O)Cl", "CCOc1ccc(N)cc1"]
BOOM = canon("CCCCCCCCS")  # the toy model fails on this one


def heavy_atoms(smiles: str) -> float:
    """The design objective: number of heavy atoms."""
    return float(Chem.MolFromSmiles(smiles).GetNumHeavyAtoms())


class RouteToy(SingleStepModel):
    """Phenacetin <= acetyl chloride + phenetidine; anything else: an endless chain.

    ``asked`` records every molecule it is asked about (across instances); it raises
    ``KeyboardInterrupt`` for ``interrupt_on`` (a user pressing Ctrl-C) and fails on ``BOOM``.
    """

    name = "design_routes_toy"
    score_merge = "sum"
    scores_are_probabilities = True
    asked: ClassVar[list[str]] = []
    interrupt_on: ClassVar[str | None] = None

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        out = []
        for m in products:
            if m.smiles == RouteToy.interrupt_on:
                raise KeyboardInterrupt
            if m.smiles == BOOM:
                raise RuntimeError("toy failure")
            RouteToy.asked.append(m.smiles)
            if m.smiles == PHENACETIN:
                out.append([ReactantSet(tuple(STOCK), 0.7)])
            else:
                out.append([ReactantSet((m.smiles + "C",), 0.5)])
        return out


if "design_routes_toy" not in MODELS:
    MODELS.add("design_routes_toy", RouteToy)


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(saved toy model folder, stock file, pool file)."""
    root = tmp_path_factory.mktemp("toys")
    folder = RouteToy().save(root / "toy_model")
    stock = root / "stock.smi"
    stock.write_text("smiles\n" + "\n".join(STOCK) + "\n")
    pool = root / "pool.smi"
    pool.write_text("\n".join(POOL) + "\n")
    return folder, stock, pool


@pytest.fixture(autouse=True)
def clean_toy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path / "cache"))
    RouteToy.asked.clear()
    RouteToy.interrupt_on = None
    yield
    RouteToy.interrupt_on = None


def config(toy_files: tuple[Path, Path, Path], **overrides: object) -> DesignConfig:
    folder, stock, pool = toy_files
    data: dict[str, object] = {
        "objective": f"{__name__}:heavy_atoms",
        "optimizer": "screening",
        "budget": len(POOL),
        "pool": str(pool),
        "routes": {"top": 2, "stock": str(stock), "model": str(folder), "budget": 4},
    }
    data["routes"].update(overrides.pop("routes", {}))  # type: ignore[attr-defined]
    data.update(overrides)
    return DesignConfig.from_dict(data)


def rows(run: Path) -> list[dict[str, str]]:
    with (run / "routes" / "results.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def n_calls(run: Path) -> int:
    db = sqlite3.connect(run / "run.db")
    try:
        return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
    finally:
        db.close()


def test_design_run_plans_its_best_molecules(toy_files: tuple[Path, Path, Path], tmp_path: Path):
    run = tmp_path / "run"
    result = run_design(config(toy_files), run, progress=False)
    assert n_calls(run) == len(POOL)  # planning makes no oracle call

    table = rows(run)
    assert [r["smiles"] for r in table] == [PHENACETIN, DECANOL]
    assert [r["rank"] for r in table] == ["1", "2"]
    assert [r["solved"] for r in table] == ["1", "0"]
    assert [float(r["score"]) for r in table] == [13.0, 11.0]
    assert table[0]["route_length"] == "1" and table[1]["route_length"] == ""
    assert int(table[0]["calls"]) >= 1 and int(table[1]["calls"]) == 4
    assert all(float(r["seconds"]) >= 0 and r["error"] == "" for r in table)

    routes = read_route_lists(run / "routes" / "routes.json")
    assert len(routes) == 2 and routes[1] == []
    best = routes[0][0]
    assert best.target == PHENACETIN and best.solved and best.n_reactions == 1
    assert {m.smiles for m in best.leaves()} == {canon(s) for s in STOCK}
    assert json.loads((run / "routes" / "config.json").read_text())["search"]["max_calls"] == 4

    share = {"k": 2, "solved": 1, "share": 0.5}
    metrics = json.loads((run / "metrics.json").read_text())
    assert (
        share.items() <= metrics["routes"].items() and result.metrics["routes"] == metrics["routes"]
    )
    page = (run / "report.html").read_text()
    assert "<h2>Synthesis routes</h2>" in page and "Makeable share: 1 of the top 2" in page
    assert "No route from stock within 4 model calls" in page and "p=0.7" in page

    db = sqlite3.connect(run / "run.db")
    events = db.execute("SELECT kind, payload FROM events WHERE kind = 'routes'").fetchall()
    db.close()
    assert len(events) == 1 and json.loads(events[0][1])["planned"] == 2

    # a re-run plans nothing again; a larger K plans only the new molecule
    RouteToy.asked.clear()
    again = run_design(config(toy_files), run, progress=False)
    assert RouteToy.asked == [] and again.metrics["routes"] == metrics["routes"]
    assert rows(run) == table
    run_design(config(toy_files, routes={"top": 3}), run, progress=False)
    assert RouteToy.asked[0] == BENZENE and PHENACETIN not in RouteToy.asked
    assert [r["smiles"] for r in rows(run)] == [PHENACETIN, DECANOL, BENZENE]
    assert n_calls(run) == len(POOL)

    # other search settings: every molecule is planned again
    RouteToy.asked.clear()
    run_design(config(toy_files, routes={"budget": 2}), run, progress=False)
    assert PHENACETIN in RouteToy.asked and DECANOL in RouteToy.asked
    assert int(rows(run)[1]["calls"]) == 2


def test_interrupted_planning_resumes_with_the_missing_molecules(
    toy_files: tuple[Path, Path, Path], tmp_path: Path
):
    run = tmp_path / "run"
    RouteToy.interrupt_on = DECANOL
    with pytest.raises(KeyboardInterrupt):
        run_design(config(toy_files), run, progress=False)
    assert [r["smiles"] for r in rows(run)] == [PHENACETIN]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_calls"] == len(POOL) and "routes" not in metrics  # the run's results stand

    RouteToy.interrupt_on = None
    RouteToy.asked.clear()
    result = run_design(config(toy_files), run, progress=False)
    assert RouteToy.asked[0] == DECANOL and PHENACETIN not in RouteToy.asked
    assert [r["smiles"] for r in rows(run)] == [PHENACETIN, DECANOL]
    assert result.metrics["routes"]["solved"] == 1
    assert n_calls(run) == len(POOL)
    assert len(read_route_lists(run / "routes" / "routes.json")) == 2


def test_invalid_and_failing_molecules_do_not_crash(
    toy_files: tuple[Path, Path, Path], tmp_path: Path
):
    from makeable.runs.routes import load_planner, plan_top_routes, routes_section

    planner = load_planner(config(toy_files))
    top = [("not a smiles", 3.0), (BOOM, 2.0), (PHENACETIN, 1.0)]
    summary = plan_top_routes(tmp_path, top, planner)
    assert [t.solved for t in summary.targets] == [False, False, True]
    assert "InvalidTargetError" in summary.targets[0].error and summary.share == pytest.approx(
        1 / 3
    )
    table = rows(tmp_path)
    assert [r["smiles"] for r in table] == ["not a smiles", BOOM, PHENACETIN]
    assert "InvalidTargetError" in table[0]["error"]
    html = routes_section(summary)
    assert "Could not be planned" in html and "Makeable share: 1 of the top 3" in html
    assert isinstance(
        Route.from_dict(json.loads((tmp_path / "routes" / "routes.json").read_text())[2][0]), Route
    )


def test_missing_stock_or_model_fails_before_any_oracle_call(
    toy_files: tuple[Path, Path, Path], tmp_path: Path
):
    from makeable.data import stocks as stock

    stock._load_named.cache_clear()  # forget a PaRoutes stock loaded by another test
    with pytest.raises(ConfigError, match="--route-stock FILE"):
        run_design(
            config(toy_files, routes={"stock": "paroutes_n1"}), tmp_path / "a", progress=False
        )
    with pytest.raises(ConfigError, match="stock file not found"):
        run_design(config(toy_files, routes={"stock": "nope.smi"}), tmp_path / "b", progress=False)
    with pytest.raises(ConfigError, match="unknown single-step model 'nope'"):
        run_design(config(toy_files, routes={"model": "nope"}), tmp_path / "c", progress=False)
    assert not any((tmp_path / name / "run.db").exists() for name in "abc")


def test_route_settings_round_trip_and_are_resume_free(tmp_path: Path):
    routes = RoutesConfig(top=5, stock="stock.smi", model="template_mlp", budget=50, jobs=2)
    cfg = DesignConfig(objective="qed", routes=routes)
    write_yaml(tmp_path / "c.yaml", cfg.to_dict())
    assert "routes:\n  top: 5\n" in (tmp_path / "c.yaml").read_text()  # a nested mapping
    assert DesignConfig.from_yaml(tmp_path / "c.yaml") == cfg
    assert cfg.identity() == DesignConfig(objective="qed").identity()
    defaults = DesignConfig(objective="qed").routes
    assert (defaults.top, defaults.stock, defaults.model) == (
        0,
        "building_blocks",
        "local_gnn",  # the Local-GNN of the leakage-filtered corpus (synthesis.PLANNING_MODEL)
    )
    assert (defaults.budget, defaults.jobs) == (100, 1)
    for bad in ({"top": -1}, {"budget": 0}, {"jobs": 0}, {"stock": ""}, {"tp": 1}):
        with pytest.raises(ConfigError, match="routes"):
            DesignConfig.from_dict({"objective": "qed", "routes": bad})
    with pytest.raises(ConfigError, match="routes must be a mapping"):
        DesignConfig.from_dict({"objective": "qed", "routes": 3})


def test_configs_of_the_flat_route_layout_still_load():
    """Run folders recorded before the ``routes`` section (flat ``route_*`` keys) resume."""
    old = {"objective": "qed", "plan_routes": 3, "route_stock": "s.smi", "route_max_calls": 7}
    cfg = DesignConfig.from_dict(old)
    assert cfg.routes == RoutesConfig(top=3, stock="s.smi", budget=7)
    assert cfg.identity() == DesignConfig(objective="qed").identity()


def test_cli_route_flags_parse_into_the_config():
    from makeable.cli.design import config_from_args
    from makeable.cli.main import build_parser

    args = build_parser().parse_args(
        ["design", "--objective", "qed", "--plan-routes", "10", "--route-stock", "s.smi"]
        + ["--route-model", "m", "--route-budget", "30", "--route-jobs", "2", "--out", "r"]
    )
    cfg = config_from_args(args)
    assert cfg.routes == RoutesConfig(top=10, stock="s.smi", model="m", budget=30, jobs=2)
    old_spelling = ["design", "--objective", "qed", "--route-max-calls", "9", "--out", "r"]
    assert config_from_args(build_parser().parse_args(old_spelling)).routes.budget == 9
    plain = config_from_args(
        build_parser().parse_args(["design", "--objective", "qed", "--out", "r"])
    )
    assert plain.routes == RoutesConfig()


def test_cli_flags_override_the_yaml_and_add_to_its_mappings(tmp_path: Path):
    """Flags are generated from DesignConfig: a flag beats --config, a KEY=VALUE flag adds to
    the YAML's mapping, a section flag changes one key of the YAML's section."""
    from makeable.cli.design import config_from_args
    from makeable.cli.main import build_parser

    yaml_cfg = DesignConfig(
        objective="qed",
        budget=50,
        optimizer_params={"population_size": 20, "offspring_size": 10},
        routes=RoutesConfig(top=4, stock="s.smi"),
    )
    write_yaml(tmp_path / "c.yaml", yaml_cfg.to_dict())
    argv = ["design", "--config", str(tmp_path / "c.yaml"), "--budget", "70"]
    argv += ["--param", "offspring_size=5", "--route-jobs", "2", "--out", "r"]
    cfg = config_from_args(build_parser().parse_args(argv))
    assert cfg.budget == 70 and cfg.objective == "qed"
    assert cfg.optimizer_params == {"population_size": 20, "offspring_size": 5}
    assert cfg.routes == RoutesConfig(top=4, stock="s.smi", jobs=2)
    with pytest.raises(ConfigError, match="--objective"):
        config_from_args(build_parser().parse_args(["design", "--out", "r"]))


class ProbableStock(Stock):
    """A probabilistic stock (answers as a Bloom filter does) of the given molecules."""

    exact = False


def test_bloom_only_leaves_are_unverified_never_makeable(
    toy_files: tuple[Path, Path, Path], tmp_path: Path
):
    """Phenacetin's route needs phenetidine, which only the probabilistic part holds."""
    from makeable.data.stocks import StockUnion
    from makeable.runs.routes import load_planner, plan_top_routes, routes_section

    planner = load_planner(config(toy_files))
    union = StockUnion([Stock(STOCK[:1], name="exact"), ProbableStock(STOCK[1:], name="maybe")])
    planner = dataclasses.replace(planner, stock=union, stock_ref="exact+maybe")
    summary = plan_top_routes(tmp_path, [(PHENACETIN, 2.0), (DECANOL, 1.0)], planner)
    assert [t.verdict for t in summary.targets] == ["unverified", "not solved"]
    assert summary.n_solved == 0 and summary.share == 0.0 and summary.n_unverified == 1
    assert summary.metrics()["unverified"] == 1 and summary.metrics()["stock_exact"] is False
    table = rows(tmp_path)
    assert [(r["solved"], r["unverified"]) for r in table] == [("0", "1"), ("0", "0")]
    leaves = {m.smiles: m.status for m in summary.targets[0].routes[0].leaves()}
    assert leaves == {canon(STOCK[0]): "verified", canon(STOCK[1]): "unverified"}
    page = routes_section(summary)
    assert "Makeable share: 0 of the top 2" in page and "1 more have routes only" in page
    assert "unverified (Bloom)" in page


def test_a_constructed_route_is_checked_not_planned(
    toy_files: tuple[Path, Path, Path], tmp_path: Path
):
    """An optimizer's route counts when its leaves are in the stock and each reaction, re-run
    with its recorded template, gives back its product; otherwise the molecule is planned."""
    from makeable.chem.synthesis import load_templates, template_products
    from makeable.data.stocks import Stock
    from makeable.runs.routes import load_planner, plan_top_routes, routes_section

    acid, amine = canon("OC(=O)c1ccccc1"), canon("NCc1ccccc1")
    smarts = load_templates()[56].smarts  # amide coupling
    (amide,) = template_products(smarts, [acid, amine])

    def built(leaves: list[str], template: str | None = smarts) -> dict[str, object]:
        return {
            "type": "mol",
            "smiles": amide,
            "in_stock": False,
            "children": [
                {
                    "type": "reaction",
                    "smiles": ".".join(leaves) + ">>" + amide,
                    "metadata": {"template": template} if template else {},
                    "children": [{"type": "mol", "smiles": s, "in_stock": True} for s in leaves],
                }
            ],
        }

    planner = load_planner(config(toy_files))
    planner = dataclasses.replace(planner, stock=Stock([acid, amine, "CC(=O)Cl"]))
    summary = plan_top_routes(
        tmp_path / "a", [(amide, 1.0)], planner, constructed={amide: built([acid, amine])}
    )
    (target,) = summary.targets
    assert target.solved and target.source == "constructed" and target.calls == 0
    assert amide not in RouteToy.asked and summary.n_constructed == 1
    assert rows(tmp_path / "a")[0]["source"] == "constructed"
    assert "built by the optimizer" in routes_section(summary)
    # not taken on trust: a leaf the stock lacks, a reaction that does not give the product,
    # or no template: each molecule is planned instead
    for i, data in enumerate(
        [
            built([acid, canon("NCc1ccccc1C")]),
            built(["CC(=O)Cl", amine]),
            built([acid, amine], template=None),
        ]
    ):
        RouteToy.asked.clear()
        summary = plan_top_routes(
            tmp_path / f"b{i}", [(amide, 1.0)], planner, constructed={amide: data}
        )
        assert summary.targets[0].source == "planned" and amide in RouteToy.asked
