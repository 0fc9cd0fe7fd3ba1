"""``report.html`` for a sequence design run: settings, per-round metrics, plot, best sequences."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from makeable.report import html_kv_table, html_page, html_table, write_text
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
    rows = [[r.get(c, "") for c in _COLUMNS] for r in rounds]
    best = [(i, f"<code>{html.escape(s)}</code>", v) for i, (s, v) in enumerate(top[:n_top], 1)]
    page = html_page(
        f"{task.name}: sequence design",
        [
            f"<h1>{html.escape(config.optimizer)} on {html.escape(task.name)}</h1>",
            f"<p>Alphabet <code>{html.escape(task.alphabet)}</code>, length {task.length}. "
            f"Oracle budget {config.rounds} rounds × {config.batch} = "
            f"{config.rounds * config.batch} calls (the starting set is given data, not calls). "
            "Metrics over all data, starting set included.</p>",
            f"<h2>Rounds</h2>{html_table(_COLUMNS, rows)}",
            '<p><img src="rounds.png" alt="max and median per round"></p>',
            "<h2>Best proposed sequences</h2>"
            + html_table(("#", "sequence", "score"), best, raw=(1,)),
            f"<h2>Settings</h2>{html_kv_table(config.to_dict())}",
        ],
    )
    return write_text(out / "report.html", page)
