"""A continuous GFlowNet over torsion angles, trained by trajectory balance.

The policy builds a state one torsion at a time in a fixed order; each angle is drawn from a
mixture of von Mises distributions whose parameters a small MLP computes from the sin/cos of the
angles already chosen (Lahlou et al. 2023, "A theory of continuous generative flow networks",
https://arxiv.org/abs/2301.12594; Volokhova et al. 2024, "Towards equilibrium molecular
conformation generation with GFlowNets", https://arxiv.org/abs/2310.14782). With a fixed order a
state has one trajectory, so ``log P_B = 0`` exactly as for the project's sequences and the
same residual applies: :func:`makeable.models.toolkit.trajectory_balance` with ``log P_F`` the
sum of the per-torsion log densities and ``log R = −(E − E_ref)/kT``. At the optimum the policy
samples the Boltzmann density of the torsions, ``p(θ) ∝ exp(−E(θ)/kT)``, and ``log Z`` is its
log normaliser relative to ``E_ref``.

Training under a fixed energy-call budget: each step samples a batch from the policy (with a
share of uniform angles for exploration), evaluates it once, keeps it in a replay buffer, and
takes gradient steps on the new batch plus states replayed from the buffer (half drawn by
Boltzmann weight at the current temperature, half uniform), whose rewards are known: trajectory
balance is off-policy, so replay costs no energy calls. The temperature anneals from
``t_start_k`` down to the target during the first part of training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from makeable.models.toolkit import torch_settings, trajectory_balance

K_B_KCAL_MOL = 0.0019872042586
"""Boltzmann's constant in kcal/(mol K)."""


def kt(temperature_k: float) -> float:
    """``k_B T`` in kcal/mol."""
    return K_B_KCAL_MOL * temperature_k


def boltzmann(energies: np.ndarray, temperature_k: float) -> np.ndarray:
    """``exp(−(E − E_min)/kT)`` normalised."""
    w = np.exp(-(energies - energies.min()) / kt(temperature_k))
    return w / w.sum()


@dataclass(frozen=True)
class GFNSettings:
    """Policy and training settings (sizes that train on one CPU core in a minute or two; the
    width, components and updates per batch were chosen on two benchmark molecules, where more
    gradient steps per energy call helped most).

    Attributes:
        budget: energy calls in all: training plus the final samples.
        temperature_k: the target temperature (K).
        t_start_k: temperature at the start of the annealing (K).
        anneal: share of the training calls over which the temperature anneals.
        hidden: MLP width.
        layers: MLP hidden layers.
        components: von Mises components per torsion.
        batch: new states per step (energy calls per step).
        replay: replayed states per gradient step.
        updates: gradient steps per new batch.
        lr: policy learning rate.
        lr_z: ``log Z`` learning rate.
        epsilon: share of uniform angles in the exploratory rollouts (decays to 0 with the
            annealing).
        local: share of each new batch made by perturbing low-energy buffered states (a few
            torsions moved, as an MCMC proposal would) instead of sampling the policy.
        log_reward_floor: ``log R`` is clipped from below at ``−log_reward_floor`` (clashes
            have energies of thousands of kcal/mol).
    """

    budget: int = 10_000
    temperature_k: float = 298.15
    t_start_k: float = 1200.0
    anneal: float = 0.6
    hidden: int = 256
    layers: int = 2
    components: int = 8
    batch: int = 64
    replay: int = 64
    updates: int = 32
    lr: float = 2e-3
    lr_z: float = 0.05
    epsilon: float = 0.1
    local: float = 0.5
    log_reward_floor: float = 40.0

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


