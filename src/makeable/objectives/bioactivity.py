"""PMO bioactivity oracles ``drd2``, ``jnk3`` and ``gsk3b``, evaluated with numpy.

The models are the PMO/TDC scikit-learn 0.23 classifiers, converted once by
:func:`makeable.objectives.convert.convert_pmo_models` into plain ``.npz`` arrays that ship
with the package (``makeable/resources/oracles``). Nothing here imports scikit-learn or
unpickles: the files are read with ``np.load(..., allow_pickle=False)``, lazily, on the first
score.

Featurisation and model maths reproduce TDC (``tdc/chem_utils/oracle/oracle.py``) with
scikit-learn's ``predict_proba``:

* ``drd2``: Morgan radius 3 feature-invariant *count* fingerprint, 32-bit ids folded modulo
  2048 with counts summed; an RBF C-SVC whose probability is libsvm's Platt sigmoid of the
  decision value, clipped to ``[1e-7, 1 - 1e-7]`` and passed through libsvm's pairwise
  coupling (``multiclass_probability``), which for two classes stops early and is *not* the
  identity.
* ``jnk3`` / ``gsk3b``: Morgan radius 2 bit vector (2048 bits); a random forest whose
  ``predict_proba`` is the mean over trees of the leaf's class fraction (inputs cast to
  float32, ``x <= threshold`` goes left).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from makeable.objectives.base import OBJECTIVES, Objective

__all__ = ["BioactivityObjective", "Drd2", "Gsk3b", "Jnk3", "load_oracle_model"]

FORMAT_NAME = "makeable-oracle"
FORMAT_VERSION = 1

_MIN_PROB = 1e-7  # libsvm's clipping of pairwise probabilities


# --------------------------------------------------------------------------- featurisers


def _featurizer(spec: dict[str, Any]) -> Callable[[Sequence[Chem.Mol]], np.ndarray]:
    """A batch featuriser ``mols -> (n, n_bits)`` array for a metadata ``featurizer`` spec."""
    kind = spec["kind"]
    radius = int(spec["radius"])
    n_bits = int(spec["n_bits"])
    if kind == "morgan_bits":
        # == AllChem.GetMorganFingerprintAsBitVect(mol, radius, nBits=n_bits)
        gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)

        def bits(mols: Sequence[Chem.Mol]) -> np.ndarray:
            out = np.zeros((len(mols), n_bits), dtype=np.uint8)
            for i, mol in enumerate(mols):
                out[i] = gen.GetFingerprintAsNumPy(mol)
            return out

        return bits
    if kind == "morgan_feature_counts_folded":
        # == GetMorganFingerprint(mol, radius, useCounts=True, useFeatures=True) with the
        # sparse ids folded modulo n_bits and their counts summed (TDC's drd2 featurisation)
        gen = rdFingerprintGenerator.GetMorganGenerator(
            radius=radius,
            fpSize=n_bits,
            atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen(),
        )

        def counts(mols: Sequence[Chem.Mol]) -> np.ndarray:
            out = np.zeros((len(mols), n_bits), dtype=np.float64)
            for i, mol in enumerate(mols):
                out[i] = gen.GetCountFingerprintAsNumPy(mol)
            return out

        return counts
    raise ValueError(f"unknown featurizer kind {kind!r}")


# --------------------------------------------------------------------------- models


class _ForestModel:
    """A random forest classifier's ``predict_proba[:, k]``, traversed depth-wise in numpy."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        offsets = arrays["tree_offsets"].astype(np.int64)
        left = arrays["children_left"].astype(np.int64)
        right = arrays["children_right"].astype(np.int64)
        n_trees = len(offsets) - 1
        base = np.repeat(offsets[:-1], np.diff(offsets))
        self.is_leaf = left == -1
        # global node indices; leaves point to themselves (never followed)
        own = np.arange(len(left), dtype=np.int64)
        self.left = np.where(self.is_leaf, own, left + base)
        self.right = np.where(self.is_leaf, own, right + base)
        self.feature = np.where(self.is_leaf, 0, arrays["feature"].astype(np.int64))
        threshold = arrays["threshold"]
        # scikit-learn compares float32(x) with a float64 threshold; a float32 threshold
        # stored losslessly gives the same comparison.
        self.threshold = threshold if threshold.dtype == np.float32 else threshold.astype(float)
        value = arrays["value"].astype(np.float64)
        normalizer = value.sum(axis=1)
        normalizer[normalizer == 0.0] = 1.0
        column = int(meta.get("positive_class_index", 1))
        self.leaf_proba = value[:, column] / normalizer
        self.roots = offsets[:-1]
        self.n_trees = n_trees
        self.n_features = int(meta["n_features"])

    def predict_positive(self, x: np.ndarray) -> np.ndarray:
        """``predict_proba(x)[:, positive]`` for a batch ``x`` of shape ``(n, n_features)``."""
        n = x.shape[0]
        if x.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {x.shape[1]}")
        # scikit-learn casts X to float32; small integer dtypes (bit vectors) are exactly
        # float32 already and are compared as is, which keeps the gathered table small.
        small_int = x.dtype in (np.bool_, np.uint8, np.int8, np.uint16, np.int16)
        flat = np.ascontiguousarray(x if small_int else x.astype(np.float32)).ravel()
        node = np.tile(self.roots, n)  # one path per (sample, tree), sample-major
        row_start = np.repeat(np.arange(n, dtype=np.int64) * self.n_features, self.n_trees)
        active = np.flatnonzero(~self.is_leaf[node])
        while active.size:  # one tree level per pass, over all unfinished paths at once
            current = node[active]
            go_left = flat[row_start[active] + self.feature[current]] <= self.threshold[current]
            nxt = np.where(go_left, self.left[current], self.right[current])
            node[active] = nxt
            active = active[~self.is_leaf[nxt]]
        proba = self.leaf_proba[node].reshape(n, self.n_trees)
        return proba.sum(axis=1) / self.n_trees


