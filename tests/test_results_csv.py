"""The shared CSV result tables: read, write, append with the header once."""

from __future__ import annotations

import pytest

from makeable.results_csv import append_csv, open_append, read_csv, read_jsonl, write_csv


def test_append_writes_the_header_once_and_reads_back(tmp_path):
    path = tmp_path / "results.csv"
    assert read_csv(path, missing_ok=True) == []
    with pytest.raises(FileNotFoundError):
        read_csv(path)
    append_csv(path, ["a", "b"], {"a": 1, "b": 0.5})
    append_csv(path, ["a", "b"], {"b": "x", "a": 2, "extra": 9})
    assert path.read_text().splitlines() == ["a,b", "1,0.5", "2,x"]
    assert read_csv(path) == [{"a": "1", "b": "0.5"}, {"a": "2", "b": "x"}]


def test_write_keeps_the_columns_only_and_replaces_the_file(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("old\n")
    write_csv(path, ("task", "score"), [{"score": 1.5, "task": "qed", "wall_s": 3}, {"task": "sa"}])
    assert read_csv(path) == [{"task": "qed", "score": "1.5"}, {"task": "sa", "score": ""}]


def test_append_to_an_older_table_keeps_its_header(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n1,2\n")
    append_csv(path, ["a", "new", "b"], {"a": 3, "new": 9, "b": 4})
    assert read_csv(path) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


def test_a_cut_off_last_row_is_not_read_and_is_replaced(tmp_path):
    # a process killed while writing leaves half a row without its line ending
    path = tmp_path / "results.csv"
    append_csv(path, ["target", "solved", "seconds"], {"target": "CCO", "solved": 1, "seconds": 2})
    with open(path, "a") as fh:
        fh.write("CCN,0")
    assert read_csv(path) == [{"target": "CCO", "solved": "1", "seconds": "2"}]
    append_csv(path, ["target", "solved", "seconds"], {"target": "CCN", "solved": 0, "seconds": 5})
    assert path.read_text().splitlines() == ["target,solved,seconds", "CCO,1,2", "CCN,0,5"]
    # a header cut off before its line ending: the table starts again
    path.write_text("target,sol")
    assert read_csv(path) == []
    append_csv(path, ["target", "solved"], {"target": "CCO", "solved": 1})
    assert read_csv(path) == [{"target": "CCO", "solved": "1"}]


def test_json_lines_skip_a_cut_off_line_and_appends_start_clean(tmp_path):
    path = tmp_path / "plans.jsonl"
    assert read_jsonl(path, missing_ok=True) == []
    with pytest.raises(FileNotFoundError):
        read_jsonl(path)
    path.write_text('{"target": "CCO"}\nnot json\n{"target": "CC')  # killed mid-write
    assert read_jsonl(path) == [{"target": "CCO"}]
    with open_append(path) as fh:
        fh.write('{"target": "CCN"}\n')
    assert path.read_text().splitlines() == ['{"target": "CCO"}', "not json", '{"target": "CCN"}']
    assert read_jsonl(path) == [{"target": "CCO"}, {"target": "CCN"}]

    # a complete last line that only lacks its line ending (written by hand) is kept
    path.write_text('{"target": "CCO"}\n{"target": "CCC"}')
    assert read_jsonl(path) == [{"target": "CCO"}, {"target": "CCC"}]
    with open_append(path) as fh:
        fh.write('{"target": "CCN"}\n')
    assert [x["target"] for x in read_jsonl(path)] == ["CCO", "CCC", "CCN"]
