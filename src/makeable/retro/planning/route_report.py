"""Pictures of synthesis routes: a tree per route (SVG, or PNG) and an HTML page (``route.html``).

The tree reads from left to right as retrosynthesis does: the target on the left, each
reaction a dot with its step probability, the molecules it consumes in the next column, and
arrows pointing the way of synthesis (towards the product). Boxes are green for starting
materials in stock, red for starting materials that are not, grey for intermediates.
"""

from __future__ import annotations

import html
import io
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from makeable.chem.draw import mol_png, mol_svg
from makeable.report import cell, html_kv_table, html_page, write_text
from makeable.retro.planning.routes import MolNode, Route
from makeable.retro.planning.search import PlanResult

BOX_W, BOX_H = 180, 150
COL_GAP, ROW_GAP, MARGIN = 110, 24, 12
_COLOURS = {
    "verified": "#2e7d32",
    "unchecked": "#2e7d32",
    "unverified": "#e65100",
    "missing": "#c62828",
    "inner": "#78909c",
    "target": "#1565c0",
}
_LEAF_LABELS = {
    "verified": "in stock (verified)",
    "unchecked": "in stock",
    "unverified": "unverified (Bloom)",
    "missing": "not in stock",
}
"""What a starting material's box says, by :attr:`MolNode.status`."""


def leaf_label(node: MolNode) -> str:
    """A starting material's stock status for people, with its price when known."""
    label = _LEAF_LABELS[node.status]
    return f"{label} · {node.price:g}" if node.price is not None else label


_ids = itertools.count()


@dataclass(frozen=True)
class _Box:
    """One molecule of a drawn route: its box, colour and label, and the reaction making it."""

    node: MolNode
    x: float  # left edge
    y: float  # centre
    colour: str
    label: str

    @property
    def top(self) -> float:
        return self.y - BOX_H / 2


@dataclass(frozen=True)
class _Layout:
    boxes: list[_Box]
    width: int
    height: int
    centre: dict[int, tuple[float, float]]  # id(node) -> (left edge, centre y)


def _layout(route: Route) -> _Layout:
    """Where each molecule goes: columns by depth (target on the left), leaves one per row,
    an inner molecule centred on the molecules its reaction consumes. Both the SVG and the
    PNG drawing use it."""
    placed: list[tuple[MolNode, int, float]] = []  # node, column, centre y
    next_row = itertools.count()

    def place(node: MolNode, col: int) -> float:
        if node.reaction is None:
            y = MARGIN + next(next_row) * (BOX_H + ROW_GAP) + BOX_H / 2
        else:
            ys = [place(child, col + 1) for child in node.reaction.reactants]
            y = (min(ys) + max(ys)) / 2
        placed.append((node, col, y))
        return y

    place(route.root, 0)
    n_cols = 1 + max(col for _, col, _ in placed)
    n_rows = len(route.leaves())
    boxes = []
    for node, col, y in placed:
        if node is route.root:
            colour, label = _COLOURS["target"], "target"
        elif node.reaction is not None:
            colour, label = _COLOURS["inner"], ""
        else:
            colour, label = _COLOURS[node.status], leaf_label(node)
        if node is route.root and node.reaction is None:
            label = leaf_label(node)
        boxes.append(_Box(node, MARGIN + col * (BOX_W + COL_GAP), y, colour, label))
    return _Layout(
        boxes,
        width=2 * MARGIN + n_cols * BOX_W + (n_cols - 1) * COL_GAP,
        height=2 * MARGIN + n_rows * BOX_H + (n_rows - 1) * ROW_GAP,
        centre={id(b.node): (b.x, b.y) for b in boxes},
    )


