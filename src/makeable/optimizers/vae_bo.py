"""Bayesian optimisation in the latent space of the SMILES VAE.

Gómez-Bombarelli et al., "Automatic chemical design using a data-driven continuous
representation of molecules", ACS Cent. Sci. 2018 (https://doi.org/10.1021/acscentsci.7b00572),
run as the PMO benchmark runs its ``smiles_vae_bo`` / ``selfies_vae_bo`` baselines (Gao et al.,
"Sample Efficiency Matters", NeurIPS 2022; wenhao-gao/mol_opt, MIT): encode an initial set of
molecules, fit a Gaussian process on the scored latent points, choose a batch by an acquisition
function, decode it, score it, refit, repeat until the budget is spent.

One run:

1. ``init_size`` molecules of the pool, drawn in a random order among those the VAE can encode
   (its vocabulary, at most its ``max_len`` tokens), are scored; their latent means are the
   first observations.
2. Each round a GP (:mod:`makeable.models.gp`: exact, ARD Matérn-5/2, hyper-parameters by a few
   Adam steps on the marginal likelihood, warm-started from the previous round) is fitted on at
   most ``gp_train_size`` observations: the best half by score and the most recent others.
3. ``candidates`` latent points are drawn: half around the 10 best observations (a Gaussian step
   whose size is a uniform fraction of ``radius`` per-dimension standard deviations of the
   observed latents), half from a Gaussian matching the observed latents. PMO optimises the
   acquisition by gradient (BoTorch's ``optimize_acqf``); scoring random candidates needs no
   BoTorch and is what decoding's discontinuities make sensible anyway.
4. Candidates are decoded in order of ``ei`` (expected improvement over the best score) or
   ``ucb`` (mean + ``kappa`` std) until ``batch_size`` new molecules are found: a decoding that
   does not parse costs nothing and is dropped; one that is already scored costs nothing either
   (the oracle's cache) and becomes a free observation of that score at its latent point (at
   most ``batch_size`` a round), which tells the GP that the region is exhausted.
5. The new molecules are scored (their observations are the latent points they were decoded
   from) and the loop goes on. After 10 rounds in a row without a new molecule it stops, with a
   warning (:class:`~makeable.optimizers.base.StallGuard`).

Determinism: the pool order, the candidates and the decoding seeds come from ``ctx.np_rng``; the
GP fit and the greedy decoder are deterministic for a fixed ``threads`` count, so a run started
again with the same seed retraces its calls and resumes by replay.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from makeable.optimizers.base import (
    OPTIMIZERS,
    DesignContext,
    Optimizer,
    StallGuard,
)
from makeable.oracle.oracle import Oracle, OracleResult
from makeable.params import require_int, require_real

if TYPE_CHECKING:  # torch is imported when the optimizer runs, not when it is registered
    from makeable.generative.vae import SmilesVAE
    from makeable.models.gp import GaussianProcess, GPHyper

log = logging.getLogger(__name__)

ACQUISITIONS = ("ei", "ucb")
DECODINGS = ("greedy", "temperature")
N_CENTRES = 10  # best observations the local candidates are drawn around
MAX_STALLED_ROUNDS = 10


@OPTIMIZERS.register("vae_bo")
class VAEBayesOpt(Optimizer):
    """Latent-space Bayesian optimisation with the SMILES VAE and an exact GP.

    Args:
        model: the VAE's model folder (``makeable vae train --out``); default: the VAE shipped
            with makeable (none ships yet, so it must be given).
        init_size: pool molecules scored first (PMO: 100).
        batch_size: new molecules per round (PMO: 100).
        candidates: latent points scored by the acquisition function each round.
        acquisition: ``ei`` (expected improvement) or ``ucb`` (upper confidence bound).
        kappa: the UCB's weight on the standard deviation.
        radius: the largest step of a local candidate from its centre, in standard deviations
            of the observed latents per dimension.
        gp_train_size: most observations the GP is fitted on (the cost is cubic in it).
        gp_steps: Adam steps of each GP fit.
        decode: ``greedy`` (the most likely token at each step) or ``temperature`` (tokens drawn
            at ``temperature``).
        temperature: sampling temperature of ``decode=temperature``.
        threads: torch CPU threads (0 keeps torch's setting).

    Raises:
        ValueError: a parameter out of range, or no model folder (one line naming it).
    """

    name = "vae_bo"

    def __init__(
        self,
        model: str | None = None,
        init_size: int = 100,
        batch_size: int = 100,
        candidates: int = 2000,
        acquisition: str = "ei",
        kappa: float = 2.0,
        radius: float = 1.0,
        gp_train_size: int = 1000,
        gp_steps: int = 50,
        decode: str = "greedy",
        temperature: float = 1.0,
        threads: int = 1,
    ) -> None:
        for key, value, least in (
            ("init_size", init_size, 1),
            ("batch_size", batch_size, 1),
            ("candidates", candidates, 1),
            ("gp_train_size", gp_train_size, 2),
            ("gp_steps", gp_steps, 0),
            ("threads", threads, 0),
        ):
            require_int(key, value, least)
        require_real("kappa", kappa, 0.0)
        require_real("radius", radius, above=0.0)
        require_real("temperature", temperature, above=0.0)
        if acquisition not in ACQUISITIONS:
            raise ValueError(
                f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}"
            )
        if decode not in DECODINGS:
            raise ValueError(f"decode must be one of {', '.join(DECODINGS)}, got {decode!r}")
        self.model = _model_folder(model)
        self.init_size = init_size
        self.batch_size = batch_size
        self.candidates = candidates
        self.acquisition = acquisition
        self.kappa = kappa
        self.radius = radius
        self.gp_train_size = gp_train_size
        self.gp_steps = gp_steps
        self.decode = decode
        self.temperature = temperature
        self.threads = threads

    def _optimize(self, oracle: Oracle, ctx: DesignContext) -> None:
        from makeable.generative.vae_io import load_vae
        from makeable.models.toolkit import torch_settings

        with torch_settings(self.threads):
            with ctx.proposing():
                vae = load_vae(self.model)
                start = _encodable_pool(vae, oracle, ctx, self.init_size)
                latents = vae.encode(start)[0].double().numpy()
            obs = _Observations(latents.shape[1])
            obs.add_result(latents, oracle.evaluate(start))
            guard, hyper, round_ = StallGuard(MAX_STALLED_ROUNDS), None, 0
            while not oracle.finished:
                round_ += 1
                with ctx.proposing():
                    gp = self._fit(obs, hyper)
                    hyper = gp.hyper
                    points = self._candidates(obs, ctx.np_rng)
                    order = np.argsort(-self._acquire(gp, points, obs), kind="stable")
                    seed = int(ctx.np_rng.integers(2**31))
                    new, repeats = self._decode_new(vae, points[order], oracle, obs, seed)
                if new:
                    obs.add_result(
                        np.array([z for z, _ in new]), oracle.evaluate([s for _, s in new])
                    )
                obs.add_repeats(repeats)
                self._log_round(ctx, round_, obs, len(new), len(repeats), hyper)
                if guard.stalled(oracle):
                    return

    # -- one round -----------------------------------------------------------------------------
    def _fit(self, obs: _Observations, start: GPHyper | None) -> GaussianProcess:
        from makeable.models.gp import GaussianProcess

        rows = obs.training_rows(self.gp_train_size)
        return GaussianProcess(obs.z[rows], obs.y[rows], steps=self.gp_steps, start=start)

    def _candidates(self, obs: _Observations, rng: np.random.Generator) -> np.ndarray:
        """``(candidates, d)`` latent points: half near the best observations, half global."""
        z, d = obs.z, obs.z.shape[1]
        mean, std = z.mean(axis=0), z.std(axis=0)
        std = np.where(std > 1e-8, std, 1.0)
        n_local = self.candidates // 2
        best = np.argsort(-obs.y, kind="stable")[:N_CENTRES]
        centres = z[best[rng.integers(len(best), size=n_local)]]
        steps = self.radius * rng.random((n_local, 1)) * std * rng.standard_normal((n_local, d))
        spread = mean + std * rng.standard_normal((self.candidates - n_local, d))
        return np.concatenate([centres + steps, spread])

    def _acquire(self, gp: GaussianProcess, points: np.ndarray, obs: _Observations) -> np.ndarray:
        from makeable.models.gp import expected_improvement, upper_confidence_bound

        mean, std = gp.predict(points)
        if self.acquisition == "ucb":
            return upper_confidence_bound(mean, std, self.kappa)
        return expected_improvement(mean, std, float(obs.y.max()))

    def _decode_new(
        self,
        vae: SmilesVAE,
        points: np.ndarray,
        oracle: Oracle,
        obs: _Observations,
        seed: int,
    ) -> tuple[list[tuple[np.ndarray, str]], list[tuple[np.ndarray, str]]]:
        """Decode ``points`` in order, a batch at a time, until ``batch_size`` molecules (at most
        the budget left) are neither scored nor already picked; returns those (latent, canonical
        SMILES) and up to ``batch_size`` repeats (latents that decoded to a molecule scored
        before or picked already). Decodings that do not parse are dropped."""
        need = min(self.batch_size, oracle.remaining)
        new: dict[str, np.ndarray] = {}
        repeats: list[tuple[np.ndarray, str]] = []
        for i, first in enumerate(range(0, len(points), self.batch_size)):
            chunk = points[first : first + self.batch_size]
            decoded = vae.decode(
                chunk,
                greedy=self.decode == "greedy",
                temperature=self.temperature,
                seed=seed + i,
            )
            for z, smiles in zip(chunk, decoded, strict=True):
                canon = oracle.canonical(smiles)
                if canon is None:
                    continue
                if canon in obs.scores or canon in new:
                    if len(repeats) < self.batch_size:
                        repeats.append((z, canon))
                elif len(new) < need:
                    new[canon] = z
            if len(new) >= need:
                break
        return [(z, s) for s, z in new.items()], repeats

    def _log_round(
        self,
        ctx: DesignContext,
        round_: int,
        obs: _Observations,
        n_new: int,
        n_repeats: int,
        hyper: GPHyper | None,
    ) -> None:
        from makeable.optimizers.lm_common import log_round

        if n_new == 0:
            log.info("vae_bo round %d: every decoded molecule was invalid or scored", round_)
        extra: dict[str, Any] = {"new": n_new, "repeats": n_repeats, "observations": len(obs)}
        if hyper is not None:
            extra["gp_noise"] = float(np.exp(hyper.log_noise))
            extra["gp_lengthscale_median"] = float(np.exp(np.median(hyper.log_lengthscales)))
        log_round(ctx, round_, obs.scores, **extra)


class _Observations:
    """Latent points and the scores of the molecules they stand for, in the order observed.

    A molecule scored by the oracle (valid or not, its recorded score) is observed at the latent
    point it came from; ``scores`` maps every scored canonical SMILES to its score.
    """

    def __init__(self, dim: int) -> None:
        self._z: list[np.ndarray] = []
        self._y: list[float] = []
        self.scores: dict[str, float] = {}
        self._dim = dim

    def __len__(self) -> int:
        return len(self._y)

    @property
    def z(self) -> np.ndarray:
        """``(n, d)`` observed latent points."""
        return np.array(self._z).reshape(len(self._z), self._dim)

    @property
    def y(self) -> np.ndarray:
        """``(n,)`` their scores."""
        return np.array(self._y, dtype=np.float64)

    def add_result(self, latents: np.ndarray, result: OracleResult) -> None:
        """Observe the molecules of a batch the oracle scored (row ``i`` came from
        ``latents[i]``); those it turned away (invalid, filtered, over the budget) are not."""
        for z, s, ok, score in zip(
            latents, result.smiles, result.scored, result.scores, strict=True
        ):
            if s is not None and ok and s not in self.scores:
                self.scores[s] = float(score)
                self._z.append(z)
                self._y.append(float(score))

    def add_repeats(self, repeats: Sequence[tuple[np.ndarray, str]]) -> None:
        """Observe known scores at further latent points (decodings of scored molecules)."""
        for z, s in repeats:
            if s in self.scores:
                self._z.append(z)
                self._y.append(self.scores[s])

    def training_rows(self, size: int) -> np.ndarray:
        """Row indices of at most ``size`` observations: the best half by score (ties: the
        earlier), then the most recent of the others."""
        n = len(self)
        if n <= size:
            return np.arange(n)
        best = np.argsort(-self.y, kind="stable")[: size // 2]
        rest = np.setdiff1d(np.arange(n), best)[-(size - len(best)) :]
        return np.sort(np.concatenate([best, rest]))


def _model_folder(model: str | None) -> str:
    """The VAE folder to load, as a string (recorded with the run's parameters)."""
    from makeable.generative.vae_io import vae_path

    if model is None:
        try:
            return str(vae_path(None))
        except ValueError:
            raise ValueError(
                "vae_bo needs a SMILES VAE and none ships with makeable yet: train one with "
                "`makeable vae train zinc250k --out DIR` and pass model=DIR (--param model=DIR)"
            ) from None
    if not isinstance(model, str | Path) or not Path(model).is_dir():
        raise ValueError(f"model must be a SMILES VAE model folder, got {model!r} (no such folder)")
    return str(model)


def _encodable_pool(vae: SmilesVAE, oracle: Oracle, ctx: DesignContext, n: int) -> list[str]:
    """Up to ``n`` distinct canonical SMILES of the pool, in a random order, that the oracle
    accepts and the VAE can encode.

    Raises:
        ValueError: the VAE can encode none of the pool's molecules.
    """
    from makeable.chem.molecule import canonical_smiles
    from makeable.chem.smiles_tokens import TokenizeError, split_smiles

    chosen: dict[str, None] = {}
    for i in ctx.np_rng.permutation(len(ctx.pool)):
        canon = oracle.canonical(ctx.pool[int(i)])
        if canon is None or canon in chosen:
            continue
        try:  # the VAE canonicalises what it encodes: check the form it will read
            tokens = split_smiles(canonical_smiles(canon) or "")
        except TokenizeError:
            continue
        if 0 < len(tokens) <= vae.max_len and all(t in vae.tokenizer.stoi for t in tokens):
            chosen[canon] = None
            if len(chosen) == n:
                break
    if not chosen:
        raise ValueError(
            f"the VAE can encode none of the {len(ctx.pool)} molecules of the initial pool "
            f"(tokens outside its vocabulary, or more than {vae.max_len} tokens)"
        )
    return list(chosen)
