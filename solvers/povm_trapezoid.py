r"""Forward–backward trapezoid (Crank–Nicolson) step of a POVM distribution with the L1 loss.

Luo, Chen, Carrasquilla & Clark, PRL 128, 090501 (2022), following their public code
(``physics/povm.md`` §5). **Convention: the physical step is** :math:`\Delta t = 2\tau`; the
``dt`` passed here is :math:`\Delta t`, and :math:`\tau = \Delta t/2` enters the loss

.. math::

    C(\theta) = \sum_a\big|P_\theta(a) - \tau(\mathcal LP_\theta)(a)
        - P_{\bar\theta}(a) - \tau(\mathcal LP_{\bar\theta})(a)\big|,

whose zero is the implicit trapezoid rule :math:`P(t+\Delta t) = (1-\tau\mathcal L)^{-1}
(1+\tau\mathcal L)P(t)` (second order, A-stable). :math:`\bar\theta` is the frozen state at
:math:`t`; :math:`\theta` starts there (warm start) and is optimised with Adam (Kingma & Ba 2015),
re-created at every time step, on fresh exact samples at every iteration and the unbiased
gradient of :func:`solvers.povm_losses.trapezoid_l1`.

The stepper is optimiser-limited, not discretisation-limited (povm.md §5 calibration): Adam on
the non-smooth L1 residual stalls at a per-step floor. Decaying the learning rate *inside* each
step (default :math:`10^{-2}` for 80 iterations, :math:`10^{-3}` for 60, :math:`10^{-4}` for 60)
lowers the floor by an order of magnitude; the per-step residual :math:`\lVert r\rVert_1`
(estimated on fresh samples after the step) is returned for monitoring.

Every numeric option is a traced argument of one compiled function: a time step compiles once,
and changing ``dt``, a learning rate or ``tol`` does not recompile.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nqs.errors import NQSError, non_negative_float, positive_float, positive_int
from solvers.povm_losses import trapezoid_l1


@dataclasses.dataclass(frozen=True)
class OpenTrapezoidOptions:
    r"""Inner optimisation of one trapezoid step (:mod:`solvers.povm_trapezoid`).

    Args:
        learning_rates: Adam learning rates of the successive stages of each step.
        iterations: iterations of each stage (same length); their sum is the maximum per step.
        tol: stop the step early once the loss estimate :math:`\hat C\le` ``tol`` (default 0:
            never; with samples the estimate is noisy, so keep it well above the noise floor).
        b1, b2, eps: Adam's :math:`\beta_1, \beta_2, \epsilon` (defaults 0.9, 0.98, 1e-9: the
            public code of Luo et al.).

    Example:
        >>> OpenTrapezoidOptions(learning_rates=(1e-2, 1e-3), iterations=(50, 50)).max_iterations
        100
    """

    learning_rates: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
    iterations: tuple[int, ...] = (80, 60, 60)
    tol: float = 0.0
    b1: float = 0.9
    b2: float = 0.98
    eps: float = 1e-9

    def __post_init__(self):
        rates = tuple(np.atleast_1d(self.learning_rates).tolist())
        iters = tuple(np.atleast_1d(self.iterations).tolist())
        if len(rates) != len(iters) or not rates:
            raise NQSError(
                f"learning_rates {rates} and iterations {iters} must have the same, non-zero "
                "length: one learning rate per stage of the in-step schedule."
            )
        rates = tuple(positive_float("learning_rates", r) for r in rates)
        iters = tuple(positive_int("iterations", i) for i in iters)
        non_negative_float("tol", self.tol)
        for name in ("b1", "b2"):
            if not 0 <= getattr(self, name) < 1:
                raise NQSError(f"{name} must lie in [0, 1), got {getattr(self, name)!r}.")
        positive_float("eps", self.eps)
        object.__setattr__(self, "learning_rates", rates)
        object.__setattr__(self, "iterations", iters)

    @property
    def max_iterations(self) -> int:
        return int(sum(self.iterations))

    def hyper(self) -> dict:
        """The traced numeric arguments of the compiled step."""
        return {
            "learning_rates": jnp.asarray(self.learning_rates),
            "boundaries": jnp.cumsum(jnp.asarray(self.iterations)),
            "tol": jnp.asarray(float(self.tol)),
            "b1": jnp.asarray(float(self.b1)),
            "b2": jnp.asarray(float(self.b2)),
            "eps": jnp.asarray(float(self.eps)),
        }


def make_trapezoid_step(ensemble):
    """The compiled step ``f(generator, params, key, dt, hyper) -> (params, diagnostics)``
    (compiled once per ensemble and parameter structure, shared between runs).

    ``diagnostics``: ``residual`` (:math:`\\hat C` after the step, fresh samples) and
    ``residual_error``, ``residual_initial`` (:math:`\\hat C` of the unmoved state: the size of
    the step's change) and ``iterations``.
    """
    return partial(_compiled_step, ensemble)


def _trapezoid_step(ensemble, generator, params, key, dt, hyper):
    tau = 0.5 * dt  # the physical step is 2 tau (module docstring)
    frozen = params
    adam = optax.scale_by_adam(b1=hyper["b1"], b2=hyper["b2"], eps=hyper["eps"])
    max_iterations = hyper["boundaries"][-1]
    loss_and_grad = jax.value_and_grad(
        lambda p, x: trapezoid_l1(ensemble, generator, p, frozen, x, tau), has_aux=True
    )

    def learning_rate(k):
        stage = jnp.sum(k >= hyper["boundaries"][:-1])
        return hyper["learning_rates"][stage]

    def cond(carry):
        _, _, _, k, loss, _ = carry
        return (k < max_iterations) & (loss > hyper["tol"])

    def body(carry):
        params, opt_state, key, k, _, first = carry
        key, sub = jax.random.split(key)
        x = ensemble.draw({"params": params}, sub)
        (loss, _), grads = loss_and_grad(params, x)
        updates, opt_state = adam.update(grads, opt_state, params)
        # Leave the parameters alone once the target is met (the loss is that of `params`).
        scale = jnp.where(loss > hyper["tol"], -learning_rate(k), 0.0)
        params = jax.tree.map(lambda p, u: (p + scale * u).astype(p.dtype), params, updates)
        first = jnp.where(k == 0, loss, first)
        return params, opt_state, key, k + 1, loss, first

    key, loop_key, final_key = jax.random.split(key, 3)
    inf = jnp.asarray(jnp.inf)
    carry = (params, adam.init(params), loop_key, jnp.asarray(0), inf, inf)
    params, _, _, iterations, _, first = jax.lax.while_loop(cond, body, carry)

    x = ensemble.draw({"params": params}, final_key)
    residual, (error, _) = trapezoid_l1(ensemble, generator, params, frozen, x, tau)
    diagnostics = {
        "residual": residual,
        "residual_error": error,
        "residual_initial": first,
        "iterations": iterations,
    }
    return params, diagnostics


_compiled_step = jax.jit(_trapezoid_step, static_argnums=0)


class TrapezoidStepper:
    """Fixed steps of :math:`\\Delta t` = ``dt`` (:math:`\\tau = \\Delta t/2`), landing exactly on
    the requested stop times (``dt`` divides the save interval; checked by the caller).

    Args:
        ensemble: points and weights of the estimators.
        dt: the physical step :math:`\\Delta t`.
        options: :class:`OpenTrapezoidOptions`.
    """

    def __init__(self, ensemble, dt: float, options: OpenTrapezoidOptions):
        self.dt = float(dt)
        self.options = options
        self._hyper = options.hyper()
        self._step = make_trapezoid_step(ensemble)

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass

    def advance(self, generator, params, key, t: float, t_stop: float):
        """One step from ``t``: ``(params, t_new, diagnostics)``."""
        remaining = t_stop - t
        dt = remaining if remaining < 1.5 * self.dt else self.dt
        params, diag = self._step(generator, params, key, jnp.asarray(dt), self._hyper)
        diag = {k: float(v) for k, v in jax.device_get(diag).items()}
        return params, (t_stop if dt == remaining else t + dt), {**diag, "dt": dt}
