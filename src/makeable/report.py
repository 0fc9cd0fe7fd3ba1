"""The one report layer: the pieces every HTML report and ``summary.md`` is made of.

* :func:`html_page`: the page skeleton with the shared style sheet (one look for every report:
  design runs, sequence runs, single-step predictions, planned routes);
* :func:`html_kv_table` (settings, metrics), :func:`html_table` (rows under a header),
  :func:`molecule_card` / :func:`molecule_grid` (drawn molecules with their caption);
* :func:`markdown_table` for the ``summary.md`` of every job;
* :func:`write_text` to write a report atomically.

Plots stay with the data they show (``runs/report.plot_scores``, ``sequences/report``); a
route tree is drawn by ``retro/route_report.route_svg``. Everything here is plain strings: no
template engine is needed for pages this small, and none is installed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from makeable.chem.draw import mol_svg
from makeable.results_csv import replace_text

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { text-align: left; padding: 2px 12px; border-bottom: 1px solid #ddd; vertical-align: top; }
code, .smi, .smiles { font-family: monospace; }
.smi, .smiles { font-size: 0.8em; color: #555; word-break: break-all; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 6px; width: 230px; }
.card .smi { font-size: 0.7em; }
.score { font-weight: bold; font-size: 0.9em; }
.props { font-size: 0.75em; margin: 2px 0; }
.alerts { margin-top: 3px; }
.alert { display: inline-block; font-size: 0.7em; background: #fff3e0; color: #e65100;
  border: 1px solid #ffb74d; border-radius: 3px; padding: 0 4px; margin: 1px 2px 0 0; }
.route, .product { border-top: 2px solid #888; margin-top: 2em; padding-top: 1em;
  overflow-x: auto; }
.route-row { display: flex; gap: 16px; align-items: flex-start; overflow-x: auto;
  border-top: 1px solid #ddd; padding: 8px 0; }
.row { display: flex; align-items: center; gap: 1em; border-bottom: 1px solid #ddd;
  padding: .3em 0; }
.rank { width: 7em; font-size: .9em; }
.share { font-size: 1.2em; font-weight: bold; }
.solved, .makeable { color: #2e7d32; }
.not-solved, .error, .none { color: #c62828; }
.unverified { color: #e65100; }
"""
"""The style sheet of every makeable HTML report."""


def cell(value: Any, spec: str = ".4f") -> str:
    """A value as HTML text: floats formatted with ``spec``, ``None`` empty, dicts as
    ``key: value`` pairs, everything escaped."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format(value, spec)
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{html.escape(str(k))}: {cell(v, spec)}" for k, v in value.items())
    return html.escape(str(value))


def html_kv_table(items: Mapping[str, Any], spec: str = ".4f") -> str:
    """A two-column table: one row per key (settings, metrics, a summary)."""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{cell(v, spec)}</td></tr>" for k, v in items.items()
    )
    return f"<table>{rows}</table>"


def html_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], raw: Sequence[int] = ()
) -> str:
    """A table with a header row; the cells of the columns in ``raw`` are HTML already."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{v if i in raw else cell(v)}</td>" for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def molecule_card(smiles: str, title: str, lines: Sequence[str] = (), labels: str = "") -> str:
    """A drawn molecule with a bold title, caption lines (HTML), its SMILES and labels."""
    caption = "".join(f'<div class="props">{line}</div>' for line in lines)
    return (
        f'<div class="card">{mol_svg(smiles)}<div class="score">{title}</div>{caption}'
        f'<div class="smi">{html.escape(smiles)}</div>'
        + (f'<div class="alerts">{labels}</div>' if labels else "")
        + "</div>"
    )


def molecule_grid(cards: Iterable[str]) -> str:
    """Cards of :func:`molecule_card`, side by side."""
    return f'<div class="grid">{"".join(cards)}</div>'


def html_page(title: str, body: str | Sequence[str]) -> str:
    """A whole HTML document with the shared style sheet."""
    content = body if isinstance(body, str) else "\n".join(body)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style></head><body>\n"
        f"{content}\n</body></html>\n"
    )


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (cells as given; ``|`` in a cell is escaped)."""

    def line(cells: Iterable[Any]) -> str:
        texts = (str(value).replace("|", "\\|") for value in cells)
        return "|" + "|".join(f" {t} " if t else " " for t in texts) + "|"

    lines = [line(header), "|" + "---|" * len(header)]
    lines += [line(row) for row in rows]
    return "\n".join(lines) + "\n"


def write_text(path: str | Path, text: str) -> Path:
    """Write a report atomically (a kill never leaves half a page) and return its path."""
    path = Path(path)
    replace_text(path, text)
    return path
