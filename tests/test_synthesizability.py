"""Learned synthesizability: labels that resume after a kill, training that learns, the saved
model's round trip, numpy = torch, clear errors for bad model folders, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from makeable.chem.molecule import parse_smiles
from makeable.data.stocks import Stock
from makeable.objectives import get_objective
from makeable.objectives.synthesizability import (
    PredictorSynthModel,
    SynthModelError,
    SynthScore,
    featurize,
    load_synth_model,
    shipped_model_dir,
)
from makeable.predict.splits import average_precision, roc_auc
from makeable.retro.planning.search import SearchSettings
from makeable.synthesis.labels import LABELS, label_molecules, read_molecules, sample_molecules
from makeable.synthesis.train import (
    TrainSettings,
    load_labels,
    load_torch_network,
    split_indices,
    train_synth_model,
)
from tests.conftest import ZINC_FEW
from tests.test_retro_planning import STOCK, TARGET, UNSOLVABLE, PlanningToy

pytest.importorskip("syntheseus")

TOY_SETTINGS = SearchSettings(max_calls=8, stop_on_first_solution=True)
MOLECULES = [TARGET, UNSOLVABLE, "CC(=O)O", "CCCCCCCO", "OCCc1ccccc1"]  # canonical


def _label(out: Path, molecules: list[str], model: PlanningToy | None = None) -> dict:
    return label_molecules(
        molecules,
        out,
        TOY_SETTINGS,
        model=model or PlanningToy(),
        model_params=None,
        stock=Stock(STOCK, name="toy"),
    )


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / LABELS, newline="") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------------- labels
def test_labels_one_row_per_molecule(tmp_path: Path) -> None:
    out = tmp_path / "labels"
    summary = _label(out, [*MOLECULES, "not a smiles", TARGET])
    rows = _rows(out)
    assert [r["smiles"] for r in rows].count(TARGET) == 1 and len(rows) == 6
    verdict = {r["smiles"]: r for r in rows}
    assert verdict[TARGET]["solved"] == "1" and verdict[TARGET]["n_reactions"] == "2"
    assert verdict["CC(=O)O"]["solved"] == "1" and verdict["CC(=O)O"]["calls"] == "0"  # in stock
    assert verdict[UNSOLVABLE]["solved"] == "0" and verdict[UNSOLVABLE]["calls"] == "8"
    assert "InvalidTargetError" in verdict["not a smiles"]["error"]
    assert summary["n_labelled"] == 6 and summary["n_planned"] == 6 and summary["n_errors"] == 1
    assert summary["n_solved"] == 2
    config = json.loads((out / "config.json").read_text())
    assert config["max_calls"] == 8 and config["stock"] == "toy"


def test_labels_resume_after_a_kill_plans_only_the_missing(tmp_path: Path) -> None:
    out = tmp_path / "labels"
    _label(out, MOLECULES[:3])
    # a kill while writing the fourth row: its line is cut off
    with open(out / LABELS, "a", newline="") as fh:
        fh.write("CCCCCCCO,0,0,8,,0.1")
    model = PlanningToy()
    summary = _label(out, MOLECULES, model)
    rows = _rows(out)
    assert [r["smiles"] for r in rows][:3] == MOLECULES[:3]
    assert sorted(r["smiles"] for r in rows[3:]) == sorted(MOLECULES[3:])  # cut row redone
    assert summary["n_planned"] == 2 and summary["n_labelled"] == 5
    # only the two missing molecules asked the model anything (each unsolved one: 8 calls)
    assert model.calls == 2 * 8
    again = PlanningToy()
    assert _label(out, MOLECULES, again)["n_planned"] == 0 and again.calls == 0


def test_labels_refuse_other_settings(tmp_path: Path) -> None:
    out = tmp_path / "labels"
    _label(out, MOLECULES[:2])
    with pytest.raises(ValueError, match="max_calls: 8 → 9"):
        label_molecules(
            MOLECULES,
            out,
            dataclasses.replace(TOY_SETTINGS, max_calls=9),
            model=PlanningToy(),
            model_params=None,
            stock=Stock(STOCK, name="toy"),
        )


def test_sample_molecules_is_seeded_and_grows() -> None:
    smiles = [f"C{'C' * i}O" for i in range(50)] + ["CO"]
    assert sample_molecules(smiles, 10, 1) == sample_molecules(smiles, 20, 1)[:10]
    assert sample_molecules(smiles, 10, 1) != sample_molecules(smiles, 10, 2)
    assert sorted(sample_molecules(smiles + smiles)) == sorted(set(smiles))


def test_read_molecules_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        read_molecules(tmp_path / "nope.smi")
    bad = tmp_path / "bad.smi"
    bad.write_text("smiles\nxyz\nnot_a_molecule\n")
    with pytest.raises(ValueError, match="no valid SMILES"):
        read_molecules(bad)
    binary = tmp_path / "binary.smi"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ValueError, match="cannot read"):
        read_molecules(binary)


# ---------------------------------------------------------------------- training
def _easy_labels(folder: Path, n: int = 240) -> None:
    """Synthetic labels with an easy rule: solved iff the molecule contains nitrogen."""
    rng = np.random.default_rng(0)
    atoms = ["C", "C", "C", "O", "N", "c1ccccc1", "C(=O)", "S", "Cl", "F"]
    seen: set[str] = set()
    folder.mkdir(parents=True)
    with open(folder / LABELS, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["smiles", "solved", "unverified", "calls", "seconds", "error"])
        while len(seen) < n:
            smiles = "C" + "".join(rng.choice(atoms, size=int(rng.integers(2, 9))))
            mol = parse_smiles(smiles)
            if mol is None or smiles in seen:
                continue
            seen.add(smiles)
            solved = any(a.GetSymbol() == "N" for a in mol.GetAtoms())
            writer.writerow([smiles, int(solved), 0, 1, 0.1, ""])


SMALL = TrainSettings(split="random", hidden=(16,), lr=1e-2, max_epochs=40, patience=10, n_bits=256)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth")
    _easy_labels(root / "labels")
    metrics = train_synth_model(root / "labels", root / "model", SMALL)
    return root / "model", metrics


def test_training_learns_an_easy_rule(trained: tuple[Path, dict]) -> None:
    folder, metrics = trained
    assert metrics["test_roc_auc"] > 0.8 and metrics["best_val_roc_auc"] > 0.8
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 240
    assert 0 < metrics["balance"]["all"]["solved_share"] < 1
    assert json.loads((folder / "metrics.json").read_text())["split"] == "random"
    assert not any(p.suffix in (".pkl", ".pt", ".pickle") for p in folder.iterdir())


def test_scaffold_split_keeps_scaffolds_apart() -> None:
    smiles = [
        f"{ring}C{'C' * k}O" for ring in ("c1ccccc1", "C1CCCC1", "c1ccncc1") for k in range(8)
    ]
    smiles += [f"C{'C' * k}N" for k in range(20)]  # acyclic: one big group, kept for training
    mols = [parse_smiles(s) for s in smiles]
    settings = TrainSettings(split="scaffold", val_fraction=0.2, test_fraction=0.2)
    train, val, test = split_indices(mols, settings)
    assert sorted([*train, *val, *test]) == list(range(len(smiles)))
    ring = [s.split("C", 1)[0] if s[0] != "C" else s[:7] for s in smiles]
    assert not {ring[i] for i in test} & {ring[i] for i in train}
    assert all(i in train for i in range(24, len(smiles)))


def test_roc_auc_and_average_precision() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)  # ties count half
    assert np.isnan(roc_auc(np.array([1, 1]), np.array([0.1, 0.2])))
    # scikit-learn's average_precision_score of the same example: 0.8333...
    assert average_precision(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(5 / 6)


def test_save_load_round_trip_and_numpy_equals_torch(trained: tuple[Path, dict]) -> None:
    import torch

    folder, _ = trained
    mols = [parse_smiles(s) for s in [*ZINC_FEW, "CCN", "CCO"]]
    first = SynthScore(folder)._score(mols)
    again = SynthScore(str(folder))._score(mols)  # a second load of the same files
    assert np.array_equal(first, again) and ((first >= 0) & (first <= 1)).all()
    net = load_torch_network(folder)
    x = torch.from_numpy(featurize(mols, 2, 256))
    with torch.no_grad():
        expected = torch.sigmoid(net(x)[:, 0]).double().numpy()
    assert np.allclose(first, expected, rtol=0, atol=1e-6)
    # pickled for worker processes without the weights, loaded again there
    copy = pickle.loads(pickle.dumps(SynthScore(folder)))
    assert copy._model is None and np.array_equal(copy._score(mols), first)


def test_objective_by_name_with_model_param(trained: tuple[Path, dict]) -> None:
    folder, _ = trained
    objective = get_objective("synth_score", model=str(folder))
    scores = objective(["CCN", "not a smiles", "CCO"])
    assert objective.name == "synth_score"
    assert scores.valid.tolist() == [True, False, True] and scores.values[1] == 0.0
    assert scores.values[0] > scores.values[2]  # the rule: nitrogen → solved


def test_missing_or_corrupt_model_folder_is_one_clear_error(
    tmp_path: Path, trained: tuple[Path, dict]
) -> None:
    folder, _ = trained
    with pytest.raises(SynthModelError, match="folder not found"):
        SynthScore(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SynthModelError, match="lacks config.json, model.safetensors"):
        load_synth_model(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((folder / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(SynthModelError, match="not a readable safetensors file"):
        load_synth_model(broken)
    (broken / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    (broken / "config.json").write_text("{not json")
    with pytest.raises(SynthModelError, match="not valid JSON"):
        load_synth_model(broken)
    config = json.loads((folder / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps(dict(config, hidden=[8])))
    with pytest.raises(SynthModelError, match="layer 0 has weights"):
        load_synth_model(broken)
    (broken / "config.json").write_text(json.dumps(dict(config, format="other")))
    with pytest.raises(SynthModelError, match="not a makeable-synth-score v1 model"):
        load_synth_model(broken)


def test_mpnn_model_learns_the_rule_and_loads_as_synth_score(tmp_path: Path) -> None:
    _easy_labels(tmp_path / "labels")
    settings = TrainSettings(
        split="random", model="mpnn", hidden=(32,), lr=5e-3, max_epochs=80, ensemble=2
    )
    metrics = train_synth_model(tmp_path / "labels", tmp_path / "mpnn", settings)
    assert metrics["model"] == "mpnn" and metrics["test_roc_auc"] > 0.8
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 240
    # the same split as the MLP's for the same seed and settings
    mlp_split = json.loads((tmp_path / "mpnn" / "split.json").read_text())
    mols, _, _ = load_labels(tmp_path / "labels")
    expected = split_indices(mols, TrainSettings(split="random"))
    assert [sorted(mlp_split[k]) for k in ("train", "val", "test")] == [
        sorted(a.tolist()) for a in expected
    ]
    objective = get_objective("synth_score", model=str(tmp_path / "mpnn"))
    scores = objective(["CCN", "not a smiles", "CCO"])
    assert scores.valid.tolist() == [True, False, True] and scores.values[0] > scores.values[2]
    config = json.loads((tmp_path / "mpnn" / "config.json").read_text())
    assert config["synthesizability"]["trained_on"]["n_molecules"] == 240
    assert config["n_models"] == 2  # an ensemble, its probabilities averaged
    with pytest.raises(ValueError, match="ensemble"):
        TrainSettings(model="mlp", ensemble=3)


def test_a_predictor_of_another_target_is_refused(tmp_path: Path) -> None:
    from makeable.predict.data import read_table
    from makeable.predict.train import TrainSettings as PredictorSettings
    from makeable.predict.train import train_predictor

    table = tmp_path / "t.csv"
    table.write_text("smiles,y\n" + "".join(f"{'C' * k}O,{k}\n" for k in range(1, 21)))
    settings = PredictorSettings(ensemble=1, epochs=1)
    train_predictor(read_table(table), tmp_path / "p", settings)
    with pytest.raises(SynthModelError, match="not of the label solved"):
        load_synth_model(tmp_path / "p", fresh=True)


def test_an_mlp_model_scores_without_torch(trained: tuple[Path, dict]) -> None:
    folder, _ = trained
    code = (
        "import sys; from makeable.objectives import get_objective; "
        f"s = get_objective('synth_score', model={str(folder)!r})(['CC(=O)Nc1ccc(O)cc1', 'CCO']); "
        "assert s.valid.all() and ((s.values >= 0) & (s.values <= 1)).all(); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shipped_model_is_the_mpnn_ensemble_of_the_planner_labels() -> None:
    model = load_synth_model()
    assert isinstance(model, PredictorSynthModel) and len(model.predictor.members) == 3
    trained_on = model.config["synthesizability"]["trained_on"]
    assert trained_on["labelling"]["model"] == "template_mlp_uspto500mt"
    metrics = json.loads((shipped_model_dir() / "metrics.json").read_text())
    assert metrics["model"] == "mpnn" and metrics["test_roc_auc"] > 0.85
    scores = get_objective("synth_score")(["CC(=O)Nc1ccc(O)cc1", "CCO", "not a smiles"])
    assert scores.valid.tolist() == [True, True, False]
    assert ((scores.values >= 0) & (scores.values <= 1)).all()


# ---------------------------------------------------------------------- CLI
def test_cli_label_train_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from makeable.cli.main import main

    bad = tmp_path / "bad.smi"
    bad.write_text("xyz\n")
    assert main(["synth", "label", str(bad), "--out", str(tmp_path / "l")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no valid SMILES" in err

    _easy_labels(tmp_path / "labels")
    model = tmp_path / "model"
    args = ["synth", "train", str(tmp_path / "labels"), "--out", str(model), "--hidden", "8"]
    assert main([*args, "--epochs", "5", "--split", "random", "--no-progress"]) == 0
    assert "test_roc_auc" in json.loads(capsys.readouterr().out)
    smi = tmp_path / "in.smi"
    smi.write_text("CCN\nnot_a_smiles\n")
    assert main(["synth", "score", str(smi), "--model", str(model)]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [r["valid"] for r in rows] == ["1", "0"] and 0 <= float(rows[0]["synth_score"]) <= 1
    assert main(["synth", "score", str(smi), "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder not found" in err


def test_training_takes_its_model_folder(tmp_path: Path):
    """synth train holds its folder like every job: a second process is refused, one line."""
    from makeable.run_folder import RunFolder, RunInUseError
    from makeable.synthesis.train import train_synth_model

    with RunFolder(tmp_path / "model"), pytest.raises(RunInUseError, match="in use"):
        train_synth_model(tmp_path / "labels", tmp_path / "model")
