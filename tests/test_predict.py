"""Property predictors: hand-checked features, a model that learns a known function, save/load
without pickle, bad rows reported by line, the objective's batch API and the conservative
score, and the CLI."""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from rdkit import Chem

from makeable.cli.main import main
from makeable.objectives import get_objective
from makeable.predict.data import TableError, read_table
from makeable.predict.features import (
    ATOM_DIM,
    BOND_DIM,
    ELEMENTS,
    atom_features,
    batch_graphs,
    bond_features,
    mol_graph,
)
from makeable.predict.model import PredictorError, forget_loaded, load_predictor
from makeable.predict.mpnn import NetworkSettings
from makeable.predict.train import TrainSettings, train_predictor

SMALL = NetworkSettings(hidden=32, depth=2, ffn_hidden=32, aggregation="sum")  # counts: sum

# molecules of 1 to 12 heavy atoms, several elements and ring sizes
MOLECULES = [
    "C", "CC", "CCO", "CCN", "CCC", "CCCC", "CCCO", "CCOC", "CC(C)C", "CCCCC", "CCCCO",
    "c1ccccc1", "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "CCc1ccccc1", "CC(=O)O", "CC(=O)N",
    "CCC(=O)O", "CCCC(=O)O", "C1CCCCC1", "C1CCNCC1", "C1CCOCC1", "OCCO", "NCCN", "CCCCCC",
    "CCCCCCO", "CCCCCCC", "c1ccncc1", "Cc1ccncc1", "Clc1ccccc1", "Fc1ccccc1", "CCCl", "CCBr",
    "CC(C)(C)C", "CCCCCCCC", "OCC(O)CO", "CCOCC", "CCSCC", "CC#N", "C=CC", "C=CCC",
    "c1ccc2ccccc2c1", "CCCCCCCCO", "CC(C)CC(C)C", "O=C1CCCC1", "CCN(CC)CC", "COc1ccccc1",
    "CCCCCCCCC", "NC(=O)c1ccccc1", "CC(O)CC", "CCCC(C)C", "C1CC1", "C1CCC1", "CC1CCCC1",
    "OCCCCO", "CCCCCCCCCC", "c1ccoc1", "c1ccsc1", "Cc1ccco1",
]  # fmt: skip


def heavy_atoms(smiles: str) -> float:
    return float(Chem.MolFromSmiles(smiles).GetNumHeavyAtoms())


