"""The run browser's web app: :func:`create_app` serves one folder of runs, read-only.

Pages (HTML) and the same data as JSON under ``/api``:

==========================================  ===============================================
``/``, ``/api/runs``                        every run and benchmark under the folder
``/run/{path}``, ``/api/run/{path}``        a run: design, sequence, planning, benchmark, predictor
``/api/run/{path}/curve``                   a design run's score against calls
``/api/run/{path}/top``                     its best molecules with properties and verdicts
``/run/{path}/molecule/{rank}`` (+ api)     one of them: properties and route tree
``/run/{path}/target/{n}`` (+ api)          a planning benchmark's target and its routes
``/api/run/{path}/targets``, ``.../rounds``  planning targets, sequence rounds
``/compare?runs=A&runs=B`` (+ api)          several design runs' curves on one plot
==========================================  ===============================================

Every path is checked by :func:`makeable.serve.folders.resolve` before anything is read. An
error the user can meet (a path outside the folder, a folder that is no run, a damaged or
missing file) is an error page (JSON ``{"error": ...}`` under ``/api``) with its status; any
other exception is a bug: its traceback goes to the server log, the page says only that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from makeable.serve import pages, readers
from makeable.serve.folders import RunFolder, ServeError, discover, run_folder

log = logging.getLogger(__name__)

MAX_COMPARE = 8
"""At most this many runs on one comparison plot (one colour each)."""


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(root: Path, label: str | None = None) -> FastAPI:
    """The run browser of the runs under ``root`` (which must be a folder).

    ``label`` is how the pages name the folder (default: ``root`` as given), so a page never
    shows more of the machine's paths than the user typed.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {str(root)!r} to serve")
    shown_root = label or str(root)
    root = root.resolve()
    app = FastAPI(
        title="makeable run browser",
        docs_url=None,  # the interactive docs load scripts from a CDN: nothing leaves the machine
        redoc_url=None,
        openapi_url=None,
    )
    app.state.root = root

    # -------------------------------------------------------------- errors
    def error(request: Request, status: int, title: str, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return HTMLResponse(pages.error_page(status, title, message, shown_root), status)

    @app.exception_handler(ServeError)
    async def serve_error(request: Request, exc: ServeError) -> Response:
        return error(request, exc.status, exc.title, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        message = (
            f"there is no page {request.url.path!r}" if exc.status_code == 404 else str(exc.detail)
        )
        return error(request, exc.status_code, title, message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return error(request, 400, "Bad request", problems or "the request is not valid")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        # Starlette raises the exception again after this page is sent: the server logs it
        # with its traceback
        return error(
            request,
            500,
            "Internal error",
            f"makeable could not show this page ({type(exc).__name__}); "
            "the server's log has the details",
        )

    # -------------------------------------------------------------- helpers
    def html(text: str) -> HTMLResponse:
        return HTMLResponse(text)

    def entries(under: RunFolder | None = None) -> list[dict[str, Any]]:
        """The run list's rows (a run whose files cannot be read shows its error)."""
        found = discover(root if under is None else under.path)
        out = []
        for run in found:
            if under is not None:
                if run.path == under.path:
                    continue
                rel = run.path.relative_to(root).as_posix()
                run = RunFolder(rel, run.path, run.kind, run.config)
            try:
                out.append(readers.summary(run))
            except ServeError as exc:
                out.append({"path": run.rel, "kind": run.kind, "error": exc.message})
        return out

    def design(path: str) -> RunFolder:
        return run_folder(root, path, ("design",))

    def top_molecule(run: RunFolder, rank: int) -> tuple[dict[str, Any], int]:
        molecules = readers.top_molecules(run)
        for m in molecules:
            if m["rank"] == rank:
                return m, len(molecules)
        raise ServeError(404, f"{run.name} has no molecule ranked {rank} (1 to {len(molecules)})")

    def molecule_data(run: RunFolder, rank: int) -> dict[str, Any]:
        molecule, n = top_molecule(run, rank)
        props = readers.molecule_properties(molecule["smiles"])
        routes, source = readers.molecule_routes(run, molecule["smiles"])
        row = readers.verdicts(run).get(molecule["smiles"])
        return {
            "molecule": molecule,
            "properties": props,
            "routes": routes,
            "source": source,
            "verdict_row": row,
            "n": n,
        }

    def target(run: RunFolder, index: int) -> tuple[dict[str, Any], int]:
        targets = readers.planning_targets(run)
        if not 1 <= index <= len(targets):
            raise ServeError(404, f"{run.name} has no target {index} (1 to {len(targets)})")
        return targets[index - 1], len(targets)

    def curves(paths: list[str]) -> list[tuple[str, dict[str, list[float]]]]:
        chosen = list(dict.fromkeys(p.strip("/") for p in paths if p.strip()))
        if not chosen:
            raise ServeError(400, "choose the runs to compare: /compare?runs=A&runs=B")
        if len(chosen) > MAX_COMPARE:
            raise ServeError(400, f"at most {MAX_COMPARE} runs can be compared on one plot")
        return [(p, readers.curve(readers.read_calls(design(p)))) for p in chosen]

    # -------------------------------------------------------------- pages
    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return html(pages.index_page(shown_root, entries()))

    @app.get("/compare", response_class=HTMLResponse)
    def compare(runs: list[str] = Query(default=[])) -> HTMLResponse:  # noqa: B008
        all_entries = entries()
        if not runs:
            return html(pages.compare_page(shown_root, [], all_entries, []))
        found = curves(runs)
        return html(pages.compare_page(shown_root, found, all_entries, [p for p, _ in found]))

    @app.get("/run/{path:path}/molecule/{rank:int}", response_class=HTMLResponse)
    def molecule(path: str, rank: int) -> HTMLResponse:
        run = design(path)
        data = molecule_data(run, rank)
        return html(
            pages.molecule_page(
                run,
                shown_root,
                data["molecule"],
                data["properties"],
                data["routes"],
                data["source"],
                data["verdict_row"],
                data["n"],
            )
        )

    @app.get("/run/{path:path}/target/{index:int}", response_class=HTMLResponse)
    def planning_target(path: str, index: int) -> HTMLResponse:
        run = run_folder(root, path, ("planning",))
        item, n = target(run, index)
        routes = readers.planning_routes(run, item["target"])
        return html(pages.target_page(run, shown_root, item, routes, n))

    PARITY = "test_parity.png"

    @app.get("/run/{path:path}", response_class=HTMLResponse)
    def show_run(path: str) -> HTMLResponse:
        run = run_folder(root, path)
        renderers: dict[str, Callable[[RunFolder], str]] = {
            "design": lambda r: pages.design_page(
                r,
                shown_root,
                readers.curve(readers.read_calls(r)),
                readers.top_molecules(r),
                readers.read_json(r, "metrics.json"),
            ),
            "sequence": lambda r: pages.sequence_page(
                r,
                shown_root,
                readers.read_table(r, "results.csv", missing_ok=True),
                readers.read_table(r, "top.csv", missing_ok=True),
            ),
            "planning": lambda r: pages.planning_page(r, shown_root, readers.planning_targets(r)),
            "benchmark": lambda r: pages.benchmark_page(
                r, shown_root, readers.read_table(r, "results.csv"), entries(r)
            ),
            "predictor": lambda r: pages.predictor_page(
                r, shown_root, readers.read_json(r, "metrics.json"), readers.read_bytes(r, PARITY)
            ),
        }
        return html(renderers[run.kind](run))

    @app.get("/depict")
    def depict(
        smiles: str = Query(max_length=2000),
        w: int = Query(default=200, ge=40, le=1200),
        h: int = Query(default=150, ge=40, le=1200),
    ) -> Response:
        drawing = pages.picture(smiles, w, h)
        if not drawing:
            raise ServeError(400, f"RDKit cannot read the SMILES {smiles!r}")
        return Response(
            drawing, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )

    # -------------------------------------------------------------- JSON
    @app.get("/api/runs")
    def api_runs() -> list[dict[str, Any]]:
        return entries()

    @app.get("/api/compare")
    def api_compare(runs: list[str] = Query(default=[])) -> dict[str, Any]:  # noqa: B008
        return {"runs": [{"path": p, **c} for p, c in curves(runs)]}

    @app.get("/api/run/{path:path}/curve")
    def api_curve(path: str) -> dict[str, Any]:
        run = design(path)
        return {"path": run.rel, **readers.curve(readers.read_calls(run))}

    @app.get("/api/run/{path:path}/top")
    def api_top(path: str) -> dict[str, Any]:
        run = design(path)
        return {"path": run.rel, "molecules": readers.top_molecules(run)}

    @app.get("/api/run/{path:path}/molecule/{rank:int}")
    def api_molecule(path: str, rank: int) -> dict[str, Any]:
        run = design(path)
        data = molecule_data(run, rank)
        return {
            "path": run.rel,
            **data["molecule"],
            "properties": data["properties"],
            "route_source": data["source"],
            "routes": [
                {**r.to_dict(), "makeable": r.makeable, "length": r.depth} for r in data["routes"]
            ],
        }

    @app.get("/api/run/{path:path}/targets")
    def api_targets(path: str) -> dict[str, Any]:
        run = run_folder(root, path, ("planning",))
        return {"path": run.rel, "targets": readers.planning_targets(run)}

    @app.get("/api/run/{path:path}/target/{index:int}")
    def api_target(path: str, index: int) -> dict[str, Any]:
        run = run_folder(root, path, ("planning",))
        item, _ = target(run, index)
        routes = readers.planning_routes(run, item["target"])
        return {"path": run.rel, **item, "routes": [r.to_dict() for r in routes]}

    @app.get("/api/run/{path:path}/rounds")
    def api_rounds(path: str) -> dict[str, Any]:
        run = run_folder(root, path, ("sequence",))
        return {"path": run.rel, "rounds": readers.read_table(run, "results.csv", missing_ok=True)}

    @app.get("/api/run/{path:path}")
    def api_run(path: str) -> dict[str, Any]:
        run = run_folder(root, path)
        return {**readers.summary(run), "config": run.config}

    return app
