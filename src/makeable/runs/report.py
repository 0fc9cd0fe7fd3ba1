"""The run report: ``report.html`` with a grid of the best molecules and a score-vs-calls plot."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from makeable.chem.descriptors import basic_properties
from makeable.chem.filters import alerts
from makeable.oracle.store import CallRecord
from makeable.report import html_kv_table, html_page, molecule_card, molecule_grid, write_text
from makeable.runs.outputs import ALERT_SETS


def plot_scores(calls: Sequence[CallRecord], path: Path, title: str) -> None:
    """Scores of every counted call, with the running best and running top-10 mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = np.array([c.score for c in calls])
    x = np.arange(1, len(scores) + 1)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if len(scores):
        ax.scatter(x, scores, s=3, alpha=0.3, color="tab:gray", label="each call")
        ax.plot(x, np.maximum.accumulate(scores), color="tab:red", label="best so far")
        top10 = [np.mean(np.sort(scores[: i + 1])[-10:]) for i in range(0, len(scores), 25)]
        ax.plot(x[::25], top10, color="tab:blue", label="top-10 mean so far")
    ax.set_xlabel("oracle calls")
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _card(rank: int, call: CallRecord) -> str:
    """A best molecule: drawing, score, basic properties and its alerts as warning labels."""
    p = basic_properties(call.smiles)
    props = (
        f"MW {p['mw']:.0f} · cLogP {p['clogp']:.2f} · HBD/HBA {p['hbd']:.0f}/{p['hba']:.0f} · "
        f"QED {p['qed']:.2f} · SA {p['sa']:.1f}"
    )
    found = alerts(call.smiles, ALERT_SETS)
    labels = "".join(f'<span class="alert">{html.escape(str(a))}</span>' for a in found)
    title = f"#{rank} · score {call.score:.4f} · call {call.idx}"
    return molecule_card(call.smiles, title, [props], labels)


def write_report(
    out: Path,
    config: Any,
    metrics: dict[str, Any],
    calls: Sequence[CallRecord],
    events: Sequence[tuple[int, str, dict[str, Any]]] = (),
    n_show: int = 30,
    extra_sections: Sequence[str] = (),
) -> Path:
    """Write ``report.html`` (and ``score_vs_calls.png``) into the run folder ``out``.

    Each of the ``n_show`` best molecules shows its basic properties and, as warning labels,
    the rules of :data:`~makeable.runs.outputs.ALERT_SETS` it triggers.
    """
    plot_scores(calls, out / "score_vs_calls.png", f"{config.optimizer} on {config.objective}")
    best = sorted(calls, key=lambda c: c.score, reverse=True)[:n_show]
    cards = molecule_grid(_card(rank, c) for rank, c in enumerate(best, 1))
    # a GA logs a "generation" event per generation, a language-model optimizer a "round"
    n_rounds = sum(1 for _, kind, _ in events if kind in ("generation", "round"))
    page = html_page(
        f"makeable run: {config.objective}",
        [
            f"<h1>{html.escape(config.optimizer)} on {html.escape(config.objective)}</h1>",
            f"<p>{len(calls)} counted oracle calls of a budget of {config.budget}"
            f"{f'; {n_rounds} rounds' if n_rounds else ''}.</p>",
            "<h2>Score against oracle calls</h2>",
            '<img src="score_vs_calls.png" alt="score against oracle calls">',
            f"<h2>Metrics</h2>{html_kv_table(metrics)}",
            f"<h2>Best molecules</h2>{cards}",
            *extra_sections,
            f"<h2>Configuration</h2>{html_kv_table(config.to_dict())}",
        ],
    )
    return write_text(out / "report.html", page)
