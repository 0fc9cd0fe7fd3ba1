"""The run-folder layer: lock, config and versions record, settings check, summary."""

from __future__ import annotations

import json

import pytest
import yaml

from makeable.run_folder import ConfigError, RunFolder, RunInUseError, read_yaml, versions


def test_record_writes_the_config_and_versions(tmp_path):
    with RunFolder(tmp_path / "job") as folder:
        folder.record({"b": 1, "a": [1, 2]})
        folder.record({"x": 1}, config_name="config.json", extra_versions=("pytest",))
        path = folder.write_summary("# done")
    job = tmp_path / "job"
    assert list(yaml.safe_load((job / "config.yaml").read_text())) == ["b", "a"]  # order kept
    assert json.loads((job / "config.json").read_text()) == {"x": 1}
    recorded = json.loads((job / "versions.json").read_text())
    assert {"python", "platform", "makeable", "numpy", "pytest"} <= set(recorded)
    assert path.read_text() == "# done\n"
    assert versions()["python"] == recorded["python"]


def test_one_process_per_folder(tmp_path):
    with RunFolder(tmp_path) as first:
        with pytest.raises(RunInUseError, match="in use by another process"):
            RunFolder(tmp_path).__enter__()
        with RunFolder(tmp_path, lock=False):  # a job whose store holds the lock
            pass
    with RunFolder(tmp_path):  # released on exit
        pass
    assert first.path == tmp_path


def test_check_settings_refuses_other_settings(tmp_path):
    with RunFolder(tmp_path) as folder:
        assert folder.check_settings("settings.json", {"k": 1}, holds="X") is False
        folder.write_settings("settings.json", {"k": 1, "note": "free"})
        assert folder.check_settings("settings.json", {"k": 1}, holds="X") is True
        with pytest.raises(ValueError, match=r"X made with other settings \(k: 1 → 2\)"):
            folder.check_settings("settings.json", {"k": 2}, holds="X")


def test_read_yaml_names_the_file_and_place(tmp_path):
    bad = tmp_path / "b.yaml"
    bad.write_text("objective: [qed\n")
    with pytest.raises(ConfigError, match=r"b.yaml: invalid YAML: line 2, column 1"):
        read_yaml(bad)
