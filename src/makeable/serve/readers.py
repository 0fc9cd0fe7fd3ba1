"""Reading run folders without writing a byte to them.

``run.db`` is opened read-only: SQLite's ``immutable`` mode when no write-ahead log lies beside
it (a finished run: SQLite then creates no ``-shm``/``-wal`` files), otherwise a private copy of
the database and its log in a temporary folder (a run still being written; even a read-only
connection would create or write the ``-shm`` file in the run folder). Tables (``top.csv``,
``routes/results.csv``, ``results.csv``) and JSON lines are read with the project's readers.
A damaged or missing file raises :class:`~makeable.serve.folders.ServeError` with a message
naming it; nothing here raises for a user's folder otherwise.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import heapq
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from makeable.chem.descriptors import basic_properties
from makeable.chem.filters import alerts
from makeable.chem.molecule import InvalidSmilesError
from makeable.results_csv import read_csv, read_jsonl
from makeable.retro.planning.routes import Route, RouteFormatError
from makeable.serve.folders import RunFolder, ServeError

ALERT_SETS = ("basic", "pains", "brenk")
"""The structural-alert sets shown for a molecule (those of the run reports)."""
N_TOP = 100
"""Best molecules shown for a run that has no ``top.csv`` yet."""
PROPERTY_KEYS = ("mw", "clogp", "hbd", "hba", "tpsa", "rotatable_bonds", "qed", "sa")


@dataclass(frozen=True)
class Call:
    """One counted oracle call of ``run.db``."""

    idx: int
    smiles: str
    score: float


def _damaged(path: Path, run: RunFolder, why: object) -> ServeError:
    where = f"{run.name}/{path.relative_to(run.path).as_posix()}"
    return ServeError(500, f"{where} cannot be read ({why}): the file is damaged", "Damaged file")


@contextmanager
def read_only_db(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the SQLite file ``path`` that creates nothing beside it."""
    if not path.is_file():
        raise FileNotFoundError(path)
    wal = path.with_name(path.name + "-wal")
    tmp: str | None = None
    try:
        if wal.exists():  # being written (or left unfinished): read a private copy
            tmp = tempfile.mkdtemp(prefix="makeable-serve-")
            shutil.copyfile(path, Path(tmp) / "run.db")
            with contextlib.suppress(FileNotFoundError):  # checkpointed away meanwhile
                shutil.copyfile(wal, Path(tmp) / "run.db-wal")
            db = sqlite3.connect(Path(tmp) / "run.db")
        else:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
        try:
            yield db
        finally:
            db.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _query(run: RunFolder, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    path = run.path / "run.db"
    try:
        with read_only_db(path) as db:
            return db.execute(sql, args).fetchall()
    except FileNotFoundError:
        raise ServeError(404, f"{run.name}/run.db is missing", "Missing file") from None
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, run, exc) from None


def read_calls(run: RunFolder) -> list[Call]:
    """The counted calls of a run, in call order."""
    rows = _query(run, "SELECT idx, smiles, score FROM calls ORDER BY idx")
    try:
        return [Call(int(i), str(s), float(sc)) for i, s, sc in rows]
    except (TypeError, ValueError) as exc:
        raise _damaged(run.path / "run.db", run, exc) from None


def read_meta(run: RunFolder) -> dict[str, Any]:
    """The ``meta`` table of ``run.db`` (values decoded from JSON; a bad one kept as text)."""
    out: dict[str, Any] = {}
    for key, value in _query(run, "SELECT key, value FROM meta"):
        try:
            out[str(key)] = json.loads(value)
        except (TypeError, ValueError):
            out[str(key)] = value
    return out


def read_events(run: RunFolder, kind: str) -> list[tuple[int, dict[str, Any]]]:
    """``(n_calls, payload)`` of the optimizer's events of one kind, in order."""
    rows = _query(run, "SELECT n_calls, payload FROM events WHERE kind = ? ORDER BY id", (kind,))
    out = []
    for n, payload in rows:
        try:
            out.append((int(n), json.loads(payload)))
        except (TypeError, ValueError):
            continue
    return out


def curve(calls: list[Call]) -> dict[str, list[float]]:
    """The score-against-calls curve: each call's score, the best so far and the top-10 mean
    so far (the quantity PMO's AUC top-10 integrates)."""
    best: list[float] = []
    top10: list[float] = []
    heap: list[float] = []
    running = float("-inf")
    for c in calls:
        running = max(running, c.score)
        best.append(running)
        if len(heap) < 10:
            heapq.heappush(heap, c.score)
        elif c.score > heap[0]:
            heapq.heapreplace(heap, c.score)
        top10.append(sum(heap) / len(heap))
    return {
        "calls": [float(c.idx) for c in calls],
        "score": [c.score for c in calls],
        "best": best,
        "top10_mean": top10,
    }


