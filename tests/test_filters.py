"""Structural-alert filters, neutralisation, basic properties, and filtered design runs."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from rdkit import Chem

from makeable.chem.descriptors import basic_properties
from makeable.chem.filters import (
    SmartsFilterSet,
    SmartsRule,
    alerts,
    filter_set_names,
    get_filter_set,
    passes,
)
from makeable.chem.molecule import InvalidSmilesError, neutralize
from makeable.cli.main import main
from makeable.oracle.oracle import Oracle
from makeable.oracle.store import RunStore
from makeable.registry import UnknownNameError
from makeable.runs.config import ConfigError, DesignConfig
from makeable.runs.design import load_pool, run_design

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
BENZYLIDENE_RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"  # PAINS ene_rhod_A


@pytest.fixture(autouse=True)
def shipped_sample(monkeypatch, tmp_path):
    """Design runs here use the shipped ZINC sample (fast, and the same on every machine)."""
    from makeable.data import molecules

    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path / "cache"))
    molecules.zinc250k.cache_clear()
    yield
    molecules.zinc250k.cache_clear()


def counted_smiles(run_dir: Path) -> list[str]:
    db = sqlite3.connect(run_dir / "run.db")
    try:
        return [row[0] for row in db.execute("SELECT smiles FROM calls ORDER BY idx")]
    finally:
        db.close()


# -- filter sets -------------------------------------------------------------------------------
def test_peroxide_fails_basic():
    assert not passes("COOc1ccccc1", ["basic"])
    assert [str(a) for a in alerts("COOc1ccccc1", "basic")] == ["basic: peroxide (O-O bond)"]


def test_pains_example_fails_pains_in_both_copies():
    for name in ("pains", "pains_rdf"):
        found = alerts(BENZYLIDENE_RHODANINE, [name])
        assert [a.rule for a in found] == ["ene_rhod_A(235)"]
        assert found[0].filter_set == name


def test_aspirin_passes():
    assert passes(ASPIRIN, ["basic", "pains", "pains_rdf", "glaxo", "bms", "nih", "zinc"])
    assert alerts(ASPIRIN, ["basic", "pains"]) == []


@pytest.mark.parametrize(
    ("smiles", "ok"),
    [
        ("C[NH3+]", False),  # a protonated amine: neutralise it first
        ("C[N+](C)(C)C", False),  # quaternary ammonium
        ("CC(=O)Cl", False),
        ("CN(C)Cl", False),
        ("C[Sn](C)(C)C", False),
        ("C[N+](=O)[O-]", True),  # nitro
        ("[O-][n+]1ccccc1", True),  # N-oxide
        ("CCO", True),
    ],
)
def test_basic_rules(smiles, ok):
    assert passes(smiles, "basic") is ok


def test_max_count_semantics():
    """A molecule fails a rule with more than ``max_count`` matches (rd_filters' ``max``)."""
    at_most_one_oh = SmartsFilterSet("t", "test", [SmartsRule("two OH", "[OX2H]", max_count=1)])
    assert not at_most_one_oh.has_alert(Chem.MolFromSmiles("CCO"))
    assert at_most_one_oh.has_alert(Chem.MolFromSmiles("OCCO"))
    # the shipped collection says max 0: one match fails
    glaxo = get_filter_set("glaxo")
    assert isinstance(glaxo, SmartsFilterSet)
    assert {r.max_count for r in glaxo.smarts_rules} == {0}
    assert not passes("CCCl", ["glaxo"])  # R1 reactive alkyl halides


def test_rd_filters_sets_are_loaded():
    sizes = {n: len(get_filter_set(n).rules) for n in ("glaxo", "pains_rdf", "lint", "bms")}
    assert sizes == {"glaxo": 55, "pains_rdf": 481, "lint": 57, "bms": 179}  # one BMS unparseable
    assert {"basic", "pains", "brenk", "nih", "zinc", "dundee", "surechembl"} <= set(
        filter_set_names()
    )


def test_unknown_filter_set_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown filter set 'nope'.*basic.*pains"):
        get_filter_set("nope")
    with pytest.raises(UnknownNameError):
        passes("CCO", ["basic", "nope"])
    with pytest.raises(UnknownNameError, match="nope"):
        DesignConfig(objective="qed", filters=["nope"])
    with pytest.raises(ConfigError, match="list of filter set names"):
        DesignConfig(objective="qed", filters="basic")  # type: ignore[arg-type]


def test_invalid_smiles():
    assert not passes("C1CC", ["basic"])
    with pytest.raises(InvalidSmilesError):
        alerts("C1CC", ["basic"])


# -- neutralisation and properties --------------------------------------------------------------
@pytest.mark.parametrize(
    ("charged", "neutral"),
    [
        ("C[NH3+]", "CN"),
        ("CC(=O)[O-]", "CC(=O)O"),
        ("[NH3+]CC(=O)[O-]", "NCC(=O)O"),
        ("C[N+](=O)[O-]", "C[N+](=O)[O-]"),  # nitro stays as drawn
    ],
)
def test_neutralize(charged, neutral):
    assert neutralize(charged) == neutral


def test_neutralize_invalid():
    with pytest.raises(InvalidSmilesError):
        neutralize("not a smiles")


def test_basic_properties_of_aspirin():
    props = basic_properties(ASPIRIN)
    assert list(props) == ["mw", "clogp", "hbd", "hba", "tpsa", "rotatable_bonds", "qed", "sa"]
    assert props["mw"] == pytest.approx(180.159, abs=1e-3)
    assert props["clogp"] == pytest.approx(1.3101, abs=1e-3)
    assert (props["hbd"], props["hba"]) == (1, 4)
    assert props["tpsa"] == pytest.approx(63.6, abs=0.01)
    assert 0 < props["qed"] < 1 and 1 <= props["sa"] <= 10


def test_zinc_pool_is_neutral_and_unique():
    from makeable.data.molecules import zinc250k

    def protonated(smiles: list[str] | tuple[str, ...]) -> int:
        return sum(any(f"[NH{h}+]" in s for h in ("", "2", "3")) for s in smiles)

    pool, source = load_pool("zinc250k")
    assert source.endswith(", neutralised")
    assert len(set(pool)) == len(pool)
    assert protonated(zinc250k()) > 2000
    assert protonated(pool) <= 2  # zwitterions RDKit's Uncharger keeps, e.g. [N-][NH3+]


# -- the oracle's accept predicate ---------------------------------------------------------------
def test_oracle_treats_rejected_molecules_as_invalid(toy_objective, tmp_path):
    with RunStore(tmp_path / "run.db") as store:
        oracle = Oracle(toy_objective, 10, store, accept=lambda s: passes(s, ["basic"]))
        result = oracle.evaluate(["CCO", "COOC", "not a smiles", "OCC"])
        assert result.scores.tolist() == [3.0, 0.0, 0.0, 3.0]
        assert result.valid.tolist() == [True, False, False, True]
        assert result.scored.tolist() == [True, True, True, True]
        assert result.smiles == ["CCO", None, None, "CCO"]
        assert oracle.n_calls == 1
        assert [c.smiles for c in store.calls()] == ["CCO"]


# -- filtered design runs ------------------------------------------------------------------------
FILTERED = ["basic", "brenk"]  # brenk flags about a quarter of ZINC: the filter has work to do


def test_filtered_run_counts_only_molecules_that_pass(tmp_path):
    config = DesignConfig(objective="qed", budget=200, seed=0, filters=FILTERED)
    seen: list[bool] = []
    original = Oracle.canonical

    def spy(self, smiles):
        canon = original(self, smiles)
        seen.append(canon is None and self.objective.canonical(smiles) is not None)
        return canon

    Oracle.canonical = spy  # type: ignore[method-assign]
    try:
        result = run_design(config, tmp_path / "run", progress=False)
    finally:
        Oracle.canonical = original  # type: ignore[method-assign]
    assert any(seen), "no proposal was filtered: the test does not test the filter"
    smiles = counted_smiles(tmp_path / "run")
    assert len(smiles) == result.metrics["n_calls"] == 200  # filtered molecules are free
    assert all(passes(s, FILTERED) for s in smiles)


def test_filtered_run_resumes_after_interruption(tmp_path):
    config = DesignConfig(objective="qed", budget=300, seed=2, filters=FILTERED)
    whole = run_design(config, tmp_path / "whole", progress=False)
    original = Oracle._score_new

    def interrupt_late(self, new):
        original(self, new)
        if self.n_calls >= 150:
            raise KeyboardInterrupt

    Oracle._score_new = interrupt_late  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            run_design(config, tmp_path / "cut", progress=False)
    finally:
        Oracle._score_new = original  # type: ignore[method-assign]
    assert 150 <= len(counted_smiles(tmp_path / "cut")) < 300
    resumed = run_design(config, tmp_path / "cut", progress=False)
    assert counted_smiles(tmp_path / "cut") == counted_smiles(tmp_path / "whole")
    assert resumed.metrics == whole.metrics
    with RunStore(tmp_path / "cut" / "run.db") as store:
        assert store.get_meta("sessions")[-1]["resumed_from"] >= 150
    # the filters decide what a run proposes: another list is another run
    with pytest.raises(ConfigError, match="filters"):
        run_design(DesignConfig(objective="qed", budget=300, seed=2), tmp_path / "cut")


def test_run_from_the_old_charged_pool_is_not_resumed(tmp_path):
    """A run recorded before the pool was neutralised is re-opened when finished, never
    resumed: its replay would diverge from the first call."""
    config = DesignConfig(objective="qed", budget=60, seed=0)
    run_design(config, tmp_path / "run", progress=False)
    old_pool = "zinc250k_sample (10,000, shipped)"
    with RunStore(tmp_path / "run" / "run.db") as store:
        store.set_meta("pool", old_pool)
    reopened = run_design(config, tmp_path / "run", progress=False)
    assert reopened.metrics["pool"] == old_pool
    more = DesignConfig(objective="qed", budget=100, seed=0)
    with pytest.raises(ConfigError, match="another initial pool"):
        run_design(more, tmp_path / "run", progress=False)


def test_top_csv_and_report_show_properties_and_alerts(tmp_path):
    config = DesignConfig(objective="qed", optimizer="screening", budget=60, seed=0, top_k=10)
    run_design(config, tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "top.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 10
    assert {"mw", "clogp", "hbd", "hba", "tpsa", "rotatable_bonds", "qed", "sa", "alerts"} <= set(
        rows[0]
    )
    for row in rows:
        expected = "; ".join(str(a) for a in alerts(row["smiles"], ["basic", "pains", "brenk"]))
        assert row["alerts"] == expected
        assert float(row["qed"]) == pytest.approx(float(row["score"]), abs=1e-3)
    report = (tmp_path / "run" / "report.html").read_text()
    assert report.count('class="props"') == 30 and "cLogP" in report


# -- command line --------------------------------------------------------------------------------
def test_cli_filters_flag(tmp_path):
    out = tmp_path / "r"
    args = ["design", "--objective", "qed", "--budget", "40", "--filters", "basic", "pains"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    assert "filters:\n- basic\n- pains\n" in (out / "config.yaml").read_text()
    assert all(passes(s, ["basic", "pains"]) for s in counted_smiles(out))


def test_cli_bad_filter_name_is_one_clear_line(tmp_path, capsys):
    args = ["design", "--objective", "qed", "--filters", "basic", "peroxides"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("makeable: error: unknown filter set 'peroxides'; choose one of:")
    assert "\n" not in err
    assert not (tmp_path / "r").exists()


def test_cli_list_filters(capsys):
    assert main(["list", "filters"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == filter_set_names()
