"""The run browser (``makeable serve DIR``): a local, read-only web app over run folders.

* :mod:`~makeable.serve.folders`: which folders are runs (by their files) and the path check
  every request passes;
* :mod:`~makeable.serve.readers`: reading ``run.db`` (read-only), tables and routes;
* :mod:`~makeable.serve.plots`: score-against-calls plots as inline SVG;
* :mod:`~makeable.serve.pages`: the HTML pages (the reports' style sheet);
* :mod:`~makeable.serve.app`: :func:`create_app`, the FastAPI application.

Needs the ``serve`` extra (FastAPI, uvicorn): ``pip install "makeable[serve]"``.
"""

from __future__ import annotations

from makeable.serve.app import create_app

__all__ = ["create_app"]