def read_table(run: RunFolder, name: str, *, missing_ok: bool = False) -> list[dict[str, str]]:
    """The rows of the CSV file ``name`` in the run folder."""
    path = run.path / name
    if not path.is_file():
        if missing_ok:
            return []
        raise ServeError(404, f"{run.name}/{name} is missing", "Missing file")
    try:
        return read_csv(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _damaged(path, run, exc) from None


def read_lines(run: RunFolder, name: str) -> list[Any]:
    """The JSON values of a JSON-lines file in the run folder (``[]`` when missing)."""
    path = run.path / name
    try:
        return read_jsonl(path, missing_ok=True)
    except (OSError, UnicodeDecodeError) as exc:
        raise _damaged(path, run, exc) from None


def read_json(run: RunFolder, name: str) -> Any:
    """A JSON file of the run folder, ``None`` when missing."""
    path = run.path / name
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, run, exc) from None


def read_bytes(run: RunFolder, name: str, limit: int = 5_000_000) -> bytes | None:
    """A file of the run folder as bytes, ``None`` when missing or larger than ``limit``."""
    path = run.path / name
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_bytes()
    except OSError as exc:
        raise _damaged(path, run, exc) from None


def number(value: Any) -> float | None:
    """A table cell as a float (``None`` when empty or not a number)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None  # NaN → None


@functools.lru_cache(maxsize=4096)
def molecule_properties(smiles: str) -> dict[str, Any]:
    """:func:`basic_properties` and the structural alerts of a molecule (empty properties for
    a SMILES RDKit cannot read)."""
    try:
        props: dict[str, Any] = dict(basic_properties(smiles))
        props["alerts"] = "; ".join(str(a) for a in alerts(smiles, ALERT_SETS))
    except InvalidSmilesError:
        return {}
    return props


def routes_dir(run: RunFolder) -> str | None:
    """The folder of a design run's route verdicts, relative to the run: ``routes`` (made by
    ``--plan-routes``) or ``makeable/routes`` (by ``bench makeable``); ``None`` when neither."""
    for name in ("routes", "makeable/routes"):
        if (run.path / name / "results.csv").is_file():
            return name
    return None


def verdict(row: dict[str, str] | None) -> str:
    """A molecule's makeable verdict from its ``routes/results.csv`` row."""
    if row is None:
        return "not judged"
    if row.get("solved") == "1":
        return "makeable"
    if row.get("unverified") == "1":
        return "unverified"
    if row.get("error"):
        return "error"
    return "no route"


def verdicts(run: RunFolder) -> dict[str, dict[str, str]]:
    """The rows of the run's route verdicts by SMILES (empty when it has none)."""
    folder = routes_dir(run)
    if folder is None:
        return {}
    return {
        row["smiles"]: row for row in read_table(run, f"{folder}/results.csv") if "smiles" in row
    }


def top_molecules(run: RunFolder) -> list[dict[str, Any]]:
    """The run's best molecules, best first: ``rank``, ``smiles``, ``score``, ``call``, the
    basic properties, ``alerts``, ``verdict`` and ``route_source``.

    From ``top.csv`` when the run wrote it, otherwise from ``run.db`` (a run still going)."""
    rows: list[dict[str, Any]] = []
    table = read_table(run, "top.csv", missing_ok=True)
    if table and "smiles" in table[0]:
        for i, row in enumerate(table, 1):
            item: dict[str, Any] = {
                "rank": int(number(row.get("rank")) or i),
                "smiles": row["smiles"],
                "score": number(row.get("score")),
                "call": int(number(row.get("call")) or 0) or None,
            }
            item.update({k: number(row.get(k)) for k in PROPERTY_KEYS})
            item["alerts"] = row.get("alerts") or ""
            rows.append(item)
    else:
        best = sorted(read_calls(run), key=lambda c: (-c.score, c.idx))[:N_TOP]
        for i, c in enumerate(best, 1):
            props = molecule_properties(c.smiles)
            item = {"rank": i, "smiles": c.smiles, "score": c.score, "call": c.idx}
            item.update({k: props.get(k) for k in PROPERTY_KEYS})
            item["alerts"] = props.get("alerts", "")
            rows.append(item)
    judged = verdicts(run)
    for item in rows:
        judgement = judged.get(item["smiles"])
        item["verdict"] = verdict(judgement)
        item["route_source"] = (judgement or {}).get("source") or ""
    return rows


