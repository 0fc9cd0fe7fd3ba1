"""PMO bioactivity oracles (drd2, jnk3, gsk3b): parity with TDC and the safe converter."""

from __future__ import annotations

import csv
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from makeable.objectives.base import OBJECTIVES
from makeable.objectives.bioactivity import Drd2, Gsk3b, Jnk3, load_oracle_model
from makeable.objectives.convert import (
    ORACLE_NAMES,
    RestrictedUnpickler,
    convert_pmo_models,
    load_restricted_pickle,
)

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "makeable" / "resources" / "oracles"
TOLERANCE = 1e-6


def _pmo_dir() -> Path:
    root = os.environ.get("MAKEABLE_DATA")
    if not root:
        pytest.skip("MAKEABLE_DATA is not set")
    pmo = Path(root) / "oracles" / "pmo"
    if not (pmo / "reference.csv").is_file():
        pytest.skip(f"{pmo / 'reference.csv'} is missing")
    return pmo


def _reference() -> list[dict[str, str]]:
    with open(_pmo_dir() / "reference.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", ORACLE_NAMES)
def test_registry_reproduces_reference(name: str) -> None:
    rows = _reference()
    objective = OBJECTIVES.build(name)
    assert objective.name == name
    scores = objective([r["smiles"] for r in rows])
    expected = np.array([float(r[name]) for r in rows])
    assert np.max(np.abs(scores.values - expected)) <= TOLERANCE
    # invalid SMILES score 0 and are flagged
    for row, value, valid in zip(rows, scores.values, scores.valid, strict=True):
        if row["smiles"] in ("xyz", "C1CC"):
            assert not valid and value == 0.0


@pytest.mark.parametrize(("cls", "name"), [(Drd2, "drd2"), (Jnk3, "jnk3"), (Gsk3b, "gsk3b")])
def test_shipped_npz_by_path_reproduce_reference(cls: type[Drd2], name: str) -> None:
    rows = _reference()
    objective = cls(path=SHIPPED / f"{name}.npz")
    assert objective.name == name
    scores = objective([r["smiles"] for r in rows])
    expected = np.array([float(r[objective.name]) for r in rows])
    assert np.max(np.abs(scores.values - expected)) <= TOLERANCE


def test_shipped_files_load_without_pickle() -> None:
    for name in ORACLE_NAMES:
        with np.load(SHIPPED / f"{name}.npz", allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][0]))
            assert meta["name"] == name
            assert all(data[key].dtype != object for key in data.files)


def test_converter_round_trip_matches_shipped(tmp_path: Path) -> None:
    pmo = _pmo_dir()
    written = convert_pmo_models(pmo, tmp_path)
    assert [p.name for p in written] == [f"{n}.npz" for n in ORACLE_NAMES]
    for path in written:
        with np.load(path, allow_pickle=False) as new, np.load(SHIPPED / path.name) as old:
            assert sorted(new.files) == sorted(old.files)
            for key in new.files:
                assert new[key].dtype == old[key].dtype, key
                assert np.array_equal(new[key], old[key]), key


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


class _EvalPayload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (eval, ("1 + 1",))


def test_converter_refuses_non_whitelisted_global(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "drd2_current.pkl"
    evil.write_bytes(pickle.dumps({"model": _Evil(marker)}))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_restricted_pickle(evil)
    with pytest.raises(pickle.UnpicklingError):
        convert_pmo_models(tmp_path, tmp_path / "out")
    assert not marker.exists()
    assert not (tmp_path / "out" / "drd2.npz").exists()

    other = tmp_path / "eval.pkl"
    other.write_bytes(pickle.dumps(_EvalPayload()))
    with pytest.raises(pickle.UnpicklingError, match="eval"):
        load_restricted_pickle(other)


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_restricted_unpickler_rebuilds_numpy_arrays(tmp_path: Path, protocol: int) -> None:
    import io

    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    payload = pickle.dumps({"a": array, "s": np.float64(0.5)}, protocol=protocol)
    loaded = RestrictedUnpickler(io.BytesIO(payload)).load()
    assert np.array_equal(loaded["a"], array) and loaded["a"].dtype == array.dtype
    assert loaded["s"] == 0.5


def test_objective_is_picklable_and_light() -> None:
    objective = Jnk3()
    before = objective(["c1ccccc1O", "CCN"]).values
    blob = pickle.dumps(objective)
    assert len(blob) < 1000  # arrays are not shipped to workers
    clone = pickle.loads(blob)
    assert np.array_equal(clone(["c1ccccc1O", "CCN"]).values, before)


def test_empty_and_invalid_inputs() -> None:
    objective = Drd2()
    scores = objective(["", "   ", "not a smiles", "CCO"])
    assert scores.values[:3].tolist() == [0.0, 0.0, 0.0]
    assert scores.valid.tolist() == [False, False, False, True]
    assert 0.0 < scores.values[3] < 1.0
    assert objective([]).values.shape == (0,)


def test_batch_equals_single() -> None:
    smiles = ["CCOc1ccc2nc(S(N)(=O)=O)sc2c1", "O=C(O)c1ccccc1", "CN1CCN(CC1)c1ccccc1"]
    for objective in (Drd2(), Jnk3(), Gsk3b()):
        batch = objective(smiles).values
        single = [objective.score(s) for s in smiles]
        assert np.allclose(batch, single, rtol=0, atol=1e-12)


def test_load_oracle_model_by_name() -> None:
    model = load_oracle_model("gsk3b")
    assert model.meta["model"] == "random_forest_classifier"
    assert model.meta["featurizer"] == {"kind": "morgan_bits", "n_bits": 2048, "radius": 2}
