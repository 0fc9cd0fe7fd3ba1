"""``KEY=VALUE`` pairs of ``--param``, ``--proxy-param`` and ``--model-param``."""

from __future__ import annotations

import pytest

from makeable.cli.params import parse_params
from makeable.runs.config import ConfigError


def test_values_are_yaml_scalars_and_exponents_are_floats():
    params = parse_params(["lr=1e-3", "n=3", "flag=true", "name=abc", "sigma=5E-4", "x=2.5"])
    assert params == {"lr": 0.001, "n": 3, "flag": True, "name": "abc", "sigma": 0.0005, "x": 2.5}
    assert type(params["lr"]) is float and type(params["n"]) is int
    assert type(params["flag"]) is bool and type(params["name"]) is str


def test_quoted_values_and_words_stay_strings():
    assert parse_params(['name="1e-3"', "mode=nan", "path=runs/1e-3"]) == {
        "name": "1e-3",
        "mode": "nan",
        "path": "runs/1e-3",
    }


def test_no_pairs():
    assert parse_params(None) == {} and parse_params([]) == {}


@pytest.mark.parametrize("bad", ["population_size", "=3"])
def test_pair_without_key_or_equals_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_params([bad])


@pytest.mark.parametrize("bad", ["population_size=[", "x={a: 1", "tag=!!python/name:os.system"])
def test_value_that_is_not_yaml_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match=rf"{bad.split('=')[0]}=.*: invalid YAML value: line 1"):
        parse_params([bad])


def test_design_and_retro_plan_clis_pass_exponents_as_floats():
    from makeable.cli.design import config_from_args
    from makeable.cli.main import build_parser
    from makeable.cli.plan import _model_params

    args = build_parser().parse_args(
        ["design", "--objective", "qed", "--optimizer", "gegl", "--param", "lr=1e-3"]
        + ["--out", "r"]
    )
    assert config_from_args(args).optimizer_params == {"lr": 0.001}
    args = build_parser().parse_args(
        ["retro", "plan", "CCO", "--stock", "s.smi", "--model", "m"]
        + ["--model-param", "max_templates=50", "--model-param", "min_prob=1e-4"]
    )
    assert _model_params(args) == {"max_templates": 50, "min_prob": 0.0001}
