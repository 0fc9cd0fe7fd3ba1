"""One-off conversion of the PMO/TDC scikit-learn oracle pickles into safe ``.npz`` files.

The PMO bioactivity oracles (``drd2``, ``jnk3``, ``gsk3b``) are distributed as
scikit-learn 0.23 pickles. Unpickling runs code chosen by whoever wrote the file, and the
pickles do not load on modern scikit-learn anyway. This module reads them *without*
scikit-learn: a restricted :class:`pickle.Unpickler` maps the few scikit-learn classes they
contain to inert stub classes that only record their constructor arguments and state, allows
numpy's array reconstruction functions, and refuses every other global. The model parameters
are then written as plain numeric arrays (``np.savez_compressed``) plus a JSON metadata
string, which :mod:`makeable.objectives.bioactivity` evaluates with numpy and loads with
``allow_pickle=False``.

This is a maintainer's command: it is run once to produce the files shipped in
``makeable/resources/oracles/``; nothing in a user's run ever unpickles.
"""

from __future__ import annotations

import gzip
import importlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np

__all__ = [
    "FEATURIZERS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ORACLE_NAMES",
    "RestrictedUnpickler",
    "convert_pmo_models",
    "load_restricted_pickle",
]

FORMAT_NAME = "makeable-oracle"
FORMAT_VERSION = 1
ORACLE_NAMES: tuple[str, ...] = ("drd2", "jnk3", "gsk3b")

FEATURIZERS: dict[str, dict[str, Any]] = {
    # TDC ``fingerprints_from_mol``: GetMorganFingerprint(mol, 3, useCounts=True,
    # useFeatures=True), 32-bit ids folded modulo 2048 with counts summed.
    "drd2": {"kind": "morgan_feature_counts_folded", "radius": 3, "n_bits": 2048},
    # TDC ``jnk3`` / ``gsk3b``: GetMorganFingerprintAsBitVect(mol, 2, nBits=2048).
    "jnk3": {"kind": "morgan_bits", "radius": 2, "n_bits": 2048},
    "gsk3b": {"kind": "morgan_bits", "radius": 2, "n_bits": 2048},
}
"""How TDC featurises a molecule for each oracle (the pickles do not record it)."""

_SOURCE = "PyPI molscore 1.9.5 (molscore/data/models/molopt/), the files TDC downloads; MIT"


class _SklearnStub:
    """Inert stand-in for a scikit-learn class: records constructor args and pickled state."""

    sklearn_class: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<stub {self.sklearn_class}>"


class _RandomForestClassifier(_SklearnStub):
    sklearn_class = "RandomForestClassifier"


class _DecisionTreeClassifier(_SklearnStub):
    sklearn_class = "DecisionTreeClassifier"


class _Tree(_SklearnStub):
    sklearn_class = "Tree"


class _SVC(_SklearnStub):
    sklearn_class = "SVC"


