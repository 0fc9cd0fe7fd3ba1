"""Checkpoints of an optimizer's state: a resumed run starts from the last one.

Resume by replay (:mod:`makeable.oracle.oracle`) costs no oracle call but recomputes every
proposal up to the interruption: a language-model optimizer retrains its network step by step,
which for a long run is most of the run again. An optimizer that supports checkpoints saves its
whole state at the end of a step, at most every :data:`EVERY_S` seconds: tensors (network
weights, Adam moments, torch RNG states) in ``checkpoint/state.safetensors``, everything else
(Python and NumPy RNG states, queues, counters) in ``checkpoint/state.json``, with the number of
counted calls and the last run event at that point. A resumed run restores it, counts the
recorded calls up to it as done (:meth:`Oracle.fast_forward`) and replays only those after it;
the state is complete, so the calls after a restore are those of an uninterrupted run (tested).
Nothing is unpickled; the JSON names the tensors file's sha256, so a pair cut in half by a kill is
ignored (the run then replays from the first call, as without checkpoints). The folder is removed
when the optimizer finishes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from makeable.data.download import sha256_of
from makeable.results_csv import replace_text

if TYPE_CHECKING:
    import torch

    from makeable.oracle.oracle import Oracle
    from makeable.oracle.store import RunStore

log = logging.getLogger(__name__)

EVERY_S = 300.0
"""Least seconds between two checkpoints of a run."""
FORMAT = "makeable-optimizer-checkpoint"
TENSORS, STATE = "state.safetensors", "state.json"


class Checkpoints:
    """Where an optimizer saves and finds its state (disabled without a folder).

    Args:
        folder: the checkpoint folder (``None``: no checkpoints, e.g. a run without a folder).
        store: the run's store, whose events after a restored checkpoint are dropped (the
            optimizer records them again).
        every_s: least seconds between two saves (default :data:`EVERY_S`).
    """

    def __init__(
        self,
        folder: Path | None = None,
        store: RunStore | None = None,
        every_s: float | None = None,
    ) -> None:
        self.folder = folder
        self.store = store
        self.every_s = EVERY_S if every_s is None else every_s
        self._last = time.monotonic()
        self.restored_at = 0  # counted calls of the restored checkpoint (0: none)

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def exists(self) -> bool:
        return self.folder is not None and (self.folder / STATE).is_file()

    def due(self) -> bool:
        """Whether a save is due now (always false when disabled)."""
        return self.enabled and time.monotonic() - self._last >= self.every_s

    def save(self, oracle: Oracle, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        """Save the optimizer's state at ``oracle.n_calls`` (atomically: tensors, then JSON)."""
        from safetensors.torch import save_file

        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / (TENSORS + ".tmp")
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
        digest = sha256_of(tmp)
        os.replace(tmp, self.folder / TENSORS)
        meta = {
            "format": FORMAT,
            "format_version": 1,
            "n_calls": oracle.n_calls,
            "event_id": self.store.last_event_id() if self.store is not None else 0,
            "tensors_sha256": digest,
            "state": state,
        }
        replace_text(self.folder / STATE, json.dumps(meta))
        self._last = time.monotonic()

    def restore(self, oracle: Oracle) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """The saved tensors and state, with the oracle moved on to the checkpoint's calls and
        the store's later events dropped; ``None`` when there is no usable checkpoint (the
        store's events of an unusable one's run are dropped, as a replay from the first call
        records them again; without a checkpoint the run dropped them before)."""
        found = self._read(oracle)
        if found is None:
            if self.store is not None and self.exists():
                self.store.clear_events_after(-1)
            return None
        meta, tensors = found
        oracle.fast_forward(meta["n_calls"])
        if self.store is not None:
            self.store.keep_events_to(meta["event_id"])
        self.restored_at = meta["n_calls"]
        log.info(
            "resuming from the checkpoint at %d calls (%d recorded calls after it replayed)",
            meta["n_calls"],
            oracle.recorded - meta["n_calls"],
        )
        return tensors, meta["state"]

    def _read(self, oracle: Oracle) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
        from safetensors.torch import load_file

        if not self.exists() or self.folder is None:
            return None
        try:
            meta = json.loads((self.folder / STATE).read_text())
            ok = meta.get("format") == FORMAT and meta.get("format_version") == 1
            if not ok:
                raise ValueError("not a makeable optimizer checkpoint")
            if sha256_of(self.folder / TENSORS) != meta["tensors_sha256"]:
                raise ValueError("its tensors file is not the one its state names")
            if oracle.n_calls:
                raise ValueError("the oracle has counted calls already")
            if not 0 < meta["n_calls"] <= oracle.recorded:
                raise ValueError(
                    f"it is at {meta['n_calls']} calls, the run has {oracle.recorded} recorded"
                )
            return meta, load_file(str(self.folder / TENSORS))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("checkpoint not used (%s): the run replays from its first call", exc)
            return None

    def remove(self) -> None:
        """Delete the checkpoint (the optimizer finished)."""
        if self.folder is not None and self.folder.is_dir():
            shutil.rmtree(self.folder)


