"""Bad input a user can cause gives one clear error line (exit 2, no traceback), before any
work whose results it would lose (found by fuzzing the CLI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from makeable.cli.main import main


def one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI; check it failed with exactly one ``makeable: error:`` line; return it."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("makeable: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("objective: [qed\n", "line 2, column 1: expected ',' or ']'"),
        ("objective: qed\n\tbudget: 3\n", "line 2, column 1: found character '\\t'"),
        ("objective: !!python/object:os.system {}\n", "line 1, column 12: could not determine"),
    ],
)
@pytest.mark.parametrize("command", ["design", "seq"])
def test_broken_yaml_config_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str, command: str
) -> None:
    cfg = tmp_path / "b.yaml"
    cfg.write_text(text)
    argv = ["design"] if command == "design" else ["seq", "design"]
    line = one_error(capsys, [*argv, "--config", str(cfg), "--out", str(tmp_path / "x")])
    assert f"{cfg}: invalid YAML: {expected}" in line
    assert not (tmp_path / "x").exists()


def test_tabs_and_python_tags_get_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("objective: qed\n\tbudget: 3\n")
    line = one_error(capsys, ["design", "--config", str(cfg), "--out", str(tmp_path / "x")])
    assert "indent with spaces, not tabs" in line
    cfg.write_text("objective: !!python/object/apply:os.system ['echo hi']\n")
    line = one_error(capsys, ["design", "--config", str(cfg), "--out", str(tmp_path / "x")])
    assert "builds no Python object" in line  # safe_load refuses the tag; nothing ran


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("budget: true", "budget must be a positive integer, not True"),
        ("top_k: 2.5", "top_k must be an integer >= 1, not 2.5"),
        ("n_workers: -2", "n_workers must be an integer >= 1"),
        ("seed: false", "seed must be an integer"),
        ("optimizer_params: 5", "optimizer_params must be a mapping"),
    ],
)
def test_config_values_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str, expected: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"objective: qed\nbudget: 20\n{yaml_text}\n")
    line = one_error(capsys, ["design", "--config", str(cfg), "--out", str(tmp_path / "x")])
    assert expected in line
    assert not (tmp_path / "x").exists()  # no run folder, no oracle call


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("population_size=abc", "population_size must be an integer >= 1, got 'abc'"),
        ("offspring_size=0", "offspring_size must be an integer >= 1, got 0"),
        ("mutation_rate=5", "mutation_rate must be a probability in [0, 1], got 5"),
        ("patience=true", "patience must be an integer >= 0, got True"),
    ],
)
def test_optimizer_parameters_are_named_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], param: str, expected: str
) -> None:
    argv = ["design", "--objective", "qed", "--budget", "20", "--param", param]
    line = one_error(capsys, [*argv, "--out", str(tmp_path / "x")])
    assert expected in line
    assert not (tmp_path / "x").exists()


def test_design_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("keep me\n")
    argv = ["design", "--objective", "qed", "--budget", "20"]
    line = one_error(capsys, [*argv, "--out", str(tmp_path / "f")])
    assert "is a file, not a folder" in line
    line = one_error(capsys, [*argv, "--out", str(tmp_path / "f" / "run")])
    assert f"{tmp_path / 'f'} is a file" in line
    assert (tmp_path / "f").read_text() == "keep me\n"


def test_retro_plan_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "existing.txt"
    out.write_text("keep me\n")
    argv = ["retro", "plan", "CCO", "--max-calls", "2", "--no-progress", "--out", str(out)]
    line = one_error(capsys, argv)
    assert f"--out {out} is a file, not a folder" in line
    assert out.read_text() == "keep me\n"


def test_retro_predict_html_that_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["retro", "predict", "CCO", "-k", "2", "--model", "template_mlp"]
    line = one_error(capsys, [*argv, "--html", str(tmp_path)])
    assert f"--html {tmp_path} is a folder" in line
    line = one_error(capsys, [*argv, "--html", str(tmp_path / "no" / "p.html")])
    assert "does not exist" in line


@pytest.fixture
def corrupt_model(tmp_path: Path) -> Path:
    """The shipped Template-MLP folder with random bytes for its weights."""
    from makeable.retro.single_step.base import shipped_model_dir

    shipped = shipped_model_dir("template_mlp")
    assert shipped is not None
    folder = tmp_path / "model"
    shutil.copytree(shipped, folder)
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 20)
    return folder


@pytest.mark.parametrize("command", ["plan", "predict"])
def test_corrupt_model_weights_are_one_line_naming_the_file(
    corrupt_model: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = ["retro", command, "CCO", "--model", str(corrupt_model)]
    if command == "plan":
        argv += ["--max-calls", "2", "--no-progress"]
    line = one_error(capsys, argv)
    assert f"{corrupt_model / 'model.safetensors'} is not a readable safetensors file" in line


def test_corrupt_model_config_and_templates(
    corrupt_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.retro.single_step.base import shipped_model_dir

    shipped = shipped_model_dir("template_mlp")
    assert shipped is not None
    shutil.copy(shipped / "model.safetensors", corrupt_model / "model.safetensors")
    (corrupt_model / "templates.json.gz").write_bytes(b"not gzip at all")
    argv = ["retro", "predict", "CCO", "--model", str(corrupt_model)]
    assert "cannot read the model's files" in one_error(capsys, argv)
    (corrupt_model / "config.json").write_text('{"model": ')
    assert f"{corrupt_model / 'config.json'} is not valid JSON" in one_error(capsys, argv)
    (corrupt_model / "config.json").write_text("[1, 2]")
    assert "does not hold a JSON object" in one_error(capsys, argv)


def always_raises(smiles: str) -> float:
    raise RuntimeError("cannot reach the docking server")


def test_design_with_an_objective_that_never_scores_warns_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to exit 0 with every metric 0 and no warning."""
    argv = ["design", "--objective", f"{__name__}:always_raises", "--optimizer", "screening"]
    argv += ["--budget", "30", "--no-progress", "--out", str(tmp_path / "r")]
    with caplog.at_level("WARNING"):
        assert main(argv) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        "failed on every molecule of the first batch" in w
        and "RuntimeError: cannot reach the docking server" in w
        for w in warnings
    ), warnings
