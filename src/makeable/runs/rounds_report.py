"""Report section: the best molecules an optimizer keeps, round by round.

Optimizers that keep a set of best molecules (GEGL's priority queues, REINVENT's replay memory,
SMILES-LSTM hill climbing's kept set) log a ``round`` event per round with payload
``{"round": int, "best": [[smiles, score], ...], "kept": int, ...}``. This module turns those
events into an HTML section for ``report.html``: a table of the best kept molecules at up to
``max_rows`` evenly spaced rounds (first and last included), and drawings of the best molecule
at a few of them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from makeable.chem.draw import mol_svg

Event = tuple[int, str, dict[str, Any]]


def _spread(n: int, k: int) -> list[int]:
    """Up to ``k`` evenly spaced indices of ``range(n)``, first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def rounds_section(events: Sequence[Event], max_rows: int = 25, n_drawn: int = 6) -> str:
    """HTML for the ``round`` events (empty string when there are none)."""
    rounds = [(n_calls, payload) for n_calls, kind, payload in events if kind == "round"]
    rounds = [(n, p) for n, p in rounds if p.get("best")]
    if not rounds:
        return ""
    rows = []
    for i in _spread(len(rounds), max_rows):
        n_calls, payload = rounds[i]
        best = payload["best"]
        cells = " ".join(
            f'<span class="smi" title="{html.escape(s)}">{score:.3f} {html.escape(s)}</span><br>'
            for s, score in best
        )
        rows.append(
            f"<tr><td>{payload.get('round', i + 1)}</td><td>{n_calls}</td>"
            f"<td>{payload.get('kept', '')}</td><td>{best[0][1]:.4f}</td><td>{cells}</td></tr>"
        )
    cards = []
    for i in _spread(len(rounds), n_drawn):
        n_calls, payload = rounds[i]
        smiles, score = payload["best"][0]
        cards.append(
            f'<div class="card">{mol_svg(smiles)}<div class="score">round '
            f"{payload.get('round', i + 1)} · {n_calls} calls · best {score:.4f}</div>"
            f'<div class="smi">{html.escape(smiles)}</div></div>'
        )
    return (
        "<h2>Best kept molecules over rounds</h2>\n"
        f"<p>{len(rounds)} rounds; the optimizer's kept set (priority queue / replay memory) "
        "after each shown round, best first.</p>\n"
        f'<div class="grid">{"".join(cards)}</div>\n'
        "<table><tr><th>round</th><th>calls</th><th>kept</th><th>best</th>"
        f"<th>top molecules (score SMILES)</th></tr>\n{''.join(rows)}</table>\n"
    )
