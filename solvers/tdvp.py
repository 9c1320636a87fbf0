r"""TDVP time steps with NetKet's ``TDVPSchmitt`` (SNR-regularised, real-parameter geometry).

.. math::

    \mathrm{Re}[S]\,\dot\theta = \mathrm{Im}[F],\qquad
    S_{kk'} = \langle \Delta O_k^* \Delta O_{k'}\rangle,\quad
    F_k = \langle \Delta O_k^* E_\mathrm{loc}\rangle,

solved through the eigendecomposition of :math:`S` with the signal-to-noise cut-off of Schmitt &
Heyl, PRL 125, 100503 (2020), and integrated with NetKet's explicit Runge–Kutta schemes.
``holomorphic=False`` always: complex autoregressive networks are not holomorphic (NetKet
normalises on :math:`\mathrm{Re}\log\psi`), and plain TDVP diverges for them (dynamics.md §2).

We drive NetKet's integrator one step at a time instead of calling ``driver.run``: each step is
clipped to end exactly on the next save time (what ``tstops`` does inside ``run``; NetKet's
adaptive integrators otherwise overshoot, netket_facts.md §5), and the number of steps is exact
(``run`` can add one spurious step when rounding leaves the time one ulp short of a stop).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket.experimental as nkx
import numpy as np
from netket.experimental.driver.tdvp_common import odefun

from nqs.errors import NonFiniteError, NQSError
from nqs.io import flat_to_state, state_to_flat
from solvers.evolve_options import TDVPOptions
from solvers.tdvp_mixture import MixtureTDVP

_SOLVERS = {"rk4": nkx.dynamics.RK4, "rk23": nkx.dynamics.RK23, "rk45": nkx.dynamics.RK45}


def _finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(tree))


class TDVPStepper:
    """Advance an ``MCState`` with ``TDVPSchmitt`` to prescribed times.

    Args:
        hamiltonian: the generator (time independent).
        vstate: the ``nk.vqs.MCState`` to evolve (modified in place).
        dt: the fixed step (``"rk4"``) or the initial step (adaptive integrators).
        options: :class:`~solvers.evolve_options.TDVPOptions`.
    """

    def __init__(self, hamiltonian, vstate, dt: float, options: TDVPOptions, seed: int = 0):
        self.options = options
        self.dt = float(dt)
        if options.adaptive:
            solver = _SOLVERS[options.integrator](dt, rtol=options.rtol, atol=options.atol)
        else:
            solver = _SOLVERS[options.integrator](dt)
        regularisation = dict(holomorphic=False, diag_shift=options.diag_shift,
                              snr_atol=options.snr_atol, rcond_smooth=options.rcond_smooth)
        if options.mixing > 0:
            if any(jnp.iscomplexobj(x) for x in jax.tree.leaves(vstate.parameters)):
                raise NQSError(
                    "TDVP with mixing > 0 needs a model with real parameters; use "
                    "param_dtype=float64 or mixing=0."
                )
            self.driver = MixtureTDVP(hamiltonian, vstate, solver, mixing=options.mixing,
                                      seed=seed, **regularisation)
        else:
            self.driver = nkx.driver.TDVPSchmitt(hamiltonian, vstate, solver, **regularisation)

    @property
    def state(self):
        return self.driver.state

    @property
    def t(self) -> float:
        return float(self.driver.integrator.t)

    def advance(self, t_target: float) -> list[dict]:
        """Integrate to ``t_target`` exactly; one diagnostics dict per accepted step."""
        rows, rejected = [], 0
        while t_target - self.t > 1e-9 * self.dt:
            accepted, info = self._attempt(t_target - self.t)
            if not accepted:
                rejected += 1
                continue
            info.update(time=self.t, rejected=rejected)
            rows.append(info)
            rejected = 0
        return rows

    def _attempt(self, max_dt: float) -> tuple[bool, dict]:
        driver = self.driver
        integrator = driver.integrator
        first_stage = {}

        def f(t, w, *, stage=0):
            dw = odefun(driver.state, driver, t, w, stage=stage)
            if stage == 0:
                first_stage["residual"] = float(driver._rmd)
            return dw

        # Bound here, not at construction: restoring a checkpoint creates a new driver.
        integrator.f = f
        integrator.norm = driver.error_norm
        t_before = self.t
        parameters = driver.state.parameters
        accepted = bool(integrator.step(max_dt=max_dt))
        if not (np.isfinite(first_stage.get("residual", 0.0)) and _finite(integrator.y)):
            driver.state.parameters = parameters  # keep the last good state
            raise NonFiniteError(f"non-finite TDVP solution in the step from t={t_before:.6g}")
        driver.state.parameters = integrator.y
        return accepted, {"dt": self.t - t_before if accepted else 0.0, **first_stage}

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        # Without cached samples NetKet stores the current sampler key (with cached samples it
        # stores the previous one), so a restored run draws exactly the samples this one will.
        self.driver.state.reset()
        return state_to_flat(self.driver)

    def restore(self, flat: dict) -> None:
        self.driver = flat_to_state(self.driver, flat)