class TorsionPolicy(nn.Module):
    """Autoregressive ``P_F(θ_t | θ_<t)``: a von Mises mixture per torsion; and ``log Z``.

    Args:
        dim: number of torsions ``d``.
        hidden: MLP width.
        layers: hidden layers.
        components: mixture components ``K``.
    """

    def __init__(self, dim: int, hidden: int = 128, layers: int = 2, components: int = 4):
        super().__init__()
        self.dim = dim
        self.components = components
        sizes = [3 * dim, *([hidden] * layers)]
        blocks: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            blocks += [nn.Linear(a, b), nn.GELU()]
        blocks.append(nn.Linear(sizes[-1], 4 * components))
        self.net = nn.Sequential(*blocks)
        self.log_z = nn.Parameter(torch.zeros(()))

    def _inputs(self, angles: torch.Tensor, step: int) -> torch.Tensor:
        """Network input for torsion ``step``: sin/cos of the earlier angles, one-hot step."""
        n = len(angles)
        mask = torch.zeros(self.dim, dtype=angles.dtype)
        mask[:step] = 1.0
        onehot = torch.zeros(n, self.dim, dtype=angles.dtype)
        onehot[:, step] = 1.0
        return torch.cat([torch.sin(angles) * mask, torch.cos(angles) * mask, onehot], dim=1)

    def params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture log-weights, means and concentrations, each shape ``(..., K)``."""
        out = self.net(x)
        logits, s, c, raw_kappa = out.split(self.components, dim=-1)
        log_w = torch.log_softmax(logits, dim=-1)
        mu = torch.atan2(s, c + 1e-6)
        kappa = nn.functional.softplus(raw_kappa).clamp(max=500.0) + 1e-3
        return log_w, mu, kappa

    def log_prob(self, angles: torch.Tensor) -> torch.Tensor:
        """``log P_F(θ) = Σ_t log p(θ_t | θ_<t)``; ``angles`` shape ``(n, d)`` → ``(n,)``."""
        x = torch.stack([self._inputs(angles, t) for t in range(self.dim)], dim=1)  # (n, d, 3d)
        log_w, mu, kappa = self.params(x)
        return von_mises_mixture_log_prob(angles, log_w, mu, kappa).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, rng: np.random.Generator, epsilon: float = 0.0) -> np.ndarray:
        """``n`` states, shape ``(n, d)``; with probability ``epsilon`` an angle is uniform."""
        angles = torch.zeros(n, self.dim, dtype=torch.float64)
        for t in range(self.dim):
            log_w, mu, kappa = self.params(self._inputs(angles, t).float())
            w = log_w.exp().double().numpy()
            cum = np.cumsum(w, axis=1)
            pick = (rng.random((n, 1)) * cum[:, -1:] > cum).sum(axis=1)
            pick = np.minimum(pick, self.components - 1)
            rows = np.arange(n)
            draw = rng.vonmises(mu.double().numpy()[rows, pick], kappa.double().numpy()[rows, pick])
            if epsilon > 0:
                uniform = rng.random(n) < epsilon
                draw = np.where(uniform, rng.uniform(-np.pi, np.pi, n), draw)
            angles[:, t] = torch.from_numpy(draw)
        return angles.numpy()


def von_mises_mixture_log_prob(
    x: torch.Tensor, log_w: torch.Tensor, mu: torch.Tensor, kappa: torch.Tensor
) -> torch.Tensor:
    """Log density of a von Mises mixture at ``x`` (shape ``(...)``; parameters ``(..., K)``):
    ``log Σ_k w_k exp(κ_k cos(x − μ_k)) / (2π I0(κ_k))``, computed stably with ``i0e``."""
    diff = x.unsqueeze(-1).to(mu.dtype) - mu
    log_comp = (
        kappa * (torch.cos(diff) - 1.0)
        - math.log(2 * math.pi)
        - torch.log(torch.special.i0e(kappa))
    )
    return torch.logsumexp(log_w + log_comp, dim=-1)


@dataclass
class GFNResult:
    """Final samples and the training record of one run."""

    angles: np.ndarray
    energies: np.ndarray
    calls: int
    wall_s: float
    lowest_energy: float
    history: list[dict[str, float]] = field(default_factory=list)


def train_gfn(
    energy: Callable[[np.ndarray], np.ndarray],
    dim: int,
    n_samples: int,
    settings: GFNSettings,
    seed: int,
    e_ref: float = 0.0,
    calls: Callable[[], int] | None = None,
    start_state: np.ndarray | None = None,
    on_record: Callable[[dict[str, float]], None] | None = None,
) -> tuple[TorsionPolicy, GFNResult]:
    """Train a :class:`TorsionPolicy` on ``exp(−(E − e_ref)/kT)`` and draw ``n_samples``.

    Args:
        energy: energies (kcal/mol) of states ``(n, d)``, e.g. ``TorsionEnvironment.energies``.
        dim: number of torsions.
        n_samples: final samples (their energy calls are part of ``settings.budget``).
        settings: sizes, budget and temperatures.
        seed: seeds the weights and every draw; the same seed gives the same result.
        e_ref: reference energy (kcal/mol), e.g. the starting conformer's.
        calls: the energy calls used so far (default: the states evaluated here).
        start_state: a known state (e.g. the embedded conformer's torsions) put in the replay
            buffer first.
        on_record: called with each record of the training history (every 10 steps).

    Raises:
        ValueError: the budget does not leave room for one training batch.
    """
    if settings.budget < n_samples + settings.batch:
        raise ValueError(
            f"an energy-call budget of {settings.budget} leaves no room to train before "
            f"drawing {n_samples} samples (need at least {n_samples + settings.batch})"
        )
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    counted = [0]

    def evaluate(states: np.ndarray) -> np.ndarray:
        counted[0] += len(states)
        return np.asarray(energy(states), dtype=np.float64)

    used = calls or (lambda: counted[0])
    with torch_settings(threads=0), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy = TorsionPolicy(dim, settings.hidden, settings.layers, settings.components)
        net = [p for name, p in policy.named_parameters() if name != "log_z"]
        opt = torch.optim.Adam(net, lr=settings.lr)
        opt_z = torch.optim.Adam([policy.log_z], lr=settings.lr_z)
        train_calls = settings.budget - n_samples
        buffer_x: list[np.ndarray] = []
        buffer_e: list[np.ndarray] = []
        history: list[dict[str, float]] = []
        step = 0
        if start_state is not None:  # a known good state seeds the buffer
            buffer_x.append(np.atleast_2d(start_state))
            buffer_e.append(evaluate(buffer_x[0]))
        while used() + settings.batch <= train_calls:
            progress = used() / max(train_calls * settings.anneal, 1)
            frac = min(progress, 1.0)
            temp = settings.t_start_k * (settings.temperature_k / settings.t_start_k) ** frac
            eps = settings.epsilon * (1.0 - frac)
            n_local = int(round(settings.batch * settings.local)) if buffer_x else 0
            states = policy.sample(settings.batch - n_local, rng, eps)
            if n_local:
                all_x, all_e = np.concatenate(buffer_x), np.concatenate(buffer_e)
                parents = _perturb(all_x, all_e, 1.0 / kt(temp), n_local, rng)
                states = np.concatenate([states, parents])
            energies = evaluate(states)
            buffer_x.append(states)
            buffer_e.append(energies)
            all_x, all_e = np.concatenate(buffer_x), np.concatenate(buffer_e)
            beta = 1.0 / kt(temp)
            if step == 0:  # start log Z where the first batch puts it
                with torch.no_grad():
                    log_pf = policy.log_prob(torch.as_tensor(states, dtype=torch.float32))
                    log_r0 = np.maximum(-(energies - e_ref) * beta, -settings.log_reward_floor)
                    policy.log_z.fill_(float(np.mean(log_r0) - log_pf.mean().item()))
            for _ in range(settings.updates):
                replay = _replay(all_e, beta, settings.replay, rng)
                x = np.concatenate([states, all_x[replay]])
                e = np.concatenate([energies, all_e[replay]])
                log_r = np.maximum(-(e - e_ref) * beta, -settings.log_reward_floor)
                loss = trajectory_balance(
                    policy.log_z,
                    policy.log_prob(torch.as_tensor(x, dtype=torch.float32)),
                    torch.as_tensor(log_r, dtype=torch.float32),
                ).mean()
                opt.zero_grad()
                opt_z.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), 10.0)
                opt.step()
                opt_z.step()
            step += 1
            if step % 10 == 0:
                history.append(
                    {
                        "step": step,
                        "calls": used(),
                        "temperature_k": temp,
                        "loss": float(loss.item()),
                        "log_z": float(policy.log_z.item()),
                        "lowest_energy": float(all_e.min()),
                    }
                )
                if on_record is not None:
                    on_record(history[-1])
        final = policy.sample(n_samples, rng)
        final_e = evaluate(final)
    lowest = float(min([final_e.min(), *(e.min() for e in buffer_e)]))
    result = GFNResult(final, final_e, used(), time.perf_counter() - start, lowest, history)
    return policy, result


def _boltzmann_choice(
    energies: np.ndarray, beta: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` indices drawn with probability ``∝ exp(−β E)``: buffered states in proportion to
    the target itself, so a second basin a little above the first is still replayed."""
    log_w = -(energies - energies.min()) * beta
    w = np.exp(log_w)
    return rng.choice(len(energies), size=n, p=w / w.sum())


def _replay(energies: np.ndarray, beta: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` buffered states: half drawn by Boltzmann weight, half uniform."""
    half = n // 2
    return np.concatenate(
        [_boltzmann_choice(energies, beta, half, rng), rng.integers(0, len(energies), n - half)]
    )


def _perturb(
    states: np.ndarray, energies: np.ndarray, beta: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` new states: buffered ones drawn by Boltzmann weight with one to three torsions
    moved (normal steps of 0.5 rad, or a uniform angle one time in five)."""
    out = states[_boltzmann_choice(energies, beta, n, rng)].copy()
    d = out.shape[1]
    for row in out:
        k = rng.choice(d, size=min(d, int(rng.integers(1, 4))), replace=False)
        jump = rng.random(len(k)) < 0.2
        step = row[k] + rng.normal(0.0, 0.5, len(k))
        row[k] = np.where(jump, rng.uniform(-np.pi, np.pi, len(k)), step)
    return np.pi - np.mod(np.pi - out, 2 * np.pi)
