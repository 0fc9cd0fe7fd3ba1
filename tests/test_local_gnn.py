"""Local reaction-centre templates and the Local-GNN single-step model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from makeable.chem.reaction import Reaction
from makeable.retro.single_step.local_templates import (
    apply_at_site,
    extract_local,
    extract_many,
    template_sites,
)

# atom-mapped reactions (USPTO-style): SNAr with an alcohol or an amine, ester hydrolysis
SNAR_OME = (
    "Cl[c:3]1[cH:4][cH:5][c:6]([Br:7])[cH:8][n:9]1.[CH3:1][OH:2]"
    ">>[CH3:1][O:2][c:3]1[cH:4][cH:5][c:6]([Br:7])[cH:8][n:9]1"
)
ESTER = (
    "CC[O:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([Cl:8])[o:9]1"
    ">>[OH:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([Cl:8])[o:9]1"
)
TRAINING = [
    SNAR_OME,
    "Cl[c:3]1[cH:4][cH:5][c:6]([Cl:7])[cH:8][n:9]1.[CH3:1][OH:2]"
    ">>[CH3:1][O:2][c:3]1[cH:4][cH:5][c:6]([Cl:7])[cH:8][n:9]1",
    "Cl[c:3]1[cH:4][cH:5][c:6]([CH3:7])[cH:8][n:9]1.[CH3:1][OH:2]"
    ">>[CH3:1][O:2][c:3]1[cH:4][cH:5][c:6]([CH3:7])[cH:8][n:9]1",
    "Cl[c:1]1[cH:2][c:3]([Cl:4])[n:5][cH:6][n:7]1.[CH3:8][NH2:9]"
    ">>[c:1]1([NH:9][CH3:8])[cH:2][c:3]([Cl:4])[n:5][cH:6][n:7]1",
    "Cl[c:1]1[cH:2][c:3]([CH3:4])[n:5][cH:6][n:7]1.[CH3:8][NH2:9]"
    ">>[c:1]1([NH:9][CH3:8])[cH:2][c:3]([CH3:4])[n:5][cH:6][n:7]1",
    ESTER,
    "CC[O:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([Br:8])[o:9]1"
    ">>[OH:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([Br:8])[o:9]1",
    "CC[O:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([CH3:8])[s:9]1"
    ">>[OH:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([CH3:8])[s:9]1",
]


def test_extract_local_keeps_only_the_changed_atoms() -> None:
    ex = extract_local(SNAR_OME)
    assert ex is not None
    assert ex.product == "COc1ccc(Br)cn1"
    # the ether oxygen (atom 1) and the ring carbon it joins (atom 2) form the centre
    assert ex.site == (1, 2)
    assert ex.template == "[O;H0;D2;+0:2]-[c;H0;D3;+0:1]>>Cl-[c;H0;D3;+0:1].[OH;D1;+0:2]"
    assert ex.reactants == ("CO", "Clc1ccc(Br)cn1")
    assert apply_at_site(ex.template, ex.product, ex.site) == [ex.reactants]


def test_extract_local_refuses_what_it_cannot_read() -> None:
    assert extract_local("not a reaction") is None
    assert extract_local("CCO>>CCO") is None  # nothing changes
    assert extract_local("C[CH2:1][OH:2]>>[CH3:1][OH:2].C") is None  # two products
    assert extract_many([ESTER, "", "C>>C"]) == [extract_local(ESTER), None, None]


def test_a_centre_in_two_places_is_one_template() -> None:
    # both ethyl esters hydrolysed: the centre is two disconnected oxygens
    mapped = (
        "CC[O:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([C:8](=[O:9])[O:10]CC)[cH:11][cH:12]1"
        ">>[OH:1][C:2](=[O:3])[c:4]1[cH:5][cH:6][c:7]([C:8](=[O:9])[OH:10])[cH:11][cH:12]1"
    )
    ex = extract_local(mapped)
    assert ex is not None and "." in ex.template.split(">>")[0]
    assert len(ex.site) == 2
    assert apply_at_site(ex.template, ex.product, ex.site) == [ex.reactants]
    assert ex.reactants == ("CCOC(=O)c1ccc(C(=O)OCC)cc1",)


def test_a_template_gives_each_site_its_own_reactants() -> None:
    template = extract_local(SNAR_OME).template  # type: ignore[union-attr]
    product = "COc1ccc(OC)cn1"  # two aryl methyl ethers: two places to disconnect
    sites = template_sites(template, product)
    assert sorted(sites) == [(1, 2), (5, 6)]
    assert apply_at_site(template, product, (1, 2)) == [("CO", "COc1ccc(Cl)nc1")]
    assert apply_at_site(template, product, (5, 6)) == [("CO", "COc1ccc(Cl)cn1")]
    assert apply_at_site(template, product, (0, 1)) == []  # not a place it matches


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    import torch

    from makeable.retro.single_step.local_gnn import LocalGNN

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the one_thread fixture, for the whole module
    reactions = [Reaction.from_smiles(m, mapped=m) for m in TRAINING]
    model = LocalGNN(dim=32, n_layers=2, epochs=60, lr=3e-3, train_batch_size=4, dropout=0.0)
    folder = tmp_path_factory.mktemp("local_gnn")
    model.fit(reactions, reactions[:2], checkpoint_dir=folder / "train")
    yield model, reactions, folder
    torch.set_num_threads(threads)


def test_local_gnn_learns_its_training_reactions(trained: tuple) -> None:
    model, reactions, _ = trained
    assert len(model.templates) == 3
    preds = model.predict([r.product.smiles for r in reactions], k=5)
    top1 = [p.reactant_sets[0].reactants if p.reactant_sets else () for p in preds]
    truth = [tuple(sorted(m.smiles for m in r.reactants)) for r in reactions]
    assert sum(a == b for a, b in zip(top1, truth, strict=True)) == len(reactions)
    history = model.training["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_local_gnn_ranks_the_sites_of_one_template(trained: tuple) -> None:
    model, _, _ = trained
    # both ethers can be disconnected; both are proposed, each once, with its own score
    (pred,) = model.predict(["COc1ccc(OC)cn1"], k=10)
    sets = {rs.reactants: rs.score for rs in pred.reactant_sets}
    assert ("CO", "COc1ccc(Cl)nc1") in sets and ("CO", "COc1ccc(Cl)cn1") in sets
    assert all(0.0 < s <= 1.0 for s in sets.values())


def test_local_gnn_save_load_predicts_the_same(trained: tuple) -> None:
    from makeable.retro.single_step.base import load_model

    model, reactions, folder = trained
    model.save(folder / "model")
    again = load_model(folder / "model")
    products = [r.product.smiles for r in reactions] + ["not smiles", "CCO"]
    assert [p.to_dict() for p in again.predict(products, k=5)] == [
        p.to_dict() for p in model.predict(products, k=5)
    ]
    assert again.predict(["not smiles"])[0].error


def test_map_by_template_rebuilds_a_mapping_local_templates_can_read() -> None:
    from makeable.retro.single_step.templates import extract_template, map_by_template

    mapped = Reaction.from_smiles(ESTER)
    plain = Reaction.create(mapped.product, mapped.reactants)  # as USPTO-50k's train: no maps
    rebuilt = map_by_template(plain, extract_template(ESTER))  # type: ignore[arg-type]
    assert rebuilt is not None
    assert extract_local(rebuilt).template == extract_local(ESTER).template  # type: ignore[union-attr]
    other = extract_template(SNAR_OME)  # a template that does not make this reaction
    assert map_by_template(plain, other) is None  # type: ignore[arg-type]


def test_local_gnn_class_known(trained: tuple, tmp_path) -> None:
    from makeable.retro.single_step.base import load_model
    from makeable.retro.single_step.templates import extract_template

    model, reactions, _ = trained
    model.save(tmp_path / "m")
    copy = load_model(tmp_path / "m")
    snar, ester = "COc1ccc(Br)cn1", "O=C(O)c1ccc(Cl)o1"
    with pytest.raises(ValueError, match="template-classes"):
        copy.predict([snar], classes=[1])
    # SNAr class 1 (atom-mapped), ester hydrolysis class 2 (unmapped, with a retro template)
    classed = [Reaction.from_smiles(m, **{"class": 1}) for m in TRAINING[:5]]
    for m in TRAINING[5:]:
        r = Reaction.from_smiles(m)
        template = extract_template(m)
        classed.append(
            Reaction.create(r.product, r.reactants, **{"class": 2, "template": template})
        )
    assert copy.learn_classes(classed) == {"reactions": 8, "matched": 8, "templates": 3}
    right = copy.predict([snar, ester], k=5, classes=[1, 2])
    assert [p.reactant_sets[0].reactants for p in right] == [
        ("CO", "Clc1ccc(Br)cn1"),
        ("CCOC(=O)c1ccc(Cl)o1",),
    ]
    wrong = copy.predict([snar, ester], k=5, classes=[2, 1])
    assert [p.reactant_sets for p in wrong] == [(), ()]
    unknown = copy.predict([snar, ester], k=5, classes=[0, 0])
    assert unknown == copy.predict([snar, ester], k=5)
    copy.save(tmp_path / "classed")
    again = load_model(tmp_path / "classed")
    assert again.predict([snar, ester], k=5, classes=[1, 2]) == right


def test_local_gnn_resumes_to_the_same_weights(
    tmp_path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    import torch

    from makeable.models import checkpoints
    from makeable.retro.single_step.local_gnn import LocalGNN

    reactions = [Reaction.from_smiles(m, mapped=m) for m in TRAINING]

    def build(dim: int = 16) -> LocalGNN:
        return LocalGNN(dim=dim, n_layers=1, epochs=4, lr=3e-3, train_batch_size=3)

    whole = build()
    whole.fit(reactions, reactions[:3], checkpoint_dir=tmp_path / "whole")
    original = checkpoints.save_checkpoint

    def killed_after_epoch_2(folder, *args, **kw):  # type: ignore[no-untyped-def]
        original(folder, *args, **kw)
        if folder.name == "epoch_2":
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "save_checkpoint", killed_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        build().fit(reactions, reactions[:3], checkpoint_dir=tmp_path / "cut")
    monkeypatch.setattr(checkpoints, "save_checkpoint", original)
    resumed = build()
    resumed.fit(reactions, reactions[:3], checkpoint_dir=tmp_path / "cut")
    assert [h["epoch"] for h in resumed.training["history"]] == [1, 2, 3, 4]
    assert resumed.training["history"] == whole.training["history"]
    assert resumed.net is not None and whole.net is not None
    for key, value in whole.net.state_dict().items():
        assert torch.equal(value, resumed.net.state_dict()[key]), key
    with pytest.raises(ValueError, match="checkpoints of another training"):
        build(dim=8).fit(reactions, reactions[:3], checkpoint_dir=tmp_path / "cut")


def test_local_gnn_needs_mapped_reactions() -> None:
    from makeable.retro.single_step.local_gnn import LocalGNN

    with pytest.raises(ValueError, match="atom-mapped"):
        LocalGNN(epochs=1).fit([Reaction.from_smiles("CCO.CC(=O)O>>CCOC(C)=O")])


def test_local_gnn_report_shows_the_reaction_centre(trained: tuple, tmp_path) -> None:
    from makeable.retro.single_step.report import write_html

    model, _, _ = trained
    preds = model.predict(["COc1ccc(OC)cn1"], k=3)
    assert all(rs.info["site"] for rs in preds[0].reactant_sets)
    text = write_html(preds, tmp_path / "p.html", "local_gnn").read_text()
    assert text.count("title='reaction centre'") == len(preds[0].reactant_sets)


def test_local_gnn_small_float16_model_round_trips(tmp_path, one_thread: None) -> None:
    import torch
    from safetensors.torch import load_file

    from makeable.retro.single_step.base import load_model
    from makeable.retro.single_step.local_gnn import LocalGNN

    reactions = [Reaction.from_smiles(m, mapped=m) for m in TRAINING]
    model = LocalGNN(dim=16, n_layers=1, epochs=3, env_buckets=512, storage_dtype="float16")
    model.fit(reactions)
    model.save(tmp_path / "m")
    tensors = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert tensors["encoder.env_embed.weight"].shape == (512, 16)
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    again = load_model(tmp_path / "m")
    products = [r.product.smiles for r in reactions]
    assert again.predict(products, k=5) == model.predict(products, k=5)
    with pytest.raises(ValueError, match="env_buckets"):
        LocalGNN(env_buckets=0)._build(3)


def test_ensemble_scores_by_the_weighted_geometric_mean(trained: tuple, tmp_path) -> None:
    import math

    from makeable.retro.single_step.base import load_model
    from makeable.retro.single_step.ensemble import EnsembleModel
    from makeable.retro.single_step.local_gnn import LocalGNN

    model, reactions, _ = trained
    other = LocalGNN(dim=16, n_layers=1, epochs=5, seed=1)
    other.fit(reactions)
    model.save(tmp_path / "a")
    other.save(tmp_path / "b")
    ens = EnsembleModel([str(tmp_path / "a"), str(tmp_path / "b")], weights=[2.0, 1.0])
    products = ["COc1ccc(OC)cn1", reactions[5].product.smiles]
    got = ens.predict(products, k=50)
    for pred, pa, pb in zip(
        got, model.predict(products, k=50), other.predict(products, k=50), strict=True
    ):
        a = {rs.reactants: rs.score for rs in pa.reactant_sets}
        b = {rs.reactants: rs.score for rs in pb.reactant_sets}
        assert {rs.reactants for rs in pred.reactant_sets} == set(a) | set(b)
        for rs in pred.reactant_sets:
            la, lb = (math.log(d.get(rs.reactants, 1e-4)) for d in (a, b))
            assert rs.score == pytest.approx(math.exp((2 * la + lb) / 3))
        scores = [rs.score for rs in pred.reactant_sets]
        assert scores == sorted(scores, reverse=True)
    ens.save(tmp_path / "ens")
    assert load_model(tmp_path / "ens").predict(products, k=50) == got
    assert ens.digest() != EnsembleModel([str(tmp_path / "a"), str(tmp_path / "a")]).digest()
    with pytest.raises(ValueError, match="at least two"):
        EnsembleModel([str(tmp_path / "a")])
    with pytest.raises(ValueError, match="weights"):
        EnsembleModel([str(tmp_path / "a"), str(tmp_path / "b")], weights=[1.0, 0.0])


def test_cli_retro_ensemble(trained: tuple, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from makeable.cli.main import main

    model, _, _ = trained
    model.save(tmp_path / "a")
    args = ["retro", "ensemble", str(tmp_path / "a"), str(tmp_path / "a"), "--weights", "1", "2"]
    assert main([*args, "--out", str(tmp_path / "ens")]) == 0
    assert main(["retro", "predict", "COc1ccc(OC)cn1", "--model", str(tmp_path / "ens")]) == 0
    assert "CO.COc1ccc(Cl)" in capsys.readouterr().out
    bad = ["retro", "ensemble", str(tmp_path / "a"), "no_such_model", "--out", str(tmp_path / "x")]
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert "no_such_model" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_untrained_name_says_how_to_make_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from makeable.retro.single_step import base

    monkeypatch.setattr(base, "default_model_dir", lambda name: tmp_path / name)
    # as on an install without the shipped weights
    monkeypatch.setattr(base, "shipped_model_dir", lambda name: tmp_path / "shipped" / name)
    with pytest.raises(FileNotFoundError, match="retro train local_gnn --corpus CORPUS"):
        base.load_model("local_gnn")
    with pytest.raises(FileNotFoundError, match="retro ensemble MODEL MODEL --out DIR"):
        base.load_model("ensemble")


def test_local_gnn_fine_tunes_on_the_steps_of_its_own_routes(trained: tuple, tmp_path) -> None:
    """Self-improved planning: route steps carry the local template that proposed them; the
    model finds their site, trains on them, and is stored in float32 afterwards."""
    from makeable.retro.single_step.base import load_model

    model, reactions, _ = trained
    model.save(tmp_path / "m")
    tuned = load_model(tmp_path / "m")  # the module's model stays as it was
    assert tuned.supports_fine_tuning
    products = [r.product.smiles for r in reactions]
    steps = []
    # every proposal, with both sites of the di-ether (one template, two places)
    for pred in tuned.predict([*products, "COc1ccc(OC)cn1"], k=3):
        for rs in pred.reactant_sets:
            step = ".".join(rs.reactants) + ">>" + str(pred.canonical)
            steps.append(Reaction.from_smiles(step, template=rs.info["template"]))
    assert steps
    own = [LocalGNNExample(s) for s in steps]
    assert all(
        e is not None and e.template == s.metadata["template"]
        for e, s in zip(own, steps, strict=True)
    )
    unusable = [Reaction.from_smiles("CCO>>CC=O"), Reaction.from_smiles(SNAR_OME, mapped=SNAR_OME)]
    record = tuned.fine_tune(steps + unusable, epochs=20, lr=3e-3)
    assert record["n_used"] == len(steps) + 1  # the mapped reaction counts, the bare one not
    assert record["skipped_no_template"] == 1
    assert record["loss_after"] < record["loss_before"]
    # the record retro improve reads: per-epoch train_loss, kept in the model's training log
    assert len(record["train_loss"]) == 20 and tuned.training["fine_tuning"][-1] == record
    assert tuned.params["storage_dtype"] == "float32"
    tuned.save(tmp_path / "tuned")
    again = load_model(tmp_path / "tuned")
    assert again.predict(products, k=3) == tuned.predict(products, k=3)


def LocalGNNExample(reaction: Reaction):  # noqa: N802
    from makeable.retro.single_step.local_gnn import LocalGNN

    return LocalGNN._own_example(reaction)


def test_the_shipped_local_gnn_is_the_planning_default() -> None:
    """The shipped weights load by name and disconnect paracetamol's amide (4-aminophenol and
    an acetyl donor) among their first proposals."""
    from makeable.retro.single_step.base import load_model
    from makeable.synthesis import LABEL_MODEL, PLANNING_MODEL

    assert (PLANNING_MODEL, LABEL_MODEL) == ("local_gnn", "template_mlp_uspto500mt")
    model = load_model(PLANNING_MODEL)
    assert model.params["env_buckets"] == 16384 and model.scores_are_probabilities
    (pred,) = model.predict(["CC(=O)Nc1ccc(O)cc1"], k=10)
    assert any("Nc1ccc(O)cc1" in rs.reactants for rs in pred.reactant_sets[:3])
    assert all(0.0 < rs.score <= 1.0 for rs in pred.reactant_sets)
    # its class map ships: told the class (2, acylation: right; 3, C-C bond formation: wrong for
    # an amide), it keeps the amide disconnection only for the right one
    (right,) = model.predict(["CC(=O)Nc1ccc(O)cc1"], k=10, classes=[2])
    assert any("Nc1ccc(O)cc1" in rs.reactants for rs in right.reactant_sets[:3])
    (wrong,) = model.predict(["CC(=O)Nc1ccc(O)cc1"], k=10, classes=[3])
    assert not any("Nc1ccc(O)cc1" in rs.reactants for rs in wrong.reactant_sets[:3])
