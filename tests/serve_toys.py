"""Small run folders for the run browser's tests, written with the project's own writers."""

from __future__ import annotations

import json
from pathlib import Path

from makeable.oracle.store import CallRecord, RunStore
from makeable.runs.outputs import write_top_molecules

MOLECULES = [
    ("CC(=O)Nc1ccccc1", 0.61),
    ("c1ccc2ccccc2c1", 0.42),
    ("CCOC(=O)c1ccccc1", 0.55),
    ("CC(C)Cc1ccc(C(C)C(=O)O)cc1", 0.82),
    ("CN1CCC[C@H]1c1cccnc1", 0.47),
    ("O=C(O)c1ccccc1O", 0.58),
    ("CC(=O)Oc1ccccc1C(=O)O", 0.70),
    ("Cn1cnc2c1c(=O)n(C)c(=O)n2C", 0.33),
    ("COc1ccc2[nH]cc(CCN)c2c1", 0.64),
    ("c1ccccc1", 0.12),
    ("CCN(CC)C(=O)c1ccccc1", 0.51),
    ("OCC1OC(O)C(O)C(O)C1O", 0.25),
]
"""(SMILES, score) of the toy design runs: ibuprofen (0.82) is the best, acetanilide the
fourth; the scores are made up."""

TARGET = "CC(=O)Nc1ccccc1"
ROUTE = {
    "type": "mol",
    "smiles": TARGET,
    "in_stock": False,
    "children": [
        {
            "type": "reaction",
            "smiles": "CC(=O)Cl.Nc1ccccc1>>CC(=O)Nc1ccccc1",
            "metadata": {"probability": 0.42},
            "children": [
                {"type": "mol", "smiles": "CC(=O)Cl", "in_stock": True, "verified": True},
                {
                    "type": "mol",
                    "smiles": "Nc1ccccc1",
                    "in_stock": True,
                    "verified": True,
                    "price": 3.5,
                },
            ],
        }
    ],
}
ROUTE_FIELDS = "rank,smiles,score,solved,unverified,source,calls,seconds,route_length,n_reactions"


def store(folder: Path, items: list[tuple[str, float]]) -> RunStore:
    store = RunStore(folder / "run.db")
    store.add_calls(CallRecord(i, s, v, True, 0.0) for i, (s, v) in enumerate(items, 1))
    return store


def design_run(folder: Path, optimizer: str = "graph_ga", finished: bool = True) -> None:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(
        f"objective: qed\noptimizer: {optimizer}\nbudget: 20\nseed: 0\n"
    )
    db = store(folder, MOLECULES)
    records = db.calls()
    db.close()
    if finished:
        best = sorted(records, key=lambda c: -c.score)
        write_top_molecules(folder, best[:10])
        (folder / "metrics.json").write_text(
            json.dumps({"n_calls": len(records), "top1": best[0].score, "auc_top10": 0.5})
        )


def verdicts(folder: Path) -> None:
    """Route verdicts for the best 5 molecules: acetanilide (rank 4) makeable with a
    route, ibuprofen (rank 1) without a route, the others not judged."""
    routes = folder / "routes"
    routes.mkdir()
    (routes / "results.csv").write_text(
        f"{ROUTE_FIELDS}\n"
        "1,CC(C)Cc1ccc(C(C)C(=O)O)cc1,0.82,0,0,planned,50,1.0,,\n"
        f"4,{TARGET},0.61,1,0,planned,7,0.5,1,1\n"
    )
    (routes / "routes.jsonl").write_text(
        json.dumps({"smiles": "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "routes": []})
        + "\n"
        + json.dumps({"smiles": TARGET, "routes": [ROUTE]})
        + "\n"
    )
