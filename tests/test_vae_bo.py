"""Latent-space BO with the SMILES VAE: the GP recovers known functions, design runs spend the
budget exactly, repeat for a seed and resume by replay, a stall stops the run, bad parameters
are one clear error."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from makeable.models.gp import GaussianProcess, expected_improvement, upper_confidence_bound
from tests.lm_toys import TOY_OBJECTIVE, calls_table, interrupted_then_resumed, toy_smiles

BUDGET, INIT = 90, 20
PARAMS = {
    "init_size": INIT, "batch_size": 20, "candidates": 120, "gp_steps": 5,
    "decode": "temperature",
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny VAE trained 30 steps on toy chains (about a second), saved as a model folder."""
    from makeable.chem.smiles_tokens import SmilesTokenizer
    from makeable.generative.vae import SmilesVAE, vae_loss
    from makeable.generative.vae_io import save_vae

    data = toy_smiles(300)
    torch.manual_seed(0)
    model = SmilesVAE(
        SmilesTokenizer.build(data),
        latent_dim=8,
        embedding_dim=8,
        encoder_hidden=16,
        decoder_hidden=32,
        max_len=40,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = random.Random(0)
    for _ in range(30):
        loss = vae_loss(model, model.token_batch(rng.sample(data, 32)), None, beta=0.05)
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()
    return str(save_vae(model, tmp_path_factory.mktemp("vae") / "tiny"))


def _config(vae_folder: str, root: Path, **params):
    from makeable.runs.config import DesignConfig

    pool = root / "pool.smi"
    pool.write_text("\n".join(toy_smiles(60, seed=1)) + "\n")
    return DesignConfig(
        objective=TOY_OBJECTIVE,
        optimizer="vae_bo",
        budget=BUDGET,
        seed=0,
        optimizer_params={"model": vae_folder, **PARAMS, **params},
        pool=str(pool),
    )


@pytest.fixture(scope="module")
def toy_run(vae_folder: str, tmp_path_factory: pytest.TempPathFactory):
    from makeable.runs.design import run_design

    root = tmp_path_factory.mktemp("runs")
    config = _config(vae_folder, root)
    torch.set_num_threads(1)
    return config, root / "run", run_design(config, root / "run", progress=False)


# -- the GP --------------------------------------------------------------------------------------
def test_gp_recovers_a_one_dimensional_function():
    x = np.linspace(0.0, 6.0, 15)[:, None]
    y = np.sin(x[:, 0])
    gp = GaussianProcess(x, y, steps=50)
    mean, std = gp.predict(x)
    assert np.abs(mean - y).max() < 0.02 and std.max() < 0.05  # interpolates its data
    between = np.linspace(0.2, 5.8, 9)[:, None]
    assert np.abs(gp.predict(between)[0] - np.sin(between[:, 0])).max() < 0.05
    far = gp.predict(np.array([[30.0]]))[1][0]
    assert far > 10 * std.max()  # unsure away from the data


def test_gp_finds_the_relevant_dimension_of_a_two_dimensional_function():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(40, 2))
    y = x[:, 0] ** 2  # the second dimension does not matter
    gp = GaussianProcess(x, y, steps=100)
    lengthscales = np.exp(gp.hyper.log_lengthscales)
    assert lengthscales[1] > 3 * lengthscales[0]
    test = rng.uniform(-1.5, 1.5, size=(20, 2))
    assert np.abs(gp.predict(test)[0] - test[:, 0] ** 2).max() < 0.3
    again = GaussianProcess(x, y, steps=0, start=gp.hyper)  # a warm start keeps the fit
    assert np.allclose(again.predict(test)[0], gp.predict(test)[0])


def test_acquisition_functions():
    x = np.linspace(0.0, 6.0, 15)[:, None]  # sin peaks at pi / 2, between two training points
    y = np.sin(x[:, 0])
    gp = GaussianProcess(x, y, steps=50)
    at_best = x[[int(np.argmax(y))]]
    mean, std = gp.predict(np.vstack([at_best, [[np.pi / 2]], [[30.0]]]))
    ei = expected_improvement(mean, std, best=float(y.max()))
    assert mean[1] > y.max()  # the GP places the peak between the two points
    assert ei[0] < 0.01  # the best point itself: little to gain
    assert ei[1] > ei[0] and ei[2] > 10 * ei[0]  # at the true peak, and far away: more
    assert expected_improvement(np.array([2.0, 0.0]), np.array([0.0, 0.0]), 1.0).tolist() == [
        1.0,
        0.0,
    ]
    ucb = upper_confidence_bound(mean, std, kappa=2.0)
    assert np.allclose(ucb, mean + 2.0 * std)