def route_svg(route: Route) -> str:
    """An SVG drawing of ``route``: molecule boxes by depth, arrows between levels."""
    lay = _layout(route)
    arrow = f"arrow{next(_ids)}"
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{lay.width}' height='{lay.height}' "
        f"viewBox='0 0 {lay.width} {lay.height}' font-family='sans-serif'>",
        f"<defs><marker id='{arrow}' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
        "markerHeight='7' orient='auto-start-reverse'><path d='M0,0L10,5L0,10z' "
        "fill='#555'/></marker></defs>",
    ]
    for box in lay.boxes:
        node, x, y, top, colour = box.node, box.x, box.y, box.top, box.colour
        parts.append(
            f"<rect x='{x:.1f}' y='{top:.1f}' width='{BOX_W}' height='{BOX_H}' rx='6' "
            f"fill='white' stroke='{colour}' stroke-width='2'><title>"
            f"{html.escape(node.smiles)}</title></rect>"
        )
        drawing = mol_svg(node.smiles, (BOX_W - 8, BOX_H - 22))
        if drawing:
            parts.append(drawing.replace("<svg ", f"<svg x='{x + 4:.1f}' y='{top + 2:.1f}' ", 1))
        if box.label:
            parts.append(
                f"<text x='{x + BOX_W / 2:.1f}' y='{top + BOX_H - 6:.1f}' font-size='11' "
                f"text-anchor='middle' fill='{colour}'>{box.label}</text>"
            )
        rxn = node.reaction
        if rxn is None:
            continue
        dot_x = x + BOX_W + COL_GAP / 2
        parts.append(
            f"<line x1='{dot_x:.1f}' y1='{y:.1f}' x2='{x + BOX_W + 2:.1f}' y2='{y:.1f}' "
            f"stroke='#555' stroke-width='1.5' marker-end='url(#{arrow})'/>"
        )
        for child in rxn.reactants:
            cx, cy = lay.centre[id(child)]
            parts.append(
                f"<polyline points='{cx:.1f},{cy:.1f} {dot_x + 12:.1f},{cy:.1f} "
                f"{dot_x:.1f},{y:.1f}' fill='none' stroke='#555' stroke-width='1.5'/>"
            )
        parts.append(f"<circle cx='{dot_x:.1f}' cy='{y:.1f}' r='4' fill='#555'/>")
        step = _step_label(rxn.probability, rxn.score)
        if step:
            parts.append(
                f"<text x='{x + BOX_W + COL_GAP / 4 + 1:.1f}' y='{y - 6:.1f}' font-size='11' "
                "text-anchor='middle' "
                f"fill='#333'>{step}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def route_png(route: Route, path: str | Path) -> Path:
    """Write a PNG drawing of ``route`` (the same picture as :func:`route_svg`, for slides and
    documents that take no SVG); returns ``path``."""
    lay = _layout(route)
    image = Image.new("RGB", (lay.width, lay.height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11)
    grey = "#555555"
    for box in lay.boxes:
        node, x, y, top = box.node, box.x, box.y, box.top
        draw.rounded_rectangle(
            (x, top, x + BOX_W, top + BOX_H), radius=6, outline=box.colour, width=2
        )
        picture = mol_png(node.smiles, (BOX_W - 8, BOX_H - 22))
        if picture is not None:
            image.paste(Image.open(io.BytesIO(picture)).convert("RGB"), (int(x + 4), int(top + 2)))
        if box.label:
            draw.text(
                (x + BOX_W / 2, top + BOX_H - 6), box.label, fill=box.colour, font=font, anchor="ms"
            )
        rxn = node.reaction
        if rxn is None:
            continue
        dot_x = x + BOX_W + COL_GAP / 2
        tip = x + BOX_W + 2
        draw.line((dot_x, y, tip + 8, y), fill=grey, width=2)
        draw.polygon([(tip, y), (tip + 9, y - 4), (tip + 9, y + 4)], fill=grey)
        for child in rxn.reactants:
            cx, cy = lay.centre[id(child)]
            draw.line([(cx, cy), (dot_x + 12, cy), (dot_x, y)], fill=grey, width=2)
        draw.ellipse((dot_x - 4, y - 4, dot_x + 4, y + 4), fill=grey)
        step = _step_label(rxn.probability, rxn.score)
        if step:
            draw.text(
                (x + BOX_W + COL_GAP / 4 + 1, y - 6), step, fill="#333333", font=font, anchor="ms"
            )
    path = Path(path)
    image.save(path)
    return path


def _step_label(probability: float | None, score: float | None) -> str:
    if probability is not None:
        return f"p={probability:.3g}"
    if score is not None:
        return f"s={score:.3g}"
    return ""


def _steps_table(route: Route) -> str:
    head = "<tr><th>#</th><th>product</th><th>reactants</th><th>p</th><th>score</th>" + (
        "<th>template</th></tr>"
    )
    rows = []
    for i, (product, rxn) in enumerate(route.reactions(), start=1):
        template = rxn.template or ""
        short = template if len(template) <= 60 else template[:57] + "..."
        rows.append(
            f"<tr><td>{i}</td><td class='smiles'>{html.escape(product.smiles)}</td>"
            f"<td class='smiles'>{html.escape(' + '.join(m.smiles for m in rxn.reactants))}</td>"
            f"<td>{cell(rxn.probability, '.4g')}</td><td>{cell(rxn.score, '.4g')}</td>"
            f"<td class='smiles' title='{html.escape(template)}'>{html.escape(short)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def route_verdict(route: Route) -> str:
    """``makeable`` (every leaf verified), ``unverified`` or ``not solved``, with the
    route's price when every leaf has one."""
    if route.makeable:
        text = "makeable (every starting material in an exact stock)"
    elif route.solved:
        n = len(route.unverified_leaves())
        leaves = f"{n} starting material{'' if n == 1 else 's'}"
        text = f"unverified ({leaves} only a Bloom filter accepts)"
    else:
        text = "not solved"
    price = route.price
    return f"{text}, starting materials cost {price:g}" if price is not None else text


def write_route_html(
    result: PlanResult, path: str | Path, info: Mapping[str, Any] | None = None
) -> Path:
    """Write ``route.html``: the search summary, then each route drawn with its steps.

    Args:
        result: the planning result (its routes are shown best first).
        path: the HTML file to write.
        info: extra rows for the summary table (model, stock, ...).
    """
    path = Path(path)
    summary: dict[str, Any] = {
        "target": result.canonical or result.target,
        "verdict": result.verdict,
        "algorithm": result.algorithm,
        "model calls": result.calls,
        "seconds": result.seconds,
        "first solution (calls)": result.first_solution_calls,
        "first solution (s)": result.first_solution_s,
        "search graph nodes": result.n_nodes,
    }
    summary.update(info or {})
    title = html.escape(result.canonical or result.target)
    parts = [
        f"<h1>Synthesis planning</h1><p class='smiles'>{title}</p>",
        mol_svg(result.canonical or "", (300, 220)),
        html_kv_table(summary, ".4g"),
    ]
    if result.error:
        parts.append(f"<p class='none'>{html.escape(result.error)}</p>")
    if not result.routes:
        parts.append("<p class='none'>No solved route was found within the budget.</p>")
    elif result.unverified:
        parts.append(
            "<p class='none'>Every route found needs a starting material that only a Bloom "
            "filter accepts (marked <i>unverified</i>): the filter calls some molecules it "
            "does not hold purchasable, so these routes are candidates, not a verdict.</p>"
        )
    for rank, route in enumerate(result.routes, start=1):
        name = "Best route" if rank == 1 else f"Route {rank}"
        parts.append(
            f"<div class='route'><h2>{name}</h2><p>{route.n_reactions} reaction(s), "
            f"length {route.depth}, {route.score_text()}, {route_verdict(route)}</p>"
        )
        parts.append(route_svg(route))
        parts.append(_steps_table(route))
        parts.append("</div>")
    page = html_page(f"makeable plan: {result.canonical or result.target}", parts)
    return write_text(path, page)
