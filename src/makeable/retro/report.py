"""An HTML page of single-step predictions: each product with its ranked reactant sets drawn."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from makeable.chem.draw import mol_svg
from makeable.retro.base import Prediction

_STYLE = """
body{font-family:sans-serif;margin:2em;color:#222}
.product{border-top:2px solid #888;margin-top:2em;padding-top:1em}
.row{display:flex;align-items:center;gap:1em;border-bottom:1px solid #ddd;padding:.3em 0}
.rank{width:7em;font-size:.9em}.smiles{font-family:monospace;font-size:.8em;color:#555}
.error{color:#b00}
"""


def write_html(predictions: Sequence[Prediction], path: Path, model: str) -> Path:
    """Write the predictions of ``model`` as an HTML page with pictures; returns ``path``."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>makeable retro: "
        f"{html.escape(model)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Single-step retrosynthesis ({html.escape(model)})</h1>",
    ]
    for pred in predictions:
        parts.append("<div class='product'>")
        parts.append(f"<h2 class='smiles'>{html.escape(pred.product)}</h2>")
        if not pred.valid or pred.error:
            parts.append(f"<p class='error'>{html.escape(pred.error or 'invalid')}</p></div>")
            continue
        parts.append(mol_svg(pred.canonical or "", (260, 200)))
        if not pred.reactant_sets:
            parts.append("<p>No reactant set proposed.</p>")
        for i, rs in enumerate(pred.reactant_sets, start=1):
            drawings = " + ".join(mol_svg(s, (200, 160)) for s in rs.reactants)
            parts.append(
                f"<div class='row'><div class='rank'>#{i}<br>score {rs.score:.4g}</div>"
                f"{drawings}<div class='smiles'>{html.escape(rs.smiles)}</div></div>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts))
    return path