def test_gp_refuses_bad_data():
    with pytest.raises(ValueError, match="need x"):
        GaussianProcess(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        GaussianProcess(np.array([[0.0], [np.nan]]), np.zeros(2))


# -- design runs ---------------------------------------------------------------------------------
def test_design_run_spends_the_budget_exactly(toy_run):
    _, out, result = toy_run
    calls = calls_table(out)
    assert result.metrics["n_calls"] == len(calls) == BUDGET
    assert len({smiles for _, smiles, _, _ in calls}) == BUDGET
    pool = set(toy_smiles(60, seed=1))
    assert 0 < sum(smiles in pool for _, smiles, _, _ in calls) <= INIT


def test_same_seed_same_calls(toy_run, tmp_path):
    from makeable.runs.design import run_design

    config, out, _ = toy_run
    run_design(config, tmp_path / "again", progress=False)
    assert calls_table(tmp_path / "again") == calls_table(out)


def test_interrupted_run_resumes_into_the_same_calls(toy_run, tmp_path):
    config, out, result = toy_run
    resumed = interrupted_then_resumed(config, tmp_path / "cut", stop_at=50)
    assert calls_table(tmp_path / "cut") == calls_table(out)
    assert resumed.metrics["auc_top10"] == result.metrics["auc_top10"]


def test_ucb_and_greedy_decoding_run(vae_folder, tmp_path):
    from makeable.objectives import get_objective
    from makeable.optimizers import get_optimizer
    from makeable.optimizers.base import DesignContext
    from makeable.oracle import Oracle

    params = {**PARAMS, "acquisition": "ucb", "decode": "greedy", "gp_train_size": 30}
    optimizer = get_optimizer("vae_bo", model=vae_folder, **params)
    oracle = Oracle(get_objective(TOY_OBJECTIVE), 40)
    optimizer.optimize(oracle, DesignContext(seed=3, pool=toy_smiles(60, seed=1)))
    assert INIT < oracle.n_calls <= 40  # a tiny VAE's greedy decoding runs out of molecules


def test_a_stalled_search_stops_with_a_reason(vae_folder, monkeypatch, caplog):
    from makeable.generative.vae import SmilesVAE
    from makeable.objectives import get_objective
    from makeable.optimizers import get_optimizer
    from makeable.optimizers.base import DesignContext
    from makeable.oracle import Oracle

    monkeypatch.setattr(SmilesVAE, "decode", lambda self, z, **kw: ["CCNCC"] * len(z))
    optimizer = get_optimizer("vae_bo", model=vae_folder, **PARAMS)
    oracle = Oracle(get_objective(TOY_OBJECTIVE), BUDGET)
    pool = toy_smiles(60, seed=1)
    with caplog.at_level(logging.WARNING, logger="makeable.optimizers.base"):
        optimizer.optimize(oracle, DesignContext(seed=0, pool=pool))
    assert oracle.n_calls == INIT + 1  # the pool molecules and CCNCC, once
    assert "no new molecules for 10 rounds: stopping" in caplog.text


def test_a_pool_the_vae_cannot_encode_is_refused(vae_folder):
    from makeable.objectives import get_objective
    from makeable.optimizers import get_optimizer
    from makeable.optimizers.base import DesignContext
    from makeable.oracle import Oracle

    optimizer = get_optimizer("vae_bo", model=vae_folder)
    oracle = Oracle(get_objective("qed"), 10)
    with pytest.raises(ValueError, match="the VAE can encode none of the 2 molecules"):
        optimizer.optimize(oracle, DesignContext(seed=0, pool=["c1ccccc1Cl", "C1CC1"]))
    assert oracle.n_calls == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"init_size": 0}, "init_size must be an integer >= 1, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer >= 1, got 2.5"),
        ({"gp_train_size": 1}, "gp_train_size must be an integer >= 2, got 1"),
        ({"acquisition": "pi"}, "acquisition must be one of ei, ucb, got 'pi'"),
        ({"decode": "beam"}, "decode must be one of greedy, temperature, got 'beam'"),
        ({"radius": 0}, "radius must be a number > 0.0, got 0"),
        ({"kappa": -1.0}, "kappa must be a number >= 0.0, got -1.0"),
        ({"model": "no/such/folder"}, "model must be a SMILES VAE model folder"),
        ({"model": None}, "pass model=DIR"),
    ],
)
def test_bad_parameters_give_one_clear_error(vae_folder, params, message):
    from makeable.optimizers import get_optimizer

    with pytest.raises(ValueError, match=message) as info:
        get_optimizer("vae_bo", **{"model": vae_folder, **params})
    assert "\n" not in str(info.value)


def test_listed_and_a_missing_model_is_one_line_in_the_cli(capsys, tmp_path):
    from makeable.cli.main import main
    from tests.test_cli_bad_input import one_error

    main(["list", "optimizers"])
    assert "vae_bo" in capsys.readouterr().out.split()
    argv = ["design", "--objective", "qed", "--optimizer", "vae_bo", "--budget", "10"]
    assert "pass model=DIR" in one_error(capsys, [*argv, "--out", str(tmp_path / "run")])