def write_table(path: Path, rows: list[tuple[str, str]], header: str = "smiles,y") -> Path:
    path.write_text(header + "\n" + "".join(f"{s},{v}\n" for s, v in rows))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A 2-model ensemble fitted to the number of heavy atoms."""
    folder = tmp_path_factory.mktemp("pred")
    table = write_table(folder / "t.csv", [(s, str(heavy_atoms(s))) for s in MOLECULES])
    settings = TrainSettings(ensemble=2, epochs=40, batch_size=10, lr=3e-3, network=SMALL)
    train_predictor(read_table(table, targets=["y"]), folder / "model", settings)
    return folder / "model"


def test_atom_and_bond_features_by_hand():
    mol = Chem.MolFromSmiles("C[NH3+]")
    n = atom_features(mol.GetAtomWithIdx(1))
    assert len(n) == ATOM_DIM == 133
    assert n[ELEMENTS.index(7)] == 1.0 and sum(n[: len(ELEMENTS) + 1]) == 1.0  # nitrogen
    degree = n[101:108]
    assert degree.index(1.0) == 4  # bonded to C and three H: total degree 4
    charge = n[108:114]
    assert charge.index(1.0) == 3  # +1 in (-2, -1, 0, 1, 2, other)
    hydrogens = n[119:125]
    assert hydrogens.index(1.0) == 3
    assert n[-1] == pytest.approx(0.14007, abs=1e-4)  # mass / 100
    bond = bond_features(Chem.MolFromSmiles("c1ccccc1").GetBondWithIdx(0))
    assert len(bond) == BOND_DIM == 14
    assert bond[3] == 1.0 and bond[5] == 1.0 and bond[6] == 1.0  # aromatic, conjugated, ring


def test_graphs_have_reverse_edges_and_batch_with_offsets():
    g = mol_graph(Chem.MolFromSmiles("CCO"))
    assert g.atoms.shape == (3, ATOM_DIM) and g.edges.shape == (4, BOND_DIM)
    for e in range(4):
        r = g.reverse[e]
        assert (g.source[r], g.target[r]) == (g.target[e], g.source[e])
    batch = batch_graphs([g, mol_graph(Chem.MolFromSmiles("[Na+]")), g])
    assert batch.n_molecules == 3 and len(batch.atoms) == 7 and len(batch.source) == 8
    assert batch.source[4:].min() == 4  # the third graph's atoms start after 3 + 1
    assert list(batch.molecule) == [0, 0, 0, 1, 2, 2, 2]
    assert batch.reverse[4] == 5


def test_a_model_learns_the_number_of_heavy_atoms(trained: Path):
    predictor = load_predictor(trained)
    smiles = ["CCCCCCCCC", "CC", "c1ccccc1CCO"]  # inside the training range (1 to 10 atoms)
    pred = predictor.predict(smiles)
    truth = np.array([heavy_atoms(s) for s in smiles])
    assert np.abs(pred.mean[:, 0] - truth).max() < 2.0, pred.mean[:, 0]
    assert np.all(pred.std[:, 0] >= 0) and pred.valid.all()
    metrics = json.loads((trained / "config.json").read_text())["test_metrics"]["y"]
    assert metrics["r2"] > 0.5


def test_save_load_round_trip_and_no_pickle(trained: Path):
    files = sorted(p.name for p in trained.iterdir())
    assert "model_0.safetensors" in files and "config.json" in files
    assert (trained / "test_parity.png").read_bytes()[:4] == b"\x89PNG"  # the picture
    assert not any(p.suffix in (".pt", ".pkl", ".pth") for p in trained.iterdir())
    config = json.loads((trained / "config.json").read_text())
    assert config["format"] == "makeable-predictor" and config["n_models"] == 2
    a = load_predictor(trained).predict(["CCO"]).mean
    b = load_predictor(str(trained) + "/").predict(["CCO"]).mean
    assert np.array_equal(a, b)


def test_an_interrupted_training_resumes_with_the_next_member(tmp_path: Path, monkeypatch):
    """Members finished before an interruption are loaded back, not trained again; the
    predictor is the one an uninterrupted training makes."""
    from safetensors.torch import load_file

    from makeable.predict import train as train_module

    table = read_table(
        write_table(tmp_path / "t.csv", [(s, str(heavy_atoms(s))) for s in MOLECULES]),
        targets=["y"],
    )
    settings = TrainSettings(ensemble=3, epochs=3, batch_size=10, network=SMALL)
    train_predictor(table, tmp_path / "whole", settings)
    real, trained_members, stop_at = train_module.train_member, [], [2]

    def interrupted(*args, **kwargs):
        if stop_at and len(trained_members) == stop_at[0]:
            stop_at.clear()
            raise KeyboardInterrupt
        trained_members.append(args[5])
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_member", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_predictor(table, tmp_path / "cut", settings)
    assert sorted(p.name for p in (tmp_path / "cut" / "partial").glob("*.safetensors")) == [
        "member_0.safetensors",
        "member_1.safetensors",
    ]
    trained_members.clear()
    metrics = train_predictor(table, tmp_path / "cut", settings)
    assert trained_members == [2]  # members 0 and 1 were loaded back
    assert not (tmp_path / "cut" / "partial").exists()
    for i in range(3):
        a = load_file(str(tmp_path / "whole" / f"model_{i}.safetensors"))
        b = load_file(str(tmp_path / "cut" / f"model_{i}.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert metrics["test"] == json.loads((tmp_path / "whole" / "metrics.json").read_text())["test"]
    # members of another setting are not reused
    trained_members.clear()
    stop_at.append(2)
    with pytest.raises(KeyboardInterrupt):
        train_predictor(table, tmp_path / "cut2", settings)
    trained_members.clear()
    train_predictor(table, tmp_path / "cut2", replace(settings, epochs=2))
    assert trained_members == [0, 1, 2]


def test_bad_predictor_folders_give_one_line(tmp_path: Path, trained: Path):
    with pytest.raises(PredictorError, match="not found"):
        load_predictor(tmp_path / "nope")
    (tmp_path / "x").mkdir()
    with pytest.raises(PredictorError, match="not a predictor folder"):
        load_predictor(tmp_path / "x")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((trained / "config.json").read_text())
    (broken / "model_0.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(PredictorError, match="cannot load the predictor's weights"):
        load_predictor(broken)
    config = json.loads((trained / "config.json").read_text())
    config["features_version"] = 0
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    with pytest.raises(PredictorError, match="feature version"):
        load_predictor(tmp_path / "old")


def test_bad_rows_are_reported_by_line_and_skipped(tmp_path: Path):
    rows = [("CCO", "1.0"), ("not_a_smiles", "2"), ("CCC", "abc"), ("CCN", ""), ("CCCl", "3")]
    table = read_table(write_table(tmp_path / "t.csv", rows), targets=["y"])
    assert table.smiles == ["CCO", "CCCl"]
    assert [line for line, _ in table.skipped] == [3, 4, 5]
    reasons = dict(table.skipped)
    assert "invalid SMILES" in reasons[3] and "not a number" in reasons[4]
    assert reasons[5] == "no target value"
    labels = write_table(tmp_path / "c.csv", [("CCO", "1"), ("CCC", "0.5")])
    assert read_table(labels, task="classification").skipped[0][0] == 3
    with pytest.raises(TableError, match="no column 'smi'"):
        read_table(labels, smiles_col="smi")
    with pytest.raises(TableError, match="no target column"):
        read_table(labels, targets=["z"])
    with pytest.raises(TableError, match="no usable row"):
        read_table(write_table(tmp_path / "b.csv", [("xx", "1")]))


def test_multi_task_keeps_rows_with_one_value_missing(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("smiles,a,b\nCCO,1,\nCCC,,2\nCCN,,\n")
    table = read_table(path)
    assert table.targets == ["a", "b"] and len(table) == 2
    assert math.isnan(table.y[0, 1]) and math.isnan(table.y[1, 0])


def test_objective_batch_api_and_conservative_score(trained: Path):
    plain = get_objective(f"predictor:{trained}")
    careful = get_objective(f"predictor:{trained}:y", conservative=2.0)
    smiles = ["CCCCO", "not a smiles", "c1ccccc1"]
    p, c = plain(smiles), careful(smiles)
    assert list(p.valid) == [True, False, True] and p.values[1] == 0.0
    std = load_predictor(trained).predict(["CCCCO", "c1ccccc1"]).std[:, 0]
    assert np.allclose(c.values[[0, 2]], p.values[[0, 2]] - 2.0 * std)
    scaled = get_objective(f"predictor:{trained}", low=0, high=20)(["CCCCO"]).values
    assert 0.0 <= scaled[0] <= 1.0
    assert scaled[0] == pytest.approx(p.values[0] / 20, abs=1e-6)  # float32, other batch
    with pytest.raises(PredictorError, match="no target 'z'"):
        get_objective(f"predictor:{trained}:z")
    with pytest.raises(ValueError, match="both low and high"):
        get_objective(f"predictor:{trained}", low=1)


def test_cli_train_score_and_design(tmp_path: Path, capsys):
    rows = [(s, str(heavy_atoms(s))) for s in MOLECULES[:30]] + [("bad", "1")]
    data = write_table(tmp_path / "t.csv", rows)
    out = tmp_path / "m"
    argv = ["predict", "train", str(data), "--target", "y", "--epochs", "2", "--hidden", "16"]
    assert main([*argv, "--ensemble", "2", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 of 31 rows (first: line 32, invalid SMILES" in captured.err
    assert (out / "skipped.csv").read_text().splitlines()[1].startswith("32,")
    (tmp_path / "in.csv").write_text("smiles,y\nCCO,3\nnope,1\n")
    assert main(["predict", "score", str(tmp_path / "in.csv"), "--model", str(out),
                 "--out", str(tmp_path / "o.csv")]) == 0  # fmt: skip
    lines = (tmp_path / "o.csv").read_text().splitlines()
    # the measured y is kept; the nearest training molecule's similarity beside the prediction
    assert lines[0] == "smiles,y,y_predicted,y_std,similarity_to_training,error"
    assert lines[1].startswith("CCO,3,") and lines[2] == "nope,1,,,,invalid SMILES"
    trained_on = {MOLECULES[i] for i in json.loads((out / "split.json").read_text())["train"]}
    similarity = float(lines[1].split(",")[4])
    assert similarity == 1.0 if "CCO" in trained_on else 0.0 < similarity < 1.0
    page = tmp_path / "p.html"
    assert main(["predict", "score", str(tmp_path / "in.csv"), "--model", str(out),
                 "--out", str(tmp_path / "o2.csv"), "--html", str(page)]) == 0  # fmt: skip
    text = page.read_text()
    assert text.count("<svg") == 1 and "row 2: invalid SMILES" in text  # CCO drawn, nope named
    assert f"nearest training molecule: {lines[1].split(',')[4]}" in text
    assert main(["predict", "score", str(tmp_path / "in.csv"), "--model", str(out), "--out",
                 "-", "--html", str(tmp_path / "no" / "p.html")]) == 2  # fmt: skip
    assert "does not exist" in capsys.readouterr().err
    assert main(["predict", "score", "x.csv", "--model", str(tmp_path), "--out", "-"]) == 2
    assert "makeable: error:" in capsys.readouterr().err
    run = tmp_path / "run"
    design = ["design", "--objective", f"predictor:{out}", "--budget", "30", "--param"]
    design += ["population_size=10", "--param", "offspring_size=5", "--out", str(run)]
    assert main([*design, "--no-progress"]) == 0
    assert json.loads((run / "metrics.json").read_text())["n_calls"] == 30


def test_property_benchmark_writes_rows_and_resumes(data_dir, tmp_path: Path):
    from makeable.bench.properties import run_properties

    settings = TrainSettings(ensemble=1, epochs=1, network=SMALL)
    rows = run_properties(["freesolv"], ["scaffold"], [0], tmp_path, settings)
    assert [(r["set"], r["metric"]) for r in rows] == [("freesolv", "rmse")]
    assert float(rows[0]["value"]) > 0 and rows[0]["n_test"] == 64
    summary = (tmp_path / "summary.md").read_text()
    assert "| freesolv | scaffold | makeable | rmse |" in summary
    model = tmp_path / "runs" / "freesolv" / "scaffold" / "s0" / "model_0.safetensors"
    stamp = model.stat().st_mtime_ns
    again = run_properties(["freesolv"], ["scaffold"], [0], tmp_path, settings)
    assert again == rows and model.stat().st_mtime_ns == stamp  # read back, not retrained
    with pytest.raises(ValueError, match="unknown property set"):
        run_properties(["nope"], ["random"], [0], tmp_path / "x", settings)
    # an ensemble's calibration is in the rows and the summary
    ensemble = run_properties(
        ["freesolv"], ["random"], [0], tmp_path / "ens", replace(settings, ensemble=2)
    )
    assert 0 <= float(ensemble[0]["within_1std"]) <= float(ensemble[0]["within_2std"]) <= 1
    assert rows[0]["within_1std"] == ""  # one model: no spread
    assert "## Uncertainty" in (tmp_path / "ens" / "summary.md").read_text()


def test_graseq_sets_run_on_their_own_split_with_each_encoder(data_dir, tmp_path: Path):
    from makeable.bench.properties import given_split, load_set, run_properties

    table = load_set("graseq_bace")
    train, val, test = given_split("graseq_bace", seed=3)
    # the test file's rows are the test set; validation is a tenth of the training file
    assert len(test) == 152 and list(test) == list(range(len(table) - 152, len(table)))
    assert len(train) + len(val) == len(table) - 152 and len(val) == 121
    assert not set(train) & set(val)
    assert list(given_split("graseq_bace", seed=3)[1]) == list(val)  # seeded
    assert list(given_split("graseq_bace", seed=4)[1]) != list(val)
    tox21 = load_set("graseq_tox21")
    assert tox21.y.shape[1] == 12 and np.isnan(tox21.y).any()  # -1 read as missing
    assert not ((tox21.y != 0) & (tox21.y != 1) & ~np.isnan(tox21.y)).any()

    settings = TrainSettings(ensemble=1, epochs=1, network=SMALL)
    rows = run_properties(
        ["graseq_bace"], ["random", "scaffold"], [0], tmp_path, settings,
        encoders=["graph", "graph+smiles"],
    )  # fmt: skip
    assert [(r["model"], r["split"], r["n_test"]) for r in rows] == [
        ("makeable", "given", 152),
        ("makeable graph+smiles", "given", 152),
    ]
    runs = tmp_path / "runs" / "graseq_bace" / "given"
    for folder in ("s0", "s0_graph+smiles"):
        split = json.loads((runs / folder / "split.json").read_text())
        assert split["test"] == list(test)
    config = json.loads((runs / "s0_graph+smiles" / "config.json").read_text())
    assert config["network"]["encoder"] == "graph+smiles"
    with pytest.raises(ValueError, match="unknown encoder"):
        run_properties(["graseq_bace"], ["random"], [0], tmp_path / "x", settings, encoders=["x"])


def test_proxy_benchmark_judges_runs_with_the_true_oracle(tmp_path: Path):
    """A tiny proxy-hacking run: a proxy per size is trained on oracle labels, the plain,
    conservative and domain runs design against it (the domain run from the proxy's training
    molecules, scoring 0 outside its domain), one run against the true oracle serves both
    sizes, and every row is judged by the true oracle."""
    from makeable.bench.proxy import run_proxy
    from makeable.objectives import get_objective
    from makeable.oracle.store import RunStore

    settings = TrainSettings(ensemble=2, epochs=2, network=SMALL)
    rows = run_proxy(
        ["drd2"], [40, 30], ["screening"], [0], tmp_path, budget=30, proxy_settings=settings
    )
    assert [(r["n_train"], r["variant"]) for r in rows] == [
        (40, "plain"), (40, "conservative"), (40, "domain"), ("-", "true"),
        (30, "plain"), (30, "conservative"), (30, "domain"),
    ]  # fmt: skip
    assert (tmp_path / "runs" / "drd2" / "screening_true_s0" / "run.db").is_file()
    assert not (tmp_path / "runs" / "drd2_30" / "screening_true_s0").exists()
    proxy = tmp_path / "proxies" / "drd2_40"
    assert (proxy / "config.json").is_file() and (proxy / "train.csv").is_file()
    run = tmp_path / "runs" / "drd2_40" / "screening_plain_s0"
    with RunStore(run / "run.db") as store:
        calls = store.calls()
    best = sorted(calls, key=lambda c: c.score, reverse=True)[:10]
    truth = get_objective("drd2")([c.smiles for c in best]).values
    assert rows[0]["true_top10"] == pytest.approx(float(truth.mean()))
    assert rows[3]["true_top10"] == pytest.approx(rows[3]["seen_top10"])  # the true variant
    assert all(0.0 <= r["seen_top10"] <= 1.0 for r in rows)  # low=0, high=1
    domain_run = tmp_path / "runs" / "drd2_40" / "screening_domain_s0"
    config = yaml.safe_load((domain_run / "config.yaml").read_text())
    assert config["objective_params"]["min_similarity"] == 0.4
    pool = (proxy / "domain.smi").read_text().split()
    train = json.loads((proxy / "split.json").read_text())["train"]
    assert len(pool) == len(train) and config["pool"] == str(proxy / "domain.smi")
    with RunStore(domain_run / "run.db") as store:  # screening: molecules of its pool only
        screened = {c.smiles for c in store.calls()}
    assert screened and screened <= {Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in pool}
    summary = (tmp_path / "summary.md").read_text()
    true_cell = f"{rows[3]['true_top10']:.3f} / {rows[3]['true_top100']:.3f}"
    for n in (40, 30):  # both sizes' lines show the one true-oracle run
        line = next(x for x in summary.splitlines() if x.startswith(f"| drd2 | {n} | screening |"))
        assert line.split(" | ")[6] == true_cell
    proxy_metrics = json.loads((proxy / "metrics.json").read_text())["test"]["drd2"]
    assert f"| drd2 | 40 | {proxy_metrics['n']} | {proxy_metrics['rmse']:.3f} |" in summary
    with pytest.raises(ValueError, match="unknown oracle"):
        run_proxy(["qed"], [40], ["screening"], [0], tmp_path / "x")


def test_mixture_of_experts_and_transfer(tmp_path: Path, trained: Path):
    """A mixture keeps its frozen experts' weights, learns a gate over them and a new head, and
    loads as any predictor; --init-from starts from a source encoder."""
    import torch

    from makeable.predict.mpnn import MixtureOfExperts

    rings = write_table(
        tmp_path / "rings.csv",
        [(s, str(Chem.rdMolDescriptors.CalcNumRings(Chem.MolFromSmiles(s)))) for s in MOLECULES],
    )
    small = TrainSettings(ensemble=1, epochs=3, batch_size=10, network=SMALL)
    train_predictor(read_table(rings, targets=["y"]), tmp_path / "rings", small)
    target = write_table(tmp_path / "t.csv", [(s, str(len(s))) for s in MOLECULES[:30]])
    experts = (str(trained), str(tmp_path / "rings"))
    mixture = TrainSettings(ensemble=2, epochs=3, batch_size=10, network=SMALL, experts=experts)
    train_predictor(read_table(target, targets=["y"]), tmp_path / "moe", mixture)
    predictor = load_predictor(tmp_path / "moe")
    net = predictor.members[0]
    assert isinstance(net, MixtureOfExperts)
    assert float(net.gate_weights().detach().sum()) == pytest.approx(1.0)
    source = load_predictor(trained).members[0].state_dict()
    assert torch.equal(net.experts[0].state_dict()["w_i.weight"], source["w_i.weight"])  # frozen
    config = json.loads((tmp_path / "moe" / "config.json").read_text())
    assert config["model"] == "moe" and len(config["gate_weights"]) == 2
    pred = predictor.predict(["CCO", "c1ccccc1"])
    assert pred.valid.all() and np.isfinite(pred.mean).all() and np.isfinite(pred.std).all()
    assert get_objective(f"predictor:{tmp_path / 'moe'}")(["CCO"]).valid[0]

    transfer = TrainSettings(ensemble=1, epochs=1, network=SMALL, init_from=str(trained))
    from makeable.predict.train import build_network

    started = build_network(1, transfer).state_dict()
    assert torch.equal(started["w_h.weight"], source["w_h.weight"])
    with pytest.raises(ValueError, match="differs from this network"):
        build_network(1, TrainSettings(init_from=str(trained)))  # hidden 300 vs 32
    with pytest.raises(ValueError, match="not both"):
        TrainSettings(experts=experts, init_from=str(trained))


def test_scarce_data_benchmark_compares_methods_on_one_split(data_dir, tmp_path: Path):
    from makeable.bench.scarce import run_scarce

    settings = TrainSettings(ensemble=1, epochs=1, network=SMALL)
    rows = run_scarce("freesolv", ["esol"], [20], [0], tmp_path, settings)
    assert [r["method"] for r in rows] == ["scratch", "transfer:esol", "moe", "moe_ft"]
    assert all(r["n_train"] == 20 and r["metric"] == "rmse" for r in rows)
    tests = {
        json.dumps(json.loads((p / "split.json").read_text())["test"])
        for p in (tmp_path / "runs" / "20" / "s0").iterdir()
    }
    assert len(tests) == 1  # every method is tested on the same molecules
    assert (tmp_path / "experts" / "esol" / "config.json").is_file()
    summary = (tmp_path / "summary.md").read_text()
    assert "moe beats best transfer" in summary and "moe_ft best of all" in summary
    assert "chosen by validation" in summary and all(r["val_loss"] > 0 for r in rows)
    with pytest.raises(ValueError, match="distinct sets"):
        run_scarce("freesolv", ["freesolv"], [20], [0], tmp_path / "x", settings)


def test_graph_and_smiles_dual_encoder(tmp_path: Path):
    """--encoder graph+smiles: a SMILES BiLSTM beside the D-MPNN, its vocabulary saved with the
    model; it trains, saves, loads and predicts like any predictor."""
    from makeable.predict.mpnn import DualEncoder

    table = write_table(tmp_path / "t.csv", [(s, str(heavy_atoms(s))) for s in MOLECULES])
    network = NetworkSettings(hidden=16, depth=2, ffn_hidden=16, encoder="graph+smiles")
    settings = TrainSettings(ensemble=2, epochs=2, batch_size=10, network=network)
    train_predictor(read_table(table, targets=["y"]), tmp_path / "dual", settings)
    config = json.loads((tmp_path / "dual" / "config.json").read_text())
    assert config["network"]["encoder"] == "graph+smiles" and "c" in config["smiles_tokens"]
    predictor = load_predictor(tmp_path / "dual")
    assert isinstance(predictor.members[0], DualEncoder)
    pred = predictor.predict(["CCO", "C1CC1[Se]"])  # an unseen token is <unk>, not an error
    assert pred.valid.all() and np.isfinite(pred.mean).all()
    with pytest.raises(ValueError, match="encoder must be one of"):
        NetworkSettings(encoder="smiles")


def test_scarce_summary_counts_mixture_wins_by_hand():
    """Per size: each mixture against the best pairwise transfer of each seed, and against all."""
    from makeable.bench.scarce import summary_markdown

    values = {  # seed -> method -> RMSE
        0: {"scratch": 2.0, "transfer:a": 1.5, "transfer:b": 1.2, "moe": 1.1, "moe_ft": 1.3},
        1: {"scratch": 0.9, "transfer:a": 1.5, "transfer:b": 1.4, "moe": 1.0, "moe_ft": 1.6},
    }
    val = {  # seed -> method -> validation loss: what a user can choose by
        0: {"scratch": 0.9, "transfer:a": 0.5, "transfer:b": 0.6, "moe": 0.7, "moe_ft": 0.4},
        1: {"scratch": 0.9, "transfer:a": 0.3, "transfer:b": 0.1, "moe": 0.2, "moe_ft": 0.1},
    }
    rows = [
        {
            "target": "t",
            "size": 50,
            "seed": seed,
            "method": m,
            "metric": "rmse",
            "value": v,
            "val_loss": val[seed][m],
        }  # fmt: skip
        for seed, by_method in values.items()
        for m, v in by_method.items()
    ]
    last = summary_markdown(rows).strip().splitlines()[-1].split("|")[1:-1]
    cells = [c.strip() for c in last]
    # size, 5 means, then moe (vs transfer, vs all), moe_ft (vs transfer, vs all), then the
    # mixture against the transfer, each chosen by validation: seed 0 moe_ft 1.3 vs a 1.5
    # (won), seed 1 moe_ft 1.6 vs b 1.4 (lost)
    assert cells[0] == "50" and cells[4] == "1.050"  # moe: mean of 1.1 and 1.0
    assert cells[6:] == ["2 / 2", "1 / 2", "0 / 2", "0 / 2", "1 / 2"]


def test_few_optimizer_steps_are_warned_about(tmp_path: Path, caplog):
    """A small set at few epochs makes few steps: the log says so and suggests more epochs."""
    table = write_table(tmp_path / "t.csv", [(s, str(heavy_atoms(s))) for s in MOLECULES])
    few = TrainSettings(ensemble=1, epochs=2, batch_size=50, network=SMALL)
    with caplog.at_level(logging.WARNING, logger="makeable.predict.train"):
        train_predictor(read_table(table, targets=["y"]), tmp_path / "few", few)
    warned = [r.getMessage() for r in caplog.records if "optimizer steps" in r.getMessage()]
    assert len(warned) == 1 and "only 2 optimizer steps" in warned[0], warned
    assert "--epochs 200" in warned[0]  # one step an epoch: 200 epochs reach FEW_STEPS
    caplog.clear()
    enough = TrainSettings(ensemble=1, epochs=200, batch_size=50, network=SMALL)
    with caplog.at_level(logging.WARNING, logger="makeable.predict.train"):
        train_predictor(read_table(table, targets=["y"]), tmp_path / "enough", enough)
    assert not [r for r in caplog.records if "optimizer steps" in r.getMessage()]


def test_applicability_domain_and_min_similarity(trained: Path, tmp_path: Path):
    """domain.npz holds the training molecules' fingerprints: a training molecule is at
    similarity 1, an unlike one far below; min_similarity scores molecules outside the domain 0
    and leaves the others as they were; it needs low/high and a predictor with a domain."""
    predictor = load_predictor(trained)
    train = json.loads((trained / "split.json").read_text())["train"]
    inside = Chem.MolFromSmiles(MOLECULES[train[0]])
    far = Chem.MolFromSmiles("O=C(O)c1cc(S(=O)(=O)N)c(Cl)cc1NCc1ccco1")  # furosemide
    near = predictor.nearest_similarity([inside, far])
    assert near[0] == pytest.approx(1.0) and near[1] < 0.3
    smiles = [Chem.MolToSmiles(inside), Chem.MolToSmiles(far)]
    plain = get_objective(f"predictor:{trained}", low=0, high=20)(smiles).values
    kept = get_objective(f"predictor:{trained}", low=0, high=20, min_similarity=0.5)(smiles)
    assert kept.values[0] == pytest.approx(plain[0]) and plain[1] > 0 and kept.values[1] == 0.0
    with pytest.raises(ValueError, match="give low and high"):
        get_objective(f"predictor:{trained}", min_similarity=0.5)
    with pytest.raises(ValueError, match=r">= 0.0 and <= 1.0"):
        get_objective(f"predictor:{trained}", low=0, high=1, min_similarity=1.5)
    old = tmp_path / "old"
    shutil.copytree(trained, old)
    (old / "domain.npz").unlink()
    assert get_objective(f"predictor:{old}", low=0, high=1)(["CCO"]).valid[0]  # still scores
    with pytest.raises(PredictorError, match="no domain.npz"):
        get_objective(f"predictor:{old}", low=0, high=1, min_similarity=0.5)
    (old / "domain.npz").write_bytes(b"not a zip")
    forget_loaded()
    with pytest.raises(PredictorError, match="domain.npz: unreadable"):
        load_predictor(old).nearest_similarity([inside])
    np.savez_compressed(old / "domain.npz", bits=np.zeros(7, dtype=np.uint8))
    forget_loaded()
    with pytest.raises(PredictorError, match=r"bits of shape \(7,\)"):
        load_predictor(old).nearest_similarity([inside])
