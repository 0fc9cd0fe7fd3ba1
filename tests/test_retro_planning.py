"""Multi-step planning: a toy single-step model with a known two-step route, both searches,
the call budget, invalid targets, many targets in parallel, the CLI and the benchmark."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from makeable.chem.molecule import Molecule
from makeable.data.stocks import Stock
from makeable.retro.planning.routes import MolNode, ReactionNode, Route
from makeable.retro.planning.search import (
    InvalidTargetError,
    PlanResult,
    SearchSettings,
    plan,
    plan_many,
)
from makeable.retro.single_step.base import MODELS, PredictionMemo, ReactantSet, SingleStepModel

pytest.importorskip("syntheseus")

TARGET = "CC(=O)Nc1ccc(O)cc1"  # paracetamol
AMINE = "Nc1ccc(O)cc1"
NITRO = "O=[N+]([O-])c1ccc(O)cc1"
TABLE: dict[str, list[tuple[tuple[str, ...], float]]] = {
    TARGET: [
        (("CC(=O)Cl", AMINE), 0.6),
        (("CC(=O)O", AMINE), 0.3),
        (("CC(=O)Nc1ccccc1", "O"), 0.1),  # a dead end: its precursors never reach the stock
    ],
    AMINE: [((NITRO,), 0.9), (("Nc1ccccc1", "O"), 0.1)],
}
STOCK = ["CC(=O)Cl", "CC(=O)O", NITRO, "O"]
UNSOLVABLE = "CCCCCCO"


class PlanningToy(SingleStepModel):
    """Knows the routes of :data:`TABLE`; any other molecule grows an endless chain of
    precursors that are never in stock. Counts the molecules it is asked about."""

    name = "planning_toy"
    # scores are probabilities though duplicates merge by "max" (as the Local-GNN's do): the
    # planner must read them as probabilities all the same (Retro* -log p, route probability)
    scores_are_probabilities = True

    def __init__(self, variant: int = 0) -> None:
        super().__init__(variant=variant)  # a parameter, as ``--model-param`` sets them
        self.calls = 0
        self.weight = torch.zeros(1)  # saved like a real model's weights (never used)

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {"weight": self.weight}

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.weight = tensors["weight"]

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        self.calls += len(products)
        out = []
        for m in products:
            if m.smiles in TABLE:
                out.append([ReactantSet(r, p) for r, p in TABLE[m.smiles]])
            else:
                out.append(
                    [ReactantSet((m.smiles + "C",), 0.5), ReactantSet(("N" + m.smiles,), 0.4)]
                )
        return out


if "planning_toy" not in MODELS:
    MODELS.add("planning_toy", PlanningToy)


def best_known_route() -> Route:
    amine = MolNode(AMINE, False, ReactionNode("", (MolNode(NITRO, True),)))
    return Route(MolNode(TARGET, False, ReactionNode("", (MolNode("CC(=O)Cl", True), amine))))


@pytest.fixture
def stock() -> Stock:
    return Stock(STOCK, name="toy")


@pytest.mark.parametrize("algorithm", ["retro_star", "mcts"])
def test_search_finds_the_known_route(algorithm: str, stock: Stock) -> None:
    model = PlanningToy()
    result = plan(TARGET, model, stock, algorithm=algorithm, max_calls=30, top_k=3)
    assert result.solved and result.canonical == TARGET and result.algorithm == algorithm
    assert result.calls == model.calls <= 30
    assert result.first_solution_calls is not None and 2 <= result.first_solution_calls <= 30
    best = result.best
    assert best is not None and best == best_known_route()
    assert best.solved and best.n_reactions == 2 and best.depth == 2
    assert best.score == pytest.approx(0.6 * 0.9)
    assert [r.metadata["rank"] for r in result.routes] == list(range(1, len(result.routes) + 1))
    assert [r.cost for r in result.routes] == sorted(r.cost for r in result.routes)
    assert all(r.solved for r in result.routes)
    [(_, first), *_] = best.reactions()
    assert first.probability == pytest.approx(0.6) and first.smiles.endswith(f">>{TARGET}")
    assert json.dumps(result.to_dict())
    # the time split: model and adapter are parts of the search's wall time
    assert result.model_s > 0 and result.adapter_s > 0
    assert result.model_s + result.adapter_s < result.seconds


def test_retro_star_ranks_the_second_route(stock: Stock) -> None:
    result = plan(TARGET, PlanningToy(), stock, max_calls=30, top_k=5)
    assert len(result.routes) >= 2
    assert {m.smiles for m in result.routes[1].leaves()} == {"CC(=O)O", NITRO}
    assert result.routes[1].score == pytest.approx(0.3 * 0.9)


def test_stop_on_first_solution_saves_calls(stock: Stock) -> None:
    full = plan(TARGET, PlanningToy(), stock, max_calls=30)
    first = plan(TARGET, PlanningToy(), stock, max_calls=30, stop_on_first_solution=True)
    assert first.solved and first.calls <= full.calls
    assert first.calls == first.first_solution_calls


@pytest.mark.parametrize("algorithm", ["retro_star", "mcts"])
@pytest.mark.parametrize("max_calls", [1, 7, 25])
def test_call_budget_is_never_exceeded(algorithm: str, max_calls: int, stock: Stock) -> None:
    model = PlanningToy()
    result = plan(UNSOLVABLE, model, stock, algorithm=algorithm, max_calls=max_calls, max_depth=50)
    assert not result.solved and not result.routes and result.first_solution_calls is None
    assert result.calls == model.calls == max_calls


def test_time_limit_ends_the_search(stock: Stock) -> None:
    result = plan(UNSOLVABLE, PlanningToy(), stock, max_calls=10**6, time_limit_s=0.3, max_depth=50)
    assert not result.solved and result.seconds < 5.0 and result.calls < 10**6


def test_target_in_stock_is_solved_without_calls(stock: Stock) -> None:
    model = PlanningToy()
    result = plan("OC(C)=O", model, stock, max_calls=10)
    assert result.solved and result.calls == model.calls == 0
    assert result.best == Route(MolNode("CC(=O)O", True)) and result.best.n_reactions == 0


def test_invalid_target_is_a_clear_error(stock: Stock) -> None:
    with pytest.raises(InvalidTargetError, match="invalid target SMILES 'C1CC'"):
        plan("C1CC", "no_such_model", stock)  # fails before the model is looked up
    with pytest.raises(ValueError, match="empty|invalid"):
        plan("", PlanningToy(), stock)
    with pytest.raises(ValueError, match="retro_star, mcts"):
        plan(TARGET, PlanningToy(), stock, algorithm="bfs")
    with pytest.raises(ValueError, match="max_calls"):
        SearchSettings(max_calls=-1)


@pytest.mark.parametrize("jobs", [1, 2])
def test_plan_many_keeps_order_and_records_errors(jobs: int, stock: Stock) -> None:
    targets = [TARGET, "not a smiles", UNSOLVABLE]
    seen: list[PlanResult] = []
    settings = SearchSettings(max_calls=12, stop_on_first_solution=True)
    results = plan_many(targets, PlanningToy(), stock, settings, jobs=jobs, on_result=seen.append)
    assert [r.target for r in results] == targets and len(seen) == 3
    assert [r.solved for r in results] == [True, False, False]
    assert results[1].error and "InvalidTargetError" in results[1].error
    assert results[2].calls == 12 and not results[2].error


def test_a_memo_answers_repeats_and_the_budget_still_counts_them(stock: Stock) -> None:
    model = PlanningToy()
    model.memo = PredictionMemo()
    first = model.predict([NITRO, "CCO", "not a smiles"], k=5)
    assert model.calls == 2 and model.memo.misses == 2 and len(model.memo) == 2
    again = model.predict(["Oc1ccc([N+](=O)[O-])cc1", "OCC"], k=5)
    assert model.calls == 2 and model.memo.hits == 2  # the same molecules, written otherwise
    assert again[0].reactant_sets == first[0].reactant_sets
    assert again[1].reactant_sets == first[1].reactant_sets
    model.predict(["CCO"], k=1)  # another k is another question
    model.predict(["CCO"], k=5, classes=None)
    assert model.calls == 3
    # planning the same target twice: the second search asks the model nothing new, yet it
    # makes (and is charged) the same calls and finds the same routes
    settings = SearchSettings(max_calls=30)
    a, b = plan_many([TARGET, TARGET], model, stock, settings)
    assert a.calls == b.calls > 0 and a.routes == b.routes
    fresh = plan(TARGET, PlanningToy(), stock, max_calls=30)
    assert fresh.calls == a.calls and fresh.routes == a.routes
    # a caller's model without a memo gets one for the call only (it may be trained next)
    lent = PlanningToy()
    a, b = plan_many([TARGET, TARGET], lent, stock, settings)
    assert lent.calls == a.calls == b.calls and lent.memo is None


def test_a_memo_is_bounded_and_keeps_no_errors() -> None:
    memo = PredictionMemo(maxsize=2)
    memo.put(("A", 0, 5), ((), None))
    memo.put(("B", 0, 5), ((), None))
    assert memo.get(("A", 0, 5)) is not None  # A is now the most recently used
    memo.put(("C", 0, 5), ((), None))
    assert memo.get(("B", 0, 5)) is None and memo.get(("A", 0, 5)) is not None
    memo.put(("D", 0, 5), ((), "model error: out of memory"))
    assert memo.get(("D", 0, 5)) is None and len(memo) == 2
    with pytest.raises(ValueError, match="maxsize"):
        PredictionMemo(maxsize=0)


def _write_toy(tmp_path: Path) -> tuple[Path, Path]:
    folder = PlanningToy().save(tmp_path / "toy_model")
    stock_file = tmp_path / "stock.smi"
    stock_file.write_text("smiles\n" + "\n".join(STOCK) + "\n")
    return folder, stock_file


def test_cli_retro_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from makeable.cli.main import main

    folder, stock_file = _write_toy(tmp_path)
    common = ["--stock", str(stock_file), "--model", str(folder), "--max-calls", "20"]
    assert main(["retro", "plan", TARGET, *common]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert ": makeable" in text and "best route: 2 reaction(s)" in text and "[stock]" in text
    calls = int(text.split(" model calls")[0].rsplit(" ", 1)[1])
    assert f"{calls}/20" in captured.err  # the progress bar ends at the calls used
    assert main(["retro", "plan", TARGET, *common, "--no-progress"]) == 0
    assert "/20" not in capsys.readouterr().err

    out = tmp_path / "plan"
    args = ["retro", "plan", TARGET, *common, "--algorithm", "mcts", "--json", "--out", str(out)]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["solved"] and data["calls"] <= 20 and data["routes"][0]["type"] == "mol"
    assert data["settings"]["algorithm"] == "mcts" and data["settings"]["max_calls"] == 20
    assert Route.from_dict(data["routes"][0]) == best_known_route()
    routes = json.loads((out / "routes.json").read_text())
    assert Route.from_dict(routes[0]) == best_known_route()
    assert json.loads((out / "config.json").read_text())["search"]["algorithm"] == "mcts"
    assert "rdkit" in json.loads((out / "versions.json").read_text())
    page = (out / "route.html").read_text()
    assert "Best route" in page and page.count("<svg") > 4 and "p=0.6" in page
    n_routes = len(routes)
    assert sorted(p.name for p in out.glob("route_*.png")) == [
        f"route_{i}.png" for i in range(1, n_routes + 1)
    ]
    assert (out / "route_1.svg").read_text().startswith("<svg")

    assert main(["retro", "plan", "C1CC", *common]) == 2
    assert "invalid target SMILES" in capsys.readouterr().err


def test_cli_bench_planning_writes_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main

    folder, stock_file = _write_toy(tmp_path)
    targets = tmp_path / "targets.smi"
    targets.write_text(f"{TARGET}\n{UNSOLVABLE}\n{AMINE}\nCCCCO\n")
    out = tmp_path / "bench"
    args = ["bench", "planning", "--targets", str(targets), "--stock", str(stock_file)]
    args += ["--model", str(folder), "--max-calls", "10", "--no-progress", "--out", str(out)]
    assert main([*args, "--limit", "3"]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["target"] for r in rows] == [TARGET, UNSOLVABLE, AMINE]
    assert [r["solved"] for r in rows] == ["1", "0", "1"]
    assert rows[0]["route_length"] == "2" and rows[2]["route_length"] == "1"
    assert int(rows[1]["calls"]) == 10 and float(rows[0]["seconds"]) >= 0
    for r in rows:  # time inside the model and in the adapter are parts of the search time
        assert float(r["model_s"]) >= 0 and float(r["adapter_s"]) >= 0
        assert float(r["model_s"]) + float(r["adapter_s"]) <= float(r["seconds"]) + 0.002
    summary = (out / "summary.md").read_text()
    assert "2 / 3" in summary and "66.7 %" in summary
    assert "share of time in the single-step model" in summary
    assert len((out / "routes.jsonl").read_text().splitlines()) == 2
    assert "solved" in capsys.readouterr().out

    # resume: the three planned targets are skipped, the fourth is appended
    assert main([*args, "--jobs", "2"]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["target"] for r in rows] == [TARGET, UNSOLVABLE, AMINE, "CCCCO"]
    assert (out / "targets.txt").read_text().split() == [TARGET, UNSOLVABLE, AMINE, "CCCCO"]
    # other search settings in the same folder are refused
    assert main([*args, "--algorithm", "mcts"]) == 2
    assert "other settings" in capsys.readouterr().err
    # ... and so are other model parameters (e.g. Template-MLP's max_templates)
    assert main([*args, "--model-param", "variant=1"]) == 2
    assert "other settings" in capsys.readouterr().err
    assert main([*args, "--model-param", "variant=0"]) == 0  # the saved value: resumes
    # a model retrained into the same folder is another model: its weights' digest differs
    retrained = PlanningToy()
    retrained.weight = torch.ones(1)
    retrained.save(folder)
    assert main(args) == 2
    assert "model_digest" in capsys.readouterr().err
    # a folder made before digests were recorded is known by the model's folder: resumes
    config = json.loads((out / "config.json").read_text())
    del config["model_digest"]
    (out / "config.json").write_text(json.dumps(config))
    assert main(args) == 0
    assert "model_digest" in json.loads((out / "config.json").read_text())  # recorded now
    assert main(args) == 0

    # a second process on the same folder is refused while the first holds it (it planned
    # every target a second time and summary.md said "solved 0 / 6")
    from makeable.run_folder import RunFolder

    with RunFolder(out):
        assert main(args) == 2
    assert "in use by another process" in capsys.readouterr().err
    assert main(args) == 0  # released: resumes

    sampled = tmp_path / "sampled"
    args[-1] = str(sampled)
    assert main([*args, "--sample", "2", "--sample-seed", "0"]) == 0
    chosen = (sampled / "targets.txt").read_text().split()
    assert len(chosen) == 2 and set(chosen) <= {TARGET, UNSOLVABLE, AMINE, "CCCCO"}


def test_sample_is_fixed_and_keeps_order() -> None:
    from makeable.bench.planning import sample_targets

    targets = [f"C{'C' * i}O" for i in range(50)]
    a = sample_targets(targets, 10, seed=0)
    assert a == sample_targets(list(reversed(targets)), 10, seed=0)[::-1]
    assert a == [t for t in targets if t in set(a)] and len(a) == 10
    assert a != sample_targets(targets, 10, seed=1)
    assert sample_targets(targets, 100) == targets
    with pytest.raises(ValueError, match="at least 1"):
        sample_targets(targets, 0)


@pytest.mark.parametrize("flag", ["--sample", "--limit"])
def test_cli_sample_and_limit_must_be_positive(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main

    args = ["bench", "planning", "--targets", "t.smi", "--stock", "s.smi", "--model", "m"]
    with pytest.raises(SystemExit):  # not "the whole target set", as 0 used to mean
        main([*args, "--out", "o", flag, "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_named_target_set_without_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from makeable.bench.planning import load_targets

    monkeypatch.setenv("MAKEABLE_DATA", str(tmp_path))
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="n1-targets.txt"):
        load_targets("paroutes_n1")
    with pytest.raises(FileNotFoundError, match="targets file not found"):
        load_targets(tmp_path / "nope.smi")


def test_paroutes_targets(data_dir: Path) -> None:
    from makeable.bench.planning import load_targets, sample_targets

    targets = load_targets("paroutes_n1")
    assert len(targets) == 10000
    assert len(sample_targets(targets, 1000, seed=0)) == 1000


class TiesToy(SingleStepModel):
    """Every molecule splits two ways into two new molecules, all with the same probability:
    a search full of ties, where only the tie-breaking decides which molecule comes next."""

    name = "ties_toy"
    score_merge = "sum"
    scores_are_probabilities = True

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        self.asked.extend(m.smiles for m in products)
        return [
            [
                ReactantSet((m.smiles + "C", "O" + m.smiles), 0.5),
                ReactantSet((m.smiles + "N", "S" + m.smiles), 0.5),
            ]
            for m in products
        ]


TIES_SCRIPT = """
import json
from makeable.retro.planning.search import plan
from makeable.data.stocks import Stock
from tests.test_retro_planning import TiesToy
for algorithm in ("retro_star", "mcts"):
    model = TiesToy()
    plan("CCO", model, Stock(["O"], name="toy"), algorithm=algorithm, max_calls=25, max_depth=8)
    print(json.dumps(model.asked))
