"""Self-improved planning: fine-tuning learns, improve() collects the right reactions, logs,
saves a loadable model and resumes; the CLI; clear errors for models that cannot learn."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from makeable.chem.molecule import Molecule
from makeable.chem.reaction import Reaction
from makeable.data.stocks import Stock
from makeable.retro.planning.improve import (
    augment_forward,
    collect_reactions,
    drop_targets,
    finished_iterations,
    improve,
    read_log,
)
from makeable.retro.planning.search import SearchSettings, plan
from makeable.retro.single_step.base import (
    MODELS,
    FineTuningNotSupportedError,
    ReactantSet,
    SingleStepModel,
    load_model,
)
from makeable.retro.single_step.metrics import round_trip
from makeable.retro.single_step.retcl import RetCL
from makeable.retro.single_step.template_mlp import ForwardTemplateMLP, TemplateMLP
from makeable.retro.single_step.templates import apply_template, forward_template
from tests.retro_toys import DISTRACTORS, MAPPED, reactions

pytest.importorskip("syntheseus")
torch.set_num_threads(1)

# Targets that are not in the toy training set but that its templates make: a two-step route
# (O-methylation of a phenol made by nitro reduction, or the other order) and two one-step
# routes; the last target has no route.
TWO_STEP = "CCc1cc(N)ccc1OC"
PHENOL = "CCc1cc(N)ccc1O"
NITROPHENOL = "CCc1cc([N+](=O)[O-])ccc1O"
WEINREB = "CCCC(=O)N(C)OC"
BROMIDE = "Clc1cncc(CBr)c1"
UNSOLVABLE = "CCCCCCO"
TARGETS = [TWO_STEP, WEINREB, BROMIDE, UNSOLVABLE]
STOCK = ["CI", NITROPHENOL, "CCCC(=O)Cl", "CNOC", "Cc1cncc(Cl)c1", "O=C1CCC(=O)N1Br"]
EXPECTED = {  # the reactions of the best route of each solved target
    Reaction.from_smiles(f"{PHENOL}.CI>>{TWO_STEP}"),
    Reaction.from_smiles(f"{NITROPHENOL}>>{PHENOL}"),
    Reaction.from_smiles(f"CCCC(=O)Cl.CNOC>>{WEINREB}"),
    Reaction.from_smiles(f"Cc1cncc(Cl)c1.O=C1CCC(=O)N1Br>>{BROMIDE}"),
}
SETTINGS = SearchSettings(max_calls=10, top_k=3)


class NoFineTuning(SingleStepModel):
    """A model that proposes one fixed reactant set and cannot be fine-tuned."""

    name = "improve_no_fine_tuning"

    def _predict(self, products, k, classes=None):  # type: ignore[no-untyped-def]
        return [[ReactantSet(("CCCC(=O)Cl", "CNOC"), 1.0)] for _ in products]


if NoFineTuning.name not in MODELS:
    MODELS.add(NoFineTuning.name, NoFineTuning)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Template-MLP trained on the ten toy reactions, saved once."""
    model = MODELS.build("template_mlp", n_bits=1024, hidden=[64], epochs=15, lr=1e-2, dropout=0)
    model.fit(reactions())
    return model.save(tmp_path_factory.mktemp("tiny") / "template_mlp")


@pytest.fixture
def tiny(tiny_folder: Path) -> TemplateMLP:
    model = load_model(tiny_folder)
    assert isinstance(model, TemplateMLP)
    return model


@pytest.fixture
def stock() -> Stock:
    return Stock(STOCK, name="toy")


def _probability(model: SingleStepModel, reaction: Reaction) -> float:
    """The model's score of the reactant set of ``reaction`` (-inf if not in its top 10)."""
    [pred] = model.predict([reaction.product.smiles], k=10)
    wanted = tuple(m.smiles for m in reaction.reactants)
    return next((rs.score for rs in pred.reactant_sets if rs.reactants == wanted), -math.inf)


