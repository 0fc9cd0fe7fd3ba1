"""The run report: ``report.html`` with a grid of the best molecules and a score-vs-calls plot."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from makeable.chem.descriptors import basic_properties
from makeable.chem.draw import mol_svg
from makeable.chem.filters import alerts
from makeable.oracle.store import CallRecord
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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):  # e.g. the "routes" entry of the metrics
        return ", ".join(f"{html.escape(str(k))}: {_fmt(v)}" for k, v in value.items())
    return html.escape(str(value))


def _table(items: dict[str, Any]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in items.items()
    )


def _card(rank: int, call: CallRecord) -> str:
    """A best molecule: drawing, score, basic properties and its alerts as warning labels."""
    p = basic_properties(call.smiles)
    props = (
        f"MW {p['mw']:.0f} · cLogP {p['clogp']:.2f} · HBD/HBA {p['hbd']:.0f}/{p['hba']:.0f} · "
        f"QED {p['qed']:.2f} · SA {p['sa']:.1f}"
    )
    found = alerts(call.smiles, ALERT_SETS)
    labels = "".join(f'<span class="alert">{html.escape(str(a))}</span>' for a in found)
    return (
        f'<div class="card">{mol_svg(call.smiles)}<div class="score">#{rank} · '
        f"score {call.score:.4f} · call {call.idx}</div>"
        f'<div class="props">{props}</div>'
        f'<div class="smi">{html.escape(call.smiles)}</div>'
        + (f'<div class="alerts">{labels}</div>' if labels else "")
        + "</div>"
    )


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
    cards = "\n".join(_card(rank, c) for rank, c in enumerate(best, 1))
    rows = _table(metrics)
    cfg = _table(config.to_dict())
    n_generations = sum(1 for _, kind, _ in events if kind == "generation")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>makeable run: {html.escape(config.objective)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
th, td {{ text-align: left; padding: 2px 12px; border-bottom: 1px solid #ddd; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 10px; }}
.card {{ border: 1px solid #ccc; border-radius: 6px; padding: 6px; width: 230px; }}
.score {{ font-weight: bold; font-size: 0.9em; }}
.smi {{ font-family: monospace; font-size: 0.7em; word-break: break-all; color: #555; }}
.props {{ font-size: 0.75em; margin: 2px 0; }}
.alerts {{ margin-top: 3px; }}
.alert {{ display: inline-block; font-size: 0.7em; background: #fff3e0; color: #e65100;
  border: 1px solid #ffb74d; border-radius: 3px; padding: 0 4px; margin: 1px 2px 0 0; }}
.route-row {{ display: flex; gap: 16px; align-items: flex-start; overflow-x: auto;
  border-top: 1px solid #ddd; padding: 8px 0; }}
.share {{ font-size: 1.2em; font-weight: bold; }}
.solved, .makeable {{ color: #2e7d32; }}
.not-solved, .error {{ color: #c62828; }}
.unverified {{ color: #e65100; }}
</style></head><body>
<h1>{html.escape(config.optimizer)} on {html.escape(config.objective)}</h1>
<p>{len(calls)} counted oracle calls of a budget of {config.budget}; {n_generations} rounds.</p>
<h2>Score against oracle calls</h2>
<img src="score_vs_calls.png" alt="score against oracle calls">
<h2>Metrics</h2><table>{rows}</table>
<h2>Best molecules</h2><div class="grid">{cards}</div>
{"".join(extra_sections)}
<h2>Configuration</h2><table>{cfg}</table>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
