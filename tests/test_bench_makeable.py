"""``makeable bench makeable``: the PMO metrics beside the verified makeable share, from
ordinary design runs judged by one planner (here a toy one, so the test is fast)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rdkit import Chem

from makeable.chem.molecule import Molecule
from makeable.data.stocks import Stock
from makeable.retro.single_step.base import ReactantSet, SingleStepModel

pytest.importorskip("syntheseus")


class ChainToy(SingleStepModel):
    """Proposes, for a molecule with a nitrogen, ethylamine + the molecule without it (an
    exact-stock leaf only for the few molecules listed below); nothing for the others."""

    name = "bench_makeable_toy"
    score_merge = "sum"
    scores_are_probabilities = True
    asked: list[str] = []

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        ChainToy.asked.extend(m.smiles for m in products)
        return [[ReactantSet(("CCN", "CCO"), 0.9)] if "N" in m.smiles else [] for m in products]


def toy_planner(model: SingleStepModel):
    """The verdict planner of these tests: ``model``, a two-molecule exact stock, 2 calls."""
    from makeable.retro.planning.search import SearchSettings
    from makeable.runs.routes import RoutePlanner

    return RoutePlanner(
        model=model,
        stock=Stock(["CCN", "CCO"], name="toy"),
        settings=SearchSettings(max_calls=2, top_k=1, stop_on_first_solution=True),
        model_ref="toy",
        stock_ref="toy",
    )


def test_rows_shares_and_masked_auc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from makeable.bench import makeable as bench
    from makeable.oracle.metrics import auc_top_k

    planner = toy_planner(ChainToy())
    monkeypatch.setattr(bench, "verdict_planner", lambda: planner)
    monkeypatch.setattr(bench, "JUDGED", 20)
    out = tmp_path / "bench"
    rows = bench.run_makeable_pmo("graph_ga", [0], 60, out, tasks=["qed"])
    (row,) = rows
    smiles, scores = bench.objective_scores(out / "runs" / "qed_s0")
    assert row["auc_top10"] == pytest.approx(auc_top_k(scores, 10, 60))
    best = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    with_n = ["N" in Chem.MolToSmiles(Chem.MolFromSmiles(smiles[i])) for i in best[:20]]
    # every molecule with a nitrogen has the toy route, the others none
    assert row["makeable_top10_share"] == pytest.approx(sum(with_n[:10]) / 10)
    assert row["makeable_top100_share"] == pytest.approx(sum(with_n) / 20)
    masked = [
        s if "N" in m and i in best[:20] else 0.0
        for i, (m, s) in enumerate(zip(smiles, scores, strict=True))
    ]
    assert row["makeable_auc_top10"] == pytest.approx(auc_top_k(masked, 10, 60))
    assert row["makeable_auc_top10"] <= row["auc_top10"]
    with (out / "results.csv").open() as fh:
        header = next(csv.reader(fh))
    assert header[:6] == [
        "task",
        "seed",
        "auc_top10",
        "makeable_top10_share",
        "makeable_top100_share",
        "makeable_auc_top10",
    ]
    assert "makeable top-10" in (out / "summary.md").read_text()
    # resumed: nothing planned again
    ChainToy.asked.clear()
    again = bench.run_makeable_pmo("graph_ga", [0], 60, out, tasks=["qed"])
    assert ChainToy.asked == [] and again == rows


def test_runs_of_a_pmo_benchmark_are_judged_without_running_them_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--runs-from: a `bench pmo` folder's finished run is copied and judged; its optimizer
    does not run again (no new session), its calls are the source's, the source is untouched;
    and `bench pmo --runs-from` takes a makeable folder's run the same way."""
    from makeable.bench import makeable as bench
    from makeable.bench.pmo import run_pmo
    from makeable.oracle.store import RunStore

    monkeypatch.setattr(bench, "verdict_planner", lambda: toy_planner(ChainToy()))
    monkeypatch.setattr(bench, "JUDGED", 10)
    pmo = tmp_path / "pmo"
    (pmo_row,) = run_pmo("graph_ga", [0], 40, pmo, tasks=["qed"])
    out = tmp_path / "makeable"
    (row,) = bench.run_makeable_pmo("graph_ga", [0], 40, out, tasks=["qed"], runs_from=pmo)
    assert row["auc_top10"] == pytest.approx(pmo_row["auc_top10"])
    with RunStore(out / "runs" / "qed_s0" / "run.db") as copy:
        sessions, calls = copy.get_meta("sessions"), copy.calls()
    with RunStore(pmo / "runs" / "qed_s0" / "run.db") as source:
        assert calls == source.calls() and len(sessions) == 1
    assert not (pmo / "runs" / "qed_s0" / "makeable").exists()  # verdicts only in the copy
    with pytest.raises(ValueError, match="no runs/ folder"):
        bench.run_makeable_pmo("graph_ga", [0], 40, out, tasks=["qed"], runs_from=tmp_path)
    # the other way: a makeable folder's run gives a PMO row without running again
    (back,) = run_pmo("graph_ga", [0], 40, tmp_path / "pmo2", tasks=["qed"], runs_from=out)
    assert back["auc_top10"] == pytest.approx(pmo_row["auc_top10"])
    with RunStore(tmp_path / "pmo2" / "runs" / "qed_s0" / "run.db") as again:
        assert len(again.get_meta("sessions")) == 1 and again.calls() == calls
    with pytest.raises(ValueError, match="no runs/ folder"):
        run_pmo("graph_ga", [0], 40, tmp_path / "pmo3", tasks=["qed"], runs_from=tmp_path)


