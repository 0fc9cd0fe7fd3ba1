"""What a conformer job writes: the SDF (all hydrogens, energies and Boltzmann weights per
conformer) and the HTML report (the lowest conformers overlaid, the energy histogram)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rdkit import Chem

from makeable.report import html_kv_table, html_page, html_table, molecule_card, write_text

if TYPE_CHECKING:
    from makeable.conformers.generate import ConformerSet

SDF_FIELDS = (
    "energy_kcal_mol",
    "relative_energy_kcal_mol",
    "boltzmann_weight",
    "method",
    "selection",
    "seed",
    "energy_model",
    "temperature_K",
    "rank",
)
"""Properties of every conformer in the SDF."""


def write_sdf(path: Path, cset: ConformerSet) -> Path:
    """The conformers by increasing energy, hydrogens included, one record each with the
    properties :data:`SDF_FIELDS`."""
    weights = cset.weights
    lowest = float(cset.energies.min())
    conformers = list(cset.mol.GetConformers())
    with Chem.SDWriter(str(path)) as writer:
        for rank, i in enumerate(cset.order(), 1):
            mol = Chem.Mol(cset.mol)
            mol.RemoveAllConformers()
            mol.AddConformer(Chem.Conformer(conformers[i]), assignId=True)
            mol.SetProp("_Name", f"{cset.smiles} conformer {rank}")
            mol.SetDoubleProp("energy_kcal_mol", float(cset.energies[i]))
            mol.SetDoubleProp("relative_energy_kcal_mol", float(cset.energies[i]) - lowest)
            mol.SetDoubleProp("boltzmann_weight", float(weights[i]))
            mol.SetProp("method", cset.method)
            mol.SetProp("selection", cset.selection)
            mol.SetIntProp("seed", cset.seed)
            mol.SetProp("energy_model", cset.energy_model)
            mol.SetDoubleProp("temperature_K", cset.temperature_k)
            mol.SetIntProp("rank", rank)
            writer.write(mol)
    return path


def _png(fig: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="">'


def _aligned(ref: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` superposed on ``ref`` (Kabsch), both ``(N, 3)``."""
    a, b = ref - ref.mean(0), x - x.mean(0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    return b @ rot + ref.mean(0)


def overlay_png(cset: ConformerSet, k: int = 5) -> str:
    """The ``k`` lowest conformers' heavy-atom skeletons superposed on the lowest and drawn in
    its two principal axes (an image tag with the PNG inline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heavy = [a.GetIdx() for a in cset.mol.GetAtoms() if a.GetAtomicNum() > 1]
    index = {a: j for j, a in enumerate(heavy)}
    bonds = [
        (index[b.GetBeginAtomIdx()], index[b.GetEndAtomIdx()])
        for b in cset.mol.GetBonds()
        if b.GetBeginAtomIdx() in index and b.GetEndAtomIdx() in index
    ]
    conformers = list(cset.mol.GetConformers())
    order = cset.order()[:k]
    ref = conformers[order[0]].GetPositions()[heavy]
    centre = ref.mean(0)
    _, _, axes = np.linalg.svd(ref - centre)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    lowest = float(cset.energies.min())
    for rank, i in enumerate(order):
        xy = (_aligned(ref, conformers[i].GetPositions()[heavy]) - centre) @ axes[:2].T
        colour = plt.get_cmap("viridis")(rank / max(k - 1, 1))
        for a, b in bonds:
            ax.plot(xy[[a, b], 0], xy[[a, b], 1], color=colour, lw=2.2 - 0.3 * rank, alpha=0.8)
        ax.plot([], [], color=colour, label=f"#{rank + 1}: +{cset.energies[i] - lowest:.2f}")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(fontsize=7, loc="best", title="kcal/mol", title_fontsize=7)
    fig.tight_layout()
    return _png(fig)


def histogram_png(cset: ConformerSet) -> str:
    """Histogram of the relative energies (an image tag with the PNG inline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rel = cset.energies - cset.energies.min()
    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    ax.hist(rel[rel <= np.percentile(rel, 98) + 1e-9], bins=30, color="tab:blue", alpha=0.8)
    ax.set_xlabel(f"energy above the lowest ({cset.energy_model}), kcal/mol")
    ax.set_ylabel("conformers")
    fig.tight_layout()
    return _png(fig)


def write_report(path: Path, cset: ConformerSet, sdf_name: str, k: int = 5) -> Path:
    """``path``: the HTML report of ``cset`` (settings, the lowest ``k`` conformers overlaid, a
    table of the lowest ten, the energy histogram)."""
    weights = cset.weights
    lowest = float(cset.energies.min())
    rows = [
        [rank, cset.energies[i], cset.energies[i] - lowest, weights[i]]
        for rank, i in enumerate(cset.order()[:10], 1)
    ]
    page = html_page(
        f"conformers of {cset.smiles}",
        [
            f"<h1>Conformers ({html.escape(cset.method)})</h1>",
            molecule_card(cset.smiles, f"{len(cset.energies)} conformers"),
            f"<p>Written to <code>{html.escape(sdf_name)}</code> (all hydrogens; properties "
            f"{', '.join(SDF_FIELDS)}).</p>",
            f"<h2>Settings and cost</h2>{html_kv_table(cset.info(), '.3f')}",
            f"<h2>The {min(k, len(rows))} lowest conformers, superposed</h2>",
            overlay_png(cset, k),
            "<h2>Lowest energies</h2>"
            + html_table(("rank", "energy kcal/mol", "relative", "Boltzmann weight"), rows),
            "<h2>Energy distribution</h2>",
            histogram_png(cset),
        ],
    )
    return write_text(path, page)
