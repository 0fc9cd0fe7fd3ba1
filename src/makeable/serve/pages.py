"""The run browser's HTML pages: plain strings around :func:`makeable.report.html_page`, so the
browser looks like the reports (the one style sheet), plus a few rules of its own (the top bar,
sortable tables, verdict badges) and one small script that sorts a table by a clicked header.
Nothing on a page is fetched from elsewhere: pictures and plots are inline SVG.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from makeable.chem.draw import mol_svg
from makeable.report import cell, html_kv_table, html_page
from makeable.retro.planning.route_report import leaf_label, route_svg, route_verdict
from makeable.retro.planning.routes import Route
from makeable.serve.folders import RunFolder
from makeable.serve.plots import PALETTE, Series, line_plot

STYLE = """
body { margin: 0; background: #fff; }
main { padding: 1.2em 2em 3em; max-width: 1500px; }
nav.top { background: #263238; color: #eceff1; padding: .55em 2em; font-size: .95em; }
nav.top a { color: #fff; text-decoration: none; font-weight: bold; }
nav.top .crumb { color: #b0bec5; }
nav.top .crumb a { color: #cfd8dc; font-weight: normal; }
nav.top .root { float: right; color: #90a4ae; font-family: monospace; font-size: .85em; }
h1 { font-size: 1.45em; margin: .4em 0 .2em; }
h2 { font-size: 1.15em; margin: 1.4em 0 .5em; color: #37474f; }
.sub { color: #607d8b; margin: 0 0 1em; }
a { color: #1565c0; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin: .8em 0 1em; }
.stat { border: 1px solid #dde3e6; border-radius: 6px; padding: 6px 14px; background: #f7f9fa; }
.stat b { display: block; font-size: 1.25em; color: #263238; }
.stat span { font-size: .8em; color: #607d8b; }
table.data th { background: #eceff1; position: sticky; top: 0; z-index: 1; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th:hover { background: #dfe6e9; }
table.sortable th.asc::after { content: " \\25B2"; font-size: .7em; }
table.sortable th.desc::after { content: " \\25BC"; font-size: .7em; }
table.data td { vertical-align: middle; }
table.data tr:hover td { background: #f5f9ff; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pic svg, td.pic img { display: block; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .8em;
  white-space: nowrap; border: 1px solid; }
.badge.makeable { color: #1b5e20; background: #e8f5e9; border-color: #81c784; }
.badge.no-route, .badge.error { color: #b71c1c; background: #ffebee; border-color: #e57373; }
.badge.unverified { color: #e65100; background: #fff3e0; border-color: #ffb74d; }
.badge.not-judged { color: #546e7a; background: #f5f5f5; border-color: #cfd8dc; }
.kind { font-size: .8em; color: #455a64; background: #eceff1; border-radius: 3px; padding: 0 5px; }
.overview { display: flex; gap: 28px; align-items: flex-start; flex-wrap: wrap; }
.overview h2 { margin-top: .6em; }
.side { margin-top: 2.2em; }
.side .stats { flex-direction: column; gap: 8px; }
.side .stat { min-width: 12em; padding: 4px 14px; }
.sortbar { margin: .3em 0 .8em; font-size: .9em; color: #455a64; }
.sortbar span { margin-right: .5em; }
.sortbar .hint { margin-left: 1.5em; color: #90a4ae; }
.sortbar button { margin: 0 4px 4px 0; padding: 3px 10px; border: 1px solid #b0bec5;
  border-radius: 14px; background: #fff; cursor: pointer; font-size: .95em; }
.sortbar button:hover { background: #eceff1; }
.sortbar button.asc, .sortbar button.desc { background: #263238; color: #fff;
  border-color: #263238; }
.sortbar button.asc::after { content: " \\25B2"; font-size: .7em; }
.sortbar button.desc::after { content: " \\25BC"; font-size: .7em; }
.mgrid { display: grid; grid-template-columns: repeat(auto-fill, minmax(236px, 1fr)); gap: 12px; }
.mcard { border: 1px solid #dde3e6; border-radius: 8px; padding: 6px 8px 8px; background: #fff; }
.mcard:hover { border-color: #90a4ae; box-shadow: 0 1px 4px rgba(0,0,0,.12); }
.mcard img { display: block; margin: 0 auto; }
.mline { display: flex; align-items: center; gap: 8px; margin: 2px 0 3px; }
.mline .rank { font-weight: bold; color: #263238; text-decoration: none; }
.mscore { font-weight: bold; font-size: .95em; flex: 1; }
.mol-head { display: flex; gap: 2em; align-items: flex-start; flex-wrap: wrap; }
.mol-head .big { border: 1px solid #ddd; border-radius: 6px; padding: 4px; }
.routebox { overflow-x: auto; border: 1px solid #e0e0e0; border-radius: 6px; padding: 6px;
  margin-bottom: 1em; }
.legend-row span { margin-right: 1.2em; font-size: .85em; }
.pager a { margin-right: 1em; }
.error-box { border-left: 5px solid #c62828; background: #ffebee; padding: .8em 1.2em;
  max-width: 60em; }
form.compare button { margin: .6em 0; padding: 4px 14px; }
.muted { color: #78909c; }
"""

SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    if (th.dataset.nosort !== undefined) return;
    th.addEventListener('click', function () {
      var desc = !th.classList.contains('desc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(desc ? 'desc' : 'asc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var c = row.cells[col];
        var v = c.dataset.sort !== undefined ? c.dataset.sort : c.textContent.trim();
        var n = parseFloat(v);
        return v === '' ? null : (isNaN(n) ? v.toLowerCase() : n);
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === y) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * (desc ? -1 : 1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll('.sortbar').forEach(function (bar) {
  var grid = document.getElementById(bar.dataset.grid);
  bar.querySelectorAll('button').forEach(function (button) {
    button.addEventListener('click', function () {
      var key = button.dataset.key;
      var asc = button.classList.contains('asc') ? false
        : button.classList.contains('desc') ? true : button.dataset.first === 'asc';
      bar.querySelectorAll('button').forEach(function (b) { b.classList.remove('asc', 'desc'); });
      button.classList.add(asc ? 'asc' : 'desc');
      var cards = Array.prototype.slice.call(grid.children);
      function value(card) {
        var v = card.dataset[key];
        return v === '' || v === undefined ? null : parseFloat(v);
      }
      cards.sort(function (a, b) {
        var x = value(a), y = value(b);
        if (x === y) return (+a.dataset.rank) - (+b.dataset.rank);
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * (asc ? 1 : -1);
      });
      cards.forEach(function (c) { grid.appendChild(c); });
    });
  });
});
"""

VERDICT_HELP = {
    "makeable": "a route whose every starting material is in an exact stock",
    "unverified": "a route only through starting materials a Bloom filter accepts",
    "no route": "the planner found no route within its budget",
    "error": "planning failed",
    "not judged": "no route verdict for this molecule (run with --plan-routes K)",
}


def run_url(rel: str, *tail: str) -> str:
    """The page of the run at ``rel`` (or one of its sub-pages)."""
    return "/".join(["/run", quote(rel or ".", safe="/"), *tail])


def badge(verdict: str) -> str:
    css = verdict.replace(" ", "-")
    tip = html.escape(VERDICT_HELP.get(verdict, ""))
    return f'<span class="badge {css}" title="{tip}">{html.escape(verdict)}</span>'


@functools.lru_cache(maxsize=4096)
def picture(smiles: str, width: int = 200, height: int = 150) -> str:
    """A molecule's inline SVG drawing (cached: pages draw the same molecules often)."""
    return mol_svg(smiles, (width, height))


def thumbnail(smiles: str, width: int = 200, height: int = 150) -> str:
    """A molecule's drawing as an image the browser fetches from this app when it scrolls
    into view (``/depict``): a table of hundreds of molecules stays a light page."""
    query = urlencode({"smiles": smiles, "w": width, "h": height})
    return (
        f'<img class="mol" loading="lazy" src="/depict?{query}" width="{width}" '
        f'height="{height}" alt="{html.escape(smiles)}">'
    )


def page(title: str, body: Sequence[str], crumbs: str = "", root: str = "") -> str:
    """A page of the browser: the top bar (home, where we are, the served folder), the
    content, the sorting script."""
    bar = (
        '<nav class="top"><a href="/">makeable runs</a>'
        + (f' <span class="crumb">/ {crumbs}</span>' if crumbs else "")
        + (f'<span class="root">{html.escape(root)}</span>' if root else "")
        + "</nav>"
    )
    content = [f"<style>{STYLE}</style>", bar, "<main>", *body, "</main>"]
    content.append(f"<script>{SORT_SCRIPT}</script>")
    return html_page(title, content)


def crumbs_for(rel: str, *extra: str) -> str:
    """The top bar's path: each folder of ``rel`` (the run's own a link), then ``extra``."""
    parts = [p for p in rel.split("/") if p] or ["."]
    text = " / ".join(html.escape(p) for p in parts[:-1])
    last = f'<a href="{run_url(rel)}">{html.escape(parts[-1])}</a>'
    out = f"{text} / {last}" if text else last
    return " / ".join([out, *extra])


def stats(items: Mapping[str, Any]) -> str:
    """Headline numbers as small boxes."""
    boxes = "".join(
        f'<div class="stat"><b>{cell(v, ".4g") if v is not None else "–"}</b>'
        f"<span>{html.escape(k)}</span></div>"
        for k, v in items.items()
    )
    return f'<div class="stats">{boxes}</div>'


def table(
    header: Sequence[str | tuple[str, str]],
    rows: Sequence[Sequence[tuple[str, Any]]],
    table_id: str = "",
    sortable: bool = True,
) -> str:
    """A data table: ``header`` cells are names or ``(name, tooltip)``; each row cell is
    ``(html, sort_value)`` (a ``None`` sort value sorts by the cell's text)."""
    ident = f' id="{table_id}"' if table_id else ""
    css = "data sortable" if sortable else "data"
    head = []
    for h in header:
        name, tip = (h, "") if isinstance(h, str) else h
        tip_attr = f' title="{html.escape(tip)}"' if tip else ""
        head.append(f"<th{tip_attr}>{html.escape(name)}</th>")
    body = []
    for row in rows:
        tds = []
        for content, key in row:
            classes = []
            if isinstance(key, int | float) and not isinstance(key, bool):
                classes.append("num")
            if content.startswith("<svg") or '<img class="mol"' in content:
                classes.append("pic")
            css_attr = f' class="{" ".join(classes)}"' if classes else ""
            sort_attr = "" if key is None else f' data-sort="{html.escape(str(key))}"'
            tds.append(f"<td{css_attr}{sort_attr}>{content}</td>")
        body.append(f"<tr>{''.join(tds)}</tr>")
    return (
        f'<table class="{css}"{ident}><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def fmt(value: Any, spec: str = ".3f") -> tuple[str, Any]:
    """A number cell: formatted text and its sort value (empty for ``None``)."""
    if value is None:
        return "", ""
    if isinstance(value, float) and not math.isfinite(value):
        return "–", ""
    if isinstance(value, float) and value == int(value) and spec.endswith("d"):
        value = int(value)
    return format(value, spec), value


# ---------------------------------------------------------------------- the run list
def index_page(root: str, entries: Sequence[dict[str, Any]]) -> str:
    """Every run and benchmark under the served folder, with a form to compare design runs."""
    if not entries:
        body = [
            "<h1>No runs found</h1>",
            f"<p>No run or benchmark folder under <code>{html.escape(root)}</code>. A design "
            "run holds <code>run.db</code> and <code>config.yaml</code>; a benchmark "
            "<code>bench.yaml</code> (or <code>config.json</code>) and <code>results.csv</code>."
            "</p>",
        ]
        return page("makeable runs", body, root=root)
    return page(
        "makeable runs",
        [
            "<h1>Runs and benchmarks</h1>",
            f'<p class="sub">{len(entries)} found under <code>{html.escape(root)}</code>. '
            "Tick two or more design runs to compare their curves on one plot.</p>",
            runs_table(entries),
        ],
        root=root,
    )


def runs_table(entries: Sequence[dict[str, Any]], checked: Sequence[str] = ()) -> str:
    """The run list as a table inside the compare form."""
    rows = []
    for e in entries:
        rel = e["path"]
        box = ""
        if e["kind"] == "design" and "error" not in e:
            tick = " checked" if rel in checked else ""
            box = f'<input type="checkbox" name="runs" value="{html.escape(rel)}"{tick}>'
        link = f'<a href="{run_url(rel)}">{html.escape(rel or ".")}</a>'
        if "error" in e:
            what = f'<span class="not-solved">{html.escape(e["error"])}</span>'
        else:
            what = html.escape(str(e.get("what", "")))
        judged = e.get("makeable") or e.get("solved") or ""
        rows.append(
            [
                (box, None),
                (link, rel),
                (f'<span class="kind">{html.escape(e["kind"])}</span>', e["kind"]),
                (what, None),
                fmt(e.get("calls"), ",d") if e.get("calls") is not None else ("", ""),
                fmt(e.get("best"), ".4f"),
                (html.escape(str(judged)), None),
            ]
        )
    header: list[str | tuple[str, str]] = [
        ("", "compare"),
        "run",
        "kind",
        "what",
        ("calls", "counted oracle calls"),
        ("best", "best score"),
        ("makeable / solved", "judged molecules with a makeable route, or planned targets solved"),
    ]
    return (
        '<form class="compare" action="/compare" method="get">'
        + table(header, rows, table_id="runs")
        + '<button type="submit">Compare ticked runs</button></form>'
    )


# ---------------------------------------------------------------------- a design run
def curve_series(curve: Mapping[str, Sequence[float]]) -> list[Series]:
    """A run's calls as dots, its best so far and its top-10 mean so far."""
    x = curve["calls"]
    return [
        Series("each call", x, curve["score"], "#90a4ae", "dots"),
        Series("top-10 mean so far", x, curve["top10_mean"], PALETTE[1], "line"),
        Series("best so far", x, curve["best"], PALETTE[0], "step"),
    ]


VERDICT_ORDER = ("not judged", "error", "no route", "unverified", "makeable")
"""Verdicts from worst to best (the sort order of the makeable column)."""
SORT_KEYS = (
    ("rank", "rank", "asc"),
    ("score", "score", "desc"),
    ("verdict", "makeable", "desc"),
    ("mw", "MW", "asc"),
    ("clogp", "cLogP", "asc"),
    ("tpsa", "TPSA", "asc"),
    ("qed", "QED", "desc"),
    ("sa", "SA", "asc"),
    ("alerts", "alerts", "asc"),
    ("call", "call", "asc"),
)
"""The sort buttons of the molecule grid: data key, label, first direction."""


def _num(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def molecule_card(rel: str, m: Mapping[str, Any]) -> str:
    """One best molecule in the grid: its drawing (a link to its page), rank, score, verdict,
    properties and alerts; its values as ``data-`` attributes for sorting."""
    link = run_url(rel, "molecule", str(m["rank"]))
    alerts = m.get("alerts") or ""
    n_alerts = len([a for a in alerts.split("; ") if a])
    keys = {
        "rank": m["rank"],
        "score": m.get("score"),
        "verdict": VERDICT_ORDER.index(m["verdict"]),
        **{k: m.get(k) for k in ("mw", "clogp", "tpsa", "qed", "sa", "call")},
        "alerts": n_alerts,
    }
    data = " ".join(f'data-{k}="{"" if v is None else v}"' for k, v in keys.items())
    alert_html = (
        f'<span class="alert" title="{html.escape(alerts)}">{n_alerts} alert'
        f"{'s' if n_alerts != 1 else ''}</span>"
        if n_alerts
        else ""
    )
    return (
        f'<div class="mcard" {data}>'
        f'<a href="{link}" title="{html.escape(m["smiles"])}">'
        f"{thumbnail(m['smiles'], 220, 160)}</a>"
        f'<div class="mline"><a class="rank" href="{link}">#{m["rank"]}</a>'
        f'<span class="mscore">{_num(m.get("score"), ".4f")}</span>{badge(m["verdict"])}</div>'
        f'<div class="props">MW {_num(m.get("mw"), ".1f")} · cLogP {_num(m.get("clogp"), ".2f")}'
        f" · HBD/HBA {_num(m.get('hbd'), '.0f')}/{_num(m.get('hba'), '.0f')}</div>"
        f'<div class="props">TPSA {_num(m.get("tpsa"), ".1f")} · QED {_num(m.get("qed"), ".2f")}'
        f" · SA {_num(m.get('sa'), '.2f')}"
        + (f" · call {m['call']}" if m.get("call") else "")
        + f"</div>{alert_html}</div>"
    )


def molecule_grid(rel: str, molecules: Sequence[Mapping[str, Any]]) -> str:
    """The best molecules as cards, with a bar of sort buttons above them."""
    buttons = "".join(
        f'<button type="button" data-key="{key}" data-first="{first}"'
        + (' class="asc"' if key == "rank" else "")
        + f">{label}</button>"
        for key, label, first in SORT_KEYS
    )
    cards = "".join(molecule_card(rel, m) for m in molecules)
    return (
        f'<div class="sortbar" data-grid="molecules"><span>Sort by</span>{buttons}'
        '<span class="hint">click a molecule for its properties and synthesis route</span></div>'
        f'<div class="mgrid" id="molecules">{cards}</div>'
    )


def design_page(
    run: RunFolder,
    root: str,
    curve: Mapping[str, Sequence[float]],
    molecules: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any] | None,
) -> str:
    config = run.config
    metrics = metrics or {}
    n_calls = len(curve["calls"])
    judged = [m for m in molecules if m["verdict"] != "not judged"]
    makeable = sum(1 for m in judged if m["verdict"] == "makeable")
    headline: dict[str, Any] = {
        "oracle calls": f"{n_calls:,} / {config.get('budget', '?'):,}"
        if isinstance(config.get("budget"), int)
        else n_calls,
        "best score": _num(max(curve["score"]) if curve["score"] else None, ".4f"),
        "AUC top-10": _num(metrics.get("auc_top10"), ".4f"),
        "top-10 mean": _num(metrics.get("top10_mean"), ".4f"),
        "diversity top-100": _num(metrics.get("diversity_top100"), ".3f"),
    }
    if judged:
        headline["makeable (judged)"] = f"{makeable} / {len(judged)}"
    title = f"{config.get('optimizer', '?')} on {config.get('objective', '?')}"
    settings = {k: v for k, v in config.items() if v not in (None, {}, [], "")}
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="sub">design run <code>{html.escape(run.name)}</code> · seed '
        f"{html.escape(str(config.get('seed', '?')))}</p>",
        '<div class="overview">',
        "<div><h2>Score against oracle calls</h2>",
        line_plot(curve_series(curve), plot_id="curve", width=980, height=320),
        "</div>",
        f'<div class="side">{stats(headline)}</div>',
        "</div>",
        f"<h2>Best molecules ({len(molecules)})</h2>",
        molecule_grid(run.rel, molecules) if molecules else "<p>No molecules yet.</p>",
        "<h2>Settings</h2>",
        html_kv_table(settings),
    ]
    return page(f"{title} · makeable", body, crumbs_for(run.rel), root)


# ---------------------------------------------------------------------- a molecule
def route_section(routes: Sequence[Route], source: str, row: Mapping[str, str] | None) -> str:
    """The routes of a molecule: each drawn as a tree, with its starting materials listed."""
    if not routes:
        if row is not None:
            return (
                "<p>The planner found no route within its budget "
                f"({html.escape(row.get('calls') or '?')} single-step calls).</p>"
            )
        return (
            '<p class="muted">No route recorded for this molecule: only the best molecules of a '
            "run with <code>--plan-routes K</code> (or an optimizer that builds its molecules, "
            "such as synthesis_ga) have one.</p>"
        )
    where = {
        "verdict": "the run's route verdict (starting materials checked against the stock)",
        "constructed": "the optimizer's own synthesis (starting materials not checked here)",
        "planning": "the benchmark's search (starting materials checked against its stock)",
    }[source]
    parts = [f'<p class="sub">From {where}.</p>']
    legend = (
        '<p class="legend-row"><span style="color:#1565c0">■ target</span>'
        '<span style="color:#2e7d32">■ in stock</span>'
        '<span style="color:#e65100">■ unverified (Bloom filter)</span>'
        '<span style="color:#c62828">■ not in stock</span>'
        '<span style="color:#78909c">■ intermediate</span></p>'
    )
    parts.append(legend)
    for i, route in enumerate(routes, 1):
        leaves = [
            [
                (thumbnail(leaf.smiles, 140, 100), None),
                (f'<span class="smiles">{html.escape(leaf.smiles)}</span>', leaf.smiles),
                (html.escape(leaf_label(leaf)), leaf.status),
            ]
            for leaf in route.leaves()
        ]
        parts += [
            f"<h3>Route {i}: {html.escape(route_verdict(route))}, {route.n_reactions} "
            f"reaction{'s' if route.n_reactions != 1 else ''}, length {route.depth}</h3>",
            f'<div class="routebox route-tree">{route_svg(route)}</div>',
            table(["starting material", "SMILES", "stock"], leaves, sortable=False),
        ]
    return "\n".join(parts)


def molecule_page(
    run: RunFolder,
    root: str,
    molecule: Mapping[str, Any],
    properties: Mapping[str, Any],
    routes: Sequence[Route],
    source: str,
    verdict_row: Mapping[str, str] | None,
    n_molecules: int,
) -> str:
    rank = int(molecule["rank"])
    smiles = molecule["smiles"]
    names = {
        "mw": "MW (g/mol)",
        "clogp": "cLogP",
        "hbd": "H-bond donors",
        "hba": "H-bond acceptors",
        "tpsa": "TPSA (Å²)",
        "rotatable_bonds": "rotatable bonds",
        "qed": "QED",
        "sa": "SA score",
    }
    props: dict[str, Any] = {"rank": rank, "score": molecule.get("score")}
    if molecule.get("call"):
        props["found at call"] = molecule["call"]
    props.update({label: properties.get(key) for key, label in names.items()})
    alerts = properties.get("alerts") or ""
    verdict_info: dict[str, Any] = {}
    if verdict_row is not None:
        verdict_info = {
            "route source": verdict_row.get("source") or "planned",
            "single-step calls": verdict_row.get("calls"),
            "route length": verdict_row.get("route_length"),
            "price of starting materials": verdict_row.get("price"),
        }
        verdict_info = {k: v for k, v in verdict_info.items() if v not in (None, "")}
    pager = []
    if rank > 1:
        pager.append(f'<a href="{run_url(run.rel, "molecule", str(rank - 1))}">← #{rank - 1}</a>')
    if rank < n_molecules:
        pager.append(f'<a href="{run_url(run.rel, "molecule", str(rank + 1))}">#{rank + 1} →</a>')
    body = [
        f'<p class="pager">{"".join(pager)}</p>',
        f"<h1>#{rank} of {html.escape(run.name)} {badge(molecule['verdict'])}</h1>",
        f'<p class="smiles">{html.escape(smiles)}</p>',
        '<div class="mol-head">',
        f'<div class="big">{picture(smiles, 420, 320)}</div>',
        f"<div><h2>Properties</h2>{html_kv_table(props, '.3f')}",
        (
            "<h2>Structural alerts</h2>"
            + "".join(f'<span class="alert">{html.escape(a)}</span>' for a in alerts.split("; "))
            if alerts
            else '<p class="muted">No structural alerts (basic, PAINS, Brenk).</p>'
        ),
        (f"<h2>Verdict</h2>{html_kv_table(verdict_info)}" if verdict_info else ""),
        "</div></div>",
        "<h2>Synthesis route</h2>",
        route_section(routes, source, verdict_row),
    ]
    crumbs = crumbs_for(run.rel, f"molecule #{rank}")
    return page(f"#{rank} · {run.name} · makeable", body, crumbs, root)


# ---------------------------------------------------------------------- compare
def compare_page(
    root: str,
    curves: Sequence[tuple[str, Mapping[str, Sequence[float]]]],
    entries: Sequence[dict[str, Any]],
    chosen: Sequence[str],
) -> str:
    series = []
    rows = []
    for i, (rel, curve) in enumerate(curves):
        colour = PALETTE[i % len(PALETTE)]
        series.append(Series(f"{rel} best", curve["calls"], curve["best"], colour, "step"))
        series.append(
            Series(f"{rel} top-10 mean", curve["calls"], curve["top10_mean"], colour, "dashed")
        )
        rows.append(
            [
                (
                    f'<span style="color:{colour}">■</span> <a href="{run_url(rel)}">'
                    f"{html.escape(rel)}</a>",
                    rel,
                ),
                fmt(float(len(curve["calls"])), ",.0f"),
                fmt(max(curve["best"]) if curve["best"] else None, ".4f"),
                fmt(curve["top10_mean"][-1] if curve["top10_mean"] else None, ".4f"),
            ]
        )
    form = [
        "<h2>Choose runs</h2>",
        runs_table([e for e in entries if e["kind"] == "design"], chosen),
    ]
    if not curves:
        body = [
            "<h1>Compare runs</h1>",
            '<p class="sub">Tick two or more design runs to see their curves on one plot.</p>',
            *form,
        ]
        return page("compare · makeable", body, "compare", root)
    body = [
        f"<h1>Compare {len(curves)} runs</h1>",
        '<p class="sub">Best score so far (solid) and top-10 mean so far (dashed) against '
        "oracle calls.</p>",
        line_plot(series, plot_id="compare", width=980, height=420),
        table(["run", "calls", "best", "final top-10 mean"], rows, table_id="compared"),
        *form,
    ]
    return page("compare · makeable", body, "compare", root)


# ---------------------------------------------------------------------- planning benchmark
def planning_page(run: RunFolder, root: str, targets: Sequence[Mapping[str, Any]]) -> str:
    config = run.config
    solved = [t for t in targets if t["verdict"] == "makeable"]
    unsolved = [t for t in targets if t["verdict"] != "makeable"]
    search = config.get("search") if isinstance(config.get("search"), dict) else {}
    settings = {
        "model": config.get("model"),
        "stock": config.get("stock"),
        "targets": config.get("targets"),
        **{f"search.{k}": v for k, v in (search or {}).items()},
    }
    share = f"{len(solved)} / {len(targets)}"
    calls = [t["calls"] for t in solved if t["calls"] is not None]

    def rows(items: Sequence[Mapping[str, Any]]) -> list[list[tuple[str, Any]]]:
        out = []
        for t in items:
            link = run_url(run.rel, "target", str(t["index"]))
            out.append(
                [
                    (f'<a href="{link}">{t["index"]}</a>', t["index"]),
                    (
                        f'<a href="{link}" title="{html.escape(t["target"])}">'
                        f"{picture(t['target'], 160, 110)}</a>",
                        None,
                    ),
                    (f'<span class="smiles">{html.escape(t["target"])}</span>', t["target"]),
                    (badge(t["verdict"]), t["verdict"]),
                    fmt(t["calls"], ".0f"),
                    fmt(t["seconds"], ".1f"),
                    fmt(t["route_length"], ".0f"),
                ]
            )
        return out

    header = ["#", "target", "SMILES", "verdict", "calls", "seconds", "route length"]
    body = [
        f"<h1>Planning benchmark {html.escape(run.name)}</h1>",
        stats(
            {
                "solved (makeable)": share,
                "share": f"{100 * len(solved) / max(len(targets), 1):.1f} %",
                "mean calls per solved target": sum(calls) / len(calls) if calls else None,
            }
        ),
        f"<h2>Solved targets ({len(solved)})</h2>",
        table(header, rows(solved), table_id="solved") if solved else "<p>None.</p>",
        f"<h2>Unsolved targets ({len(unsolved)})</h2>",
        table(header, rows(unsolved), table_id="unsolved") if unsolved else "<p>None.</p>",
        "<h2>Settings</h2>",
        html_kv_table({k: v for k, v in settings.items() if v is not None}),
    ]
    return page(f"{run.name} · planning · makeable", body, crumbs_for(run.rel), root)


def target_page(
    run: RunFolder, root: str, target: Mapping[str, Any], routes: Sequence[Route], n: int
) -> str:
    index = int(target["index"])
    pager = []
    if index > 1:
        pager.append(f'<a href="{run_url(run.rel, "target", str(index - 1))}">← {index - 1}</a>')
    if index < n:
        pager.append(f'<a href="{run_url(run.rel, "target", str(index + 1))}">{index + 1} →</a>')
    info = {
        "single-step calls": target.get("calls"),
        "seconds": target.get("seconds"),
        "route length": target.get("route_length"),
        "error": target.get("error") or None,
    }
    if routes:
        section = route_section(routes, "planning", None)
    else:
        section = "<p>No route found within the search's budget.</p>"
    body = [
        f'<p class="pager">{"".join(pager)}</p>',
        f"<h1>Target {index} {badge(target['verdict'])}</h1>",
        f'<p class="smiles">{html.escape(target["target"])}</p>',
        '<div class="mol-head">',
        f'<div class="big">{picture(target["target"], 360, 260)}</div>',
        f"<div>{html_kv_table({k: v for k, v in info.items() if v is not None}, '.4g')}</div>",
        "</div>",
        "<h2>Routes</h2>",
        section,
    ]
    crumbs = crumbs_for(run.rel, f"target {index}")
    return page(f"target {index} · {run.name} · makeable", body, crumbs, root)


# ---------------------------------------------------------------------- sequence run
def sequence_page(
    run: RunFolder,
    root: str,
    rounds: Sequence[Mapping[str, str]],
    top: Sequence[Mapping[str, str]],
) -> str:
    config = run.config
    columns = list(rounds[0].keys()) if rounds else []
    rows = _csv_rows(rounds, columns, lambda column, _: column == "round")
    x = [_number(r.get("round")) or 0.0 for r in rounds]
    series = [
        Series("max", x, [_number(r.get("max")) or 0.0 for r in rounds], PALETTE[0], "line"),
    ]
    if columns and "median_top128" in columns:
        series.append(
            Series(
                "median top-128",
                x,
                [_number(r.get("median_top128")) or 0.0 for r in rounds],
                PALETTE[1],
                "line",
            )
        )
    best = [
        [
            fmt(float(i), ".0f"),
            (f"<code>{html.escape(t.get('sequence', ''))}</code>", t.get("sequence", "")),
            fmt(_number(t.get("score")), ".4f"),
        ]
        for i, t in enumerate(top[:20], 1)
    ]
    title = f"{config.get('optimizer', '?')} on {config.get('task', '?')}"
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="sub">sequence design run <code>{html.escape(run.name)}</code></p>',
        "<h2>Score by round</h2>",
        line_plot(series, x_label="round (0 = starting set)", plot_id="rounds-plot", height=320),
        f"<h2>Rounds ({len(rounds)})</h2>",
        table(columns, rows, table_id="rounds") if rounds else "<p>No rounds recorded yet.</p>",
        "<h2>Best sequences</h2>",
        table(["#", "sequence", "score"], best, table_id="sequences") if best else "<p>None.</p>",
        "<h2>Settings</h2>",
        html_kv_table({k: v for k, v in config.items() if v not in (None, {}, [], "")}),
    ]
    return page(f"{title} · makeable", body, crumbs_for(run.rel), root)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sort_value(value: Any) -> Any:
    number = _number(value)
    return value if number is None else number


def _csv_rows(
    records: Sequence[Mapping[str, str]],
    columns: Sequence[str],
    as_text: Callable[[str, str | None], bool],
) -> list[list[Any]]:
    """Table cells of CSV rows: a value ``as_text(column, value)`` picks is shown as written
    (sorted as a number when it is one), any other as a number to 4 significant digits."""
    return [
        [
            (html.escape(r.get(c) or ""), _sort_value(r.get(c)))
            if as_text(c, r.get(c))
            else fmt(_number(r.get(c)), ".4g")
            for c in columns
        ]
        for r in records
    ]


# ---------------------------------------------------------------------- other benchmarks
def benchmark_page(
    run: RunFolder,
    root: str,
    results: Sequence[Mapping[str, str]],
    runs: Sequence[dict[str, Any]],
) -> str:
    config = run.config
    columns = list(results[0].keys()) if results else []
    rows = _csv_rows(results, columns, lambda _, value: _number(value) is None)
    designs = [e["path"] for e in runs if e["kind"] == "design" and "error" not in e]
    compare = (
        f'<p><a href="/compare?{urlencode([("runs", p) for p in designs])}">'
        f"Compare all {len(designs)} runs on one plot</a></p>"
        if len(designs) > 1
        else ""
    )
    settings = {k: v for k, v in config.items() if not isinstance(v, list | dict)}
    body = [
        f"<h1>{html.escape(str(config.get('benchmark', 'benchmark')))}: "
        f"{html.escape(run.name)}</h1>",
        f"<h2>Results ({len(results)} rows)</h2>",
        table(columns, rows, table_id="results") if rows else "<p>No results yet.</p>",
        f"<h2>Runs ({len(runs)})</h2>",
        compare,
        runs_table(runs) if runs else "<p>No run folders found.</p>",
        "<h2>Settings</h2>",
        html_kv_table(settings),
    ]
    return page(f"{run.name} · makeable", body, crumbs_for(run.rel), root)


# ---------------------------------------------------------------------- a predictor
def predictor_page(
    run: RunFolder, root: str, metrics: Mapping[str, Any] | None, parity_png: bytes | None
) -> str:
    """A trained predictor: its targets and test metrics, how it was trained, its parity plot
    and the objective that designs against it."""
    import base64

    config = run.config
    metrics = metrics or {}
    found = metrics.get("test")
    tests: dict[str, Any] = found if isinstance(found, dict) else {}
    names = sorted({k for v in tests.values() if isinstance(v, dict) for k in v})

    def number_cell(value: Any) -> tuple[str, Any]:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return fmt(value, ".4g") if is_number else (html.escape(str(value or "")), None)

    rows = [
        [(html.escape(str(target)), target), *(number_cell(values.get(k)) for k in names)]
        for target, values in tests.items()
        if isinstance(values, dict)
    ]
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    settings = {k: v for k, v in (training or {}).items() if not isinstance(v, list | dict)}
    network = config.get("network") if isinstance(config.get("network"), dict) else {}
    settings.update({f"network.{k}": v for k, v in (network or {}).items()})
    objective = f"predictor:{run.rel or '.'}"
    body = [
        f"<h1>Predictor {html.escape(run.name)}</h1>",
        stats(
            {
                "task": config.get("task"),
                "targets": ", ".join(map(str, config.get("targets") or [])),
                "models in the ensemble": config.get("n_models"),
                "train / validation / test molecules": " / ".join(
                    str(metrics.get(k, "?")) for k in ("n_train", "n_val", "n_test")
                ),
                "training seconds": metrics.get("train_s"),
                "experts (mixture)": len(config.get("experts") or []) or None,
            }
        ),
        "<h2>Held-out test set</h2>",
        table(["target", *names], rows, table_id="test") if rows else "<p>No test metrics.</p>",
    ]
    if parity_png:
        data = base64.b64encode(parity_png).decode()
        source = f"data:image/png;base64,{data}"
        body.append(f'<p><img alt="predicted against measured" src="{source}"></p>')
    body += [
        "<h2>Use it</h2>",
        f"<p><code>makeable predict score FILE --model {html.escape(run.rel or '.')} --out "
        f"OUT.csv</code>, or design against it: <code>--objective {html.escape(objective)}"
        "</code> (paths relative to the served folder).</p>",
        "<h2>Training</h2>",
        html_kv_table(settings),
    ]
    return page(f"{run.name} · makeable", body, crumbs_for(run.rel), root)


# ---------------------------------------------------------------------- errors
def error_page(status: int, title: str, message: str, root: str = "") -> str:
    body = [
        f"<h1>{status} · {html.escape(title)}</h1>",
        f'<div class="error-box"><p>{html.escape(message)}</p></div>',
        '<p><a href="/">← back to the run list</a></p>',
    ]
    return page(f"{status} {title} · makeable", body, root=root)
