"""The shared comparison of recorded and current settings (resume checks)."""

from __future__ import annotations

import pytest

from makeable.runs.config import ConfigError
from makeable.settings import (
    describe_diff,
    read_settings,
    refuse_other_settings,
    settings_diff,
    write_settings,
)


def test_settings_diff_compares_as_written() -> None:
    recorded = {"a": [1, 2], "b": "x", "c": 3}
    assert settings_diff(recorded, {"a": (1, 2), "b": "x"}) == {}
    assert settings_diff(recorded, {"a": (1, 3), "b": "x"}) == {"a": ([1, 2], [1, 3])}
    # a key the record lacks reads as None, or as its default (a setting added since)
    assert settings_diff(recorded, {"d": 0.0}) == {"d": (None, 0.0)}
    assert settings_diff(recorded, {"d": 0.0}, defaults={"d": 0.0}) == {}
    assert settings_diff(recorded, {"d": 1.0}, defaults={"d": 0.0}) == {"d": (0.0, 1.0)}
    # ignored keys may differ; ``keys`` picks what is compared (here: the recorded keys)
    assert settings_diff(recorded, {"b": "y"}, ignore=["b"]) == {}
    assert settings_diff(recorded, {"a": [1, 2], "b": "x"}, keys=recorded) == {"c": (3, None)}
    # ``if_recorded`` keys count once recorded (an older record identified the run otherwise)
    assert settings_diff(recorded, {"b": "x", "d": "digest"}, if_recorded=["d"]) == {}
    assert settings_diff(recorded, {"c": 4}, if_recorded=["c"]) == {"c": (3, 4)}


def test_refuse_other_settings_names_the_keys() -> None:
    refuse_other_settings({"lr": 1e-3}, {"lr": 1e-3}, holds="RUN holds a run")
    with pytest.raises(ConfigError, match=r"RUN holds a run made with other settings \(lr: "):
        refuse_other_settings(
            {"lr": 1e-3}, {"lr": 1e-4}, holds="RUN holds a run", error=ConfigError
        )
    assert describe_diff({"lr": (0.001, 0.0001)}) == "lr: 0.001 → 0.0001"


def test_settings_files_are_written_whole_and_read_with_a_clear_error(tmp_path):
    path = tmp_path / "config.json"
    write_settings(path, {"model": "m", "search": {"max_calls": (1, 2)}})
    assert read_settings(path) == {"model": "m", "search": {"max_calls": [1, 2]}}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary left
    path.write_text('{"model": "m", "sea')  # cut off, e.g. by hand
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        read_settings(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not hold a JSON object"):
        read_settings(path)
