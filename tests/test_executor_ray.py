"""The Ray executor behind the Executor interface: the same calls table as in-process for the
same seed, no counted call lost when a worker is killed mid-batch, input order and indices,
planning targets and whole benchmark jobs on Ray actors.

One local Ray instance (2 CPUs) serves the whole module; the executors find it initialised,
use it and leave it running.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='the Ray executor needs the extra: pip install ".[ray]"')

from makeable.chem import descriptors  # noqa: E402
from makeable.objectives.base import Objective  # noqa: E402
from makeable.oracle.executor import RayExecutor, make_executor  # noqa: E402
from makeable.oracle.store import RunStore  # noqa: E402
from makeable.runs.config import DesignConfig  # noqa: E402
from makeable.runs.design import run_design  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def ray_cluster() -> Iterator[None]:
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    if started:
        ray.shutdown()


def _calls(run_dir: Path) -> list[tuple[int, str, float]]:
    with RunStore(run_dir / "run.db") as store:
        return [(r.idx, r.smiles, r.score) for r in store.calls()]


def _design(tmp_path: Path, name: str, **settings: Any) -> list[tuple[int, str, float]]:
    config = DesignConfig(**{"optimizer": "graph_ga", "budget": 200, "seed": 3, **settings})
    run_design(config, tmp_path / name, progress=False)
    return _calls(tmp_path / name)


def test_a_ray_run_records_the_same_calls_as_in_process(tmp_path):
    here = _design(tmp_path, "inprocess", objective="qed")
    on_ray = _design(tmp_path, "ray", objective="qed", executor="ray", n_workers=2)
    assert len(here) == 200 and [c[0] for c in here] == list(range(1, 201))
    assert on_ray == here


def test_a_run_begun_on_ray_resumes_in_process(tmp_path):
    """The executor and the cluster address do not decide which molecules a run proposes: a
    run begun on Ray resumes in-process (replaying its calls) as if it had never moved."""
    settings = {"objective": "qed", "executor": "ray", "n_workers": 2, "address": "auto"}
    assert len(_design(tmp_path, "moved", **settings, budget=100)) == 100
    moved = _design(tmp_path, "moved", objective="qed", budget=150)
    assert moved == _design(tmp_path, "here", objective="qed", budget=150)


class KillOnce(Objective):
    """QED; the first time it scores in a worker (not in ``driver``), it kills its own process
    with SIGKILL (a lost node, the OOM killer), leaving ``marker`` behind."""

    name = "kill_once"

    def __init__(self, marker: str, driver: int) -> None:
        self.marker = Path(marker)
        self.driver = driver

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        if os.getpid() != self.driver and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return np.array([descriptors.qed(m) for m in mols])


def test_a_worker_killed_mid_batch_loses_no_counted_call(tmp_path):
    spec = f"{__name__}:KillOnce"
    marker = tmp_path / "killed"
    params = {"marker": str(marker), "driver": os.getpid()}
    here = _design(tmp_path, "inprocess", objective=spec, objective_params=params)
    assert not marker.exists()  # in the driver it never kills
    on_ray = _design(
        tmp_path, "ray", objective=spec, objective_params=params, executor="ray", n_workers=2
    )
    assert marker.exists()  # a worker died with its chunk; the actor restarted and re-ran it
    assert on_ray == here
    assert [c[0] for c in on_ray] == list(range(1, 201))  # counted exactly: 200, no gap


_WORKER_STATE: dict[str, int] = {}


def _remember(offset: int) -> None:
    _WORKER_STATE["offset"] = offset


def _add_offset(x: int) -> int:
    return x + _WORKER_STATE["offset"]


def _pid(_: Any) -> int:
    return os.getpid()


def test_map_keeps_order_and_imap_unordered_gives_every_index_once():
    items = list(range(9))
    with make_executor("ray", 2, _remember, (100,)) as ex:
        assert isinstance(ex, RayExecutor) and ex.n_workers == 2
        assert ex.map(_add_offset, items) == [i + 100 for i in items]
        assert list(ex.imap(_add_offset, items)) == [i + 100 for i in items]
        got = list(ex.imap_unordered(_add_offset, items))
        assert sorted(i for i, _ in got) == items and dict(got) == {i: i + 100 for i in items}
        assert ex.map(_add_offset, []) == []
        assert os.getpid() not in set(ex.map(_pid, items))  # the actors did the work
    assert ray.is_initialized()  # an instance it did not start is left running


def test_plan_many_on_ray_gives_the_in_process_results():
    pytest.importorskip("syntheseus")
    from makeable.data.stocks import Stock
    from makeable.retro.planning.search import SearchSettings, plan_many
    from tests.test_retro_planning import STOCK, TARGET, UNSOLVABLE, PlanningToy

    stock = Stock(STOCK, name="toy")
    targets = [TARGET, "not a smiles", UNSOLVABLE, TARGET]
    settings = SearchSettings(max_calls=12, stop_on_first_solution=True)
    here = plan_many(targets, PlanningToy(), stock, settings, executor="inprocess")
    seen: list[str] = []
    on_ray = plan_many(
        targets,
        PlanningToy(),
        stock,
        settings,
        jobs=2,
        executor="ray",
        on_result=lambda r: seen.append(r.target),
    )
    assert sorted(seen) == sorted(targets)  # recorded here, by the caller
    assert [r.target for r in on_ray] == targets
    key = [(r.solved, r.calls, r.error is None, [x.to_dict() for x in r.routes]) for r in here]
    assert [
        (r.solved, r.calls, r.error is None, [x.to_dict() for x in r.routes]) for r in on_ray
    ] == key


def test_benchmark_jobs_run_on_ray_actors(tmp_path):
    from makeable.bench.jobs import DesignJob, JobRun

    def job(seed: int) -> DesignJob:
        config = DesignConfig(objective="qed", optimizer="screening", budget=30, seed=seed)
        return DesignJob(
            (("seed", seed),), tmp_path / f"s{seed}", config, (), lambda d: {"n": len(_calls(d))}
        )

    runs = JobRun([job(0), job(1)], n_jobs=2, executor="ray")
    assert list(runs) == [{"seed": 0, "n": 30}, {"seed": 1, "n": 30}]
    assert not runs.failures
    here = tmp_path / "here"
    run_design(job(1).config, here, progress=False)
    assert _calls(tmp_path / "s1") == _calls(here)  # a job on Ray is the same run


class HoldsALock(Objective):
    """QED, holding something that does not pickle (as an objective with an open handle)."""

    name = "holds_a_lock"

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()

    def _score(self, mols: Sequence[Any]) -> np.ndarray:
        return np.array([descriptors.qed(m) for m in mols])


def test_what_cannot_be_pickled_to_the_actors_is_one_clear_error():
    from makeable.oracle import Oracle
    from makeable.oracle.executor import ExecutorError

    with make_executor("ray", 1) as ex:
        oracle = Oracle(HoldsALock(), budget=5, executor=ex)
        with pytest.raises(ExecutorError, match="pickles a work item to its workers"):
            oracle(["CCO", "CCN"])
        assert oracle.n_calls == 0  # nothing counted for a batch that was never scored


def test_the_planning_model_pickles_to_a_worker():
    """Ray ships the planning model to its actors: the shipped Template-MLP predicts the
    same reactants as the original."""
    import pickle

    from makeable.retro.single_step.base import load_model
    from makeable.synthesis import PLANNING_MODEL

    model = load_model(PLANNING_MODEL)
    copy = pickle.loads(pickle.dumps(model))
    target = "CC(=O)Nc1ccc(O)cc1"
    assert copy.predict([target], k=5) == model.predict([target], k=5)


def test_an_address_where_nothing_listens_fails_at_once():
    import socket

    from makeable.oracle.executor import ExecutorError, _check_reachable

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ExecutorError, match=f"no Ray cluster at --address 127.0.0.1:{port}"):
        _check_reachable(f"127.0.0.1:{port}")
    _check_reachable("auto")  # left to Ray