class _SVCModel:
    """A binary RBF C-SVC's ``predict_proba[:, k]`` as libsvm computes it."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        if meta.get("kernel") != "rbf":
            raise ValueError(f"unsupported SVC kernel {meta.get('kernel')!r}")
        self.gamma = float(meta["gamma"])
        self.support_vectors = arrays["support_vectors"].astype(np.float64)
        self.sv_sq = np.einsum("ij,ij->i", self.support_vectors, self.support_vectors)
        sv = self.support_vectors
        exact_int = bool(sv.size) and sv.min() >= 0 and np.array_equal(sv, np.floor(sv))
        self._sv32 = sv.astype(np.float32) if exact_int else None
        self._sv_sq_max = float(self.sv_sq.max()) if sv.size else 0.0
        self.dual_coef = arrays["dual_coef"].astype(np.float64)[0]
        self.intercept = float(arrays["intercept"][0])
        self.prob_a = float(arrays["prob_a"][0])
        self.prob_b = float(arrays["prob_b"][0])
        self.column = int(meta.get("positive_class_index", 1))

    def decision_values(self, x: np.ndarray) -> np.ndarray:
        """libsvm's decision value ``sum_i coef_i K(x, sv_i) - rho`` per row of ``x``."""
        x = np.asarray(x, dtype=np.float64)
        x_sq = np.einsum("ij,ij->i", x, x)
        d2 = x_sq[:, None] + self.sv_sq[None, :] - 2.0 * self._dot(x, x_sq)
        np.maximum(d2, 0.0, out=d2)
        kernel = np.exp(-self.gamma * d2)
        return kernel @ self.dual_coef + self.intercept

    def _dot(self, x: np.ndarray, x_sq: np.ndarray) -> np.ndarray:
        """``x @ support_vectors.T`` in float64 values, via float32 BLAS when that is exact.

        With non-negative integer features and support vectors every product and partial
        sum is an integer no larger than ``||x|| * ||sv||`` (Cauchy-Schwarz); below 2**24
        float32 represents them all exactly, so the float32 product equals the float64 one
        bit for bit (and so does ``||x||^2 + ||sv||^2 - 2 x.sv``, keeping ``d2`` exact).
        """
        if (
            self._sv32 is not None
            and x.size
            and float(x_sq.max()) * self._sv_sq_max < 2.0**48
            and float(x.min()) >= 0.0
            and np.array_equal(x, np.floor(x))
        ):
            return (x.astype(np.float32) @ self._sv32.T).astype(np.float64)
        return x @ self.support_vectors.T

    def predict_positive(self, x: np.ndarray) -> np.ndarray:
        """``predict_proba(x)[:, positive]`` for a batch ``x`` of shape ``(n, n_features)``."""
        dec = self.decision_values(x)
        # libsvm sigmoid_predict, written to avoid overflow on either side
        f_apb = dec * self.prob_a + self.prob_b
        e = np.exp(-np.abs(f_apb))
        sig = np.where(f_apb >= 0, e / (1.0 + e), 1.0 / (1.0 + e))
        r01 = np.minimum(np.maximum(sig, _MIN_PROB), 1 - _MIN_PROB)  # P(class 0 | pair 0-1)
        p = _multiclass_probability_2(r01, 1 - r01)
        return p[self.column]


