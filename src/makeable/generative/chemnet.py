"""ChemNet (Preuer et al. 2018), the network behind the Fréchet ChemNet Distance (FCD).

The forward pass of ``fcd_torch`` 1.0.7 (the FCD that MOSES 0.3.1 uses), written out in torch:
SMILES one-hot over ChemNet's 35 symbols, padded to 350 positions and divided by 35; two
1-D convolutions (32 filters, kernel 4, stride 2, TensorFlow "same" padding, SELU, no bias);
an LSTM (128 units) over the reversed sequence; an LSTM (512 units) over the sequence reversed
back, whose last output (512 values) is the activation FCD fits a Gaussian to.

The weights are shipped as ``resources/moses/chemnet.safetensors`` (converted once from
``fcd_torch``'s ``ChemNet_v0.13_pretrained.pt`` by :mod:`makeable.generative.convert`; nothing
is unpickled or downloaded at run time). Provenance and licence: ``resources/moses/NOTICE.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rdkit import Chem
from torch import nn

__all__ = [
    "PAD_LEN",
    "VOCAB",
    "ChemNet",
    "chemnet_activations",
    "frechet_distance",
    "gaussian_fit",
    "load_chemnet",
    "one_hot",
    "weights_path",
]

VOCAB: tuple[str, ...] = (
    "C", "N", "O", "H", "F", "Cl", "P", "B", "Br", "S", "I", "Si", "#", "(", ")", "+", "-",
    "1", "2", "3", "4", "5", "6", "7", "8", "=", "[", "]", "@", "c", "n", "o", "s", "X", ".",
)  # fmt: skip
"""ChemNet's symbols in index order; ``X`` stands for any other symbol, ``.`` ends a SMILES."""

PAD_LEN = 350
_INDEX = {s: i for i, s in enumerate(VOCAB)}
_UNKNOWN = _INDEX["X"]
_END = _INDEX["."]
_SECOND_LETTERS = frozenset("ril")  # Br, Cl, Si (and any X followed by r/i/l, as ChemNet reads)

WEIGHTS_FORMAT = "makeable-chemnet"
WEIGHTS_VERSION = "1"


def one_hot(smiles: str, pad_len: int = PAD_LEN) -> np.ndarray:
    """ChemNet's input for one SMILES: ``(pad_len, 35)`` one-hot rows (not yet divided by 35).

    Two-letter symbols are read where the next character is ``r``, ``i`` or ``l``; a SMILES
    longer than ``pad_len - 1`` symbols is cut and ended there, as ChemNet's tokeniser does.
    """
    if not smiles:
        raise ValueError("ChemNet needs a non-empty SMILES")
    text = smiles + "."
    out = np.zeros((pad_len, len(VOCAB)), dtype=np.float32)
    src = dst = 0
    while True:
        if text[src + 1] in _SECOND_LETTERS:
            symbol, src = text[src : src + 2], src + 2
        else:
            symbol, src = text[src], src + 1
        out[dst, _INDEX.get(symbol, _UNKNOWN)] = 1.0
        dst += 1
        if text[src] == "." or dst == pad_len - 1:
            out[dst, _END] = 1.0
            return out


def _same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """The padding ``fcd_torch``'s ``SamePadding1d`` applies (its exact arithmetic)."""
    rest = length % stride
    pad = max(kernel - (stride if rest == 0 else rest), 0)
    if pad % stride == 0:
        return pad // stride, pad // stride
    start = pad // stride
    return start, pad - start


class ChemNet(nn.Module):
    """ChemNet up to its penultimate layer: ``(batch, 350, 35)`` inputs → ``(batch, 512)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(35, 32, kernel_size=4, stride=2, bias=False)
        self.conv2 = nn.Conv1d(32, 32, kernel_size=4, stride=2, bias=False)
        self.lstm1 = nn.LSTM(32, 128, batch_first=True)
        self.lstm2 = nn.LSTM(128, 512, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)
        for conv in (self.conv1, self.conv2):
            h = nn.functional.pad(h, _same_padding(h.shape[2], 4, 2))
            h = nn.functional.selu(conv(h))
        h = torch.flip(h.transpose(1, 2), [1])
        h = self.lstm1(h)[0]
        h = torch.flip(h, [1])
        return self.lstm2(h)[0][:, -1]


def weights_path() -> Path:
    """The shipped ChemNet weights (safetensors)."""
    return Path(str(resources.files("makeable.resources").joinpath("moses", "chemnet.safetensors")))


def load_chemnet(path: str | Path | None = None) -> ChemNet:
    """ChemNet with weights from a safetensors file (default: the shipped one); never unpickles.

    Raises:
        ValueError: the file is not ChemNet weights in makeable's format.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path) if path is not None else weights_path()
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a ChemNet weights file (format {meta.get('format')!r})")
    model = ChemNet()
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:
        raise ValueError(f"{path}: ChemNet weights do not fit: {str(exc).splitlines()[0]}") from exc
    return model.eval()


def _canonical(smiles: str) -> str:
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"ChemNet got an invalid SMILES: {smiles!r}")
    return str(Chem.MolToSmiles(mol))


def chemnet_activations(
    smiles: Sequence[str],
    model: ChemNet | None = None,
    *,
    canonize: bool = True,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    progress: bool = False,
    desc: str = "ChemNet",
) -> np.ndarray:
    """The ``(n, 512)`` ChemNet activations of SMILES (canonicalised first, as fcd_torch does)."""
    from tqdm import tqdm

    model = model if model is not None else load_chemnet()
    model = model.to(device)
    out = np.zeros((len(smiles), 512), dtype=np.float32)
    starts = range(0, len(smiles), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc=desc, unit="batch", disable=not progress):
            chunk = smiles[start : start + batch_size]
            rows = [one_hot(_canonical(s) if canonize else s) for s in chunk]
            x = torch.from_numpy(np.stack(rows) / len(VOCAB)).to(device)
            out[start : start + len(chunk)] = model(x).cpu().numpy()
    return out


def gaussian_fit(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of activations, as FCD fits them."""
    if len(activations) < 2:
        raise ValueError("FCD needs at least 2 molecules on each side")
    acts = activations.astype(np.float64)
    return acts.mean(0), np.cov(acts.T)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((a + a.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` for two Gaussians.

    ``tr((S1 S2)^(1/2))`` is computed without scipy as ``tr((R S2 R)^(1/2))`` with
    ``R = S1^(1/2)``: the two matrices are similar, and the second is symmetric positive
    semi-definite, so symmetric eigendecompositions suffice.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError("FCD: the two Gaussians have different dimensions")
    root = _sqrtm_psd(s1)
    inner = np.linalg.eigvalsh(root @ s2 @ root)
    tr_covmean = float(np.sqrt(np.clip(inner, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