"""


def test_search_course_does_not_depend_on_the_process() -> None:
    """The same search asks the model the same molecules in the same order in processes with
    different string hashes and memory layouts (syntheseus iterates sets of molecules and
    of nodes; makeable makes those orders deterministic)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    runs = []
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", TIES_SCRIPT],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append([json.loads(line) for line in out.splitlines() if line.startswith("[")])
    assert len(runs[0]) == 2 and all(len(asked) == 25 for asked in runs[0])
    assert runs[0] == runs[1] == runs[2]


def test_the_model_is_prepared_for_the_stock_before_searching(stock: Stock) -> None:
    class Preparing(PlanningToy):
        def prepare_for_stock(self, s: Stock) -> None:
            self.prepared = (s.name, self.calls)  # before any call

    model = Preparing()
    result = plan(TARGET, model, stock, max_calls=50)
    assert result.solved and model.prepared == ("toy", 0) and model.calls > 0


def test_summary_gives_the_solved_rate_at_smaller_budgets(tmp_path: Path) -> None:
    from makeable.bench.planning import summarise, write_summary

    rows = [
        {"solved": "1", "calls": "40", "seconds": "1", "first_solution_calls": "5"},
        {"solved": "1", "calls": "120", "seconds": "2", "first_solution_calls": "120"},
        {"solved": "0", "calls": "500", "seconds": "9", "first_solution_calls": ""},
    ]
    for r in rows:
        r.update(first_solution_s="", route_length="1" if r["solved"] == "1" else "", error="")
    summary = summarise(rows)
    assert summary["solved_within"] == {10: 1, 50: 1, 100: 1, 200: 2, 500: 2}
    config = {"model": "m", "stock": "s", "search": {"algorithm": "retro_star", "max_calls": 200}}
    config["search"].update(time_limit_s=None, stop_on_first_solution=True)
    write_summary(tmp_path / "summary.md", summary, config)
    text = (tmp_path / "summary.md").read_text()
    assert "| solved within 100 calls | 1 (33.3 %) |" in text
    assert "within 200 calls" not in text  # the run's own budget is the solved row


# ---------------------------------------------------------------------- reaction filter
FORWARD: dict[tuple[str, ...], str] = {
    tuple(sorted(("CC(=O)O", AMINE))): TARGET,  # acetylation with the acid: confirmed
    (NITRO,): AMINE,  # the reduction: confirmed
    tuple(sorted(("CC(=O)Cl", AMINE))): "CC(=O)Nc1ccccc1",  # the toy disagrees: rejected
}


class ForwardToy(SingleStepModel):
    """A forward reaction model that knows the products of :data:`FORWARD` (nothing else).
    Counts the reactant sets it is asked about."""

    name = "planning_forward_toy"
    direction = "forward"

    def __init__(self, max_templates: int = 50) -> None:
        super().__init__(max_templates=max_templates)
        self.asked = 0

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        self.asked += len(products)
        out = []
        for m in products:
            made = FORWARD.get(tuple(sorted(m.smiles.split("."))))
            out.append([ReactantSet((made,), 1.0)] if made else [])
        return out


if "planning_forward_toy" not in MODELS:
    MODELS.add("planning_forward_toy", ForwardToy)


@pytest.mark.parametrize("algorithm", ["retro_star", "mcts"])
def test_reaction_filter_drops_the_steps_it_does_not_confirm(
    algorithm: str, stock: Stock, tmp_path: Path
) -> None:
    from makeable.retro.planning.reaction_filter import load_reaction_filter

    ForwardToy().save(tmp_path / "forward")
    forward = str(tmp_path / "forward")
    check = load_reaction_filter(forward)
    assert check.forward.params["max_templates"] == 10  # the filter's setting, not the saved 50
    assert check(TARGET, [("CC(=O)O", AMINE), ("CC(=O)Cl", AMINE)]) == [True, False]

    unfiltered = plan(TARGET, PlanningToy(), stock, algorithm=algorithm, max_calls=30, top_k=5)
    assert unfiltered.best == best_known_route()  # through the acid chloride
    model = PlanningToy()
    result = plan(
        TARGET,
        model,
        stock,
        algorithm=algorithm,
        max_calls=30,
        top_k=5,
        reaction_filter=forward,
    )
    assert result.solved and result.calls == model.calls <= 30
    assert result.settings["reaction_filter"] == forward
    for route in result.routes:  # only confirmed steps: the acid, never the acid chloride
        leaves = {m.smiles for m in route.leaves()}
        assert leaves == {"CC(=O)O", NITRO}
    # a molecule none of whose proposals pass has nothing to expand: the search ends at once
    dead = plan(
        UNSOLVABLE, PlanningToy(), stock, algorithm=algorithm, max_calls=30, reaction_filter=forward
    )
    assert not dead.solved and dead.calls == 1


def test_reaction_filter_must_be_a_forward_model(stock: Stock, tmp_path: Path) -> None:
    from makeable.retro.planning.reaction_filter import load_reaction_filter

    PlanningToy().save(tmp_path / "retro")
    with pytest.raises(ValueError, match="forward"):
        load_reaction_filter(str(tmp_path / "retro"))
    with pytest.raises(KeyError, match="unknown single-step model"):  # neither name nor folder
        load_reaction_filter(str(tmp_path / "missing"))


def test_cli_bench_planning_records_the_reaction_filter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main

    folder, stock_file = _write_toy(tmp_path)
    ForwardToy().save(tmp_path / "forward")
    targets = tmp_path / "targets.smi"
    targets.write_text(f"{TARGET}\n{UNSOLVABLE}\n")
    out = tmp_path / "bench"
    args = ["bench", "planning", "--targets", str(targets), "--stock", str(stock_file)]
    args += ["--model", str(folder), "--max-calls", "10", "--no-progress", "--out", str(out)]
    assert main([*args, "--reaction-filter", str(tmp_path / "forward")]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["solved"], r["calls"]) for r in rows] == [("1", rows[0]["calls"]), ("0", "1")]
    config = json.loads((out / "config.json").read_text())
    assert config["search"]["reaction_filter"] == str(tmp_path / "forward")
    assert config["filter_digest"] == ForwardToy(max_templates=10).digest()  # as it filters
    # without the filter, the folder's results are another run's
    assert main(args) == 2
    assert "other settings" in capsys.readouterr().err
    # a retro model is not a filter: refused before anything is planned
    assert main([*args, "--reaction-filter", str(folder), "--out", str(tmp_path / "x")]) == 2
    assert "forward" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


class FailsOn(PlanningToy):
    """The planning toy, but it fails (raises) on the molecules in ``broken``."""

    name = "planning_toy_fails"
    broken: tuple[str, ...] = ()

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        if any(m.smiles in self.broken for m in products):
            raise RuntimeError("cannot featurise this molecule")
        return super()._predict(products, k, classes)


def test_a_model_failure_on_the_target_is_an_error_not_a_verdict(stock: Stock) -> None:
    from makeable.retro.planning.syntheseus_search import ModelFailedError

    model = FailsOn()
    model.broken = (TARGET,)
    with pytest.raises(ModelFailedError, match="failed on the target: .*cannot featurise"):
        plan(TARGET, model, stock, max_calls=20)
    (result,) = plan_many([TARGET], model, stock, SearchSettings(max_calls=20))
    assert not result.solved and result.error and "cannot featurise" in result.error
    # on an intermediate it is a dead end, not an error: both routes of the toy pass through
    # the amine, so the search ends unsolved after trying the rest
    model.broken = (AMINE,)
    result = plan(TARGET, model, stock, max_calls=20)
    assert not result.solved and result.error is None and result.calls > 1