def _multiclass_probability_2(r01: np.ndarray, r10: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """libsvm's ``multiclass_probability`` for k = 2, vectorised over samples.

    Mirrors the C code operation by operation (same iteration, same early stop at
    ``max_error < 0.005 / k``), so the result matches libsvm to rounding, not the exact
    fixed point ``(r01, r10)``.
    """
    k = 2
    eps = 0.005 / k
    max_iter = max(100, k)
    q00 = r10 * r10
    q11 = r01 * r01
    q01 = -r10 * r01
    q10 = q01
    p0 = np.full_like(r01, 1.0 / k)
    p1 = np.full_like(r01, 1.0 / k)
    active = np.ones(r01.shape, dtype=bool)
    for _ in range(max_iter):
        qp0 = q00 * p0 + q01 * p1
        qp1 = q10 * p0 + q11 * p1
        pqp = p0 * qp0 + p1 * qp1
        max_error = np.maximum(np.abs(qp0 - pqp), np.abs(qp1 - pqp))
        active &= ~(max_error < eps)
        if not active.any():
            break
        n0, n1 = p0.copy(), p1.copy()
        for q_tt, q_t0, q_t1, t in ((q00, q00, q01, 0), (q11, q10, q11, 1)):
            qpt = qp0 if t == 0 else qp1
            diff = (-qpt + pqp) / q_tt
            if t == 0:
                n0 = n0 + diff
            else:
                n1 = n1 + diff
            pqp = (pqp + diff * (diff * q_tt + 2 * qpt)) / (1 + diff) / (1 + diff)
            qp0 = (qp0 + diff * q_t0) / (1 + diff)
            n0 = n0 / (1 + diff)
            qp1 = (qp1 + diff * q_t1) / (1 + diff)
            n1 = n1 / (1 + diff)
        p0 = np.where(active, n0, p0)
        p1 = np.where(active, n1, p1)
    return p0, p1


class _OracleModel:
    """Featuriser + classifier loaded from one converted ``.npz``."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        meta = json.loads(str(arrays.pop("meta")[0]))
        if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"not a {FORMAT_NAME} v{FORMAT_VERSION} file: "
                f"{meta.get('format')!r} v{meta.get('format_version')!r}"
            )
        self.meta = meta
        self.featurize = _featurizer(meta["featurizer"])
        kind = meta["model"]
        self.model: _ForestModel | _SVCModel
        if kind == "random_forest_classifier":
            self.model = _ForestModel(arrays, meta)
        elif kind == "svc":
            self.model = _SVCModel(arrays, meta)
        else:
            raise ValueError(f"unknown model kind {kind!r}")

    def predict(self, mols: Sequence[Chem.Mol], chunk_size: int = 1024) -> np.ndarray:
        """Positive-class probability per molecule, in chunks to bound memory."""
        out = np.zeros(len(mols), dtype=np.float64)
        for start in range(0, len(mols), chunk_size):
            chunk = mols[start : start + chunk_size]
            out[start : start + len(chunk)] = self.model.predict_positive(self.featurize(chunk))
        return out


@functools.lru_cache(maxsize=8)  # per process: workers load each model once
def load_oracle_model(source: str | Path) -> _OracleModel:
    """Load a converted oracle: a path to an ``.npz`` or a packaged name (``"drd2"``, ...).

    Args:
        source: a file path, or the name of a model shipped in ``makeable/resources/oracles``.

    Returns:
        The loaded model; call ``.predict(mols)`` for positive-class probabilities.
    """
    path = Path(source)
    if isinstance(source, Path) or path.suffix == ".npz" or len(path.parts) > 1:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    else:
        ref = resources.files("makeable").joinpath("resources", "oracles", f"{source}.npz")
        with resources.as_file(ref) as file, np.load(file, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    return _OracleModel(arrays)


# --------------------------------------------------------------------------- objectives


class BioactivityObjective(Objective):
    """Positive-class probability of a converted PMO classifier (higher is more active).

    Arrays load lazily on the first score and are dropped when the objective is pickled, so
    sending it to worker processes stays cheap.

    Args:
        model: a packaged model name (``drd2``, ``jnk3``, ``gsk3b``) or a path to a converted
            ``.npz`` (see :func:`makeable.objectives.convert.convert_pmo_models`).
        name: the objective's name; defaults to the packaged model name.
    """

    def __init__(self, model: str | Path, name: str | None = None) -> None:
        self.name = name if name is not None else Path(str(model)).stem
        self._source = str(model)
        self._model: _OracleModel | None = None

    @property
    def oracle(self) -> _OracleModel:
        """The loaded model (loaded on first access)."""
        if self._model is None:
            self._model = load_oracle_model(self._source)
        return self._model

    def _score(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        return self.oracle.predict(list(mols))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state


class _PackagedBioactivity(BioactivityObjective):
    default_name: ClassVar[str]

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__(path if path is not None else self.default_name, self.default_name)


class Drd2(_PackagedBioactivity):
    """PMO ``drd2``: dopamine D2 receptor activity (TDC's RBF SVC on Morgan feature counts).

    Args:
        path: optional converted ``.npz``; defaults to the packaged model.
    """

    default_name = "drd2"


class Jnk3(_PackagedBioactivity):
    """PMO ``jnk3``: JNK3 inhibition (TDC's random forest on 2048-bit Morgan radius 2).

    Args:
        path: optional converted ``.npz``; defaults to the packaged model.
    """

    default_name = "jnk3"


class Gsk3b(_PackagedBioactivity):
    """PMO ``gsk3b``: GSK3-beta inhibition (TDC's random forest on 2048-bit Morgan radius 2).

    Args:
        path: optional converted ``.npz``; defaults to the packaged model.
    """

    default_name = "gsk3b"


OBJECTIVES.add("drd2", Drd2)
OBJECTIVES.add("jnk3", Jnk3)
OBJECTIVES.add("gsk3b", Gsk3b)
