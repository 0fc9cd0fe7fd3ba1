"""The learned Retro* value function: examples from planning records, training, saving,
use inside the search, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from makeable.data.stocks import Stock
from makeable.retro.planning.routes import MolNode, ReactionNode, Route
from makeable.retro.planning.search import SearchSettings, plan
from makeable.retro.planning.value import ValueModel, load_value_model, read_plans, value_examples

pytest.importorskip("syntheseus")


def _chain(n: int) -> str:
    return "C" * n + "O"


def _record(target: str, reactions: int, p: float | None = 0.5) -> dict:
    """A solved plan whose route makes ``target`` in ``reactions`` linear steps (``p=None``:
    steps without a probability, as a RetCL search records them)."""
    node = MolNode(_chain(1), True)
    for i in range(reactions):
        smiles = target if i == reactions - 1 else "C" * (i + 2) + "N"
        step = ReactionNode(
            f"{node.smiles}>>{smiles}", (node,), {} if p is None else {"probability": p}
        )
        node = MolNode(smiles, False, step)
    return {"canonical": target, "solved": True, "routes": [Route(node).to_dict()]}


def test_value_examples_counts_reactions_and_bounds_unsolved() -> None:
    plans = [
        _record("CCCCCCCCO", 3),
        _record("CCCCCCN", 1, p=0.25),
        {"canonical": "c1ccccc1CCl", "solved": False, "routes": []},
        {"canonical": "CCN", "solved": False, "error": "boom", "routes": []},
    ]
    ex = value_examples(plans, unsolved_quantile=1.0)
    counts = dict(zip(ex.smiles, ex.cost.tolist(), strict=True))
    # the 3-step route gives its target 3 and its two intermediates 2 and 1
    assert counts["CCCCCCCCO"] == 3 and counts["CCCN"] == 2 and counts["CCN"] == 1
    assert counts["CCCCCCN"] == 1
    # the unsolved target is a lower bound at the largest solved count; errors are skipped
    assert counts["c1ccccc1CCl"] == 3 and ex.censored.sum() == 1 and len(ex) == 5
    # mean -log p per reaction over the solved routes: (3 log 2 + log 4) / 4
    assert ex.step_cost == pytest.approx((3 * np.log(2) + np.log(4)) / 4)
    with pytest.raises(ValueError, match="no solved route"):
        value_examples(plans[2:])
    # steps without a probability cost 1 each, as in the search (not 0: a value of 0 is Retro*-0)
    assert value_examples([_record("CCCCO", 2, p=None)]).step_cost == pytest.approx(1.0)
    assert value_examples([_record("CCCCO", 2, p=1.0)]).step_cost > 0  # clipped, as searched


def test_value_model_learns_ranks_and_round_trips(tmp_path: Path) -> None:
    # molecules whose routes are long (many reactions) carry a bromine; short ones do not
    smiles = [f"{'C' * n}Br" for n in range(1, 30)] + [f"{'C' * n}O" for n in range(1, 30)]
    plans = [
        {
            "canonical": s,
            "solved": True,
            "routes": [_record(s, 4 if "Br" in s else 1)["routes"][0]],
        }
        for s in smiles
    ]
    ex = value_examples(plans)
    model = ValueModel()
    before = model.predict(
        ["CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCBr", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO"]
    )
    record = model.fit(ex, epochs=60, seed=0)
    # held-out targets (10 %): their long and short routes are told apart
    assert record["val"]["spearman"] > 0.5
    after = model.predict(
        ["CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCBr", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO"]
    )
    assert after[0] > after[1] + 1.0 and not np.allclose(before, after)
    assert model.cost(["CCO"])[0] == pytest.approx(model.predict(["CCO"])[0] * ex.step_cost)
    folder = model.save(tmp_path / "value", record)
    again = ValueModel.load(folder)
    assert np.allclose(again.predict(["CCBr", "CCO"]), model.predict(["CCBr", "CCO"]))
    assert again.config["step_cost"] == pytest.approx(ex.step_cost)
    # the digest results folders record: the same for the saved copy, another for new weights
    assert again.digest() == model.digest() != ValueModel().digest()
    assert load_value_model(folder).digest() == model.digest()
    fresh = ValueModel()
    fresh.save(folder)  # retrained into the same folder: not the cached one
    assert load_value_model(folder).digest() == fresh.digest() != model.digest()
    with pytest.raises(ValueError, match="val_fraction"):
        ValueModel().fit(ex, val_fraction=1.0)
    two = value_examples([_record("CCCO", 1), _record("CCCCO", 2)])
    assert ValueModel().fit(two, epochs=1, val_fraction=0.9)["n_val_targets"] == 1  # one trains
    with pytest.raises(FileNotFoundError, match="no value model"):
        ValueModel.load(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"name": "template_mlp"}')
    (tmp_path / "other" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="no Retro\\* value model"):
        ValueModel.load(tmp_path / "other")


def test_search_asks_the_value_model_about_open_molecules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_retro_planning import AMINE, STOCK, TARGET, PlanningToy

    folder = str(ValueModel().save(tmp_path / "value"))
    asked: list[str] = []
    model = load_value_model(folder)
    original = model.cost

    def recording(smiles: list[str]) -> np.ndarray:
        asked.extend(smiles)
        return original(smiles)

    monkeypatch.setattr(model, "cost", recording)
    stock = Stock(STOCK)
    result = plan(TARGET, PlanningToy(), stock, max_calls=20, value_model=folder)
    assert result.solved and AMINE in asked
    assert not set(asked) & set(STOCK)  # bought molecules need no estimate
    settings = SearchSettings(value_model=folder)
    assert settings.to_dict()["value_model"] == folder
    assert "value_model" not in SearchSettings().to_dict()  # as older results folders hold it
    with pytest.raises(ValueError, match="Retro\\* only"):
        SearchSettings(algorithm="mcts", value_model=folder)


def test_cli_train_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from makeable.cli.main import main

    run = tmp_path / "improve" / "iterations" / "1"
    run.mkdir(parents=True)
    plans = [_record(f"{'C' * n}O", 1 + n % 3) for n in range(3, 23)]
    plans.append({"canonical": "c1ccccc1CCl", "solved": False, "routes": []})
    (run / "plans.jsonl").write_text("\n".join(json.dumps(p) for p in plans) + "\n{torn")
    assert len(read_plans([tmp_path / "improve"])) == 21
    out = tmp_path / "value"
    args = ["retro", "train-value", str(tmp_path / "improve"), "--epochs", "3", "--out", str(out)]
    assert main(args) == 0
    assert "21 molecules" not in capsys.readouterr().out  # molecules, not searches
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "retro_star_value" and config["training"]["n_records"] == 21
    assert main(["retro", "train-value", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "no plans.jsonl" in capsys.readouterr().err


def test_damaged_value_model_files_are_one_line_errors(tmp_path: Path) -> None:
    folder = ValueModel().save(tmp_path / "value", {})
    good = (folder / "config.json").read_text()
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="model.safetensors is not a readable safetensors file"):
        ValueModel.load(folder)
    (folder / "config.json").write_text("{")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        ValueModel.load(folder)
    other = ValueModel(hidden=8).save(tmp_path / "other", {})
    (folder / "config.json").write_text(good)
    (folder / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="model.safetensors does not fit .*config.json"):
        ValueModel.load(folder)
