"""The one report layer: page, tables, molecule cards, Markdown tables, atomic writes."""

from __future__ import annotations

from makeable.report import (
    cell,
    html_kv_table,
    html_page,
    html_table,
    markdown_table,
    molecule_card,
    molecule_grid,
    write_text,
)


def test_cells_are_escaped_and_formatted():
    assert cell(0.123456) == "0.1235"
    assert cell(1234.5678, ".4g") == "1235"
    assert cell(None) == "" and cell(True) == "True" and cell(3) == "3"
    assert cell("<b>") == "&lt;b&gt;"
    assert cell({"a<": 0.5}) == "a&lt;: 0.5000"


def test_tables_and_page(tmp_path):
    kv = html_kv_table({"budget": 10, "best": 0.5})
    assert (
        kv
        == "<table><tr><th>budget</th><td>10</td></tr><tr><th>best</th><td>0.5000</td></tr></table>"
    )
    rows = html_table(("#", "seq"), [(1, "<code>AC</code>")], raw=(1,))
    assert "<td><code>AC</code></td>" in rows and "<th>seq</th>" in rows
    assert "&lt;code&gt;" in html_table(("x",), [("<code>",)])  # not raw: escaped
    card = molecule_card("CCO", "#1 · score 0.9", ["MW 46"], '<span class="alert">x</span>')
    assert "<svg" in card and "CCO" in card and "MW 46" in card and 'class="alerts"' in card
    page = html_page("a <title>", [kv, molecule_grid([card])])
    assert page.startswith("<!doctype html>") and "<title>a &lt;title&gt;</title>" in page
    assert page.count("<style>") == 1 and page.rstrip().endswith("</html>")
    path = write_text(tmp_path / "r.html", page)
    assert path.read_text() == page and not list(tmp_path.glob("*.tmp*"))


def test_markdown_table():
    text = markdown_table(("task", "AUC"), [("qed", "0.940"), ("a|b", 1)])
    assert text.splitlines() == [
        "| task | AUC |",
        "|---|---|",
        "| qed | 0.940 |",
        "| a\\|b | 1 |",
    ]
