"""Maintainers' one-off conversion of the MOSES/FCD files into the formats makeable ships.

* ``fcd_torch`` 1.0.7's ``ChemNet_v0.13_pretrained.pt`` (a torch pickle of
  ``[(layer type, (state dict, kwargs, info)), ...]``) → ``chemnet.safetensors``: read with
  ``torch.load(weights_only=True)`` (torch's restricted unpickler: tensors and plain containers
  only), its layer layout checked against :class:`~makeable.generative.chemnet.ChemNet`.
* molsets 0.3.1's ``moses/dataset/data/{test,test_scaffolds}_stats.npz`` (a pickled dict: FCD
  mean and covariance, Frag and Scaf counts, ...) → ``{name}_fcd.npz`` (``mu``, ``sigma``) and
  ``{name}_counts.json.gz`` (``frag``, ``scaf``): read with a restricted unpickler that allows
  numpy's array reconstruction and ``collections.Counter`` only.

Run once (``python -m makeable.generative.convert FCD_TORCH_PT MOLSETS_DATA_DIR OUT_DIR``) to
produce ``makeable/resources/moses/``; a user's run only reads safetensors, npz (without
pickle) and JSON.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from makeable.generative.chemnet import WEIGHTS_FORMAT, WEIGHTS_VERSION

__all__ = ["convert_chemnet", "convert_moses_stats", "main"]

_LAYOUT: list[tuple[str, str, dict[str, int]]] = [
    ("Conv1d", "conv1", {"in_channels": 35, "out_channels": 32, "kernel_size": 4, "stride": 2}),
    ("Conv1d", "conv2", {"in_channels": 32, "out_channels": 32, "kernel_size": 4, "stride": 2}),
    ("LSTM", "lstm1", {"input_size": 32, "hidden_size": 128}),
    ("LSTM", "lstm2", {"input_size": 128, "hidden_size": 512}),
]
_INFO: list[dict[str, Any]] = [
    {"activation": "selu", "padding": "same"},
    {"activation": "selu", "padding": "same"},
    {"reverse": True, "last": False},
    {"reverse": True, "last": True},
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert_chemnet(pt_file: str | Path, out_file: str | Path) -> Path:
    """``ChemNet_v0.13_pretrained.pt`` → safetensors with the layer names of ``ChemNet``."""
    import torch
    from safetensors.torch import save_file

    pt_file, out_file = Path(pt_file), Path(out_file)
    layers = torch.load(pt_file, map_location="cpu", weights_only=True)
    if len(layers) != len(_LAYOUT):
        raise ValueError(f"{pt_file}: {len(layers)} layers, expected {len(_LAYOUT)}")
    tensors: dict[str, Any] = {}
    state: dict[str, Any]
    for (kind, (state, kwargs, info)), (want, name, shape), want_info in zip(
        layers, _LAYOUT, _INFO, strict=True
    ):
        if kind != want or any(kwargs.get(k) != v for k, v in shape.items()):
            raise ValueError(f"{pt_file}: layer {name} is {kind} {kwargs}, expected {want} {shape}")
        if any(info.get(k) != v for k, v in want_info.items()):
            raise ValueError(f"{pt_file}: layer {name} has {info}, expected {want_info}")
        for key, value in state.items():
            tensors[f"{name}.{key}"] = value.detach().to(torch.float32).contiguous()
    meta = {
        "format": WEIGHTS_FORMAT,
        "version": WEIGHTS_VERSION,
        "source": "PyPI fcd_torch==1.0.7, fcd_torch/ChemNet_v0.13_pretrained.pt",
        "source_sha256": _sha256(pt_file),
    }
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_file), metadata=meta)
    return out_file


class _StatsUnpickler(pickle.Unpickler):
    """Allows numpy's array reconstruction and ``collections.Counter``; refuses the rest."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("collections", "Counter"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def _read_stats(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf, zf.open("stats.npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(fh)
        else:
            np.lib.format.read_array_header_2_0(fh)
        array = _StatsUnpickler(fh, encoding="latin1").load()
    return dict(np.asarray(array).item())


def convert_moses_stats(data_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """molsets' precomputed test statistics → ``{name}_fcd.npz`` + ``{name}_counts.json.gz``."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in ("test", "test_scaffolds"):
        source = data_dir / f"{name}_stats.npz"
        stats = _read_stats(source)
        fcd = out_dir / f"{name}_fcd.npz"
        np.savez_compressed(
            fcd,
            mu=np.asarray(stats["FCD"]["mu"], dtype=np.float32),
            sigma=np.asarray(stats["FCD"]["sigma"], dtype=np.float32),
        )
        counts = out_dir / f"{name}_counts.json.gz"
        payload = {
            "source": f"PyPI molsets==0.3.1, moses/dataset/data/{name}_stats.npz",
            "source_sha256": _sha256(source),
            "reference_sha256": _sha256(data_dir / f"{name}.csv.gz"),
            "frag": dict(sorted(stats["Frag"]["frag"].items())),
            "scaf": dict(sorted(stats["Scaf"]["scaf"].items())),
        }
        with gzip.open(counts, "wt", encoding="utf-8") as fh:
            json.dump(payload, fh, separators=(",", ":"))
        written += [fcd, counts]
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        raise SystemExit("usage: python -m makeable.generative.convert PT DATA_DIR OUT_DIR")
    pt, data, out = (Path(a) for a in args)
    print(convert_chemnet(pt, out / "chemnet.safetensors"))
    for path in convert_moses_stats(data, out):
        print(path)


if __name__ == "__main__":
    main()