class Flaky(ChainToy):
    """Fails in every search while ``fail`` is set (as a model whose class lost an attribute
    the planner reads did: a long run that imported half its code before an upgrade)."""

    name = "bench_makeable_flaky"
    fail = True

    def predict(self, *args: object, **kwargs: object) -> list:  # type: ignore[override]
        if Flaky.fail:
            raise AttributeError("a bug in the model")
        return super().predict(*args, **kwargs)  # type: ignore[arg-type]


def test_a_failed_plan_writes_no_row_and_is_planned_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verdict plan that fails is no verdict: the benchmark stops instead of counting the
    molecule as not makeable, and the next run plans those molecules again (and only those)."""
    from makeable.bench import makeable as bench

    planner = toy_planner(Flaky())
    monkeypatch.setattr(bench, "JUDGED", 5)
    monkeypatch.setattr(bench, "verdict_planner", lambda: planner)
    out = tmp_path / "bench"
    Flaky.fail = True
    with pytest.raises(RuntimeError, match="5 of 5 verdict plans failed .*a bug in the model"):
        bench.run_makeable_pmo("graph_ga", [0], 40, out, tasks=["qed"])
    results = out / "results.csv"
    assert not results.is_file() or len(results.read_text().split()) <= 1  # no row
    Flaky.fail = False
    ChainToy.asked.clear()
    (row,) = bench.run_makeable_pmo("graph_ga", [0], 40, out, tasks=["qed"])
    assert len(set(ChainToy.asked)) >= 5  # the five failed molecules planned again
    assert row["n_calls"] == 40


def test_glance_table_sums_task_means_by_hand(tmp_path: Path, capsys) -> None:
    """`bench makeable-table`: per optimizer, sums over its tasks of the mean over seeds; the
    reference's sum over the same tasks; a reference without one of the tasks is refused."""
    from makeable.bench.makeable import glance_markdown
    from makeable.cli.main import main

    def row(task: str, seed: int, auc: float, t10: float, t100: float, mk: float) -> dict:
        return {"task": task, "seed": seed, "auc_top10": auc, "makeable_top10_share": t10,
                "makeable_top100_share": t100, "makeable_auc_top10": mk}  # fmt: skip

    results = {
        "ref": [row("a", 0, 0.5, 1, 1, 0.5), row("b", 0, 0.3, 1, 1, 0.3),
                row("c", 0, 0.1, 1, 1, 0.1)],
        "opt": [row("a", 0, 0.6, 0.2, 0.1, 0.2), row("a", 1, 0.8, 0.4, 0.3, 0.4),
                row("b", 0, 0.5, 0.0, 0.0, 0.0)],
    }  # fmt: skip
    lines = glance_markdown(results, "ref").strip().splitlines()
    opt = [c.strip() for c in lines[3].split("|")[1:-1]]
    # a: mean AUC 0.7, shares 0.3 / 0.2, makeable 0.3; b: 0.5, 0 / 0, 0 -> sums and means
    assert opt == ["opt", "2", "2", "1.200", "0.15 / 0.10", "0.300", "0.800"]
    with pytest.raises(ValueError, match="has no row for c"):
        glance_markdown({"ref": results["opt"], "x": results["ref"]}, "ref")
    path = tmp_path / "opt.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(results["opt"][0]))
        writer.writeheader()
        writer.writerows(results["opt"])
    assert main(["bench", "makeable-table", f"opt={path}"]) == 0
    assert "| opt | 2 | 2 | 1.200 |" in capsys.readouterr().out
    (tmp_path / "other.csv").write_text("task,seed\nqed,0\n")
    assert main(["bench", "makeable-table", f"x={tmp_path / 'other.csv'}"]) == 2
    assert "has no column auc_top10" in capsys.readouterr().err