def _routes(items: Any, where: str) -> list[Route]:
    try:
        return [Route.from_dict(r) for r in items]
    except (RouteFormatError, TypeError, AttributeError, KeyError):
        raise ServeError(
            500, f"{where} holds a route that cannot be read", "Damaged file"
        ) from None


def molecule_routes(run: RunFolder, smiles: str) -> tuple[list[Route], str]:
    """The routes shown for a molecule and where they come from: the verdict's routes
    (``routes/routes.jsonl``; leaves checked against the stock), else the route the optimizer
    built it by (``constructed_routes.jsonl``; leaves not checked), else none."""
    folder = routes_dir(run)
    if folder is not None:
        for item in read_lines(run, f"{folder}/routes.jsonl"):
            if isinstance(item, dict) and item.get("smiles") == smiles and item.get("routes"):
                return _routes(item["routes"], f"{run.name}/{folder}/routes.jsonl"), "verdict"
    for item in read_lines(run, "constructed_routes.jsonl"):
        if isinstance(item, dict) and item.get("smiles") == smiles and item.get("route"):
            return _routes([item["route"]], f"{run.name}/constructed_routes.jsonl"), "constructed"
    return [], ""


def planning_targets(run: RunFolder) -> list[dict[str, Any]]:
    """The targets of a planning benchmark (``results.csv``), numbered from 1 in file order."""
    rows = read_table(run, "results.csv")
    out = []
    for i, row in enumerate(rows, 1):
        item: dict[str, Any] = {"index": i, "target": row.get("target", "")}
        item["verdict"] = verdict(row)
        for key in ("calls", "seconds", "route_length", "n_reactions", "first_solution_calls"):
            item[key] = number(row.get(key))
        item["error"] = row.get("error") or ""
        out.append(item)
    return out


def planning_routes(run: RunFolder, target: str) -> list[Route]:
    """The routes a planning benchmark found for ``target`` (``routes.jsonl``)."""
    for item in read_lines(run, "routes.jsonl"):
        if isinstance(item, dict) and item.get("target") == target:
            return _routes(item.get("routes") or [], f"{run.name}/routes.jsonl")
    return []


def summary(run: RunFolder) -> dict[str, Any]:
    """What the run list shows of a run: what it is, its best score and its calls."""
    config = run.config
    out: dict[str, Any] = {"path": run.rel, "kind": run.kind}
    if run.kind == "design":
        out["what"] = f"{config.get('optimizer', '?')} on {config.get('objective', '?')}"
        out["budget"] = config.get("budget")
        metrics = read_json(run, "metrics.json") if (run.path / "metrics.json").is_file() else None
        if isinstance(metrics, dict) and "n_calls" in metrics:
            out["calls"] = metrics.get("n_calls")
            out["best"] = metrics.get("top1")
            routes = metrics.get("routes")
            if isinstance(routes, dict) and "share" in routes:
                out["makeable"] = f"{routes.get('solved')} / {routes.get('k')}"
        else:
            rows = _query(run, "SELECT COUNT(*), MAX(score) FROM calls")
            out["calls"], out["best"] = rows[0] if rows else (0, None)
    elif run.kind == "sequence":
        out["what"] = f"{config.get('optimizer', '?')} on {config.get('task', '?')}"
        rows = _query(run, "SELECT COUNT(*), MAX(score) FROM calls")
        out["calls"], out["best"] = rows[0] if rows else (0, None)
    elif run.kind == "planning":
        targets = read_table(run, "results.csv")
        solved = sum(1 for r in targets if r.get("solved") == "1")
        out["what"] = f"planning: {config.get('search', {}).get('algorithm', '?')}, stock "
        out["what"] += str(config.get("stock", "?"))
        out["solved"] = f"{solved} / {len(targets)}"
    elif run.kind == "predictor":
        targets = config.get("targets") or []
        out["what"] = f"{config.get('task', '?')} predictor: {', '.join(map(str, targets))}"
    else:
        out["what"] = str(config.get("benchmark", "benchmark"))
        if config.get("optimizer"):
            out["what"] += f": {config['optimizer']}"
        out["rows"] = len(read_table(run, "results.csv"))
    return out