def _allowed_globals() -> dict[tuple[str, str], Callable[..., Any]]:
    allowed: dict[tuple[str, str], Callable[..., Any]] = {}
    for module in ("sklearn.ensemble.forest", "sklearn.ensemble._forest"):
        allowed[(module, "RandomForestClassifier")] = _RandomForestClassifier
    for module in ("sklearn.tree.tree", "sklearn.tree._classes"):
        allowed[(module, "DecisionTreeClassifier")] = _DecisionTreeClassifier
    allowed[("sklearn.tree._tree", "Tree")] = _Tree
    for module in ("sklearn.svm.classes", "sklearn.svm._classes"):
        allowed[(module, "SVC")] = _SVC
    # numpy's own reconstruction helpers, found through public reduce protocols so that the
    # private module path of the running numpy does not matter.
    reconstruct = cast(Callable[..., Any], np.zeros(1).__reduce__()[0])
    scalar = cast(Callable[..., Any], np.float64(0.0).__reduce__()[0])
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    try:
        frombuffer = importlib.import_module("numpy._core.numeric")._frombuffer
    except (ImportError, AttributeError):  # pragma: no cover - numpy < 2
        frombuffer = None
    if frombuffer is not None:
        for module in ("numpy.core.numeric", "numpy._core.numeric"):
            allowed[(module, "_frombuffer")] = frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only a whitelist of globals.

    scikit-learn classes (old and new module paths) become inert stubs; numpy arrays,
    dtypes and scalars are rebuilt by numpy; any other global (``os.system``,
    ``builtins.eval``, ...) raises :class:`pickle.UnpicklingError`.
    """

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: not a whitelisted "
                "scikit-learn model class or numpy reconstruction function"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not supported")


def load_restricted_pickle(path: Path) -> Any:
    """Unpickle ``path`` (plain or ``.gz``) with :class:`RestrictedUnpickler`.

    Args:
        path: pickle file; gzip-compressed when its name ends with ``.gz``.

    Returns:
        The unpickled object graph, with scikit-learn objects replaced by stubs.

    Raises:
        pickle.UnpicklingError: the file references a global outside the whitelist.
    """
    fh: BinaryIO
    with gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb") as fh:  # type: ignore[assignment]
        return RestrictedUnpickler(fh).load()


def _state(obj: Any, expected: type[_SklearnStub]) -> dict[str, Any]:
    if not isinstance(obj, expected) or not isinstance(obj.state, dict):
        raise ValueError(f"expected a pickled {expected.sklearn_class}, got {obj!r}")
    return obj.state


def _compact_int(values: np.ndarray) -> np.ndarray:
    """Smallest signed/unsigned integer dtype that holds ``values`` exactly."""
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for dtype in (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return values.astype(dtype)
    raise ValueError("integer values out of int64 range")  # pragma: no cover


def _compact_float(values: np.ndarray) -> np.ndarray:
    """``values`` as integers or float32 when that is exact, else float64."""
    values = np.asarray(values, dtype=np.float64)
    integral = np.all(np.isfinite(values)) and np.array_equal(values, np.round(values))
    if integral and (values.size == 0 or np.abs(values).max() < 2**53):
        return _compact_int(values.astype(np.int64))
    as32 = values.astype(np.float32)
    if np.array_equal(as32.astype(np.float64), values):
        return as32
    return values


def _forest_arrays(state: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    trees = state["estimators_"]
    classes = np.asarray(state["classes_"])
    n_outputs = int(state.get("n_outputs_", 1))
    if n_outputs != 1:
        raise ValueError(f"only single-output forests are supported, got {n_outputs}")
    lefts, rights, feats, thrs, vals, offsets = [], [], [], [], [], [0]
    n_features = None
    for est in trees:
        tree = _state(est, _DecisionTreeClassifier)["tree_"]
        tstate = _state(tree, _Tree)
        n_features = int(tree.args[0]) if tree.args else n_features
        nodes = tstate["nodes"]
        values = np.asarray(tstate["values"], dtype=np.float64)
        if values.shape[1] != 1 or values.shape[2] != len(classes):
            raise ValueError(f"unexpected tree value shape {values.shape}")
        left = np.asarray(nodes["left_child"], dtype=np.int64)
        leaf = left == -1
        value = values[:, 0, :].copy()
        value[~leaf] = 0.0  # only leaves are read at prediction time
        lefts.append(left)
        rights.append(np.asarray(nodes["right_child"], dtype=np.int64))
        feats.append(np.asarray(nodes["feature"], dtype=np.int64))
        thrs.append(np.asarray(nodes["threshold"], dtype=np.float64))
        vals.append(value)
        offsets.append(offsets[-1] + len(left))
    arrays = {
        "tree_offsets": _compact_int(np.asarray(offsets, dtype=np.int64)),
        "children_left": _compact_int(np.concatenate(lefts)),
        "children_right": _compact_int(np.concatenate(rights)),
        "feature": _compact_int(np.concatenate(feats)),
        "threshold": _compact_float(np.concatenate(thrs)),
        "value": _compact_float(np.concatenate(vals)),
        "classes": _compact_float(classes),
    }
    meta = {
        "model": "random_forest_classifier",
        "n_estimators": len(trees),
        "n_features": n_features,
        "value_semantics": "weighted class counts at leaves (0 at internal nodes); "
        "predict_proba normalises per leaf, then averages over trees",
        "split_rule": "float32(x[feature]) <= threshold goes left",
    }
    return arrays, meta


def _svc_arrays(state: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    kernel = state["kernel"]
    if kernel != "rbf":
        raise ValueError(f"only the RBF kernel is supported, got {kernel!r}")
    if state.get("_sparse"):
        raise ValueError("sparse SVC models are not supported")
    if state.get("_impl") != "c_svc":
        raise ValueError(f"only C-SVC is supported, got {state.get('_impl')!r}")
    classes = np.asarray(state["classes_"])
    if len(classes) != 2:
        raise ValueError("only binary SVC models are supported")
    prob_a = state.get("_probA", state.get("probA_"))
    prob_b = state.get("_probB", state.get("probB_"))
    if prob_a is None or prob_b is None or np.size(prob_a) == 0:
        raise ValueError("the SVC was not fitted with probability=True")
    arrays = {
        "support_vectors": _compact_float(state["support_vectors_"]),
        # libsvm's sv_coef and -rho, as scikit-learn passes them to libsvm at predict time
        "dual_coef": np.asarray(state["_dual_coef_"], dtype=np.float64),
        "intercept": np.asarray(state["_intercept_"], dtype=np.float64),
        "prob_a": np.asarray(prob_a, dtype=np.float64),
        "prob_b": np.asarray(prob_b, dtype=np.float64),
        "n_support": _compact_int(np.asarray(state["_n_support"], dtype=np.int64)),
        "classes": _compact_float(classes),
    }
    meta = {
        "model": "svc",
        "kernel": "rbf",
        "gamma": float(state["_gamma"]),
        "n_features": int(np.shape(state["support_vectors_"])[1]),
        "decision_value": "dual_coef @ exp(-gamma * ||x - sv||^2) + intercept",
        "probability": "libsvm: clip(sigmoid_predict(dec, prob_a, prob_b), 1e-7, 1 - 1e-7) "
        "= P(classes[0]), then multiclass_probability",
    }
    return arrays, meta


def _find_source(src_dir: Path, name: str) -> Path:
    for candidate in (f"{name}_current.pkl.gz", f"{name}_current.pkl", f"{name}.pkl.gz"):
        path = src_dir / candidate
        if path.is_file():
            return path
    path = src_dir / f"{name}.pkl"
    if path.is_file():
        return path
    raise FileNotFoundError(f"no pickle for oracle {name!r} in {src_dir}")


def convert_pmo_models(src_dir: Path, out_dir: Path) -> list[Path]:
    """Convert the PMO ``drd2``/``jnk3``/``gsk3b`` scikit-learn pickles into safe ``.npz``.

    Each pickle is read once with :class:`RestrictedUnpickler` (no scikit-learn needed); its
    parameters are written to ``out_dir/<name>.npz`` as plain arrays plus ``meta``, a
    one-element string array holding JSON (model kind, featurisation, kernel, gamma, source).

    Args:
        src_dir: folder holding ``{drd2,jnk3,gsk3b}_current.pkl.gz`` (or ``.pkl``).
        out_dir: folder to write ``{drd2,jnk3,gsk3b}.npz`` to; created if missing.

    Returns:
        The written paths, in the order drd2, jnk3, gsk3b.

    Raises:
        FileNotFoundError: a pickle is missing.
        pickle.UnpicklingError: a pickle references a global outside the whitelist.
        ValueError: a pickle holds a model this converter does not understand.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in ORACLE_NAMES:
        source = _find_source(src_dir, name)
        obj = load_restricted_pickle(source)
        if isinstance(obj, _RandomForestClassifier):
            arrays, meta = _forest_arrays(_state(obj, _RandomForestClassifier))
        elif isinstance(obj, _SVC):
            arrays, meta = _svc_arrays(_state(obj, _SVC))
        else:
            raise ValueError(f"{source}: unsupported model {obj!r}")
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": name,
            **meta,
            "featurizer": FEATURIZERS[name],
            "positive_class_index": 1,
            "source": _SOURCE,
            "source_file": source.name,
            "sklearn_version": str(obj.state.get("_sklearn_version", "unknown")),
        }
        out = out_dir / f"{name}.npz"
        payload: dict[str, Any] = {"meta": np.array([json.dumps(meta, sort_keys=True)]), **arrays}
        np.savez_compressed(out, **payload)
        written.append(out)
    return written
