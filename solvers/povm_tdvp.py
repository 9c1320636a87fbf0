r"""Time-dependent variational principle for POVM probabilities, with adaptive Heun steps.

Reh, Schmitt & Gärttner, PRL 127, 230501 (2021) (the jVMC POVM solver; ``physics/povm.md`` §6).
Requiring :math:`\partial_tP_\theta\approx\mathcal LP_\theta` in the Fisher (:math:`\chi^2`) metric,

.. math::

    \min_{\dot\theta}\ \mathbb E_P\Big[\big(\textstyle\sum_kO_k\dot\theta_k
        - L_\mathrm{loc}\big)^2\Big]\;\Rightarrow\; S\dot\theta = F,\qquad
    S_{kk'} = \langle\Delta O_k\Delta O_{k'}\rangle_P,\quad
    F_k = \langle\Delta O_k\,\Delta L_\mathrm{loc}\rangle_P,

with :math:`O_k = \partial_{\theta_k}\log P_\theta`, :math:`L_\mathrm{loc} = (\mathcal LP)/P` and
connected (centred) moments; everything is real. The residual diagnostic is

.. math::

    \mathrm{tdvp\_error} = \big|1 + (\dot\theta^TS\dot\theta - 2\dot\theta^TF)
        /\mathrm{Var}(L_\mathrm{loc})\big|,

the relative error of the projection.

**Regularisation** (jVMC's adaptive pseudo-inverse; our implementation). With
:math:`S = V\Sigma V^T` and :math:`\phi = V^TF`, modes with :math:`\sigma/\sigma_\max < 10^{-14}`
are dropped and the others inverted as

.. math::

    \tilde\sigma_k^{-1} = \frac{\sigma_k^{-1}}{\big(1 + (\epsilon\,\sigma_\max/\sigma_k)^6\big)
        \big(1 + (\mathrm{snr\_tol}/\mathrm{SNR}_k)^6\big)},\qquad
    \mathrm{SNR}_k = \sqrt{N_s\,\phi_k^2/\mathrm{Var}_s(\rho_{sk})},\quad
    \rho_{sk} = (V^T\Delta O_s)_k\,\Delta L_{\mathrm{loc},s},

the signal-to-noise filter of Schmitt & Heyl, PRL 125, 100503 (2020) (skipped for exact
enumeration). :math:`\epsilon` starts at :math:`10^{-2}` and shrinks by 0.8 until the relative
residual :math:`\lVert(\tilde\sigma^{-1}\sigma - 1)\phi\rVert/\lVert F\rVert \le` ``pinv_tol`` or
:math:`\epsilon \le` ``pinv_cutoff``.

**Adaptive Heun** (step doubling, as jVMC): one Heun step of :math:`\Delta t` is compared with two
of :math:`\Delta t/2` (5 right-hand sides); the error :math:`e = v^TSv`, :math:`v` the difference
of the two updates, is a squared distance in the Fisher metric (distribution space, not raw
parameter space). The step is accepted if :math:`e\le` ``tol``; either way the next step is
:math:`\Delta t\cdot\mathrm{clip}(0.9(\mathrm{tol}/e)^{1/3}, 0.2, 2)`, at most ``max_dt``. Steps are
shortened to land exactly on the save times. Each right-hand side draws fresh samples.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from nqs.errors import NonFiniteError, NQSError, non_negative_float, positive_float
from solvers.povm_losses import local_estimator


@dataclasses.dataclass(frozen=True)
class OpenTDVPOptions:
    r"""Options of the POVM TDVP integrator (:mod:`solvers.povm_tdvp`).

    Args:
        adaptive: adaptive Heun with step doubling (default) or fixed Heun steps of ``dt``.
        tol: adaptive only: accepted error :math:`v^TSv` per step (default ``1e-6``). With samples,
            the estimate contains Monte Carlo noise, so a ``tol`` below the noise level makes
            the steps shrink; raise ``tol`` or the number of samples.
        max_dt: adaptive only: largest step (default: the save interval).
        min_dt: adaptive only: the run stops if the step falls below this (default ``1e-7``).
        snr_tol: signal-to-noise threshold of the filter (default 2; ignored for enumeration).
        pinv_tol: target relative residual of the regularised solve (default ``1e-14``).
        pinv_cutoff: smallest relative cutoff :math:`\epsilon` (default ``1e-8``).
        diag_shift: optional shift added to the diagonal of :math:`S` (default 0).
    """

    adaptive: bool = True
    tol: float = 1e-6
    max_dt: float | None = None
    min_dt: float = 1e-7
    snr_tol: float = 2.0
    pinv_tol: float = 1e-14
    pinv_cutoff: float = 1e-8
    diag_shift: float = 0.0

    def __post_init__(self):
        if not isinstance(self.adaptive, bool):
            raise NQSError(f"adaptive must be True or False, got {self.adaptive!r}.")
        positive_float("tol", self.tol)
        positive_float("min_dt", self.min_dt)
        if self.max_dt is not None:
            positive_float("max_dt", self.max_dt)
        positive_float("snr_tol", self.snr_tol)
        positive_float("pinv_cutoff", self.pinv_cutoff)
        for name in ("pinv_tol", "diag_shift"):
            non_negative_float(name, getattr(self, name))

    def hyper(self) -> dict:
        return {
            k: jnp.asarray(float(getattr(self, k)))
            for k in ("snr_tol", "pinv_tol", "pinv_cutoff", "diag_shift")
        }


def _regularised_solve(F, phi_second_moment, n_samples, ev, V, hyper, exact):
    r"""Regularised :math:`\dot\theta = V\tilde\sigma^{-1}V^TF`; ``phi_second_moment`` is the
    sample mean of :math:`\rho_{sk}^2` (its variance is that minus :math:`\phi_k^2`)."""
    phi = V.T @ F
    ev_max = jnp.max(jnp.abs(ev))
    rel = ev / jnp.where(ev_max > 0, ev_max, 1.0)
    keep = rel > 1e-14
    safe_rel = jnp.where(keep, rel, 1.0)
    inv = jnp.where(keep, 1.0 / jnp.where(keep, ev, 1.0), 0.0)
    if exact:
        snr_factor = jnp.ones_like(ev)
        snr = jnp.full_like(ev, jnp.inf)
    else:
        var = jnp.maximum(phi_second_moment - phi**2, 0.0)
        snr = jnp.sqrt(n_samples * phi**2 / jnp.maximum(var, 1e-300))
        snr_factor = 1.0 / (1.0 + (hyper["snr_tol"] / jnp.maximum(snr, 1e-300)) ** 6)
    f_norm = jnp.maximum(jnp.linalg.norm(F), 1e-300)

    def pinv(cutoff):
        cutoff = jnp.maximum(cutoff, hyper["pinv_cutoff"])
        return inv * snr_factor / (1.0 + (cutoff / safe_rel) ** 6)

    def residual(cutoff):
        return jnp.linalg.norm((pinv(cutoff) * ev - 1.0) * phi) / f_norm

    def cond(c):
        cutoff, res = c
        return (res > hyper["pinv_tol"]) & (cutoff > hyper["pinv_cutoff"])

    def body(c):
        cutoff = 0.8 * c[0]
        return cutoff, residual(cutoff)

    cutoff, _ = jax.lax.while_loop(cond, body, (jnp.asarray(1e-2), jnp.asarray(jnp.inf)))
    theta_dot = V @ (pinv(cutoff) * phi)
    return theta_dot, snr


def tdvp_rhs(ensemble, unravel, generator, theta, key, hyper):
    r""":math:`\dot\theta = \tilde S^{-1}F` at the flat parameters ``theta``.

    Returns:
        ``(theta_dot, S, diagnostics)`` with ``tdvp_error``, ``solve_residual``
        (:math:`\lVert S\dot\theta - F\rVert/\lVert F\rVert`) and ``lloc_variance``.
    """
    model = ensemble.model
    params = unravel(theta)
    x = ensemble.draw({"params": params}, key)
    if ensemble.lookup and not ensemble.exact:
        # Every sum over samples is a sum over the 4^N distinct strings weighted by their
        # sample frequency: the same numbers for a fraction of the work (solvers.povm_ensemble).
        points = jnp.asarray(ensemble.strings, dtype=x.dtype)
        counts = jax.ops.segment_sum(
            jnp.ones(x.shape[0]), ensemble.string_index(x), num_segments=points.shape[0]
        )
        w = counts / x.shape[0]
    else:
        points, w = x, None

    def log_p_single(th, a):
        return model.apply({"params": unravel(th)}, a[None])[0]

    jac = jax.vmap(jax.grad(log_p_single), in_axes=(None, 0))(theta, points)  # O_k(a), (B, n_p)
    l_loc, log_p = local_estimator(ensemble, params, generator, points)
    w = ensemble.weights(log_p) if w is None else w.astype(log_p.dtype)
    dO = jac - w @ jac
    dL = l_loc - w @ l_loc
    S = (dO * w[:, None]).T @ dO
    S = S + hyper["diag_shift"] * jnp.eye(S.shape[0], dtype=S.dtype)
    F = (dO * w[:, None]).T @ dL
    var_l = w @ dL**2
    ev, V = jnp.linalg.eigh(S)
    # Per-sample projected force rho_sk = (V^T dO_s)_k dL_s, for the SNR filter.
    phi_second_moment = None if ensemble.exact else w @ ((dO @ V) * dL[:, None]) ** 2
    n_samples = None if ensemble.exact else ensemble.n_samples
    theta_dot, _ = _regularised_solve(F, phi_second_moment, n_samples, ev, V, hyper, ensemble.exact)
    S_dot = S @ theta_dot
    error = jnp.abs(1.0 + (theta_dot @ S_dot - 2.0 * theta_dot @ F) / jnp.maximum(var_l, 1e-300))
    diagnostics = {
        "tdvp_error": error,
        "solve_residual": jnp.linalg.norm(S_dot - F) / jnp.maximum(jnp.linalg.norm(F), 1e-300),
        "lloc_variance": var_l,
    }
    return theta_dot, S, diagnostics


# Explicit stages as Butcher-like tables (units of dt). Heun: two stages. Step doubling (as
# jVMC): stages 0-1 are one Heun step of dt, stages 0, 2-4 two Heun steps of dt/2 (stage 0 shared).
_HEUN = (np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0.5, 0.5]), None)
_DOUBLING = (
    np.array(
        [
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [0.5, 0.0, 0.0, 0.0, 0.0],
            [0.25, 0.0, 0.25, 0.0, 0.0],
            [0.25, 0.0, 0.25, 0.5, 0.0],
        ]
    ),
    np.array([0.25, 0.0, 0.25, 0.25, 0.25]),  # two half steps: the accepted update
    np.array([0.5, 0.5, 0.0, 0.0, 0.0]),  # one full step: for the error estimate
)


def _staged_step(rhs, theta, key, dt, table):
    """Evaluate the stages in one ``lax.scan`` (the right-hand side is traced once).

    Returns the update, the Fisher matrix and diagnostics of stage 0 (at ``theta``), and the
    step-doubling error :math:`v^TSv` (zero for plain Heun).
    """
    a, b, b_check = table
    n_stages = a.shape[0]
    keys = jax.random.split(key, n_stages)
    k = jnp.zeros((n_stages, theta.shape[0]), theta.dtype)

    def stage(carry, i):
        k, S0, diag0 = carry
        k_i, S, diag = rhs(theta + dt * (jnp.asarray(a, theta.dtype)[i] @ k), keys[i])
        first = i == 0
        S0 = jnp.where(first, S, S0)
        diag0 = jax.tree.map(lambda new, old: jnp.where(first, new, old), diag, diag0)
        return (k.at[i].set(k_i), S0, diag0), None

    _, S_shape, diag_shape = jax.eval_shape(rhs, theta, keys[0])
    zeros = partial(jax.tree.map, lambda s: jnp.zeros(s.shape, s.dtype))
    init = (k, zeros(S_shape), zeros(diag_shape))
    (k, S0, diag0), _ = jax.lax.scan(stage, init, jnp.arange(n_stages))
    new = theta + dt * (jnp.asarray(b, theta.dtype) @ k)
    if b_check is None:
        return new, S0, diag0, jnp.zeros((), theta.dtype)
    v = dt * (jnp.asarray(b - b_check, theta.dtype) @ k)
    return new, S0, diag0, jnp.abs(v @ (S0 @ v))


def _attempt(ensemble, adaptive, generator, params, key, dt, hyper):
    """One (adaptive: doubled) Heun step of the parameter tree: ``(params, error, diag)``."""
    theta, unravel = ravel_pytree(params)
    dt = jnp.asarray(dt, theta.dtype)  # float32 models stay float32
    rhs = partial(tdvp_rhs, ensemble, unravel, generator, hyper=hyper)
    new, _, diag, error = _staged_step(rhs, theta, key, dt, _DOUBLING if adaptive else _HEUN)
    return unravel(new), error, diag


# Compiled once per (ensemble, adaptive) and parameter structure, shared between runs.
_compiled_attempt = jax.jit(_attempt, static_argnums=(0, 1))


class TDVPStepper:
    """Advances the parameters by TDVP, landing exactly on the requested stop times.

    Args:
        ensemble: points and weights of the estimators.
        dt: the fixed step, or the first step of the adaptive integrator.
        options: :class:`OpenTDVPOptions`.
        max_dt: default largest adaptive step (the save interval).
    """

    def __init__(self, ensemble, dt: float, options: OpenTDVPOptions, max_dt: float):
        self.options = options
        self.dt = float(dt)
        self.max_dt = float(options.max_dt or max_dt)
        self.dt_proposal = min(self.dt, self.max_dt)
        self._hyper = options.hyper()
        self._attempt = partial(_compiled_attempt, ensemble, options.adaptive)

    def state(self) -> dict:
        return {"dt_proposal": self.dt_proposal}

    def restore(self, state: dict) -> None:
        self.dt_proposal = float(state["dt_proposal"])

    def advance(self, generator, params, key, t: float, t_stop: float):
        """One accepted step from ``t`` towards ``t_stop``: ``(params, t_new, diagnostics)``."""
        remaining = t_stop - t
        if not self.options.adaptive:
            dt = remaining if remaining < 1.5 * self.dt else self.dt
            params, _, diag = self._attempt(generator, params, key, jnp.asarray(dt), self._hyper)
            t_new = t_stop if dt == remaining else t + dt
            return params, t_new, {**_floats(diag), "dt": dt}
        tol, rejected = self.options.tol, 0
        while True:
            clipped = self.dt_proposal >= 0.99 * remaining
            dt = remaining if clipped else self.dt_proposal
            sub = jax.random.fold_in(key, rejected)
            new, error, diag = self._attempt(generator, params, sub, jnp.asarray(dt), self._hyper)
            error = float(error)
            if not np.isfinite(error):
                raise NonFiniteError(
                    f"non-finite TDVP step at t = {t:.6g}; lower dt or raise the number of "
                    "samples or snr_tol"
                )
            factor = min(max(0.9 * (tol / max(error, 1e-300)) ** (1 / 3), 0.2), 2.0)
            if error <= tol:
                proposal = dt * factor
                if clipped:  # a step shortened to land on a save time says little about the next
                    proposal = max(proposal, self.dt_proposal)
                self.dt_proposal = min(proposal, self.max_dt)
                t_new = t_stop if clipped else t + dt
                extra = {"dt": dt, "integration_error": error, "rejected": rejected}
                return new, t_new, {**_floats(diag), **extra}
            rejected += 1
            self.dt_proposal = dt * factor
            if self.dt_proposal < self.options.min_dt:
                raise NonFiniteError(
                    f"the adaptive step fell below min_dt = {self.options.min_dt:g} at "
                    f"t = {t:.6g} (error {error:.3g} > tol {tol:g}); raise tol or n_samples"
                )


def _floats(tree) -> dict:
    return {k: float(v) for k, v in jax.device_get(tree).items()}
