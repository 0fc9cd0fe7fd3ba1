"""``report.html`` for a sequence design run: settings, per-round metrics, plot, best sequences."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from makeable.sequences.tasks import SequenceTask

_COLUMNS = ("round", "max", "median_top128", "mean_top128", "diversity", "novelty", "n_calls")


def plot_rounds(rounds: list[dict[str, Any]], path: Path, title: str) -> None:
    """Max and top-128 median per round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["round"] for r in rounds]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(x, [r["max"] for r in rounds], marker="o", color="tab:red", label="max")
    ax.plot(x, [r["median_top128"] for r in rounds], marker="o", label="median top-128")
    ax.set_xlabel("round (0 = starting set)")
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def write_sequence_report(
    out: Path,
    config: Any,
    task: SequenceTask,
    rounds: list[dict[str, Any]],
    top: list[tuple[str, float]],
    n_top: int = 20,
) -> Path:
    """Write ``out/report.html`` (and ``out/rounds.png``); returns the report's path."""
    if rounds:
        plot_rounds(rounds, out / "rounds.png", f"{config.optimizer} on {task.name}")
    settings = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{_cell(v)}</td></tr>"
        for k, v in config.to_dict().items()
    )
    head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c, ''))}</td>" for c in _COLUMNS) + "</tr>"
        for r in rounds
    )
    best = "".join(
        f"<tr><td>{i}</td><td><code>{html.escape(s)}</code></td><td>{v:.4f}</td></tr>"
        for i, (s, v) in enumerate(top[:n_top], 1)
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(task.name)}: sequence design</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}</style></head><body>
<h1>{html.escape(config.optimizer)} on {html.escape(task.name)}</h1>
<p>Alphabet <code>{html.escape(task.alphabet)}</code>, length {task.length}. Oracle budget
{config.rounds} rounds × {config.batch} = {config.rounds * config.batch} calls (the starting
set is given data, not calls). Metrics over all data, starting set included.</p>
<h2>Rounds</h2><table><tr>{head}</tr>{body}</table>
<p><img src="rounds.png" alt="max and median per round"></p>
<h2>Best proposed sequences</h2><table><tr><th>#</th><th>sequence</th><th>score</th></tr>
{best}</table>
<h2>Settings</h2><table>{settings}</table>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