def _route_reaction(tiny: TemplateMLP, smiles: str) -> Reaction:
    """A reaction as planning records it: with the template the model proposed it by."""
    reaction = Reaction.from_smiles(smiles)
    [pred] = tiny.predict([reaction.product.smiles], k=10)
    wanted = tuple(m.smiles for m in reaction.reactants)
    [rs] = [rs for rs in pred.reactant_sets if rs.reactants == wanted]
    reaction.metadata["template"] = rs.info["template"]
    return reaction


# ---------------------------------------------------------------------- fine-tuning
def test_template_mlp_fine_tuning_learns_the_reactions(tiny: TemplateMLP) -> None:
    taught = [
        _route_reaction(tiny, f"CCCC(=O)Cl.CNOC>>{WEINREB}"),
        _route_reaction(tiny, f"Cc1cncc(Cl)c1.O=C1CCC(=O)N1Br>>{BROMIDE}"),
    ]
    before = [_probability(tiny, r) for r in taught]
    assert all(0.1 < p < 0.6 for p in before)  # proposed, but not with confidence
    record = tiny.fine_tune(taught, epochs=10, lr=1e-2, seed=0)
    after = [_probability(tiny, r) for r in taught]
    assert all(a > b + 0.25 for a, b in zip(after, before, strict=True)), (before, after)
    assert record["n_used"] == 2 and record["loss_after"] < record["loss_before"]
    assert len(record["train_loss"]) == 10
    assert tiny.training["fine_tuning"][-1] is record
    # the reactions it was trained on are not forgotten
    toys = reactions()
    assert sum(_probability(tiny, r) > 0.5 for r in toys) >= 9


def test_template_mlp_fine_tuning_skips_what_it_cannot_label(tiny: TemplateMLP) -> None:
    mapped = Reaction.from_smiles(MAPPED[0])  # no template: extracted from the atom maps
    unmapped = Reaction.from_smiles(f"CCCC(=O)Cl.CNOC>>{WEINREB}")  # no template, no maps
    unknown = Reaction.from_smiles(f"CCCC(=O)Cl.CNOC>>{WEINREB}", template="[C:1]>>[N:1]")
    record = tiny.fine_tune([mapped, unmapped, unknown], epochs=1, lr=1e-3)
    assert record["n_given"] == 3 and record["n_used"] == 1
    assert record["skipped_no_template"] == 1 and record["skipped_unknown_template"] == 1
    record = tiny.fine_tune([unmapped], epochs=1)
    assert record["n_used"] == 0 and record["train_loss"] == []  # nothing to learn: unchanged


def test_retcl_fine_tuning_learns_a_reaction() -> None:
    rxns = reactions()
    candidates = sorted({m.smiles for r in rxns for m in r.reactants} | set(DISTRACTORS))
    model = RetCL(dim=16, n_layers=1, hard_negatives=1, train_batch_size=4, seed=0)
    model.set_candidates(candidates)
    target = rxns[6]
    assert _probability(model, target) == -math.inf  # untrained: not among its top 10
    outside = Reaction.from_smiles("CCCCCCCCCl.O>>CCCCCCCCO")  # reactants not candidates
    taught = [target, rxns[0], rxns[8], outside]
    record = model.fine_tune(taught, epochs=20, lr=1e-2, seed=0)
    assert record["n_used"] == 3 and record["skipped_not_candidate"] == 1
    assert record["train_loss"][-1] < 0.5 * record["train_loss"][0]
    [pred] = model.predict([target.product.smiles], k=3)
    assert pred.reactant_sets[0].reactants == tuple(m.smiles for m in target.reactants)
    assert model.training["fine_tuning"] == [record]


