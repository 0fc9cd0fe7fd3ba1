"""Single-step models: the interface contract, save/load, "does it learn", adapter, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from makeable.chem.molecule import Molecule
from makeable.retro import MODELS, ReactantSet, SingleStepModel
from makeable.retro.single_step.base import load_model
from makeable.retro.single_step.metrics import match_rank
from makeable.retro.single_step.retcl import RetCL
from makeable.retro.single_step.template_mlp import TemplateMLP
from tests.retro_toys import CLASSES, DISTRACTORS, reactions

torch.set_num_threads(1)


class ToyModel(SingleStepModel):
    """Proposes fixed reactant sets; fails on purpose for products containing Br."""

    name = "toy"

    def _predict(self, products, k, classes=None):  # type: ignore[no-untyped-def]
        if any("Br" in m.smiles for m in products):
            raise RuntimeError("no bromides")
        return [
            [
                ReactantSet(("CCO",), 0.2),
                ReactantSet(("OCC",), 0.5),  # same set written differently: merged
                ReactantSet((m.smiles, "O"), 0.9),  # contains the product: dropped
                ReactantSet(("C1CC",), 1.0),  # invalid: dropped
                ReactantSet(("CC(=O)O", "CCO"), 0.3),
            ]
            for m in products
        ]


def test_predict_contract() -> None:
    preds = ToyModel().predict(["CCN", "not-smiles", "", "CCBr", "NCC"], k=5)
    assert [p.valid for p in preds] == [True, False, False, True, True]
    assert preds[0].reactant_sets[0] == ReactantSet(("CCO",), 0.5)
    assert [rs.smiles for rs in preds[0].reactant_sets] == ["CCO", "CC(=O)O.CCO"]
    assert preds[1].error and not preds[1].reactant_sets
    assert preds[3].error and "no bromides" in preds[3].error  # only this product failed
    assert preds[4].canonical == "CCN" and preds[4].reactant_sets == preds[0].reactant_sets
    assert len(ToyModel().predict(["CCN"], k=1)[0].reactant_sets) == 1
    assert json.dumps(preds[0].to_dict())
    with pytest.raises(ValueError):
        ToyModel().predict(["CCN"], k=0)
    with pytest.raises(ValueError):
        ToyModel().predict(["CCN"], classes=[1])


def test_too_large_products_are_invalid_and_never_reach_the_model() -> None:
    preds = ToyModel().predict(["C" * 151, "C" * 3_000, "CCN"], k=5)
    assert [p.valid for p in preds] == [False, False, True]
    assert preds[0].error == "too large: 151 heavy atoms > 150" and not preds[0].reactant_sets
    assert preds[1].error == "too large: 3000 characters > 1000"
    assert ToyModel().predict(["C1CC"])[0].error == "invalid SMILES: RDKit cannot parse"


def _top1(model: SingleStepModel, rxns: list, classes: list | None = None) -> float:
    preds = model.predict([r.product.smiles for r in rxns], k=1, classes=classes)
    ranks = [
        match_rank([s.reactants for s in p.reactant_sets], r.reactants)
        for p, r in zip(preds, rxns, strict=True)
    ]
    return sum(r == 1 for r in ranks) / len(rxns)


@pytest.fixture(scope="module")
def template_mlp() -> TemplateMLP:
    model = MODELS.build("template_mlp", n_bits=1024, hidden=[64], epochs=40, lr=1e-2, dropout=0.0)
    assert isinstance(model, TemplateMLP)
    model.fit(reactions(), reactions())
    return model


def test_template_mlp_learns(template_mlp: TemplateMLP) -> None:
    rxns = reactions()
    history = template_mlp.training["history"]
    assert history[0]["epoch"] == 0 and history[0]["val_top1"] < 0.5  # untrained
    assert history[-1]["train_loss"] < 0.5 * history[1]["train_loss"]
    assert _top1(template_mlp, rxns) >= 0.9


def test_template_mlp_resumes_from_its_epoch_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from makeable.models import checkpoints

    def build() -> TemplateMLP:
        model = MODELS.build("template_mlp", n_bits=256, hidden=[16], epochs=4, lr=1e-2)
        assert isinstance(model, TemplateMLP)
        return model

    whole = build()
    whole.fit(reactions(), reactions(), checkpoint_dir=tmp_path / "whole")
    original = checkpoints.save_checkpoint

    def killed_after_epoch_2(folder, *args, **kw):  # type: ignore[no-untyped-def]
        original(folder, *args, **kw)
        if folder.name == "epoch_2":
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "save_checkpoint", killed_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        build().fit(reactions(), reactions(), checkpoint_dir=tmp_path / "cut")
    monkeypatch.setattr(checkpoints, "save_checkpoint", original)
    assert checkpoints.latest_checkpoint(tmp_path / "cut", "epoch").name == "epoch_2"  # type: ignore[union-attr]
    resumed = build()
    resumed.fit(reactions(), reactions(), checkpoint_dir=tmp_path / "cut")
    assert [h["epoch"] for h in resumed.training["history"]] == [0, 1, 2, 3, 4]
    assert resumed.training["history"] == whole.training["history"]
    assert resumed.net is not None and whole.net is not None
    for key, value in whole.net.state_dict().items():
        assert torch.equal(value, resumed.net.state_dict()[key]), key
    other = MODELS.build("template_mlp", n_bits=256, hidden=[32], epochs=4, lr=1e-2)
    with pytest.raises(ValueError, match="checkpoints of another training"):
        other.fit(reactions(), reactions(), checkpoint_dir=tmp_path / "cut")


def test_template_mlp_save_load(template_mlp: TemplateMLP, tmp_path: Path) -> None:
    template_mlp.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {"config.json", "model.safetensors"}
    loaded = SingleStepModel.load(tmp_path / "m")
    assert isinstance(loaded, TemplateMLP) and loaded.templates == template_mlp.templates
    products = [r.product.smiles for r in reactions()]
    assert loaded.predict(products, k=5) == template_mlp.predict(products, k=5)
    # inference settings can be overridden at load time; unknown names are refused
    one = load_model(tmp_path / "m", {"max_templates": 1})
    assert one.params["max_templates"] == 1
    assert all(len(p.reactant_sets) <= 1 for p in one.predict(products, k=5))
    with pytest.raises(TypeError, match="no_such_setting"):
        load_model(tmp_path / "m", {"no_such_setting": 1})


def test_template_mlp_class_known(template_mlp: TemplateMLP, tmp_path: Path) -> None:
    template_mlp.save(tmp_path / "m")
    model = load_model(tmp_path / "m")
    assert isinstance(model, TemplateMLP) and not model.supports_classes
    products = [r.product.smiles for r in reactions()]
    with pytest.raises(ValueError, match="template-classes"):
        model.predict(products[:1], classes=[1])
    counts = model.learn_classes(reactions())
    assert counts == {"reactions": 10, "matched": 10, "templates": len(model.templates)}
    assert model.supports_classes and _top1(model, reactions(), classes=CLASSES) >= 0.9
    # told a wrong class, a product gets only that class's templates: none gives its reactants
    wrong = [10 if c != 10 else 1 for c in CLASSES]
    for pred, r in zip(model.predict(products, k=50, classes=wrong), reactions(), strict=True):
        assert match_rank([s.reactants for s in pred.reactant_sets], r.reactants) is None
    # class 0 (unknown) is the class-unknown prediction
    assert model.predict(products, k=5, classes=[0] * 10) == model.predict(products, k=5)
    model.save(tmp_path / "classed")
    again = load_model(tmp_path / "classed")
    assert isinstance(again, TemplateMLP) and again.class_templates == model.class_templates
    assert again.predict(products, k=5, classes=CLASSES) == model.predict(
        products, k=5, classes=CLASSES
    )


def test_retcl_learns_and_round_trips(tmp_path: Path) -> None:
    rxns = reactions()
    candidates = sorted({m.smiles for r in rxns for m in r.reactants} | set(DISTRACTORS))
    model = RetCL(dim=32, n_layers=2, epochs=30, lr=1e-2, train_batch_size=10, eval_size=10)
    model.set_candidates(candidates)
    before = _top1(model, rxns)
    model.fit(rxns, rxns, candidates=candidates)
    history = model.training["history"]
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    after = _top1(model, rxns)
    assert after >= 0.7 and after > before
    # class-known prediction uses the same weights
    assert _top1(model, rxns, classes=CLASSES) >= 0.5
    model.save(tmp_path / "retcl")
    loaded = SingleStepModel.load(tmp_path / "retcl")
    products = [r.product.smiles for r in rxns]
    assert loaded.predict(products, k=3) == model.predict(products, k=3)
    bad = loaded.predict(["C1CC", products[0]], k=3)
    assert not bad[0].valid and bad[1].valid and bad[1].reactant_sets


def test_retcl_adds_the_planning_stock_to_its_candidates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from makeable.data.stocks import Stock, inchikey

    rxns = reactions()
    candidates = sorted({m.smiles for r in rxns for m in r.reactants})
    model = RetCL(dim=16, n_layers=1)
    model.set_candidates(candidates[1:])
    n = len(model.candidates)
    stock = Stock([candidates[0], candidates[1], "c1ccncc1"], name="s")
    model.prepare_for_stock(stock)
    added = [candidates[0], "c1ccncc1"]
    assert model.candidates == [*candidates[1:], *added]  # old indices kept, stock sorted
    assert model.cand_keys.shape == (n + 2, 16) and model.cand_rq.shape == (n + 2, 16)
    keys, _, rq = model.embed(added)
    assert torch.allclose(model.cand_keys[n:], keys) and torch.allclose(model.cand_rq[n:], rq)
    model.prepare_for_stock(stock)  # once per stock
    assert len(model.candidates) == n + 2
    products = [r.product.smiles for r in rxns]
    preds = model.predict(products, k=20)
    proposed = {s for p in preds for rs in p.reactant_sets for s in rs.reactants}
    assert proposed & set(added)  # the new molecules can be chosen
    keys_only = Stock(inchikeys=[inchikey("CCCCO") or ""], name="keys")
    with caplog.at_level("WARNING"):
        model.prepare_for_stock(keys_only)
    assert len(model.candidates) == n + 2 and "cannot be listed" in caplog.text


def test_syntheseus_adapter(template_mlp: TemplateMLP) -> None:
    pytest.importorskip("syntheseus")
    from syntheseus import Molecule as SynMolecule

    from makeable.retro.single_step.syntheseus_adapter import to_syntheseus

    backward = to_syntheseus(template_mlp)
    product = reactions()[3].product.smiles
    [result] = backward([SynMolecule(product)], num_results=3)
    assert result and all(r.product.smiles == product for r in result)
    assert {m.smiles for m in result[0].reactants} == {m.smiles for m in reactions()[3].reactants}
    assert backward.is_backward() and "probability" in result[0].metadata


def test_cli_predict(
    template_mlp: TemplateMLP, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from makeable.cli.main import main

    folder = template_mlp.save(tmp_path / "m")
    product = reactions()[3].product.smiles
    html = tmp_path / "p.html"
    assert (
        main(
            [
                "retro",
                "predict",
                product,
                "--model",
                str(folder),
                "-k",
                "3",
                "--json",
                "--html",
                str(html),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out[0]["valid"] and out[0]["predictions"][0]["rank"] == 1
    assert "<svg" in html.read_text()
    assert main(["retro", "predict", "C1CC", "--model", str(folder)]) == 2
    assert "invalid product SMILES" in capsys.readouterr().err
    assert main(["retro", "predict", "C" * 3_000, "--model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "too large: 3000 characters > 1000" in err and len(err) < 200
    assert main(["retro", "predict", "CCO", "--model", "no_such_model"]) == 2


def test_load_model_by_name_without_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from makeable.retro.single_step.base import load_model

    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="makeable retro train retcl"):
        load_model("retcl")
    assert Molecule("CCO").smiles == "CCO"


def test_bench_uspto50k_writes_results(
    data_dir: Path, template_mlp: TemplateMLP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv

    from makeable.bench import uspto50k as bench_uspto50k
    from makeable.cli.main import main

    folder = template_mlp.save(tmp_path / "m")
    out = tmp_path / "bench"
    args = ["bench", "uspto50k", "--model", str(folder), "--limit", "4", "--batch-size", "2"]
    assert main([*args, "--out", str(out)]) == 0
    [row] = list(csv.DictReader((out / "results.csv").open()))
    assert row["n"] == "4" and row["classes"] == "unknown"
    assert all(0.0 <= float(row[f"top{k}"]) <= 100.0 for k in (1, 3, 5, 10, 50))
    predictions = (out / "predictions.csv").read_text()
    assert len(list(csv.DictReader((out / "predictions.csv").open()))) == 4
    assert (out / "summary.md").is_file()
    # killed after its first batch of 2: the same command scores only the second batch
    lines = (out / "scored.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) == 2
    (out / "scored.jsonl").write_text(lines[0] + lines[1][:20])  # the second line cut off
    (out / "predictions.csv").unlink()
    scored: list[int] = []
    real = bench_uspto50k._score_chunk
    monkeypatch.setattr(
        bench_uspto50k,
        "_score_chunk",
        lambda m, chunk, c: scored.append(len(chunk)) or real(m, chunk, c),
    )
    assert main([*args, "--out", str(out)]) == 0
    assert scored == [2] and (out / "predictions.csv").read_text() == predictions
    # another batch size is another benchmark: refused, with one line
    assert main([*args[:-1], "4", "--out", str(out)]) == 2
    # template_mlp does not use reaction classes: a clear error, not a crash
    assert (
        main(
            [
                "bench",
                "uspto50k",
                "--model",
                str(folder),
                "--limit",
                "2",
                "--class-known",
                "--out",
                str(out),
            ]
        )
        == 2
    )


def test_hard_negatives_mined_for_some_rows_equal_those_of_all() -> None:
    from makeable.retro.single_step.retcl_train import mine_neighbours

    keys = torch.nn.functional.normalize(
        torch.randn(300, 8, generator=torch.Generator().manual_seed(0)), dim=1
    )
    full = mine_neighbours(keys, 3, chunk=64)
    assert all(i not in full[i] for i in range(300))  # never a candidate itself
    rows = [5, 250, 5, 77]
    part = mine_neighbours(keys, 3, chunk=2, rows=rows)
    assert (part[rows] == full[rows]).all()
    assert not part[[0, 1, 100]].any()  # rows not asked for are left empty


def test_reaction_classes_by_number_or_name(capsys: pytest.CaptureFixture) -> None:
    from makeable.cli.main import main
    from makeable.retro.single_step.data import reaction_class

    assert [reaction_class(x) for x in ("2", "acylation", " CC ", "10", "fga")] == [2, 2, 3, 10, 10]
    for bad in ("0", "11", "amide"):
        with pytest.raises(ValueError, match="choose one of: 1 alkylation"):
            reaction_class(bad)
    # a bad class is one error line, before anything loads (the model named does not exist)
    code = main(["retro", "predict", "CCO", "--model", "no_such_model", "--reaction-class", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "unknown reaction class 'x'" in err[0]
