"""SMILES-LSTM hill climbing, the GuacaMol baseline.

Brown, Fiscato, Segler, Vaucher, "GuacaMol: Benchmarking Models for de Novo Molecular Design",
J. Chem. Inf. Model. 2019 (https://doi.org/10.1021/acs.jcim.8b00839), after Segler et al., ACS
Cent. Sci. 2018 (https://doi.org/10.1021/acscentsci.7b00512); the loop of
BenevolentAI/guacamol_baselines ``smiles_lstm_hc`` as run by PMO (wenhao-gao/mol_opt
``main/smiles_lstm_hc``, MIT).

Each round the model samples ``mols_to_sample`` SMILES; the new canonical ones (never sampled
before), in sorted order, are scored; the ``keep_top`` best molecules so far are kept; the model is
fine-tuned by maximum likelihood for ``optimize_n_epochs`` epochs on a random three quarters of
them (GuacaMol holds the last quarter out for a validation loss that only gets logged), with
Adam at learning rate 1e-3 and batches of ``optimize_batch_size``. GuacaMol/PMO defaults: 1024
samples, keep 512, 2 epochs, batch 256, SMILES of at most 100 tokens; GuacaMol runs 20 rounds,
PMO runs until the budget is spent (``n_rounds=0``). The starting population is not used
(PMO's ``random_start``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from makeable.models.smiles_lm import DEFAULT_PRIOR
from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
)
from makeable.oracle.oracle import Oracle
from makeable.params import require_int, require_real

if TYPE_CHECKING:  # torch is imported when an optimizer runs, not when it is registered
    import torch

    from makeable.models.smiles_lm.lstm import SmilesLSTM


@OPTIMIZERS.register("lstm-hc")
class SmilesLSTMHillClimbing(Optimizer):
    """Sample, keep the best, fine-tune on them, repeat.

    Args:
        prior: shipped prior name or model folder to start from.
        mols_to_sample: samples per round (1024).
        keep_top: best molecules kept and trained on (512).
        optimize_n_epochs: fine-tuning epochs per round (2).
        optimize_batch_size: fine-tuning batch size (256).
        lr: Adam learning rate (1e-3).
        max_len: most SMILES tokens (100).
        n_rounds: stop after this many rounds (GuacaMol: 20); 0 runs until the budget is spent.
        threads: torch CPU threads (0 keeps torch's setting).
    """

    name = "lstm-hc"

    def __init__(
        self,
        prior: str = DEFAULT_PRIOR,
        mols_to_sample: int = 1024,
        keep_top: int = 512,
        optimize_n_epochs: int = 2,
        optimize_batch_size: int = 256,
        lr: float = 1e-3,
        max_len: int = 100,
        n_rounds: int = 0,
        threads: int = 1,
    ) -> None:
        for key, value, least in (
            ("mols_to_sample", mols_to_sample, 1),
            ("keep_top", keep_top, 1),
            ("optimize_n_epochs", optimize_n_epochs, 0),
            ("optimize_batch_size", optimize_batch_size, 1),
            ("max_len", max_len, 1),
            ("n_rounds", n_rounds, 0),
            ("threads", threads, 0),
        ):
            require_int(key, value, least)
        require_real("lr", lr, above=0.0)
        self.prior = prior
        self.mols_to_sample = mols_to_sample
        self.keep_top = keep_top
        self.optimize_n_epochs = optimize_n_epochs
        self.optimize_batch_size = optimize_batch_size
        self.lr = lr
        self.max_len = max_len
        self.n_rounds = n_rounds
        self.threads = threads

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        import torch

        from makeable.optimizers.checkpoint import restore_state, save_if_due
        from makeable.optimizers.lm_common import (
            distinct_canonical,
            log_round,
            resolve_prior,
            top_k,
            torch_session,
        )

        with torch_session(ctx.seed, self.threads) as generator:
            with ctx.proposing():
                model = resolve_prior(self.prior)
                optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
            kept: dict[str, float] = {}
            seen: set[str] = set()
            guard, round_ = StallGuard(), 0
            modules, optimizers = {"model": model}, {"adam": optimizer}
            restored = restore_state(ctx, oracle, generator, modules, optimizers)
            if restored is not None:
                state = restored[1]
                kept = dict(state["kept"])
                seen = set(state["seen"])
                round_ = state["round"]
                vars(guard).update(state["guard"])
            while not oracle.finished and (self.n_rounds <= 0 or round_ < self.n_rounds):
                round_ += 1
                with ctx.proposing():
                    samples = model.sample(self.mols_to_sample, self.max_len, generator)
                    canon = set(distinct_canonical(oracle, samples))
                    payload = sorted(canon - seen)
                    seen |= canon
                result = oracle.evaluate(payload) if payload else None
                loss = float("nan")
                if result is not None:
                    new = {
                        s: float(result.scores[i])
                        for i, s in enumerate(payload)
                        if result.scored[i] and result.valid[i]
                    }
                    kept = dict(top_k({**kept, **dict(top_k(new, self.keep_top))}, self.keep_top))
                if not oracle.finished and kept:
                    with ctx.proposing():
                        loss = self._fine_tune(model, optimizer, kept, ctx)
                log_round(ctx, round_, kept, loss=loss)
                if guard.stalled(oracle):
                    return
                state = {
                    "kept": list(kept.items()),
                    "seen": sorted(seen),
                    "round": round_,
                    "guard": vars(guard),
                }
                save_if_due(ctx, oracle, generator, modules, optimizers, state)

    def _fine_tune(
        self,
        model: SmilesLSTM,
        optimizer: torch.optim.Optimizer,
        kept: dict[str, float],
        ctx: DesignContext,
    ) -> float:
        """Maximum likelihood on a random 3/4 of the kept molecules; returns the mean loss."""
        from makeable.optimizers.lm_common import fits, imitation_step, top_k

        subset = [s for s, _ in top_k(kept, self.keep_top) if fits(model, s, self.max_len)]
        ctx.rng.shuffle(subset)
        train = subset[: int(3 * len(subset) / 4)] or subset
        batch_size = min(len(train), self.optimize_batch_size)
        model.train()
        losses = []
        for _ in range(self.optimize_n_epochs):
            order = list(train)
            ctx.rng.shuffle(order)
            for start in range(0, len(order), batch_size):
                losses.append(imitation_step(model, optimizer, order[start : start + batch_size]))
        return sum(losses) / max(1, len(losses))
