"""Synthesizability in the design loop (``--synthesis plan|score``): scores combined with the
planner's verdict, planning calls counted apart from the oracle budget, resume without planning
a molecule twice.

A toy single-step model knows one route (phenacetin from two stock molecules); any other
molecule grows an endless chain of precursors never in stock. The screening optimizer scores a
six-molecule pool by heavy atoms.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from rdkit import Chem

from makeable.chem.molecule import Molecule
from makeable.retro.single_step.base import MODELS, ReactantSet, SingleStepModel
from makeable.runs.config import ConfigError, DesignConfig
from makeable.runs.design import run_design
from makeable.synthesis.in_loop import PLANS, SynthesisParams, synthesis_summary

pytest.importorskip("syntheseus")


def canon(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


PHENACETIN = canon("CCOc1ccc(NC(C)=O)cc1")
DECANOL = canon("CCCCCCCCCCO")
POOL = [PHENACETIN, DECANOL, canon("c1ccccc1"), "CCO", "CC(=O)O", "CCN"]
STOCK = ["CC(=O)Cl", "CCOc1ccc(N)cc1"]


def heavy_atoms(smiles: str) -> float:
    return float(Chem.MolFromSmiles(smiles).GetNumHeavyAtoms())


class LoopToy(SingleStepModel):
    """Phenacetin <= acetyl chloride + phenetidine; anything else: an endless chain."""

    name = "synthesis_loop_toy"
    score_merge = "sum"
    scores_are_probabilities = True
    asked: ClassVar[list[str]] = []
    interrupt_on: ClassVar[str | None] = None

    def _predict(
        self, products: list[Molecule], k: int, classes: list[int] | None = None
    ) -> list[list[ReactantSet]]:
        out = []
        for m in products:
            if m.smiles == LoopToy.interrupt_on:
                raise KeyboardInterrupt
            LoopToy.asked.append(m.smiles)
            if m.smiles == PHENACETIN:
                out.append([ReactantSet(tuple(STOCK), 0.7)])
            else:
                out.append([ReactantSet((m.smiles + "C",), 0.5)])
        return out


if "synthesis_loop_toy" not in MODELS:
    MODELS.add("synthesis_loop_toy", LoopToy)


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    folder = LoopToy().save(tmp_path / "toy_model")
    stock = tmp_path / "stock.smi"
    stock.write_text("\n".join(STOCK) + "\n")
    pool = tmp_path / "pool.smi"
    pool.write_text("\n".join(POOL) + "\n")
    LoopToy.asked.clear()
    LoopToy.interrupt_on = None
    yield folder, stock, pool
    LoopToy.interrupt_on = None


def config(files: tuple[Path, Path, Path], **overrides: object) -> DesignConfig:
    folder, stock, pool = files
    data: dict[str, object] = {
        "objective": f"{__name__}:heavy_atoms",
        "optimizer": "screening",
        "budget": len(POOL),
        "pool": str(pool),
        "synthesis": "plan",
        "synthesis_params": {"stock": str(stock), "model": str(folder), "max_calls": 3},
    }
    data.update(overrides)
    return DesignConfig.from_dict(data)


def recorded(run: Path) -> dict[str, float]:
    db = sqlite3.connect(run / "run.db")
    try:
        return dict(db.execute("SELECT smiles, score FROM calls").fetchall())
    finally:
        db.close()


def plan_lines(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / PLANS).read_text().splitlines()]


def test_plan_mode_scores_only_makeable_molecules(files: tuple[Path, Path, Path], tmp_path: Path):
    run = tmp_path / "run"
    result = run_design(config(files), run, progress=False)
    scores = recorded(run)
    assert len(scores) == len(POOL)  # planning costs no oracle call
    assert scores[PHENACETIN] == 13.0  # makeable: the objective's score
    assert all(v == 0.0 for s, v in scores.items() if s != PHENACETIN)  # penalty 0
    lines = plan_lines(run)
    assert sorted(str(r["smiles"]) for r in lines) == sorted(scores)  # each planned once
    by = {r["smiles"]: r for r in lines}
    assert by[PHENACETIN]["makeable"] and by[PHENACETIN]["n_reactions"] == 1
    assert by[DECANOL]["score"] == 11.0 and by[DECANOL]["verdict"] == "not solved"
    summary = result.metrics["synthesis"]
    assert summary["mode"] == "plan" and summary["judged"] == 6 and summary["makeable"] == 1
    assert summary["model_calls"] == sum(int(r["calls"]) for r in lines)  # type: ignore[call-overload]
    assert summary["model_calls"] == len(LoopToy.asked)


def test_penalty_and_length_weight(files: tuple[Path, Path, Path], tmp_path: Path):
    cfg = config(files)
    params = {**cfg.synthesis_params, "penalty": 0.5, "length_weight": 0.2}
    run_design(config(files, synthesis_params=params), tmp_path / "r", progress=False)
    scores = recorded(tmp_path / "r")
    assert scores[PHENACETIN] == 13.0  # one reaction: no length discount
    assert scores[DECANOL] == 5.5


def test_killed_run_resumes_without_planning_twice(files: tuple[Path, Path, Path], tmp_path: Path):
    run = tmp_path / "run"
    LoopToy.interrupt_on = DECANOL  # Ctrl-C while planning decanol
    with pytest.raises(KeyboardInterrupt):
        run_design(config(files), run, progress=False)
    before = {str(r["smiles"]) for r in plan_lines(run)}
    assert PHENACETIN in before and DECANOL not in before
    LoopToy.interrupt_on = None
    LoopToy.asked.clear()
    result = run_design(config(files), run, progress=False)
    assert not before & set(LoopToy.asked)  # nothing planned twice
    lines = plan_lines(run)
    assert len(lines) == len({r["smiles"] for r in lines}) == len(POOL)
    assert len(recorded(run)) == len(POOL) and recorded(run)[PHENACETIN] == 13.0
    assert result.metrics["synthesis"]["judged"] == len(POOL)
    assert result.metrics["n_calls"] == len(POOL)


def test_cut_off_plan_line_is_planned_again(files: tuple[Path, Path, Path], tmp_path: Path):
    run = tmp_path / "run"
    run_design(config(files, budget=2), run, progress=False)
    path = run / PLANS
    text = path.read_text()
    path.write_text(text + '{"smiles": "CC')  # a line cut off by kill -9
    assert synthesis_summary(run)["judged"] == 2  # type: ignore[index]
    run_design(config(files), run, progress=False)
    lines = plan_lines(run)
    assert len(lines) == len({r["smiles"] for r in lines}) == len(POOL)


def test_bad_settings_are_one_clear_error(files: tuple[Path, Path, Path], tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown synthesis parameter"):
        run_design(config(files, synthesis_params={"nope": 1}), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="penalty must be in"):
        run_design(config(files, synthesis_params={"penalty": 2.0}), tmp_path / "b", progress=False)
    with pytest.raises(ConfigError, match="synthesis must be one of"):
        config(files, synthesis="maybe")
    with pytest.raises(ConfigError, match="--executor inprocess"):
        config(files, executor="process")
    with pytest.raises(ConfigError, match="stock file not found"):
        run_design(
            config(files, synthesis_params={"stock": "missing.smi"}),
            tmp_path / "c",
            progress=False,
        )
    assert SynthesisParams().budget == 20
    # the key's older name is still read (run folders recorded with it resume)
    assert SynthesisParams.from_dict({"max_calls": 7}).budget == 7


def test_synthesis_flags_parse_into_the_config() -> None:
    from makeable.cli.design import config_from_args
    from makeable.cli.main import build_parser

    args = build_parser().parse_args(
        ["design", "--objective", "qed", "--synthesis", "plan", "--synthesis-param",
         "budget=5", "--synthesis-param", "penalty=0.1", "--out", "r"]
    )  # fmt: skip
    cfg = config_from_args(args)
    assert cfg.synthesis == "plan" and cfg.synthesis_params == {"budget": 5, "penalty": 0.1}
    assert "synthesis" in cfg.identity()  # it changes what a run proposes: not resume-free
