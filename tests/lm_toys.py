"""Toys for the SMILES language-model tests: a chain-molecule language, a tiny LSTM trained on
it in a couple of seconds, and an objective the optimizers can learn (share of nitrogen)."""

from __future__ import annotations

import random
import tempfile
from functools import lru_cache
from pathlib import Path

from rdkit import Chem


def toy_smiles(n: int, seed: int = 0) -> list[str]:
    """Acyclic C/N/O chains with carbon branches: valid SMILES, mostly carbon."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        atoms = []
        for _ in range(rng.randint(6, 12)):
            atom = rng.choices("CNO", weights=(0.8, 0.1, 0.1))[0]
            if atom == "C" and rng.random() < 0.15:
                atom += "(C)"
            atoms.append(atom)
        out.append("".join(atoms))
    return out


def nitrogen_share(smiles: str) -> float:
    """Toy objective: the share of heavy atoms that are nitrogen (0 for invalid SMILES)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return 0.0
    return sum(a.GetAtomicNum() == 7 for a in mol.GetAtoms()) / mol.GetNumAtoms()


def train_tiny(folder: Path, steps: int = 60, seed: int = 0, notation: str = "smiles") -> Path:
    """Train a 1 × 64 LSTM on the toy language (as SMILES, or as SAFE strings with shuffled
    fragments) and save it as a model folder."""
    import torch

    from makeable.chem import safe
    from makeable.chem.smiles_tokens import SmilesTokenizer
    from makeable.models.smiles_lm.io import save_model
    from makeable.models.smiles_lm.lstm import SmilesLSTM
    from makeable.optimizers.lm_common import imitation_step

    data = toy_smiles(2000, seed)
    if notation == "safe":
        shuffle = random.Random(seed)
        data = [str(safe.encode(s, shuffle)) for s in data]
    tokenizer = SmilesTokenizer.build(data)
    torch.manual_seed(seed)
    model = SmilesLSTM(
        tokenizer, embedding_dim=16, hidden_size=64, n_layers=1, dropout=0.0, notation=notation
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = random.Random(seed)
    for _ in range(steps):
        imitation_step(model, optimizer, rng.sample(data, 64))
    return save_model(model, folder, {"toy": True})


@lru_cache(maxsize=2)
def tiny_prior(notation: str = "smiles") -> str:
    """Path of a tiny toy prior (SMILES or SAFE), trained once per test process."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        folder = Path(tempfile.mkdtemp(prefix="makeable_tiny_prior_"))
        steps = 60 if notation == "smiles" else 150
        return str(train_tiny(folder / "tiny", steps=steps, notation=notation))
    finally:
        torch.set_num_threads(threads)


TOY_OBJECTIVE = "tests.lm_toys:nitrogen_share"


def toy_pool(folder: Path) -> str:
    """A small pool file (the language-model optimizers do not use the pool)."""
    path = folder / "pool.smi"
    path.write_text("\n".join(toy_smiles(50, seed=1)) + "\n")
    return str(path)


def calls_table(run_dir: Path) -> list[tuple]:
    import sqlite3

    db = sqlite3.connect(run_dir / "run.db")
    try:
        return db.execute("SELECT idx, smiles, score, valid FROM calls ORDER BY idx").fetchall()
    finally:
        db.close()


def design(optimizer: str, params: dict, budget: int, out: Path, seed: int = 0):
    """A design run of ``optimizer`` on the toy objective with the tiny prior (the SAFE one
    for ``fragment_rag``)."""
    from makeable.runs.config import DesignConfig
    from makeable.runs.design import run_design

    config = DesignConfig(
        objective=TOY_OBJECTIVE,
        optimizer=optimizer,
        budget=budget,
        seed=seed,
        optimizer_params={
            "prior": tiny_prior("safe" if optimizer == "fragment_rag" else "smiles"),
            **params,
        },
        pool=toy_pool(out.parent),
    )
    return config, run_design(config, out, progress=False)


def interrupted_then_resumed(config, out: Path, stop_at: int):
    """Run ``config`` into ``out``, interrupt it (KeyboardInterrupt from the oracle) once
    ``stop_at`` calls are counted, then run it again to resume; returns the resumed result."""
    from makeable.runs.design import run_design

    interrupted(config, out, stop_at)
    return run_design(config, out, progress=False)


def interrupted(config, out: Path, stop_at: int) -> None:
    """Run ``config`` into ``out`` and interrupt it (KeyboardInterrupt from the oracle) once
    ``stop_at`` calls are counted."""
    import pytest

    from makeable.oracle import Oracle
    from makeable.runs.design import run_design

    original = Oracle._score_new

    def interrupt_late(self, new):
        original(self, new)
        if self.n_calls >= stop_at:
            raise KeyboardInterrupt

    Oracle._score_new = interrupt_late  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            run_design(config, out, progress=False)
    finally:
        Oracle._score_new = original  # type: ignore[method-assign]
    n_saved = len(calls_table(out))
    assert stop_at <= n_saved < config.budget
