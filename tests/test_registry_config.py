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
