r"""Implicit trapezoid (Crank–Nicolson) time step of an autoregressive state, solved variationally.

**The step** (dynamics.md §3.1). With the *physical* time step :math:`\tau` (``dt``; in the POVM
code's convention the physical step is :math:`2\tau`, not here) and :math:`\hbar = 1`,

.. math::

    \underbrace{(1 + \tfrac{i\tau}{2} H)}_{A}\,\psi_{\theta(t+\tau)}
        \;=\; \underbrace{(1 - \tfrac{i\tau}{2} H)}_{B}\,\psi_{\theta(t)} .

Its exact solution is the Cayley transform :math:`U_\mathrm{CN} = A^{-1}B`, the (1,1) Padé
approximant of :math:`e^{-i\tau H}`: exactly unitary, commuting with :math:`H` (so the norm,
:math:`\langle H\rangle` and :math:`\langle H^2\rangle` are conserved), A-stable, second order
(each eigenphase :math:`e^{-iE\tau}` becomes :math:`e^{-2i\arctan(E\tau/2)}`; observables err by
:math:`O(\tau^2)` at fixed :math:`t`).

**The loss** (dynamics.md §3.2, L2 form). The new parameters minimise

.. math::

    C(\theta) = \lVert A\psi_\theta - B\psi_t \rVert^2
              = \sum_x |r_\theta(x)|^2
              = \mathbb E_{x\sim q}\Big[\frac{|r_\theta(x)|^2}{q(x)}\Big],\qquad
    r_\theta(x) = \psi_\theta(x) - \psi_t(x) + \tfrac{i\tau}{2}\sum_y H_{xy}
                  \big(\psi_\theta(y) + \psi_t(y)\big),

with :math:`(H\psi)(x) = \sum_y H_{xy}\psi(y)` from ``get_conn_padded`` (no local energies, so no
division by the amplitude of a connected configuration) and :math:`\psi_t` a frozen copy. We use
the L2 form rather than the fidelity form because (i) autoregressive states are exactly
normalised, so the global phase is fixed by continuity from the previous step and the L2 distance
is a proper target; (ii) its Monte Carlo estimator and its gradient are *unbiased* for any fixed
proposal, whereas the fidelity form is a ratio of means with an :math:`O(1/N_s)` bias; and (iii)
it is a plain least-squares problem, :math:`C = \lVert R\rVert^2`, which the Gauss–Newton-type
inner solvers exploit.

**Unbiased gradient.** For a proposal :math:`q` held fixed under differentiation,
:math:`\nabla_\theta C = \mathbb E_q[\nabla_\theta |r_\theta(x)|^2 / q(x)]`. We draw fresh exact
autoregressive samples at *every* inner iteration, from one of two exactly evaluable proposals:

* ``proposal="connected"`` (default): :math:`x \sim |\psi_t|^2`, and half of the samples moved
  to a configuration connected to them by :math:`H`, chosen uniformly:
  :math:`q(z) = \tfrac12 p_t(z) + \tfrac12\sum_{y\in C(z)} p_t(y)/|C(y)|` with
  :math:`p_t = |\psi_t|^2` and :math:`C(y)` the configurations connected to :math:`y`. It covers
  the support of :math:`B\psi_t = \psi_t - \tfrac{i\tau}2H\psi_t` *by construction*, also where
  :math:`\psi_t` is (nearly) zero: from a basis state, or at a node of the wave function, the
  state proposal never samples the configurations the new state must populate, and the
  sampled loss then sees no residual at all (the step is frozen).
* ``proposal="state"``: the detached current state, :math:`q = |\psi_{\bar\theta}|^2`
  (dynamics.md §3.2), cheaper, adequate when the amplitudes are spread out.

Inside a sector the constraint mask keeps every allowed amplitude positive and H maps the sector
to itself, so both proposals stay in the sector. The scaled residuals
:math:`R_i = r_\theta(x_i)/\sqrt{N_s\,q(x_i)}` give :math:`\hat C = \sum_i |R_i|^2`; every
ratio is evaluated as :math:`\exp(\log\psi(y) - \tfrac12\log N_s q(x))` in log space.

**Inner solvers** (re-created at every time step, warm start :math:`\theta \leftarrow \theta_t`),
all damped in the scale-free way :math:`\lambda\bar d` with :math:`\bar d` the mean diagonal of
:math:`JJ^T`, solved in sample space like MinSR (Chen & Heyl, Nat. Phys. 20, 1476 (2024);
the p-tVMC inner solver of Sinibaldi et al., Quantum 7, 1131 (2023)),
:math:`\delta\theta = -\eta\,J^T(JJ^T + \lambda\bar d)^{-1}\rho` (or the parameter-space form
when :math:`n_p < 2N_s`), with a Levenberg–Marquardt rule: a step that would raise the fitted
loss on the iteration's samples is not taken and :math:`\lambda` grows tenfold, an accepted one
divides it by 3 (down to ``diag_shift``):

* ``"natural_gradient"`` (default): Picard iteration on the implicit equation written as
  :math:`\psi = \phi[\psi]`, :math:`\phi[\psi] = B\psi_t - \tfrac{i\tau}{2}(H - E_s)\psi`, each
  step fitting :math:`\log\psi_\theta \approx \log\phi_m` (frozen
  :math:`\phi_m = \phi[\psi_{\theta_m}]`) in the weighted norm
  :math:`\sum_i |\phi_m(x_i)|^2\,|\log\psi_\theta(x_i) - \log\phi_m(x_i)|^2/(N_sq(x_i))`, i.e.
  :math:`\rho_i = |\phi_m|(\log\psi_\theta - \log\phi_m)/\sqrt{N_sq}` (phase difference wrapped
  to :math:`(-\pi, \pi]`) and :math:`J = |\phi_m|\,O/\sqrt{N_sq}` with the log-derivatives
  :math:`O_k = \partial_{\theta_k}\log\psi_\theta` of the samples only (the MinSR matrix). To
  second order this is the L2 loss (:math:`|\psi - \phi|^2 \approx |\phi|^2|\Delta\log|^2`), and
  its fixed point is the Crank–Nicolson solution (Picard contracts with rate
  :math:`\approx \tau\lVert H - E_s\rVert/2`), but the fit is done where the autoregressive
  parametrisation is nearly linear — in the log-amplitudes. That is what lets a state leave a
  (near-)basis state: there the L2 residual's Jacobian :math:`\partial\psi(y)/\partial\theta
  = \psi(y)O(y)` is exponentially small, the linearised step points the wrong way (it only
  rotates the phase of the vanishing amplitude), and the L2 solvers stay frozen.
* ``"gauss_newton"``: Levenberg–Marquardt on the L2 residuals themselves,
  :math:`\rho = (\mathrm{Re}R, \mathrm{Im}R)` and :math:`J = \partial\rho/\partial\theta` of
  shape :math:`(2N_s, n_p)` (per-sample Jacobians through the connected configurations);
  converges quadratically when the amplitudes are not tiny.
* ``"adam"``: Adam (Kingma & Ba 2015) on :math:`\hat C` with a learning rate decaying
  geometrically inside the step, :math:`\eta_k = \eta_0(\eta_1/\eta_0)^{k/(k_\max-1)}` (the
  scheme is optimiser-limited, dynamics.md §3.3; much slower than the two above).

Both stop when the loss estimate falls below ``tol`` or after ``max_iterations`` iterations.
The whole step (sampling, inner loop, stopping rule) is one compiled function whose static part
is only the model and the choice of solver: every numeric option is a traced argument and the
Hamiltonian, sampler and parameters are pytrees, so neither a new ``dt``, a new tolerance nor a
new :func:`solvers.evolve` call with the same model recompiles it.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from solvers.cn_proposals import log_connected_proposal, random_connected
from solvers.evolve_options import TrapezoidOptions

# Log-amplitude given to padded connections (zero matrix element): exp() of it is exactly 0.
_NO_CONNECTION = -1e4


class CrankNicolsonStepper:
    r"""Crank–Nicolson steps of an autoregressive state: ``step(params, key, tau)``.

    Args:
        model: the autoregressive flax model.
        hamiltonian: a NetKet JAX operator (``get_conn_padded``) on the model's Hilbert space.
        sampler: an exact sampler (:class:`samplers.ARDirectSampler`); ignored for full sums.
        n_samples: samples per inner iteration (ignored for full sums).
        options: :class:`~solvers.evolve_options.TrapezoidOptions`.
        model_state: non-parameter variable collections of the model (usually empty).
        full_sum_states: every configuration of the sector, ``(n_states, N)``: replaces the
            samples by an exact sum (:math:`q \equiv 1`, :math:`R = r`). For tiny systems and
            tests of the integrator.

    Example:
        >>> import jax, hamiltonians, nqs
        >>> from nqs.initial_states import x_polarised
        >>> system = hamiltonians.tfim_chain(2)
        >>> model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
        >>> params = x_polarised(model, model.init(jax.random.PRNGKey(0),
        ...                      system.hilbert.all_states()))["params"]
        >>> stepper = CrankNicolsonStepper(model, system.hamiltonian, None, 0, TrapezoidOptions(),
        ...                                full_sum_states=system.hilbert.all_states())
        >>> params, key, info = stepper.step(params, jax.random.PRNGKey(1), 0.05)
        >>> bool(info["loss"] < 1e-9)
        True
    """

    def __init__(
        self,
        model,
        hamiltonian,
        sampler,
        n_samples: int,
        options: TrapezoidOptions,
        *,
        model_state=None,
        full_sum_states=None,
    ):
        full_sum = full_sum_states is not None
        self.options = options
        self.hamiltonian = hamiltonian
        self._spec = _Spec(
            model=model,
            full_sum=full_sum,
            chain_length=0 if full_sum else n_samples // sampler.n_chains,
            optimizer=options.optimizer,
            proposal=options.proposal,
            adam_eps=options.adam_eps or 0.0,
        )
        self._sampler = None if full_sum else sampler
        self._states = jnp.asarray(full_sum_states) if full_sum else None
        self._model_state = dict(model_state or {})

    def step(self, params, key, tau: float, energy_shift: float = 0.0):
        """Advance ``params`` by one step ``tau`` of :math:`H - E_s` (``energy_shift``
        :math:`E_s`, a constant: the exact evolution changes by a global phase only).

        Returns:
            ``(params, key, info)``; ``info`` holds ``n_iterations`` and ``loss``, the estimate
            of :math:`C` on the last iteration's samples: at the parameters that iteration
            started from (``natural_gradient``, ``adam``), or after its accepted step
            (``gauss_newton``).
        """
        o = self.options
        lr0, lr1 = o.learning_rate or (1.0, 1.0)  # unused by the Gauss–Newton-type solvers
        hyper = {
            "tau": tau,
            "shift": energy_shift,
            "lr0": lr0,
            "lr1": lr1,
            "tol": o.tol,
            "diag_shift": o.diag_shift or 0.0,
            "step_size": o.step_size or 0.0,
        }
        hyper = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in hyper.items()}
        hyper["max_iterations"] = jnp.asarray(o.max_iterations, dtype=jnp.int32)
        return _step(
            self._spec, params, self._model_state, key, hyper, self.hamiltonian,
            self._sampler, self._states,
        )


@partial(jax.jit, static_argnums=0)
def _step(spec, params, model_state, key, hyper, hamiltonian, sampler, states):
    ctx = _Context(spec, model_state, hamiltonian, sampler, states, hyper)
    solve = {"adam": ctx.adam, "natural_gradient": ctx.natural_gradient,
             "gauss_newton": ctx.gauss_newton}[spec.optimizer]
    params, key, loss, n_iter = solve(params, key)
    return params, key, {"loss": loss, "n_iterations": n_iter}


@dataclasses.dataclass(frozen=True)
class _Spec:
    """The static (hashable) part of a step: what changes the compiled program."""

    model: Any
    full_sum: bool
    chain_length: int
    optimizer: str
    proposal: str
    adam_eps: float


@dataclasses.dataclass(frozen=True)
class _Context:
    """Everything one traced step works with (static spec + traced arrays and pytrees)."""

    spec: _Spec
    model_state: dict
    hamiltonian: Any
    sampler: Any
    states: Any
    hyper: dict

    def _log_psi(self, params, x):
        """log ψ of configurations of any batch shape ``(..., N)``."""
        flat = x.reshape(-1, x.shape[-1])
        out = self.spec.model.apply({"params": params, **self.model_state}, flat)
        return out.reshape(x.shape[:-1])

    def _sample(self, params, key, chain_length):
        state = self.sampler.init_state(self.spec.model, {"params": params}, key)
        x, _ = self.sampler.sample(
            self.spec.model, {"params": params, **self.model_state}, state=state,
            chain_length=chain_length,
        )
        return x

    def draw(self, params, params_t, key):
        """Configurations of one inner iteration, ``(B, N)``."""
        if self.spec.full_sum:
            return self.states
        if self.spec.proposal == "state":
            x = self._sample(params, key, self.spec.chain_length)
            return x.reshape(-1, x.shape[-1])
        # "connected": x ~ |psi_t|^2, then the second half moved to a random connected
        # configuration (stratified: exactly half of each kind, still unbiased).
        key_sample, key_move = jax.random.split(key)
        x = self._sample(params_t, key_sample, self.spec.chain_length)
        x = x.reshape(-1, x.shape[-1])
        half = x.shape[0] // 2
        moved = random_connected(self.hamiltonian, x[half:], key_move)
        return jnp.concatenate([x[:half], moved], axis=0)

    def batch(self, params, params_t, key) -> dict:
        r"""Fresh samples and everything of the loss that does not depend on :math:`\theta`.

        Returns ``conf`` (each sample followed by its connected configurations,
        ``(B, K+1, N)``), ``mels`` (``(B, K)``), ``log_scale`` :math:`= \tfrac12\log N_s q(x)`
        (0 for full sums) and ``target`` :math:`= (B\psi_t)(x)\,e^{-\text{log\_scale}}`.
        """
        x = self.draw(params, params_t, key)
        xp, mels = self.hamiltonian.get_conn_padded(x)
        conf = jnp.concatenate([x[:, None, :], xp], axis=1)
        lt = self._log_psi(params_t, conf)
        if self.spec.full_sum:
            log_scale = jnp.zeros(x.shape[0])
        elif self.spec.proposal == "state":
            log_scale = 0.5 * (2 * self._log_psi(params, x).real + jnp.log(x.shape[0]))
        else:
            log_q = log_connected_proposal(self.hamiltonian, x, xp, mels, 2 * lt.real)
            log_scale = 0.5 * (log_q + jnp.log(x.shape[0]))
        h = self.hyper
        target = _cayley_side(lt - log_scale[:, None], mels, -0.5j * h["tau"], h["shift"])
        batch = {"conf": conf, "mels": mels, "log_scale": log_scale, "target": target}
        return jax.lax.stop_gradient(batch)

    def residuals(self, params, batch):
        r"""Scaled residuals :math:`R_i = [(A\psi_\theta)(x_i) - (B\psi_t)(x_i)]/\sqrt{N_s q(x_i)}`.

        Works for any leading batch shape (one configuration for per-sample Jacobians).
        """
        lp = self._log_psi(params, batch["conf"]) - batch["log_scale"][..., None]
        h = self.hyper
        return _cayley_side(lp, batch["mels"], 0.5j * h["tau"], h["shift"]) - batch["target"]

    def loss(self, params, batch):
        return jnp.sum(jnp.abs(self.residuals(params, batch)) ** 2)

    def adam(self, params, key):
        """Adam with a geometric learning-rate decay inside the step (fresh optimiser state)."""
        h, params_t = self.hyper, params
        tx = optax.scale_by_adam(eps=self.spec.adam_eps)
        loss_grad = jax.value_and_grad(self.loss)

        def cond(carry):
            it, _, _, _, loss = carry
            return (it < h["max_iterations"]) & (loss > h["tol"])

        def body(carry):
            it, params, opt_state, key, _ = carry
            key, sub = jax.random.split(key)
            loss, grad = loss_grad(params, self.batch(params, params_t, sub))
            updates, opt_state = tx.update(grad, opt_state, params)
            frac = it / jnp.maximum(h["max_iterations"] - 1, 1)
            lr = h["lr0"] * (h["lr1"] / h["lr0"]) ** frac
            # Converged on these samples: keep the parameters the loss was measured at.
            scale = jnp.where(loss > h["tol"], -lr, 0.0)
            params = jax.tree.map(lambda p, u: p + scale * u, params, updates)
            return it + 1, params, opt_state, key, loss

        init = (jnp.int32(0), params, tx.init(params), key, jnp.asarray(jnp.inf))
        it, params, _, key, loss = jax.lax.while_loop(cond, body, init)
        return params, key, loss, it

    def gauss_newton(self, params, key):
        r"""Levenberg–Marquardt: a Gauss–Newton step with damping :math:`\lambda` that grows
        (x10) when the step would raise the loss on the iteration's samples (the step is then
        not taken) and shrinks (/3, down to ``diag_shift``) when it lowers it."""
        h, params_t = self.hyper, params
        flat_t, unravel = ravel_pytree(params_t)

        def stacked(flat, batch):
            r = self.residuals(unravel(flat), batch)
            return jnp.stack([r.real, r.imag], axis=-1)

        def cond(carry):
            it, _, _, loss, _ = carry
            return (it < h["max_iterations"]) & (loss > h["tol"])

        def body(carry):
            it, flat, key, _, lam = carry
            key, sub = jax.random.split(key)
            batch = self.batch(unravel(flat), params_t, sub)
            res = stacked(flat, batch).T.reshape(-1)  # [Re R; Im R]
            # Each residual depends on its own configuration: per-configuration Jacobians,
            # O(B) backward passes in total.
            jac = jax.vmap(jax.jacrev(stacked), in_axes=(None, 0))(flat, batch)  # (B, 2, n_p)
            jac = jnp.swapaxes(jac, 0, 1).reshape(res.shape[0], -1)
            loss = jnp.sum(res**2)
            trial = flat - h["step_size"] * _damped_gauss_newton(jac, res, lam)
            trial_loss = jnp.sum(stacked(trial, batch) ** 2)
            better = (trial_loss < loss) & jnp.isfinite(trial_loss) & (loss > h["tol"])
            flat = jnp.where(better, trial, flat)
            lam = jnp.where(better, jnp.maximum(lam / 3, h["diag_shift"]), lam * 10)
            return it + 1, flat, key, jnp.where(better, trial_loss, loss), lam

        init = (jnp.int32(0), flat_t, key, jnp.asarray(jnp.inf), h["diag_shift"])
        it, flat, key, loss, _ = jax.lax.while_loop(cond, body, init)
        return unravel(flat), key, loss, it


    def natural_gradient(self, params, key):
        r"""Picard iteration
        :math:`\phi_m = B\psi_t - \tfrac{i\tau}{2}(H - E_s)\psi_{\theta_m}`, each followed by
        one damped natural-gradient fit of :math:`\log\psi_\theta` to :math:`\log\phi_m`
        (module docstring); the damping adapts as in :meth:`gauss_newton`."""
        h, params_t = self.hyper, params
        flat_t, unravel = ravel_pytree(params_t)

        def log_psi_stacked(flat, x):
            lp = self._log_psi(unravel(flat), x)
            return jnp.stack([lp.real, lp.imag], axis=-1)

        def log_residual(log_psi, log_phi, weight):
            d = log_psi - log_phi
            d = d.real + 1j * (jnp.mod(d.imag + jnp.pi, 2 * jnp.pi) - jnp.pi)
            return weight * d

        def cond(carry):
            it, _, _, loss, _ = carry
            return (it < h["max_iterations"]) & (loss > h["tol"])

        def body(carry):
            it, flat, key, _, lam = carry
            key, sub = jax.random.split(key)
            batch = self.batch(unravel(flat), params_t, sub)
            lp = self._log_psi(unravel(flat), batch["conf"]) - batch["log_scale"][:, None]
            a_theta = _cayley_side(lp, batch["mels"], 0.5j * h["tau"], h["shift"])
            psi = jnp.exp(lp[:, 0])
            # Picard target phi = B psi_t - (i tau/2)(H - E_s) psi_theta;
            # A psi = B psi_t  <=>  psi = phi.
            phi = batch["target"] - (a_theta - psi)
            loss = jnp.sum(jnp.abs(a_theta - batch["target"]) ** 2)
            weight = jnp.abs(phi)
            log_phi = jnp.where(weight > 0, jnp.log(jnp.where(weight > 0, phi, 1.0)), 0.0)
            x = batch["conf"][:, 0]
            rho = log_residual(lp[:, 0], log_phi, weight)
            res = jnp.concatenate([rho.real, rho.imag])
            jac = jax.vmap(jax.jacrev(log_psi_stacked), in_axes=(None, 0))(flat, x[:, None])
            jac = weight[:, None, None] * jac[:, 0]  # (B, 2, n_p)
            jac = jnp.swapaxes(jac, 0, 1).reshape(res.shape[0], -1)
            fit = jnp.sum(res**2)
            trial = flat - h["step_size"] * _damped_gauss_newton(jac, res, lam)
            lp_trial = self._log_psi(unravel(trial), x) - batch["log_scale"]
            trial_fit = jnp.sum(jnp.abs(log_residual(lp_trial, log_phi, weight)) ** 2)
            better = (trial_fit < fit) & jnp.isfinite(trial_fit) & (loss > h["tol"])
            flat = jnp.where(better, trial, flat)
            lam = jnp.where(better, jnp.maximum(lam / 3, h["diag_shift"]), lam * 10)
            return it + 1, flat, key, loss, lam

        init = (jnp.int32(0), flat_t, key, jnp.asarray(jnp.inf), h["diag_shift"])
        it, flat, key, loss, _ = jax.lax.while_loop(cond, body, init)
        return unravel(flat), key, loss, it


def _cayley_side(log_amp, mels, coefficient, shift):
    r""":math:`\psi(x) + c\,[(H - E_s)\psi](x)` from log-amplitudes ``(..., K+1)`` of ``x`` followed
    by its connected configurations (padded connections, with zero element, contribute 0)."""
    connected = jnp.where(mels != 0, log_amp[..., 1:], _NO_CONNECTION)
    h_psi = jnp.sum(mels * jnp.exp(connected), axis=-1)
    psi = jnp.exp(log_amp[..., 0])
    return psi + coefficient * (h_psi - shift * psi)


def _damped_gauss_newton(jac, res, diag_shift):
    r""":math:`J^T(JJ^T + \lambda\bar d)^{-1}R` (sample space), or
    :math:`(J^TJ + \lambda\bar d)^{-1}J^TR` when there are fewer parameters than rows;
    :math:`\bar d` is the mean diagonal of :math:`JJ^T`, so :math:`\lambda` is scale-free."""
    n_rows, n_params = jac.shape
    if n_rows <= n_params:
        kernel = jac @ jac.T
        shift = diag_shift * jnp.trace(kernel) / n_rows
        kernel = kernel + shift * jnp.eye(n_rows, dtype=jac.dtype)
        return jac.T @ jax.scipy.linalg.solve(kernel, res, assume_a="pos")
    metric = jac.T @ jac
    shift = diag_shift * jnp.trace(metric) / n_rows
    metric = metric + shift * jnp.eye(n_params, dtype=jac.dtype)
    return jax.scipy.linalg.solve(metric, jac.T @ res, assume_a="pos")
