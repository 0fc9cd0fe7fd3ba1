"""Registries and configs fail loudly, with the valid choices."""

from __future__ import annotations

import pytest

from makeable.objectives import get_objective
from makeable.optimizers import get_optimizer
from makeable.registry import UnknownNameError
from makeable.runs.config import ConfigError, DesignConfig


def test_unknown_objective_lists_choices():
    with pytest.raises(UnknownNameError, match="qed"):
        get_objective("no_such_objective")


def test_unknown_optimizer_parameter_is_refused():
    with pytest.raises(TypeError, match="population_size"):
        get_optimizer("graph_ga", populaton_size=3)


def test_module_function_objective():
    obj = get_objective("tests.conftest:heavy_atoms")
    assert obj.score("CCO") == 3.0
    with pytest.raises(ValueError, match="cannot load"):
        get_objective("tests.conftest:nothing_here")


def test_callable_objective():
    obj = get_objective(lambda smi: len(smi))
    assert list(obj(["CCO", "bad!"]).values) == [3.0, 0.0]


def test_config_unknown_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("objective: qed\nbugdet: 10\n")
    with pytest.raises(ConfigError, match="bugdet"):
        DesignConfig.from_yaml(path)


def test_config_bad_budget():
    with pytest.raises(ConfigError, match="budget"):
        DesignConfig(objective="qed", budget=0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("budget", True),
        ("seed", True),
        ("top_k", 2.5),
        ("top_k", True),
        ("n_workers", -2),
        ("n_workers", 0),
        ("n_workers", 1.5),
        ("objective", 5),
        ("objective_params", [1]),
        ("optimizer_params", "abc"),
    ],
)
def test_config_refuses_wrong_types_and_bools_for_integers(field, value):
    with pytest.raises(ConfigError, match=field):
        DesignConfig(**{"objective": "qed", field: value})


def test_config_from_broken_yaml_names_file_line_and_column(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("objective: [qed\n")
    with pytest.raises(ConfigError, match=r"b\.yaml: invalid YAML: line 2, column 1: expected"):
        DesignConfig.from_yaml(path)
    path.write_text("objective: !!python/name:os.system\n")  # refused: nothing is imported
    with pytest.raises(ConfigError, match="line 1, column 12: could not determine a constructor"):
        DesignConfig.from_yaml(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not a YAML text file"):
        DesignConfig.from_yaml(path)
    with pytest.raises(ConfigError, match="cannot read"):
        DesignConfig.from_yaml(tmp_path)


# Every numeric parameter of every optimizer is checked when the optimizer is made, with a
# message naming it (the values a fuzzer found: text, 0 sizes, rates above 1, bools, NaN).
BAD_OPTIMIZER_PARAMS = [
    ("graph_ga", "population_size", "abc"),
    ("graph_ga", "population_size", 0),
    ("graph_ga", "offspring_size", 0),
    ("graph_ga", "mutation_rate", 5),
    ("graph_ga", "mutation_rate", "high"),
    ("graph_ga", "patience", True),
    ("graph_ga", "patience", -1),
    ("screening", "batch_size", 0),
    ("screening", "batch_size", 2.5),
    ("reinvent", "batch_size", 0),
    ("reinvent", "sigma", -1.0),
    ("reinvent", "lr", 0.0),
    ("reinvent", "lr", float("nan")),
    ("reinvent", "experience_replay", -1),
    ("reinvent", "memory_size", 0),
    ("reinvent", "likelihood_penalty", "x"),
    ("reinvent", "max_len", 0),
    ("reinvent", "threads", -1),
    ("gegl", "apprentice_samples", 0),
    ("gegl", "expert_samples", -1),
    ("gegl", "queue_size", 0),
    ("gegl", "mutation_rate", 1.5),
    ("gegl", "lr", -1e-3),
    ("gegl", "imitation_steps", 0),
    ("gegl", "imitation_batch_size", 0),
    ("gegl", "n_rounds", -1),
    ("gegl", "sampling_batch_size", 0),
    ("gegl", "init_pool", -1),
    ("genetic_gfn", "batch_size", 0),
    ("genetic_gfn", "lr", 0),
    ("genetic_gfn", "lr_z", -0.1),
    ("genetic_gfn", "log_z_init", float("inf")),
    ("genetic_gfn", "beta", 0),
    ("genetic_gfn", "kl_coefficient", -1),
    ("genetic_gfn", "memory_size", 0),
    ("genetic_gfn", "replay_steps", -1),
    ("genetic_gfn", "replay_batch_size", 0),
    ("genetic_gfn", "population_size", -1),
    ("genetic_gfn", "offspring_size", 0),
    ("genetic_gfn", "ga_generations", 1.5),
    ("genetic_gfn", "mutation_rate", 2),
    ("genetic_gfn", "rank_coefficient", 0),
    ("lstm-hc", "mols_to_sample", 0),
    ("lstm-hc", "keep_top", "all"),
    ("lstm-hc", "optimize_n_epochs", -1),
    ("lstm-hc", "optimize_batch_size", 0),
    ("lstm-hc", "lr", 0),
    ("lstm-hc", "max_len", 0),
    ("lstm-hc", "n_rounds", True),
]


@pytest.mark.parametrize(("optimizer", "name", "value"), BAD_OPTIMIZER_PARAMS)
def test_optimizer_parameters_are_checked_by_name(optimizer, name, value):
    with pytest.raises(ValueError, match=rf"^{name} must be "):
        get_optimizer(optimizer, **{name: value})


@pytest.mark.parametrize(
    "optimizer", ["graph_ga", "screening", "reinvent", "gegl", "genetic_gfn", "lstm-hc"]
)
def test_optimizer_defaults_pass_the_checks(optimizer):
    assert get_optimizer(optimizer).params()
