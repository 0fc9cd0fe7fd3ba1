"""Plugins: a third-party package adds names to a registry through entry points.

A fake installed distribution (``fake_plugin-0.1.dist-info`` with ``entry_points.txt`` and
``METADATA``, plus its module) is put on ``sys.path``; importlib.metadata finds it as it would
an installed package.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from makeable.cli.main import main
from makeable.data.stocks import STOCKS, load_stock
from makeable.objectives import OBJECTIVES, get_objective, load_builtin_objectives
from makeable.optimizers import OPTIMIZERS, get_optimizer, load_builtin_optimizers
from makeable.optimizers.graph_ga import GraphGA
from makeable.registry import Registry

MODULE = """
import numpy as np

from makeable.data.stocks import Stock
from makeable.objectives import Objective
from makeable.optimizers import Optimizer


class FakeOptimizer(Optimizer):
    name = "fake_opt"

    def __init__(self, batch_size: int = 3) -> None:
        self.batch_size = batch_size

    def _optimize(self, oracle, ctx):
        oracle(list(ctx.pool[: self.batch_size]))


class FakeObjective(Objective):
    name = "fake_obj"

    def _score(self, mols):
        return np.array([float(m.GetNumAtoms()) for m in mols])


def fake_stock():
    return Stock(["CCO", "c1ccccc1"], name="fake_stock")


NOT_CALLABLE = 42
"""

ENTRY_POINTS = """
[makeable.optimizers]
fake_opt = fake_plugin_mod:FakeOptimizer
broken_opt = fake_plugin_missing:Thing
graph-ga = fake_plugin_mod:FakeOptimizer

[makeable.objectives]
fake_obj = fake_plugin_mod:FakeObjective
not_callable = fake_plugin_mod:NOT_CALLABLE

[makeable.stocks]
fake_stock = fake_plugin_mod:fake_stock

[makeable.test_things]
alpha = fake_plugin_mod:fake_stock
"""


def _install(folder: Path, entry_points: str = ENTRY_POINTS) -> Path:
    """A fake installed distribution ``fake-plugin`` in ``folder``."""
    info = folder / "fake_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (folder / "fake_plugin_mod.py").write_text(MODULE)
    return folder


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The fake plugin on sys.path; the registries it touches see it afresh and are restored
    afterwards (built-ins loaded first, so that they stay registered)."""
    load_builtin_optimizers()
    load_builtin_objectives()
    for registry in (OPTIMIZERS, OBJECTIVES, STOCKS):
        for attr in ("_factories", "_names", "_plugins"):
            monkeypatch.setattr(registry, attr, dict(getattr(registry, attr)))
        monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.syspath_prepend(str(_install(tmp_path / "site")))
    monkeypatch.delitem(__import__("sys").modules, "fake_plugin_mod", raising=False)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_list_shows_the_plugins_names(plugin, capsys, caplog):
    assert main(["list", "optimizers"]) == 0
    names = capsys.readouterr().out.split()
    assert "fake_opt" in names and "graph_ga" in names and "screening" in names
    assert "broken_opt" not in names and "graph-ga" not in names
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fake_opt" in out and "fake_obj" in out and "fake_stock" in out


def test_plugins_are_built_and_used_by_name(plugin):
    optimizer = get_optimizer("fake-opt", batch_size=2)  # - and _ alike, as for built-ins
    assert type(optimizer).__name__ == "FakeOptimizer" and optimizer.batch_size == 2
    assert OPTIMIZERS.plugin("fake_opt") == "fake-plugin"
    assert OPTIMIZERS.plugin("graph_ga") is None
    assert get_objective("fake_obj").score("CCO") == 3.0
    stock = load_stock("fake_stock")
    assert "CCO" in stock and "CCN" not in stock


def test_a_broken_plugin_gives_one_warning_and_the_builtins_still_work(plugin, caplog):
    with caplog.at_level(logging.WARNING, logger="makeable.registry"):
        names = OPTIMIZERS.names()
    assert "broken_opt" not in names and "graph_ga" in names
    broken = [m for m in _warnings(caplog) if "broken_opt" in m]
    assert len(broken) == 1
    assert "fake-plugin" in broken[0] and "ModuleNotFoundError" in broken[0]
    assert "fake_plugin_missing" in broken[0] and "\n" not in broken[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="makeable.registry"):
        assert "qed" in OBJECTIVES.names() and "not_callable" not in OBJECTIVES.names()
    assert any("not_callable" in m and "not a class or function" in m for m in _warnings(caplog))
    caplog.clear()
    OPTIMIZERS.names()  # loaded once: no second warning
    assert not _warnings(caplog)


def test_a_plugin_cannot_replace_a_builtin(plugin, caplog):
    with caplog.at_level(logging.WARNING, logger="makeable.registry"):
        assert "fake_opt" in OPTIMIZERS.names()  # the plugins are loaded
    assert OPTIMIZERS.factory("graph-ga") is GraphGA
    clash = [m for m in _warnings(caplog) if "'graph-ga'" in m]
    assert len(clash) == 1 and "refused" in clash[0] and "fake-plugin" in clash[0]
    assert OPTIMIZERS.plugin("graph_ga") is None


def test_a_builtin_registered_after_the_plugins_wins(tmp_path, monkeypatch, caplog):
    monkeypatch.syspath_prepend(str(_install(tmp_path / "site")))
    monkeypatch.delitem(__import__("sys").modules, "fake_plugin_mod", raising=False)
    things: Registry[object] = Registry("thing", group="makeable.test_things")
    assert things.names() == ["alpha"] and things.plugin("alpha") == "fake-plugin"

    def builtin() -> str:
        return "built in"

    with caplog.at_level(logging.WARNING, logger="makeable.registry"):
        things.add("alpha", builtin)  # e.g. a built-in module imported lazily, after the listing
    assert things.build("alpha") == "built in" and things.plugin("alpha") is None
    assert any("'alpha'" in m and "refused" in m for m in _warnings(caplog))


def test_plugins_load_lazily_and_only_on_a_miss(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_install(tmp_path / "site")))
    monkeypatch.delitem(__import__("sys").modules, "fake_plugin_mod", raising=False)
    things: Registry[object] = Registry("thing", group="makeable.test_things")
    things.add("beta", str)
    assert "beta" in things and things.factory("beta") is str
    assert not things._plugins_loaded  # a registered name needs no plugin lookup
    assert "alpha" in things  # a miss loads the plugins
    assert things._plugins_loaded
    assert Registry("thing").names() == []  # no group: no plugins
