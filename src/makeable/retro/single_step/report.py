"""An HTML page of single-step predictions: each product with its ranked reactant sets drawn."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from makeable.chem.draw import mol_svg
from makeable.report import html_page, write_text
from makeable.retro.single_step.base import Prediction


def write_html(predictions: Sequence[Prediction], path: Path, model: str) -> Path:
    """Write the predictions of ``model`` as an HTML page with pictures; returns ``path``."""
    parts = [f"<h1>Single-step retrosynthesis ({html.escape(model)})</h1>"]
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
            site = rs.info.get("site")
            if site:  # a local model says where the product reacts: show it
                centre = mol_svg(pred.canonical or "", (200, 160), highlight=site)
                drawings = f"<div class='site' title='reaction centre'>{centre}</div> ⇐ {drawings}"
            parts.append(
                f"<div class='row'><div class='rank'>#{i}<br>score {rs.score:.4g}</div>"
                f"{drawings}<div class='smiles'>{html.escape(rs.smiles)}</div></div>"
            )
        parts.append("</div>")
    return write_text(path, html_page(f"makeable retro: {model}", parts))
