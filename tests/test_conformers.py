"""Conformers: the torsion environment (angles round-trip, energies are RDKit's MMFF94), trajectory
balance learning a known two-torsion density, the SDF and report, the CLI's one-line errors and
the benchmark's resumable rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import rdForceFieldHelpers, rdMolTransforms

from makeable.cli.main import main
from makeable.conformers import ensemble, metrics
from makeable.conformers.generate import generate
from makeable.conformers.gfn import K_B_KCAL_MOL, GFNSettings, train_gfn
from makeable.conformers.output import write_report, write_sdf
from makeable.conformers.torsions import TorsionEnvironment, rotatable_torsions, wrap

SMILES = "CCOC(=O)c1ccccc1OC"  # four rotatable torsions


@pytest.fixture(scope="module")
def env() -> TorsionEnvironment:
    return TorsionEnvironment.from_smiles(SMILES, seed=0)


@pytest.mark.parametrize(
    ("smiles", "count"),
    [
        (SMILES, 4),
        ("FC(F)(F)c1ccccc1CCO", 2),  # CF3 (symmetric rotor) and the OH (hydrogens only) left out
        ("CC(C)(C)OC(=O)C", 1),  # tert-butyl left out
        ("OCc1ccccc1C#CC", 1),  # no torsion through the sp carbons
    ],
)
def test_rotatable_torsions(smiles: str, count: int) -> None:
    assert len(rotatable_torsions(Chem.AddHs(Chem.MolFromSmiles(smiles)))) == count


def test_angles_round_trip(env: TorsionEnvironment) -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-np.pi, np.pi, (6, env.dim))
    coords = env.coords(angles)
    assert np.allclose(wrap(env.angles_of(coords) - angles), 0.0, atol=1e-9)
    mol = env.conformer_mol(angles)
    for conf, state in zip(mol.GetConformers(), angles, strict=True):
        read = [rdMolTransforms.GetDihedralRad(conf, *quad) for quad in env.torsions]
        assert np.allclose(wrap(np.array(read) - state), 0.0, atol=1e-9)
    # only torsions move: every bond length stays as in the frame
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in env.mol.GetBonds()]
    for i, j in bonds:
        length = np.linalg.norm(coords[:, i] - coords[:, j], axis=1)
        assert np.allclose(length, np.linalg.norm(env.coords0[i] - env.coords0[j]))
    # the frame's own angles give the frame back
    assert np.allclose(env.angles_of(env.coords0), env.angles0)


def test_energies_are_rdkit_mmff_and_cached(env: TorsionEnvironment) -> None:
    rng = np.random.default_rng(1)
    angles = rng.uniform(-np.pi, np.pi, (5, env.dim))
    before = env.calls
    energies = env.energies(angles)
    assert env.calls == before + 5
    mol = env.conformer_mol(angles)
    props = rdForceFieldHelpers.MMFFGetMoleculeProperties(mol)
    for conf, energy in zip(mol.GetConformers(), energies, strict=True):
        ff = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, props, confId=conf.GetId())
        assert ff.CalcEnergy() == pytest.approx(energy, rel=1e-9, abs=1e-6)
    again = env.energies(angles + 2 * np.pi)  # the same states: served from the cache
    assert env.calls == before + 5
    assert np.array_equal(again, energies)


def _toy_log_density(angles: np.ndarray) -> np.ndarray:
    """A correlated two-torsion density with normaliser 1: a mixture of products of von Mises."""
    kappa = 4.0
    log_norm = math.log(2 * math.pi * np.i0(kappa))
    parts = []
    for w, mu, nu in ((0.6, -1.5, 1.5), (0.4, 1.5, -1.0)):
        parts.append(
            math.log(w)
            + kappa * np.cos(angles[:, 0] - mu)
            + kappa * np.cos(angles[:, 1] - nu)
            - 2 * log_norm
        )
    return np.logaddexp(*parts)


def test_trajectory_balance_learns_a_known_two_torsion_density() -> None:
    temperature_k = 1.0 / K_B_KCAL_MOL  # kT = 1, so log R = −E
    settings = GFNSettings(
        budget=4000, temperature_k=temperature_k, t_start_k=temperature_k, local=0.0, lr=3e-3,
        hidden=128, components=4, updates=8,
    )  # fmt: skip
    policy, result = train_gfn(lambda x: -_toy_log_density(x), 2, 200, settings, seed=0)
    assert result.calls <= 4000
    # the density is normalised, so log Z → 0
    assert abs(policy.log_z.item()) < 0.1
    axis = -np.pi + (np.arange(90) + 0.5) * 2 * np.pi / 90
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    cell = (2 * np.pi / 90) ** 2
    with torch.no_grad():
        learned = np.exp(policy.log_prob(torch.as_tensor(grid, dtype=torch.float32)).numpy())
    true = np.exp(_toy_log_density(grid))
    total_variation = 0.5 * np.abs(learned - true).sum() * cell
    assert total_variation < 0.05  # measured 0.011; untrained 0.69
    # a policy that learned nothing (uniform) is far away
    assert 0.5 * np.abs(1 / (4 * np.pi**2) - true).sum() * cell > 0.5


def test_metrics() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(-np.pi, np.pi, (500, 2))
    assert metrics.torsion_w1(a, a) == pytest.approx(0.0)
    point = np.zeros((50, 1))
    assert metrics.torsion_w1(point, point + np.pi - 0.01) == pytest.approx(180.0, abs=5.0)
    assert metrics.energy_w1(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == pytest.approx(1.0)
    weights = np.array([0.0, 1.0])
    assert metrics.energy_w1(np.array([2.0]), np.array([0.0, 2.0]), weights) == pytest.approx(0.0)


def test_rmsd_coverage(env: TorsionEnvironment) -> None:
    rmsd = metrics.RMSD(env.mol)
    x = env.coords(np.array([env.angles0, env.angles0 + 0.05, env.angles0 + 2.0]))
    m = rmsd.matrix(x[:1], x)
    assert m[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert m[0, 1] < 0.5 < m[0, 2]
    assert metrics.coverage(x[:1], x[2:], rmsd) == {0.5: 0.0, 1.0: float(m[0, 2] <= 1.0)}
    # a phenyl flip is the same structure
    flip = env.coords(env.angles0[None])
    benzene = metrics.RMSD(Chem.AddHs(Chem.MolFromSmiles("c1ccccc1")))
    assert len(benzene.perms) == 12 and flip.shape[0] == 1


def test_distinct_keeps_the_lowest_of_each_neighbourhood() -> None:
    # four states on a line (1 Å apart, two atoms): 0 and 1 are one conformer at separation
    # 1.5 (distance-matrix RMSD 1/sqrt(1) = 1 Å), 3 lies beyond the energy window
    coords = np.zeros((5, 2, 3))
    coords[:, 1, 0] = [1.0, 2.0, 4.0, 8.0, 1.1]
    energies = np.array([0.5, 0.0, 1.0, 7.0, np.nan])
    pick = ensemble.distinct(energies, lambda idx: coords[idx], n=10, separation=1.5)
    assert pick.tolist() == [1, 2]  # 0 lies within 1 Å of 1 (lower); 3 is 7 kcal/mol up
    assert ensemble.distinct(energies, lambda idx: coords[idx], n=10, separation=0.5).tolist() == [
        1, 0, 2
    ]  # fmt: skip
    assert ensemble.distinct(energies, lambda idx: coords[idx], n=1).tolist() == [1]
    assert ensemble.distinct(np.array([np.nan]), lambda idx: coords[idx], n=3).size == 0


def test_recorder_keeps_every_state_asked_about() -> None:
    rec = ensemble.Recorder(lambda x: x.sum(axis=1))
    assert rec(np.ones((2, 3))).tolist() == [3.0, 3.0]
    rec(np.zeros((1, 3)))
    states, energies = rec.states()
    assert states.shape == (3, 3) and energies.tolist() == [3.0, 3.0, 0.0]


def test_gfn_sdf_and_report(tmp_path) -> None:
    cset = generate(SMILES, "gfn", n=12, seed=3, budget=400, select="samples")
    assert cset.calls is not None and cset.calls <= 400
    assert np.allclose(cset.weights, 1 / 12)  # Boltzmann draws weigh alike
    again = generate(SMILES, "gfn", n=12, seed=3, budget=400, select="samples")
    assert np.array_equal(cset.energies, again.energies)  # deterministic for a seed
    ens = generate(SMILES, "gfn", n=12, seed=3, budget=400)  # distinct conformers (default)
    assert ens.selection == "distinct" and 1 <= len(ens.energies) <= 12
    assert ens.energies.min() <= cset.energies.min()  # the lowest state evaluated is kept
    assert ens.energies.max() <= ens.energies.min() + 6.0
    expected = np.exp(-(ens.energies - ens.energies.min()) / (K_B_KCAL_MOL * 298.15))
    assert np.allclose(ens.weights, expected / expected.sum())
    sdf = write_sdf(tmp_path / "c.sdf", cset)
    report = write_report(tmp_path / "c.html", cset, "c.sdf")
    mols = list(Chem.SDMolSupplier(str(sdf), removeHs=False))
    assert len(mols) == 12
    assert all(m.GetNumAtoms() == cset.mol.GetNumAtoms() for m in mols)
    assert all(any(a.GetAtomicNum() == 1 for a in m.GetAtoms()) for m in mols)
    energies = [m.GetDoubleProp("energy_kcal_mol") for m in mols]
    assert energies == sorted(energies)
    assert mols[0].GetDoubleProp("relative_energy_kcal_mol") == 0.0
    assert sum(m.GetDoubleProp("boltzmann_weight") for m in mols) == pytest.approx(1.0)
    assert {m.GetProp("method") for m in mols} == {"gfn"}
    assert {m.GetIntProp("seed") for m in mols} == {3}
    # the SDF energies are MMFF94's own for the written coordinates (4 decimals in the file)
    props = rdForceFieldHelpers.MMFFGetMoleculeProperties(mols[0])
    ff = rdForceFieldHelpers.MMFFGetMoleculeForceField(mols[0], props)
    assert ff.CalcEnergy() == pytest.approx(energies[0], abs=0.01)
    page = report.read_text()
    assert page.count("data:image/png;base64") == 2 and "Boltzmann weight" in page


def test_etkdg_conformers_differ_for_every_seed(env: TorsionEnvironment) -> None:
    from makeable.conformers.sampling import etkdg_conformers

    sets = []
    for seed in (0, 1, 2):  # RDKit's own seeds 0 (all alike) and 2 (half of 1's) would fail
        mol, _ = etkdg_conformers(env.mol, 6, seed)
        sets.append({tuple(np.round(c.GetPositions()[0], 3)) for c in mol.GetConformers()})
    assert all(len(s) == 6 for s in sets)
    assert not (sets[0] & sets[1]) and not (sets[1] & sets[2])


def test_cli_etkdg_folder(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["conformers", SMILES, "--method", "etkdg", "--n", "4", "--out", str(out)]) == 0
    for name in ("config.yaml", "versions.json", "conformers.sdf", "report.html", "summary.md"):
        assert (out / name).exists()
    mols = list(Chem.SDMolSupplier(str(out / "conformers.sdf"), removeHs=False))
    assert 1 <= len(mols) <= 4  # near-duplicates pruned (the default selection: distinct)
    assert f"{len(mols)} distinct conformers within 6 kcal/mol" in capsys.readouterr().out
    assert {m.GetProp("selection") for m in mols} == {"distinct"}


@pytest.mark.parametrize(
    ("smiles", "message"),
    [("C1CC", "not a valid SMILES"), ("CC", "no rotatable torsion"), ("CCO.O", "fragments")],
)
def test_cli_bad_molecule_is_one_line(tmp_path, capsys, smiles: str, message: str) -> None:
    assert main(["conformers", smiles, "--out", str(tmp_path / "c.sdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("makeable: error:") and "\n" not in err


def test_cli_unwritable_path_is_one_line(tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["conformers", SMILES, "--out", str(blocker / "c.sdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("makeable: error: cannot write") and "\n" not in err


def test_xtb_energy(env: TorsionEnvironment) -> None:
    pytest.importorskip("tblite")
    from makeable.conformers.energy import XTBEnergy

    model = XTBEnergy(env.mol)
    x = env.coords(np.array([env.angles0, env.angles0 + 0.3]))
    e = model(x)
    assert np.all(np.isfinite(e)) and e[0] != e[1]
    assert np.array_equal(model(x), e)


def test_bench_rows_and_resume(tmp_path) -> None:
    from makeable.bench.conformers import BenchSettings, run_conformer_bench
    from makeable.results_csv import read_csv

    settings = BenchSettings(n=40, budget=600, smiles=("COc1ccccc1CO",))  # 2 torsions: a grid
    results = run_conformer_bench(settings, tmp_path / "b", progress=False)
    rows = read_csv(results)
    assert [r["method"] for r in rows] == ["gfn", "mcmc", "etkdg"]
    assert all(r["reference"].startswith("grid") for r in rows)
    assert all(0.0 <= float(r["coverage_1.0"]) <= 1.0 for r in rows)
    for r in rows:  # the ensemble holds at most n conformers
        assert 1 <= int(r["ensemble_size"]) <= 40
    assert int(rows[2]["ensemble_size"]) == 40  # ETKDG's ensemble: its own conformers
    assert int(rows[0]["energy_calls"]) <= 600
    run_conformer_bench(settings, tmp_path / "b", progress=False)  # resumed: nothing to do
    assert len(read_csv(results)) == 3
    assert "1 of 1 molecules done" in (tmp_path / "b" / "summary.md").read_text()
