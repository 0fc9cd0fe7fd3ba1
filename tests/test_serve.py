"""The run browser (``makeable serve``) over HTTP: every page and API route, path checks,
damaged and missing files, and the read-only promise. The runs are made here, small: run
folders written with the project's own writers (RunStore, write_top_molecules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette's note on httpx versions
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from makeable.cli.main import main  # noqa: E402
from makeable.oracle.store import RunStore  # noqa: E402
from makeable.serve import create_app, readers  # noqa: E402
from makeable.serve.folders import ServeError, discover, resolve  # noqa: E402
from tests.serve_toys import MOLECULES, ROUTE, TARGET, design_run, store, verdicts  # noqa: E402


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("serve")
    root = base / "runs"
    # a finished design run with route verdicts
    design_run(root / "qed_graph_ga")
    verdicts(root / "qed_graph_ga")
    # a run still being written: no top.csv, run.db open (its -wal file beside it), and the
    # optimizer's own route for one molecule
    design_run(root / "live", optimizer="synthesis_ga", finished=False)
    (root / "live" / "constructed_routes.jsonl").write_text(
        json.dumps({"smiles": TARGET, "route": ROUTE}) + "\n"
    )
    writer = RunStore(root / "live" / "run.db")
    writer.set_meta("status", "running")
    # a PMO benchmark holding one run
    bench = root / "pmo_bench"
    design_run(bench / "runs" / "qed_s0")
    (bench / "bench.yaml").write_text("benchmark: pmo\noptimizer: graph_ga\nseeds: [0]\n")
    (bench / "results.csv").write_text("task,seed,auc_top10\nqed,0,0.5123\n")
    # a planning benchmark: one solved target, one not
    plan = root / "planning"
    plan.mkdir()
    (plan / "config.json").write_text(
        json.dumps(
            {
                "benchmark": "planning",
                "stock": "building_blocks",
                "search": {"algorithm": "retro_star", "max_calls": 50},
            }
        )
    )
    (plan / "results.csv").write_text(
        "target,solved,unverified,calls,seconds,route_length,n_reactions,error\n"
        f"{TARGET},1,0,7,0.5,1,1,\n"
        "c1ccc2ccccc2c1,0,0,50,2.0,,,\n"
    )
    (plan / "routes.jsonl").write_text(json.dumps({"target": TARGET, "routes": [ROUTE]}) + "\n")
    # a sequence run
    seq = root / "seq" / "tfbind8"
    seq.mkdir(parents=True)
    (seq / "config.yaml").write_text("task: tfbind8\noptimizer: mutation\nrounds: 2\nbatch: 2\n")
    store(seq, [("ACGTACGT", 0.3), ("TTTTACGT", 0.6), ("GGGGACGT", 0.7), ("CCCCACGT", 0.2)]).close()
    (seq / "results.csv").write_text(
        "round,max,median_top128,n_calls\n0,0.4,0.3,0\n1,0.6,0.45,2\n2,0.7,0.5,4\n"
    )
    (seq / "top.csv").write_text("sequence,score\nGGGGACGT,0.7\nTTTTACGT,0.6\n")
    # a damaged run: run.db is not a database
    broken = root / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("objective: qed\noptimizer: graph_ga\nbudget: 5\n")
    (broken / "run.db").write_bytes(b"this is not an SQLite file\n" * 100)
    # a run whose route file is damaged
    design_run(root / "bad_routes")
    verdicts(root / "bad_routes")
    (root / "bad_routes" / "routes" / "routes.jsonl").write_text(
        json.dumps({"smiles": TARGET, "routes": [{"type": "reaction"}]}) + "\n"
    )
    # a trained predictor (tiny), with its parity plot
    from makeable.predict.data import read_table as read_property_table
    from makeable.predict.mpnn import NetworkSettings
    from makeable.predict.train import TrainSettings, train_predictor

    (base / "props.csv").write_text(
        "smiles,y\n" + "".join(f"{s},{len(s)}\n" for s in ["C", "CC", "CCO", "CCN", "CCC",
        "CCCC", "CCCO", "CCOC", "c1ccccc1", "Cc1ccccc1", "Oc1ccccc1", "CC(=O)O"])
    )  # fmt: skip
    network = NetworkSettings(hidden=16, depth=2, ffn_hidden=16)
    train_predictor(
        read_property_table(base / "props.csv", targets=["y"]),
        root / "models" / "toy",
        TrainSettings(ensemble=2, epochs=2, batch_size=4, network=network),
    )
    # a folder that is no run, and a run outside the served folder reached by a link
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a run")
    design_run(base / "outside")
    (root / "link_out").symlink_to(base / "outside")
    (base / "secret.txt").write_text("outside the served folder")
    yield root
    writer.close()


@pytest.fixture(scope="module")
def client(root: Path) -> TestClient:
    return TestClient(create_app(root))


def _ok(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    return response.text


# ---------------------------------------------------------------------- discovery
def test_discover_finds_each_kind_and_skips_links(root):
    found = {r.rel: r.kind for r in discover(root)}
    assert found == {
        "qed_graph_ga": "design",
        "live": "design",
        "pmo_bench": "benchmark",
        "pmo_bench/runs/qed_s0": "design",
        "planning": "planning",
        "seq/tfbind8": "sequence",
        "broken": "design",
        "bad_routes": "design",
        "models/toy": "predictor",
    }


@pytest.mark.parametrize("bad", ["../outside", "/etc", "a/../../outside", "link_out"])
def test_resolve_refuses_paths_out_of_the_folder(root, bad):
    with pytest.raises(ServeError) as info:
        resolve(root, bad)
    assert info.value.status in (400, 404)


# ---------------------------------------------------------------------- pages
def test_run_list_names_every_run_by_its_folder(client):
    page = _ok(client, "/")
    for rel in (
        "qed_graph_ga",
        "live",
        "pmo_bench",
        "pmo_bench/runs/qed_s0",
        "planning",
        "seq/tfbind8",
        "broken",
    ):
        assert f'href="/run/{rel}"' in page
    assert "graph_ga on qed" in page and "synthesis_ga on qed" in page
    assert 'action="/compare"' in page and 'name="runs" value="qed_graph_ga"' in page
    assert "link_out" not in page and "notes" not in page
    assert "cannot be read" in page  # the damaged run is listed with its error
    assert "<script src" not in page and "http://" not in page and "https://" not in page


def test_design_run_page_has_the_plot_and_the_sortable_grid(client):
    page = _ok(client, "/run/qed_graph_ga")
    assert '<svg id="curve"' in page and "best so far" in page and "<polyline" in page
    assert 'id="molecules"' in page and page.count('class="mcard"') == 10
    assert 'data-key="mw"' in page and 'data-key="verdict"' in page
    first = page.index('class="mcard"')
    assert 'data-rank="1"' in page[first : first + 200]
    assert "CC(C)Cc1ccc(C(C)C(=O)O)cc1" in page  # ibuprofen, best
    assert page.count('class="badge makeable"') == 1
    assert page.count('class="badge no-route"') == 1
    assert page.count('class="badge not-judged"') == 8
    assert "/depict?smiles=" in page


def test_a_live_run_is_read_from_run_db_without_writing(client, root):
    before = sorted(p.name for p in (root / "live").iterdir())
    page = _ok(client, "/run/live")
    assert page.count('class="mcard"') == len(MOLECULES)
    assert sorted(p.name for p in (root / "live").iterdir()) == before
    assert (root / "live" / "run.db-wal").exists()  # it was being written


def test_molecule_page_has_properties_and_the_route_tree(client):
    page = _ok(client, "/run/qed_graph_ga/molecule/4")
    assert TARGET in page and "makeable" in page
    assert "MW (g/mol)" in page and "135.1" in page  # acetanilide
    assert "QED" in page and "SA score" in page
    assert 'class="routebox route-tree"' in page and "<svg" in page
    assert "in stock (verified) · 3.5" in page  # the leaf's status and price
    assert "p=0.42" in page
    page = _ok(client, "/run/qed_graph_ga/molecule/1")
    assert "found no route" in page
    page = _ok(client, "/run/qed_graph_ga/molecule/2")
    assert "No route recorded" in page


def test_a_constructed_route_is_shown_unchecked(client):
    ranks = {m["smiles"]: m["rank"] for m in client.get("/api/run/live/top").json()["molecules"]}
    page = _ok(client, f"/run/live/molecule/{ranks[TARGET]}")
    assert "the optimizer&#x27;s own synthesis" in page or "optimizer's own synthesis" in page


def test_compare_puts_two_runs_on_one_plot(client):
    page = _ok(client, "/compare?runs=qed_graph_ga&runs=pmo_bench/runs/qed_s0")
    assert '<svg id="compare"' in page
    assert page.count("<polyline") == 4  # best and top-10 mean of each
    assert "qed_graph_ga best" in page and "pmo_bench/runs/qed_s0 best" in page
    assert 'value="qed_graph_ga" checked' in page
    assert 'id="compare"' not in _ok(client, "/compare")  # the form alone


def test_planning_page_lists_solved_and_unsolved_targets(client):
    page = _ok(client, "/run/planning")
    assert "Solved targets (1)" in page and "Unsolved targets (1)" in page
    assert "1 / 2" in page
    page = _ok(client, "/run/planning/target/1")
    assert 'class="routebox route-tree"' in page and TARGET in page
    page = _ok(client, "/run/planning/target/2")
    assert "No route found" in page


def test_sequence_page_has_the_rounds_table(client):
    page = _ok(client, "/run/seq/tfbind8")
    assert 'id="rounds"' in page and "median_top128" in page and "0.45" in page
    assert "GGGGACGT" in page and "mutation on tfbind8" in page


def test_benchmark_page_lists_its_results_and_runs(client):
    page = _ok(client, "/run/pmo_bench")
    assert "0.5123" in page and 'href="/run/pmo_bench/runs/qed_s0"' in page


def test_predictor_page_has_its_test_metrics_and_parity_plot(client, root):
    page = _ok(client, "/run/models/toy")
    rmse = json.loads((root / "models" / "toy" / "metrics.json").read_text())["test"]["y"]["rmse"]
    assert "Predictor models/toy" in page and f"{rmse:.4g}" in page
    assert "data:image/png;base64," in page and "--objective predictor:models/toy" in page
    listed = {r["path"]: r for r in client.get("/api/runs").json()}
    assert listed["models/toy"]["what"] == "regression predictor: y"
    assert "partial" not in " ".join(listed)  # a predictor's folder is not searched further


def test_depict_draws_a_molecule(client):
    response = client.get("/depict", params={"smiles": TARGET, "w": 120, "h": 90})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text
    assert client.get("/depict", params={"smiles": "C1CC"}).status_code == 400
    assert client.get("/depict", params={"smiles": TARGET, "w": 99999}).status_code == 400


# ---------------------------------------------------------------------- the API
def test_api_runs_and_run(client):
    runs = {r["path"]: r for r in client.get("/api/runs").json()}
    assert runs["qed_graph_ga"]["calls"] == len(MOLECULES)
    assert runs["qed_graph_ga"]["best"] == pytest.approx(0.82)
    assert runs["planning"]["solved"] == "1 / 2"
    assert "error" in runs["broken"]
    one = client.get("/api/run/qed_graph_ga").json()
    assert one["kind"] == "design" and one["config"]["optimizer"] == "graph_ga"


def test_api_curve_and_top(client):
    curve = client.get("/api/run/qed_graph_ga/curve").json()
    assert curve["calls"] == [float(i) for i in range(1, len(MOLECULES) + 1)]
    assert curve["best"][-1] == pytest.approx(0.82)
    assert curve["best"] == sorted(curve["best"])
    assert curve["top10_mean"][0] == pytest.approx(MOLECULES[0][1])
    top = client.get("/api/run/qed_graph_ga/top").json()["molecules"]
    assert [m["rank"] for m in top] == list(range(1, 11))
    assert top[0]["smiles"] == "CC(C)Cc1ccc(C(C)C(=O)O)cc1" and top[0]["verdict"] == "no route"
    assert top[3]["verdict"] == "makeable" and top[3]["mw"] == pytest.approx(135.166, abs=0.01)
    assert top[5]["verdict"] == "not judged"


def test_api_molecule_target_rounds_compare(client):
    mol = client.get("/api/run/qed_graph_ga/molecule/4").json()
    assert mol["smiles"] == TARGET and mol["properties"]["hbd"] == 1
    assert mol["routes"][0]["makeable"] is True and mol["route_source"] == "verdict"
    targets = client.get("/api/run/planning/targets").json()["targets"]
    assert [t["verdict"] for t in targets] == ["makeable", "no route"]
    target = client.get("/api/run/planning/target/1").json()
    assert target["routes"][0]["smiles"] == TARGET
    rounds = client.get("/api/run/seq/tfbind8/rounds").json()["rounds"]
    assert [r["round"] for r in rounds] == ["0", "1", "2"]
    both = client.get("/api/compare", params={"runs": ["qed_graph_ga", "live"]}).json()["runs"]
    assert [r["path"] for r in both] == ["qed_graph_ga", "live"]


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "url",
    [
        "/run/..%2Foutside",
        "/run/..%2F..%2F..%2Fetc",
        "/run/%2Fetc",
        "/run//etc",
        "/run/qed_graph_ga%2F..%2F..%2Fsecret.txt",
        "/api/run/..%2Foutside/curve",
        "/compare?runs=..%2Foutside",
    ],
)
def test_paths_leaving_the_folder_are_refused(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "outside the served folder" not in response.text  # nothing of that file
    assert "Traceback" not in response.text


def test_a_link_out_of_the_folder_is_not_followed(client):
    for url in ("/run/link_out", "/api/run/link_out/curve", "/run/link_out/molecule/1"):
        response = client.get(url)
        assert response.status_code == 404
        assert "graph_ga on qed" not in response.text


def test_not_a_run_and_unknown_pages_are_404_pages(client):
    for url, words in [
        ("/run/notes", "is not a run or benchmark folder"),
        ("/run/nowhere", "there is no"),
        ("/run/planning/molecule/1", "planning folder, not a design"),
        ("/run/qed_graph_ga/molecule/99", "no molecule ranked 99"),
        ("/run/planning/target/9", "no target 9"),
        ("/no/such/page", "there is no page"),
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert words in response.text and "makeable runs" in response.text  # styled page
    assert client.get("/api/run/nowhere/curve").json()["status"] == 404


def test_a_damaged_run_db_is_a_clear_error(client):
    response = client.get("/run/broken")
    assert response.status_code == 500
    assert "broken/run.db cannot be read" in response.text and "damaged" in response.text
    assert "Traceback" not in response.text
    api = client.get("/api/run/broken/curve")
    assert api.status_code == 500 and "damaged" in api.json()["error"]


def test_a_damaged_route_file_is_a_clear_error(client):
    response = client.get("/run/bad_routes/molecule/4")
    assert response.status_code == 500
    assert "routes.jsonl holds a route that cannot be read" in response.text


def test_a_missing_file_is_a_clear_error(root, client, tmp_path):
    gone = root / "qed_graph_ga"
    run = readers.RunFolder("qed_graph_ga", gone, "design")
    with pytest.raises(ServeError, match="missing"):
        readers.read_table(run, "no_such.csv")
    # a run whose run.db went away after it was listed
    vanished = tmp_path / "runs"
    design_run(vanished / "r")
    app = TestClient(create_app(vanished))
    assert app.get("/run/r").status_code == 200
    (vanished / "r" / "run.db").unlink()
    response = app.get("/run/r")
    assert response.status_code == 404 and "not a run" in response.text


def test_a_bug_is_a_500_page_without_its_traceback(root, monkeypatch):
    def boom(run):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(readers, "top_molecules", boom)
    app = TestClient(create_app(root), raise_server_exceptions=False)
    response = app.get("/run/qed_graph_ga")
    assert response.status_code == 500
    assert "Internal error" in response.text and "server&#x27;s log" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_nothing_in_the_folder_changes(root, client):
    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and not p.name.startswith("run.db-")
        }

    before = snapshot()
    for url in (
        "/",
        "/run/qed_graph_ga",
        "/run/qed_graph_ga/molecule/4",
        "/run/broken",
        "/run/planning",
        "/run/seq/tfbind8",
        "/run/pmo_bench",
        "/api/runs",
    ):
        client.get(url)
    assert snapshot() == before
    assert not (root / "qed_graph_ga" / "run.db-wal").exists()
    assert not (root / "qed_graph_ga" / "run.db-shm").exists()


def test_no_interactive_docs_from_a_cdn(client):
    for url in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(url).status_code == 404


# ---------------------------------------------------------------------- the command
def test_serve_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err


def test_serve_binds_to_localhost_and_prints_the_url(root, monkeypatch, capsys):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    assert main(["serve", str(root), "--port", "8123"]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out


def test_serve_without_fastapi_names_the_extra(root, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "makeable[serve]"' in err


def test_the_cli_does_not_import_fastapi_until_serving():
    code = (
        "import sys; from makeable.cli.main import build_parser; build_parser(); "
        "print('fastapi' in sys.modules, 'uvicorn' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.stdout.split() == ["False", "False"]