def rng_state(ctx: Any) -> dict[str, Any]:
    """The run's Python and NumPy random states (``ctx``: the DesignContext), as JSON."""
    version, internal, gauss = ctx.rng.getstate()
    return {"python": [version, list(internal), gauss], "numpy": ctx.np_rng.bit_generator.state}


def set_rng_state(ctx: Any, state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    ctx.rng.setstate((version, tuple(internal), gauss))
    ctx.np_rng.bit_generator.state = state["numpy"]


def torch_state(
    generator: torch.Generator,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and JSON of torch's RNG states, modules' weights and optimizers' states."""
    import torch

    tensors: dict[str, torch.Tensor] = {
        "rng/generator": generator.get_state(),
        "rng/torch": torch.get_rng_state(),
    }
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"module/{name}/{key}"] = value
    groups: dict[str, Any] = {}
    training = {name: module.training for name, module in modules.items()}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        plain: dict[str, dict[str, Any]] = {}
        for idx, entry in sd["state"].items():
            for key, value in entry.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim/{name}/{idx}/{key}"] = value
                else:
                    plain.setdefault(str(idx), {})[key] = value
        groups[name] = {"param_groups": sd["param_groups"], "plain": plain}
    return tensors, {"optimizers": groups, "training": training}


def set_torch_state(
    generator: torch.Generator,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    tensors: dict[str, torch.Tensor],
    state: dict[str, Any],
) -> None:
    import torch

    generator.set_state(tensors["rng/generator"])
    torch.set_rng_state(tensors["rng/torch"])
    for name, module in modules.items():
        prefix = f"module/{name}/"
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
        module.train(state["training"][name])  # dropout on or off, as it was
    for name, opt in optimizers.items():
        saved = state["optimizers"][name]
        entries: dict[int, dict[str, Any]] = {}
        prefix = f"optim/{name}/"
        for key, value in tensors.items():
            if key.startswith(prefix):
                idx, field = key[len(prefix) :].split("/", 1)
                entries.setdefault(int(idx), {})[field] = value
        for idx, plain in saved["plain"].items():
            entries.setdefault(int(idx), {}).update(plain)
        opt.load_state_dict({"state": entries, "param_groups": saved["param_groups"]})


def save_if_due(
    ctx: Any,
    oracle: Oracle,
    generator: torch.Generator,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    state: dict[str, Any],
    tensors: dict[str, torch.Tensor] | None = None,
) -> None:
    """Save a torch optimizer's state if a checkpoint is due (``ctx``: the DesignContext): the
    run's RNGs, ``modules``, ``optimizers``, its own JSON ``state`` and extra ``tensors``."""
    if not ctx.checkpoints.due():
        return
    saved, torch_json = torch_state(generator, modules, optimizers)
    full = {"rng": rng_state(ctx), "torch": torch_json, "optimizer": state}
    ctx.checkpoints.save(oracle, {**saved, **(tensors or {})}, full)


def restore_state(
    ctx: Any,
    oracle: Oracle,
    generator: torch.Generator,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Restore what :func:`save_if_due` saved, if the run has a usable checkpoint; returns the
    tensors and the optimizer's own JSON state (``None``: start from the beginning)."""
    found = ctx.checkpoints.restore(oracle)
    if found is None:
        return None
    tensors, state = found
    set_rng_state(ctx, state["rng"])
    set_torch_state(generator, modules, optimizers, tensors, state["torch"])
    return tensors, state["optimizer"]
