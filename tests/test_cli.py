"""The console script: score, list, design errors."""

from __future__ import annotations

import csv

import pytest

from makeable.cli.main import main


def test_score_writes_one_row_per_line_in_order(tmp_path, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO\n\nnot_a_smiles\nc1ccccc1 benzene\n")
    out = tmp_path / "out.csv"
    assert (
        main(["score", str(src), "--objective", "qed", "--objective", "sa", "--out", str(out)]) == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert [r["smiles"] for r in rows] == ["CCO", "", "not_a_smiles", "c1ccccc1"]
    assert list(rows[0]) == ["smiles", "qed", "sa", "valid"]
    assert [r["valid"] for r in rows] == ["1", "0", "0", "1"]
    assert float(rows[1]["qed"]) == 0.0 and float(rows[2]["sa"]) == 0.0
    assert float(rows[0]["qed"]) > 0
    assert "2 of 4 lines were invalid" in capsys.readouterr().err


def test_score_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nope.smi"), "--objective", "qed", "--out", "x.csv"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unknown_objective_is_a_clear_error(tmp_path, capsys):
    args = ["design", "--objective", "qeed", "--budget", "10", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown objective 'qeed'" in err and "qed" in err


def test_list_objectives_has_all_pmo_tasks(capsys):
    from makeable.bench.pmo import PMO_TASKS

    assert main(["list", "objectives"]) == 0
    names = capsys.readouterr().out.split()
    assert set(PMO_TASKS) <= set(names)
    assert {"logp", "sa", "crippen_logp"} <= set(names)


def test_design_from_yaml_config(tmp_path, monkeypatch):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    cfg = tmp_path / "run.yaml"
    cfg.write_text("objective: qed\noptimizer: screening\nbudget: 120\nseed: 4\n")
    assert (
        main(["design", "--config", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    )
    assert (tmp_path / "r" / "report.html").exists()


@pytest.mark.parametrize("bad", ["--budget=0", "--param=population_size"])
def test_bad_flags(tmp_path, bad, capsys):
    args = ["design", "--objective", "qed", bad, "--out", str(tmp_path / "r")]
    assert main(args) == 2


def test_list_every_registry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for what in ("objectives", "optimizers", "stocks", "filters", "models", "seq-tasks"):
        assert f"\n{what} (" in f"\n{out}", what
    for what in ("seq-optimizers", "executors", "templates"):
        assert f"\n{what} (" in out, what
    for name in ("qed", "graph_ga", "building_blocks", "pains_a", "template_mlp", "tfbind8"):
        assert name in out, name
    for name in ("delta_cs", "inprocess", "hb_real"):
        assert name in out, name


@pytest.mark.parametrize(
    ("what", "names"),
    [
        ("models", {"retcl", "template_mlp", "template_mlp_forward"}),
        ("seq-tasks", {"tfbind8", "aav", "rna_a"}),
        ("seq_optimizers", {"delta_cs", "gfn_al", "adalead", "mutation"}),
        ("executors", {"inprocess", "process"}),
        ("templates", {"hb_edited", "real", "hb_real"}),
        ("optimizers", {"graph_ga", "lstm-hc", "synthesis_ga"}),
    ],
)
def test_list_one_registry(capsys, what, names):
    assert main(["list", what]) == 0
    assert names <= set(capsys.readouterr().out.split())


def test_design_and_config_take_names_with_dash_or_underscore(tmp_path, monkeypatch, capsys):
    """--optimizer graph-ga is graph_ga: the run records graph_ga and resumes under either."""
    import yaml

    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    out = tmp_path / "r"
    args = ["design", "--objective", "qed", "--budget", "30", "--out", str(out), "--no-progress"]
    assert main([*args, "--optimizer", "graph-ga", "--param", "population_size=20"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["optimizer"] == "graph_ga"
    cfg = tmp_path / "run.yaml"
    cfg.write_text("objective: qed\noptimizer: graph_ga\noptimizer_params: {population_size: 20}\n")
    assert main(["design", "--config", str(cfg), "--budget", "40", "--out", str(out)]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["budget"] == 40
    capsys.readouterr()
    assert main([*args, "--optimizer", "graph-gaa"]) == 2
    assert "unknown optimizer 'graph-gaa'; choose one of: fragment_rag, gegl, genetic_gfn" in (
        capsys.readouterr().err
    )


def test_user_error_is_one_line_and_verbose_shows_the_traceback(tmp_path, capsys):
    args = ["design", "--objective", "qeed", "--budget", "10", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("makeable: error: unknown objective 'qeed'") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    for verbose in (["-v", *args], [*args, "--verbose"]):  # before or after the subcommand
        assert main(verbose) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "UnknownNameError" in err
        assert err.strip().splitlines()[-1].startswith("makeable: error: unknown objective 'qeed'")


def test_a_bug_keeps_its_traceback(monkeypatch, capsys):
    """A TypeError from a bug (raised by Python or a library, not by a ``raise`` of makeable)
    is not turned into a one-line message: it propagates with its traceback, with or without
    -v. An error makeable raises on purpose stays one line."""
    from makeable.cli import listing

    def broken(args):
        return len(None)  # a bug: TypeError

    monkeypatch.setattr(listing, "run", broken)
    for argv in (["list"], ["-v", "list"]):
        with pytest.raises(TypeError, match="has no len"):
            main(argv)

    # a ValueError raised on purpose by makeable (cli/bench.py) is the user's: one line
    assert main(["bench", "pmo-table", "no-equals-sign"]) == 2
    assert capsys.readouterr().err == "makeable: error: expected NAME=CSV, got 'no-equals-sign'\n"


def test_unknown_flags_are_still_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list", "executors", "--bogus"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_a_closed_pipe_is_not_an_error():
    """`makeable list | head -1`: the reader leaves early; no traceback."""
    import subprocess
    import sys

    code = (  # a listing far longer than a pipe's buffer, read one line
        "import sys; import makeable.cli.listing as listing;"
        "listing.run = lambda args: [print('x' * 99) for _ in range(50000)] and 0;"
        "from makeable.cli.main import main; sys.exit(main(['list']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # like head after its first line
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 141
