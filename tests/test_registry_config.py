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


# Registry names: "-" and "_" are the same character; listings and run folders keep the
# registered spelling.


def test_registry_reads_dash_and_underscore_alike():
    from makeable.registry import Registry

    things: Registry[str] = Registry("thing")
    things.add("one_two", lambda: "a")
    things.add("three-four", lambda: "b")
    assert things.build("one-two") == "a" and things.build("one_two") == "a"
    assert things.build("three_four") == "b" and things.build("three-four") == "b"
    assert "one-two" in things and "three_four" in things and 5 not in things
    assert things.names() == ["one_two", "three-four"]  # as registered
    assert things.canonical("one-two") == "one_two"
    assert things.canonical("three_four") == "three-four"
    with pytest.raises(ValueError, match="registered twice"):
        things.add("one-two", lambda: "c")
    with pytest.raises(UnknownNameError, match="unknown thing 'five'; choose one of: one_two, "):
        things.canonical("five")


@pytest.mark.parametrize(
    ("spelling", "registered"),
    [("graph-ga", "graph_ga"), ("graph_ga", "graph_ga"), ("lstm-hc", "lstm-hc")]
    + [("lstm_hc", "lstm-hc"), ("genetic-gfn", "genetic_gfn"), ("synthesis-ga", "synthesis_ga")],
)
def test_optimizer_names_with_dash_or_underscore(spelling, registered):
    from makeable.bench.jobs import registered_optimizer
    from makeable.optimizers import OPTIMIZERS, optimizer_names

    assert registered in optimizer_names()  # loads the built-in optimizers
    assert OPTIMIZERS.canonical(spelling) == registered
    assert registered_optimizer(spelling) == registered  # benchmarks record and resume by it
    if spelling.startswith("graph"):
        assert get_optimizer(spelling).params() == get_optimizer("graph_ga").params()


def test_other_registries_read_either_spelling():
    from makeable.chem.filters import get_filter_set
    from makeable.data.stocks import load_stock
    from makeable.oracle.executor import EXECUTORS
    from makeable.sequences.optimizers import SEQ_OPTIMIZERS
    from makeable.sequences.tasks import TASKS, task_names

    assert (
        get_objective("celecoxib-rediscovery").name == get_objective("celecoxib_rediscovery").name
    )
    assert get_filter_set("pains-a").about == get_filter_set("pains_a").about
    assert load_stock("building-blocks").describe() == load_stock("building_blocks").describe()
    assert SEQ_OPTIMIZERS.canonical("delta-cs") == "delta_cs"
    assert "rna_a" in task_names() and TASKS.canonical("rna-a") == "rna_a"
    assert EXECUTORS.canonical("inprocess") == "inprocess"
    config = DesignConfig(objective="qed", filters=["pains-a", "basic"])
    assert config.filters == ["pains_a", "basic"]  # recorded as registered
    with pytest.raises(UnknownNameError, match="choose one of: bai, basic"):
        DesignConfig(objective="qed", filters=["pains-z"])


def test_run_records_the_registered_name_and_resumes_under_either(tmp_path):
    """A run folder recorded with ``lstm-hc`` (the only spelling before) resumes with
    ``lstm_hc``, and keeps recording ``lstm-hc``."""
    import yaml

    from makeable.runs.design import run_design
    from tests.lm_toys import design

    params = {"mols_to_sample": 48, "keep_top": 24, "optimize_batch_size": 24}
    config, first = design("lstm-hc", params, 60, tmp_path / "run")
    assert first.metrics["n_calls"] == 60
    resumed = run_design(
        DesignConfig(**{**config.to_dict(), "optimizer": "lstm_hc", "budget": 90}),
        tmp_path / "run",
        progress=False,
    )
    assert resumed.metrics["n_calls"] == 90
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["optimizer"] == "lstm-hc"
    # the check itself still works, and the two spellings are no difference to it
    with pytest.raises(
        ConfigError, match=r"different run, made with other settings \(seed: 0 → 1\)"
    ):
        run_design(
            DesignConfig(**{**config.to_dict(), "optimizer": "lstm_hc", "seed": 1}),
            tmp_path / "run",
            progress=False,
        )


def test_core_api_from_the_package_loads_lazily():
    import subprocess
    import sys

    code = (
        "import sys, makeable\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'rdkit', 'numpy')]\n"
        "assert not heavy and list(sys.modules).count('makeable.runs') == 0, heavy\n"
        "from makeable import DesignConfig, get_objective, run_design, plan, load_model\n"
        "from makeable import load_stock\n"
        "import makeable.runs.design, makeable.retro.planning.search\n"
        "assert run_design is makeable.runs.design.run_design\n"
        "assert plan is makeable.retro.planning.search.plan\n"
        "assert all(getattr(makeable, name) is not None for name in makeable.__all__)\n"
        "assert set(makeable.__all__) == {*makeable._API, '__version__'}\n"
        "assert 'run_design' in dir(makeable)\n"
        "try:\n    makeable.no_such_name\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