def test_improve_learns_retcl_steps_through_stock_molecules_with_workers(
    stock: Stock, tmp_path: Path
) -> None:
    # the worker processes add the stock to RetCL's candidates before searching; the process
    # that fine-tunes must choose from the same set, or the steps through stock molecules
    # outside the training candidates are skipped (they were, with --jobs 2)
    model = RetCL(dim=16, n_layers=1, seed=0)
    model.set_candidates(DISTRACTORS)
    assert not set(STOCK) <= set(model.candidates)
    out = tmp_path / "retcl"
    improve(model, stock, TARGETS[:2], SETTINGS, out_dir=out, epochs=1, jobs=2)
    assert set(STOCK) <= set(load_model(out).candidates)  # type: ignore[attr-defined]


def test_models_without_fine_tuning_say_so(stock: Stock, tmp_path: Path) -> None:
    model = NoFineTuning()
    assert not model.supports_fine_tuning
    with pytest.raises(FineTuningNotSupportedError, match="does not support fine-tuning.*retcl"):
        model.fine_tune([])
    with pytest.raises(NotImplementedError, match="template_mlp"):
        improve(model, stock, TARGETS, SETTINGS, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything is planned


# ---------------------------------------------------------------------- improve()
def test_collect_reactions_best_or_all(tiny: TemplateMLP, stock: Stock) -> None:
    result = plan(TWO_STEP, tiny, stock, max_calls=10, top_k=3)
    assert result.solved and len(result.routes) == 2  # both orders of the two steps
    best, n_routes, n_steps = collect_reactions([result.routes], "best")
    assert set(best) == {r for r in EXPECTED if r.product.smiles in (TWO_STEP, PHENOL)}
    assert (n_routes, n_steps) == (1, 2)
    assert all(r.metadata["template"] in tiny.templates for r in best)
    everything, n_routes, n_steps = collect_reactions([result.routes, result.routes], "all")
    assert (len(everything), n_routes, n_steps) == (4, 4, 8)  # duplicates kept once
    with pytest.raises(ValueError, match="best, all"):
        collect_reactions([], "first")


def test_collect_reactions_keeps_confident_steps_only(tiny: TemplateMLP, stock: Stock) -> None:
    result = plan(TWO_STEP, tiny, stock, max_calls=10, top_k=3)
    [everything, _, _] = collect_reactions([result.routes], "all")
    probs = sorted(r.metadata["probability"] for r in everything)  # recorded by planning
    assert len(probs) == 4 and probs[0] < probs[-1]
    cut = (probs[1] + probs[2]) / 2
    kept, n_routes, n_steps = collect_reactions([result.routes], "all", min_probability=cut)
    assert sorted(r.metadata["probability"] for r in kept) == probs[2:]
    assert (n_routes, n_steps) == (2, 4)  # steps are counted whether kept or not
    with pytest.raises(ValueError, match="min_probability"):
        collect_reactions([result.routes], "all", min_probability=1.5)


def test_fine_tuned_template_mlp_is_stored_in_float32(tiny: TemplateMLP, tmp_path: Path) -> None:
    assert tiny.params["storage_dtype"] == "float16"
    taught = [_route_reaction(tiny, f"CCCC(=O)Cl.CNOC>>{WEINREB}")]
    tiny.fine_tune(taught, epochs=1, lr=1e-5, seed=0)  # steps below float16's resolution
    assert tiny.params["storage_dtype"] == "float32"
    loaded = load_model(tiny.save(tmp_path / "tuned"))
    assert loaded.params["storage_dtype"] == "float32"
    for name, tensor in tiny._tensors().items():
        assert torch.equal(loaded._tensors()[name], tensor), name  # nothing rounded away


def test_drop_targets_compares_canonical_smiles() -> None:
    assert drop_targets(["CCO", "c1ccccc1", "CCN"], ["OCC", "C1=CC=CC=C1"]) == ["CCN"]


def test_improve_collects_logs_saves_and_resumes(
    tiny_folder: Path, stock: Stock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import makeable.retro.planning.improve as improve_module

    out = tmp_path / "improved"
    kwargs = {"out_dir": out, "epochs": 10, "lr": 1e-2}
    model = improve(tiny_folder, stock, TARGETS, SETTINGS, **kwargs)
    [entry] = read_log(out)
    assert entry["iteration"] == 1 and entry["targets"] == 4 and entry["solved"] == 3
    assert entry["routes_used"] == 3 and entry["reactions"] == 4 == entry["reactions_used"]
    assert entry["replay"] == 0 and entry["train_loss"] > 0 and entry["seconds"] > 0
    rows = list(csv.DictReader((out / "iterations/1/reactions.csv").open()))
    assert {Reaction.from_smiles(r["reaction"]) for r in rows} == EXPECTED
    plans = [json.loads(line) for line in (out / "iterations/1/plans.jsonl").open()]
    assert sorted(p["target"] for p in plans) == sorted(TARGETS)
    summary = (out / "summary.md").read_text()
    assert "| 1 | 3 / 4 (75.0 %) | 4 | 0 | 4 | 0 |" in summary
    # the final model is the folder itself, loadable like any saved model, and learned
    loaded = load_model(out)
    assert isinstance(loaded, TemplateMLP) and loaded.training["fine_tuning"]
    start = load_model(tiny_folder)
    for reaction in EXPECTED:
        assert _probability(loaded, reaction) > _probability(start, reaction)
    products = [r.product.smiles for r in EXPECTED]
    assert loaded.predict(products, k=3) == model.predict(products, k=3)
    assert plan(WEINREB, out, stock, max_calls=5).solved  # --model OUT works for planning

    # re-running the same command redoes nothing
    def no_planning(*args: object, **kw: object) -> None:
        raise AssertionError("a finished iteration was planned again")

    monkeypatch.setattr(improve_module, "plan_many", no_planning)
    again = improve(tiny_folder, stock, TARGETS, SETTINGS, **kwargs)
    assert len(read_log(out)) == 1 and (out / "improve_log.jsonl").read_text().count("\n") == 1
    assert again.predict(products, k=3) == model.predict(products, k=3)

    # a second iteration; then an interrupted one: its planned targets are not planned again
    monkeypatch.undo()
    improve(tiny_folder, stock, TARGETS, SETTINGS, iterations=2, **kwargs)
    assert finished_iterations(out) == [1, 2]
    second = read_log(out)[1]
    assert second["solved"] == 3 and second["reactions"] == 4
    lines = (out / "improve_log.jsonl").read_text().splitlines()
    (out / "improve_log.jsonl").write_text(lines[0] + "\n")
    monkeypatch.setattr(improve_module, "plan_many", no_planning)
    improve(tiny_folder, stock, TARGETS, SETTINGS, iterations=2, **kwargs)
    assert finished_iterations(out) == [1, 2] and read_log(out)[1]["reactions"] == 4

    # a run recorded before min_probability existed resumes (it had every step)
    settings = json.loads((out / "improve.json").read_text())
    del settings["min_probability"]
    (out / "improve.json").write_text(json.dumps(settings))
    improve(tiny_folder, stock, TARGETS, SETTINGS, iterations=2, **kwargs)
    with pytest.raises(ValueError, match="other settings.*min_probability"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, min_probability=0.5, **kwargs)

    # other settings in the same folder are refused
    with pytest.raises(ValueError, match="other settings.*lr"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=out, epochs=10, lr=1e-3)
    other = load_model(tiny_folder).save(tmp_path / "a_model")
    with pytest.raises(ValueError, match="not a self-improvement run"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=other)
    with pytest.raises(ValueError, match="must differ"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=tiny_folder)


def test_improve_resumes_after_a_cut_off_line_and_knows_its_value_model(
    tiny_folder: Path, stock: Stock, tmp_path: Path
) -> None:
    from makeable.retro.planning.value import ValueModel

    value = tmp_path / "value"
    ValueModel().save(value)
    settings = dataclasses.replace(SETTINGS, value_model=str(value))
    out = tmp_path / "improved"
    kwargs = {"out_dir": out, "epochs": 2, "lr": 1e-2}
    improve(tiny_folder, stock, TARGETS, settings, **kwargs)
    # killed while writing iteration 1's log line, and earlier mid-plan: the command resumes
    plans = out / "iterations/1/plans.jsonl"
    lines = plans.read_text().splitlines()
    plans.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    log = out / "improve_log.jsonl"
    log.write_text(log.read_text()[:30])
    assert finished_iterations(out) == []
    improve(tiny_folder, stock, TARGETS, settings, **kwargs)
    assert finished_iterations(out) == [1] and log.read_text().count("\n") == 1
    replanned = [json.loads(x)["target"] for x in plans.read_text().splitlines()]
    assert sorted(replanned) == sorted(TARGETS)  # the cut-off plan was done again, once
    # a value model retrained into the same folder is another search
    ValueModel().save(value)
    with pytest.raises(ValueError, match="other settings.*value_digest"):
        improve(tiny_folder, stock, TARGETS, settings, **kwargs)


def test_improve_with_replay_and_all_routes(
    tiny_folder: Path, stock: Stock, tmp_path: Path
) -> None:
    replay = reactions()
    out = tmp_path / "replay"
    improve(
        tiny_folder,
        stock,
        TARGETS[:1],
        SETTINGS,
        out_dir=out,
        epochs=2,
        routes="all",
        replay=replay,
        replay_fraction=0.5,
    )
    [entry] = read_log(out)
    assert entry["routes_used"] == 2 and entry["reactions"] == 4
    assert entry["replay"] == 4 and entry["reactions_used"] == 8
    with pytest.raises(ValueError, match="replay_fraction"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=tmp_path / "bad", replay_fraction=1)
    with pytest.raises(ValueError, match="needs replay"):
        improve(tiny_folder, stock, TARGETS, out_dir=tmp_path / "bad", replay_fraction=0.5)


# ---------------------------------------------------------------------- CLI
def test_cli_retro_improve(
    tiny_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main

    stock_file = tmp_path / "stock.smi"
    stock_file.write_text("\n".join(STOCK) + "\n")
    targets = tmp_path / "targets.smi"
    targets.write_text("smiles\n" + "\n".join(TARGETS) + "\n")
    bench = tmp_path / "bench_targets.txt"
    bench.write_text("CN(OC)C(=O)CCC\n")  # WEINREB written differently
    out = tmp_path / "improved"
    args = ["retro", "improve", "--model", str(tiny_folder), "--stock", str(stock_file)]
    args += ["--targets", str(targets), "--exclude", str(bench), "--max-calls", "10"]
    args += ["--epochs", "2", "--lr", "1e-3", "--no-progress", "--out", str(out)]
    assert main([*args, "--iterations", "2", "--jobs", "2"]) == 0  # forks after fine-tuning
    captured = capsys.readouterr()
    assert "dropped 1 target" in captured.err and "| 1 | 2 / 3 (66.7 %) |" in captured.out
    assert (out / "targets.txt").read_text().split() == [TWO_STEP, BROMIDE, UNSOLVABLE]
    assert [e["reactions"] for e in read_log(out)] == [3, 3]
    assert main(["retro", "plan", WEINREB, "--model", str(out), "--stock", str(stock_file)]) == 0
    assert ": makeable" in capsys.readouterr().out

    toy = NoFineTuning().save(tmp_path / "toy")
    args[3] = str(toy)
    args[-1] = str(tmp_path / "toy_out")
    assert main(args) == 2
    assert "does not support fine-tuning" in capsys.readouterr().err


def test_route_reactions_keep_molecules_canonical() -> None:
    from makeable.retro.planning.improve import route_reactions
    from makeable.retro.planning.routes import MolNode, ReactionNode, Route

    step = ReactionNode("", (MolNode("OCC", True),), {"template": "t"})
    [reaction] = route_reactions(Route(MolNode("C(=O)OCC", False, step)))
    assert reaction == Reaction.create(Molecule("CCOC=O"), [Molecule("CCO")])
    assert reaction.metadata == {"target": "C(=O)OCC", "template": "t"}


# ---------------------------------------------------------------------- forward augmentation
@pytest.fixture(scope="module")
def tiny_forward() -> ForwardTemplateMLP:
    """A tiny forward Template-MLP trained on the ten toy reactions."""
    model = MODELS.build(
        "template_mlp_forward", n_bits=1024, hidden=[64], epochs=15, lr=1e-2, dropout=0
    )
    assert isinstance(model, ForwardTemplateMLP)
    model.fit(reactions())
    return model


def test_forward_templates_give_the_products_back() -> None:
    for reaction in reactions():
        reactants = ".".join(m.smiles for m in reaction.reactants)
        outcomes = apply_template(forward_template(reaction.metadata["template"]), reactants)
        assert (reaction.product.smiles,) in outcomes, reaction
    with pytest.raises(ValueError, match="not a retro template"):
        forward_template("CCO")


def test_forward_template_mlp_predicts_products(
    tiny_forward: ForwardTemplateMLP, tmp_path: Path
) -> None:
    toys = reactions()
    inputs = [".".join(m.smiles for m in r.reactants) for r in toys]
    preds = tiny_forward.predict(inputs, k=3)
    top1 = [p.reactant_sets[0].reactants for p in preds]  # the outcomes are products
    assert sum(t == (r.product.smiles,) for t, r in zip(top1, toys, strict=True)) >= 9
    folder = tiny_forward.save(tmp_path / "forward")
    assert load_model(folder, direction="forward").predict(inputs, k=3) == preds
    # a forward model is refused where a retrosynthesis model is needed
    with pytest.raises(ValueError, match="forward reaction model; a retro model"):
        load_model(folder)
    with pytest.raises(ValueError, match="forward reaction model"):
        plan(WEINREB, folder, Stock(STOCK))


def test_augment_forward_adds_validated_reactions(
    tiny: TemplateMLP, tiny_forward: ForwardTemplateMLP
) -> None:
    weinreb = reactions()[8]  # acid chloride + N,O-dimethylhydroxylamine → Weinreb amide
    # a route step with these reactants but another product: the forward model's product of
    # the reactants is new, and the backward model's best template for it is the same one
    other = Reaction.create(
        Molecule.from_smiles("CCO"), weinreb.reactants, template="x", target="T"
    )
    [added] = augment_forward([other], tiny_forward, tiny, min_probability=0.0)
    assert added == weinreb and added.metadata["augmented"] is True
    assert added.metadata["template"] == weinreb.metadata["template"]
    assert added.metadata["target"] == "T"
    assert augment_forward([weinreb], tiny_forward, tiny, min_probability=0.0) == []  # known
    assert augment_forward([other], tiny_forward, tiny, min_probability=1.0) == []  # not sure
    wrong = TemplateMLP.__new__(TemplateMLP)  # a backward model preferring other templates
    wrong.__dict__.update(tiny.__dict__)
    wrong.templates = list(reversed(tiny.templates))
    assert augment_forward([other], tiny_forward, wrong, min_probability=0.0) == []
    with pytest.raises(ValueError, match="forward model and a retro model"):
        augment_forward([other], tiny, tiny_forward)


def test_improve_with_forward_augmentation(
    tiny_folder: Path,
    tiny_forward: ForwardTemplateMLP,
    stock: Stock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import makeable.retro.planning.improve as improve_module

    extra = reactions()[9]  # NBS bromination: not a reaction of the toy routes
    calls: list[tuple[int, str, str]] = []

    def fake_augment(route_reactions, forward, backward):  # type: ignore[no-untyped-def]
        calls.append((len(route_reactions), forward.direction, backward.direction))
        return [extra]

    monkeypatch.setattr(improve_module, "augment_forward", fake_augment)
    out = tmp_path / "augmented"
    improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=out, epochs=2, forward=tiny_forward)
    [entry] = read_log(out)
    assert calls == [(4, "forward", "retro")]  # the route reactions, forward and retro models
    assert (entry["reactions"], entry["augmented"], entry["reactions_used"]) == (4, 1, 5)
    [row] = list(csv.DictReader((out / "iterations/1/augmented.csv").open()))
    assert Reaction.from_smiles(row["reaction"]) == extra
    assert "| 1 | 3 / 4 (75.0 %) | 4 | 1 | 5 | 0 |" in (out / "summary.md").read_text()
    settings = json.loads((out / "improve.json").read_text())
    assert settings["augment_forward"] == tiny_forward.digest()
    with pytest.raises(ValueError, match="other settings.*augment_forward"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=out, epochs=2)
    with pytest.raises(ValueError, match="a forward model"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=tmp_path / "x", forward=tiny_folder)


def test_single_step_benchmark_scores_a_forward_model_on_products(
    tiny_forward: ForwardTemplateMLP,
) -> None:
    from makeable.bench.uspto50k import _score_chunk

    scored = _score_chunk(tiny_forward, reactions(), class_known=False)
    assert sum(rank == 1 for rank, _, _ in scored) >= 9  # the product, ranked first
    assert all(
        row["top1"] == r.product.smiles
        for (rank, _, row), r in zip(scored, reactions(), strict=True)
        if rank == 1
    )


def test_round_trip_passes_real_reactions_and_fails_wrong_ones(
    tiny: TemplateMLP,
    tiny_forward: ForwardTemplateMLP,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from makeable.cli.main import main
    from makeable.retro.single_step.metrics import round_trip

    toys = reactions()
    weinreb = toys[8]
    right = [m.smiles for m in weinreb.reactants]
    wrong = [m.smiles for m in toys[0].reactants]
    assert round_trip(tiny_forward, weinreb.product.smiles, [right, wrong]) == [True, False]
    assert round_trip(tiny_forward, "C1CC", [right]) == [False]  # unparseable product
    with pytest.raises(ValueError, match="forward reaction model"):
        round_trip(tiny, weinreb.product.smiles, [right])
    # the CLI marks the passing proposals and counts them
    retro = tiny.save(tmp_path / "retro")
    forward = tiny_forward.save(tmp_path / "forward")
    product = weinreb.product.smiles
    args = ["retro", "predict", product, "--model", str(retro), "-k", "3"]
    assert main([*args, "--round-trip", str(forward)]) == 0
    out = capsys.readouterr().out
    assert "✓" in out and "products with at least one: 1 / 1" in out
    assert main([*args, "--round-trip", str(forward), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.split("round trip")[0])[0]
    flags = [p["round_trip"] for p in record["predictions"]]
    assert flags[0] is True and len(flags) == len(record["predictions"])
    assert main([*args, "--round-trip", str(retro)]) == 2  # not a forward model


def test_improve_learns_only_filtered_steps_and_knows_its_filter(
    tiny_folder: Path, tiny_forward: ForwardTemplateMLP, stock: Stock, tmp_path: Path
) -> None:
    forward = tiny_forward.save(tmp_path / "forward")
    settings = dataclasses.replace(SETTINGS, reaction_filter=str(forward))
    out = tmp_path / "filtered"
    improve(tiny_folder, stock, TARGETS, settings, out_dir=out, epochs=2)
    [entry] = read_log(out)
    assert entry["solved"] >= 1
    learned = [
        Reaction.from_smiles(row["reaction"])
        for row in csv.DictReader((out / "iterations/1/reactions.csv").open())
    ]
    assert learned and set(learned) <= EXPECTED  # real steps only, each confirmed forward
    for reaction in learned:
        reactants = [m.smiles for m in reaction.reactants]
        assert round_trip(tiny_forward, reaction.product.smiles, [reactants], k=5) == [True]
    recorded = json.loads((out / "improve.json").read_text())
    assert recorded["search"]["reaction_filter"] == str(forward)
    assert recorded["filter_digest"] is not None
    with pytest.raises(ValueError, match="other settings.*reaction_filter"):
        improve(tiny_folder, stock, TARGETS, SETTINGS, out_dir=out, epochs=2)
