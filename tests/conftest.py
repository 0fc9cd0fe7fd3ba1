from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from makeable.objectives.base import FunctionObjective


def shared_data() -> Path | None:
    value = os.environ.get("MAKEABLE_DATA")
    return Path(value) if value and Path(value).is_dir() else None


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch on one CPU thread during the test (its setting restored after): small models run
    fastest so, and results do not depend on the machine's core count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data_dir() -> Path:
    path = shared_data()
    if path is None:
        pytest.skip("MAKEABLE_DATA (the shared benchmark data) is not available")
    return path


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A local HTTP server over a fresh folder: (the folder, its base URL). Downloads are
    tested against it, never against the internet."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def heavy_atoms(smiles: str) -> float:
    from rdkit import Chem

    return float(Chem.MolFromSmiles(smiles).GetNumHeavyAtoms())


@pytest.fixture
def toy_objective() -> FunctionObjective:
    """Cheap objective: number of heavy atoms."""
    return FunctionObjective("heavy_atoms", heavy_atoms)


ZINC_FEW = [
    "CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1",
    "C[C@@H]1CC(Nc2cncc(-c3nncn3C)c2)C[C@@H](C)C1",
    "N#Cc1ccc(-c2ccc(O[C@@H](C(=O)N3CCCC3)c3ccccc3)cc2)cc1",
    "CCOC(=O)[C@@H]1CCCN(C(=O)c2nc(-c3ccc(C)cc3)n3c2CCCCC3)C1",
    "N#CC1=C(SCC(=O)Nc2cccc(Cl)c2)N=C([O-])[C@H](C#N)C12CCCCC2",
]
