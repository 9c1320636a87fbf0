"""Why the TFIM quench is hard for autoregressive states: exact-sum diagnosis (issue 4).

Same quench as `dynamics_tfim.py` (N = 10, |+...+> -> h = 1, PBC), with every Monte Carlo
estimate replaced by an exact sum over the 1024 configurations, so that what remains is the
variational error alone. Five parts:

* ``nodes``: of the exact state psi(x, t) = <x|exp(-iHt)|+...+>, the smallest |psi(x)|^2 2^N
  (1 for the initial state) and where it sits. Around t = 0.40 the two Neel amplitudes pass within
  |psi|^2 2^N ~ 2e-7 of a node, and the conditional of the last site given a Neel prefix drops to
  ~1e-4. On a fine grid, 132 amplitudes pass through (numerically) exact zeros at t = 0.40, 0.44
  and 0.555, and some regrow with the opposite sign.
* ``steps``: Crank-Nicolson steps with exact sums (`full_sum`). For every step, the infidelity
  of the fitted state with the *exact* Crank-Nicolson step of the previous fitted state (what
  the inner solver had to reach), the accumulated infidelity with exp(-iHt)|+...+> and the
  deviation of <sigma^x>.
* ``capacity``: a Levenberg-Marquardt fit of the model to the exact psi(t) from a random
  initialisation (sample-space normal equations, exact sums): what the architecture can
  represent, separately from the time stepping.
* ``tangent``: at the fitted state of time ``--t-tangent`` (0.45, just past the near-node), the
  singular values of the Jacobian d psi / d theta, how much of the exact Crank-Nicolson step
  the linearised (pseudo-inverse) step reaches at each cut-off and what that step really gives,
  and the error of one fitted step for dt/4 ... 2 dt.
* ``tdvp``: TDVP with exact sums (pseudo-inverse with cut-off ``--rcond``, RK4 step
  ``--dt-tdvp``): the TDVP error without Monte Carlo noise or the signal-to-noise cut. With
  ``--model table`` or ``--model table-cartesian`` the ansatz is the exact amplitude table with
  polar (log-amplitude and phase) or Cartesian conditionals.

    python benchmarks/tfim_quench_diagnosis.py [--part nodes|steps|capacity|tangent|tdvp|all]
        [--n-layers 1] [--d-model 16] [--attention standard|factored] [--max-iterations 10]
        [--optimizer natural_gradient|gauss_newton] [--dt 0.025] [--t-tangent 0.45]
        [--dt-tdvp 0.02] [--rcond 1e-6] [--model transformer|table|table-cartesian]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import machine
from jax.flatten_util import ravel_pytree

import hamiltonians
import nqs
from hamiltonians.exact_dynamics import (
    crank_nicolson_evolution,
    exact_evolution,
    state_vector,
)
from nqs.initial_states import x_polarised
from nqs.tabular_ar import TabularAR
from solvers.evolve_options import TrapezoidOptions
from solvers.trapezoid import CrankNicolsonStepper


def exact_states(system, times):
    """exp(-i(H - E0)t)|+...+> on ``times`` and E0 = <+...+|H|+...+> (-N here): the shift removes
    the trivial global phase exp(-i E0 t)."""
    n_states = system.hilbert.n_states
    ref = exact_evolution(system, np.full(n_states, n_states**-0.5), times, {}, keep_states=True)
    e0 = float(np.real(ref["energy"][0]))
    phases = np.exp(1j * e0 * ref["times"])[:, None]
    return list(ref["states"] * phases), e0


def part_nodes(system, args):
    times = np.round(np.arange(0.05, args.t_final + 1e-9, 0.05), 10)
    states = np.asarray(system.hilbert.all_states()).astype(int)
    n = system.hilbert.size
    print("\n## nodes of the exact state: t, min |psi|^2 2^N, where, min conditional p(x_i|x_<i)")
    for t, psi in zip(times, exact_states(system, times)[0], strict=True):
        p = np.abs(psi) ** 2
        prob = p.reshape((2,) * n)
        smallest = 1.0
        for i in range(n):
            marginal = prob.sum(axis=tuple(range(i + 1, n))) if i < n - 1 else prob
            smallest = min(smallest, float((marginal / marginal.sum(axis=i, keepdims=True)).min()))
        k = int(np.argmin(p))
        print(f"{t:5.2f}  {p[k] * p.size:9.2e}  {states[k]}  {smallest:9.2e}")
    # On a fine grid (spectral decomposition): which amplitudes pass through zero, and when.
    fine = np.linspace(0.0, args.t_final, 20001)
    h = system.hamiltonian.to_dense()
    energies, vectors = np.linalg.eigh(h)
    plus = np.full(2**n, 2 ** (-n / 2))
    e0 = plus @ h @ plus
    amplitudes = (vectors * (vectors.T @ plus)) @ np.exp(-1j * np.outer(energies - e0, fine))
    weight = np.abs(amplitudes) ** 2 * 2**n
    crossing = np.flatnonzero(weight.min(axis=1) < 1e-6)
    when = np.round(fine[weight[crossing].argmin(axis=1)], 3)
    regrown = np.array([weight[k, weight[k].argmin():].max() for k in crossing])
    print(f"\n{crossing.size} of {2**n} amplitudes pass within |psi|^2 2^N < 1e-6 of zero "
          f"(grid dt {fine[1]:.0e}; smallest {weight.min():.1e}) at t = "
          f"{', '.join(f'{t:.3f} ({np.sum(when == t)})' for t in np.unique(when))}; "
          f"afterwards {np.sum(regrown > 0.1)} of them regrow beyond |psi|^2 2^N = 0.1")


def make_model(system, args):
    if args.model != "transformer":
        amplitudes = "cartesian" if args.model == "table-cartesian" else "polar"
        return TabularAR(hilbert=system.hilbert, machine_pow=2, amplitudes=amplitudes)
    return nqs.ARTransformer(hilbert=system.hilbert, n_layers=args.n_layers,
                             d_model=args.d_model, n_heads=2, attention=args.attention)


def start(system, args):
    """The model, every configuration, and the parameters of |+...+>."""
    model = make_model(system, args)
    all_states = system.hilbert.all_states()
    params = x_polarised(model, model.init(jax.random.PRNGKey(args.seed), all_states))["params"]
    return model, all_states, params


def march(system, args, n_steps, dt):
    """Exact-sum Crank-Nicolson steps from |+...+>; yields, after each step, ``(t, model,
    params, psi, step infidelity, accumulated infidelity, <sx>, exact <sx>)``."""
    model, all_states, params = start(system, args)
    times = [k * dt for k in range(n_steps + 1)]
    exact, e0 = exact_states(system, times)
    sx = system.observables["magnetization_x"].to_dense()
    options = TrapezoidOptions(optimizer=args.optimizer, max_iterations=args.max_iterations)
    stepper = CrankNicolsonStepper(model, system.hamiltonian, None, 0, options,
                                   full_sum_states=all_states)
    key, psi = jax.random.PRNGKey(args.seed + 1), exact[0]
    for k in range(1, n_steps + 1):
        params, key, _ = stepper.step(params, key, dt, e0)
        new = np.asarray(state_vector(model, {"params": params}, system.hilbert))
        step_infidelity = 1 - abs(np.vdot(new, cn_step(system, psi, dt, e0))) ** 2
        total = 1 - abs(np.vdot(new, exact[k])) ** 2
        value, reference = np.vdot(new, sx @ new).real, np.vdot(exact[k], sx @ exact[k]).real
        psi = new
        yield times[k], model, params, psi, step_infidelity, total, value, reference


def per_configuration_jacobian(model, unravel, of=lambda log_psi: log_psi):
    """``(flat, states) -> d of(log psi(x)) / d theta`` as real ``(n_states, 2, n_params)``
    (real and imaginary parts): one reverse pass per configuration."""

    def stacked(f, x):
        value = of(model.apply({"params": unravel(f)}, x[None])[0])
        return jnp.stack([value.real, value.imag])

    return jax.vmap(jax.jacrev(stacked), in_axes=(None, 0))


def jacobian_rows(model, unravel, of=lambda log_psi: log_psi, chunk=256):
    """A function ``(flat, states) -> d of(log psi(x)) / d theta``, complex
    ``(n_states, n_params)``: per-configuration reverse passes in chunks (the full ``jacfwd``
    does not fit in memory), compiled once."""
    rows = jax.jit(per_configuration_jacobian(model, unravel, of))

    def jacobian(flat, states):
        jac = np.concatenate([np.asarray(rows(flat, states[i:i + chunk]))
                              for i in range(0, len(states), chunk)])
        return jac[:, 0] + 1j * jac[:, 1]

    return jacobian


def sx_columns(value, reference):
    """The ``<sx>   exact   |dev|`` columns of a progress row."""
    return f"{value:+.5f}  {reference:+.5f}  {abs(value - reference):.4f}"


def cn_step(system, psi, dt, e0):
    """The exact Crank-Nicolson step of ``psi`` (what a fit has to reach)."""
    return crank_nicolson_evolution(system, psi, dt, 1, {}, energy_shift=e0,
                                    keep_states=True)["states"][-1]


def part_steps(system, args):
    print(f"\n## exact-sum Crank-Nicolson steps: {args.n_layers} layer(s), d_model {args.d_model}, "
          f"{args.attention} attention, "
          f"{args.optimizer} x {args.max_iterations}, dt {args.dt}")
    print("    t   step infidelity  accumulated infidelity   <sx>       exact     |dev|")
    worst, t0 = 0.0, time.perf_counter()
    n_steps = round(args.t_final / args.dt)
    for k, (t, _, _, _, step_inf, total, value, reference) in enumerate(
        march(system, args, n_steps, args.dt), 1
    ):
        worst = max(worst, abs(value - reference))
        if k % args.print_every == 0:
            print(f"{t:6.3f}  {step_inf:12.2e}  {total:18.2e}  {sx_columns(value, reference)}",
                  flush=True)
    print(f"max |<sx> - exact| = {worst:.4f}; {time.perf_counter() - t0:.0f} s")


def part_tangent(system, args):
    """At the fitted state of time ``--t-tangent``: how far the linearised step reaches, and
    how the error of one fitted step scales with dt."""
    n_steps = round(args.t_tangent / args.dt)
    *_, (t, model, params, psi, *_) = march(system, args, n_steps, args.dt)
    _, e0 = exact_states(system, [0.0])
    flat, unravel = ravel_pytree(params)
    all_states = system.hilbert.all_states()
    jac = jacobian_rows(model, unravel, of=jnp.exp)(flat, all_states)  # d psi / d theta
    jac = np.concatenate([jac.real, jac.imag])
    target = cn_step(system, psi, args.dt, e0)
    b = np.concatenate([(target - psi).real, (target - psi).imag])
    u, s, vt = np.linalg.svd(jac, full_matrices=False)
    print(f"\n## tangent space at t = {t:.3f} ({flat.size} parameters, dt {args.dt}): "
          f"|step|^2 = {b @ b:.2e}")
    quantiles = [0, 10, 100, 500, 1000, 1500, 2000, len(s) - 2]
    print("singular values (index: value): "
          + ", ".join(f"{i}: {s[i]:.1e}" for i in quantiles if i < len(s)))
    print("  rcond   rank  linear residual/|step|^2  |dtheta|   infidelity of the linear step")
    for rcond in (1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-12):
        keep = s > rcond * s[0]
        coef = u[:, keep].T @ b
        residual = b - u[:, keep] @ coef
        dtheta = vt[keep].T @ (coef / s[keep])
        new = np.asarray(state_vector(model, {"params": unravel(flat + dtheta)}, system.hilbert))
        infidelity = 1 - abs(np.vdot(new, target)) ** 2 / np.vdot(new, new).real
        print(f"{rcond:7.0e}  {keep.sum():5d}  {residual @ residual / (b @ b):22.2e}  "
              f"{np.linalg.norm(dtheta):9.2e}  {infidelity:.2e}")
    print("  dt        |step| infidelity  fitted-step infidelity")
    options = TrapezoidOptions(optimizer=args.optimizer, max_iterations=args.max_iterations)
    stepper = CrankNicolsonStepper(model, system.hamiltonian, None, 0, options,
                                   full_sum_states=all_states)
    for dt in (args.dt / 4, args.dt / 2, args.dt, 2 * args.dt):
        new_params, _, _ = stepper.step(params, jax.random.PRNGKey(args.seed + 2), dt, e0)
        new = np.asarray(state_vector(model, {"params": new_params}, system.hilbert))
        target = cn_step(system, psi, dt, e0)
        print(f"{dt:8.5f}  {1 - abs(np.vdot(psi, target)) ** 2:18.2e}  "
              f"{1 - abs(np.vdot(new, target)) ** 2:.2e}", flush=True)


def part_tdvp(system, args):
    r"""TDVP with exact sums, which NetKet's ``TDVPSchmitt`` cannot do (no ``FullSumState``):
    :math:`\mathrm{Re}[S]\dot\theta = \mathrm{Im}[F]` solved by a least-squares pseudo-inverse
    with eigenvalue cut-off ``--rcond`` relative to the largest, integrated with RK4."""
    model, all_states, params = start(system, args)
    flat, unravel = ravel_pytree(params)
    h = system.hamiltonian.to_dense()
    sx = system.observables["magnetization_x"].to_dense()
    dt, n_steps = args.dt_tdvp, round(args.t_final / args.dt_tdvp)
    exact, _ = exact_states(system, [k * dt for k in range(n_steps + 1)])
    log_psi = jax.jit(lambda f: model.apply({"params": unravel(f)}, all_states))
    jacobian = jacobian_rows(model, unravel)

    def velocity(f):
        psi = np.exp(np.asarray(log_psi(f)))
        p = np.abs(psi) ** 2
        o = jacobian(f, all_states)
        y = np.sqrt(p)[:, None] * (o - p @ o)  # S = Y^H Y
        e_loc = (h @ psi) / psi
        g = np.sqrt(p) * (e_loc - p @ e_loc)  # F = Y^H g
        # Re S = Z^T Z and Im F = Z^T c with Z = [Re Y; Im Y], c = [Im g; -Re g].
        z, c = np.concatenate([y.real, y.imag]), np.concatenate([g.imag, -g.real])
        return np.linalg.lstsq(z, c, rcond=np.sqrt(args.rcond))[0]

    name = (f"{args.n_layers} layer(s), d_model {args.d_model}" if args.model == "transformer"
            else args.model)
    print(f"\n## exact-sum TDVP: {name}, {flat.size} parameters, RK4 dt {dt}, rcond {args.rcond}")
    print("    t   infidelity   <sx>       exact     |dev|")
    worst, t0 = 0.0, time.perf_counter()
    for k in range(1, n_steps + 1):
        k1 = velocity(flat)
        k2 = velocity(flat + dt / 2 * k1)
        k3 = velocity(flat + dt / 2 * k2)
        k4 = velocity(flat + dt * k3)
        flat = flat + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        psi = np.exp(np.asarray(log_psi(flat)))
        value, reference = np.vdot(psi, sx @ psi).real, np.vdot(exact[k], sx @ exact[k]).real
        worst = max(worst, abs(value - reference))
        if k % args.print_every == 0:
            infidelity = 1 - abs(np.vdot(psi, exact[k])) ** 2
            print(f"{k * dt:6.3f}  {infidelity:10.2e}  {sx_columns(value, reference)}", flush=True)
    print(f"max |<sx> - exact| = {worst:.4f}; {time.perf_counter() - t0:.0f} s")


def part_capacity(system, args):
    model = make_model(system, args)
    all_states = system.hilbert.all_states()
    params = model.init(jax.random.PRNGKey(args.seed), all_states)["params"]
    flat, unravel = ravel_pytree(params)
    (target,), _ = exact_states(system, [args.t_final])
    log_target, weight = jnp.log(jnp.asarray(target)), jnp.abs(jnp.asarray(target))

    def log_psi(f, x):
        return model.apply({"params": unravel(f)}, x)

    def residual(f):
        d = log_psi(f, all_states) - log_target
        d = weight * (d.real + 1j * (jnp.mod(d.imag + jnp.pi, 2 * jnp.pi) - jnp.pi))
        return jnp.concatenate([d.real, d.imag])

    jacobian = per_configuration_jacobian(model, unravel)

    @jax.jit
    def iterate(f, lam):
        r = residual(f)
        jac = jacobian(f, all_states)
        jac = jnp.concatenate([weight[:, None] * jac[:, 0], weight[:, None] * jac[:, 1]])
        kernel = jac @ jac.T
        kernel = kernel + lam * jnp.trace(kernel) / len(r) * jnp.eye(len(r))
        trial = f - jac.T @ jnp.linalg.solve(kernel, r)
        return trial, jnp.sum(r**2), jnp.sum(residual(trial) ** 2)

    lam, t0 = 1e-3, time.perf_counter()
    print(f"\n## capacity: Levenberg-Marquardt fit to exact psi(t={args.t_final}), "
          f"{ravel_pytree(params)[0].size} parameters")
    for it in range(args.fit_iterations):
        trial, fit, trial_fit = iterate(flat, lam)
        if trial_fit < fit:
            flat, lam = trial, max(lam / 3, 1e-8)
        else:
            lam *= 10
        if (it + 1) % 50 == 0 or it + 1 == args.fit_iterations:
            psi = np.exp(np.asarray(log_psi(flat, all_states)))
            print(f"iteration {it + 1:4d}: infidelity {1 - abs(np.vdot(psi, target)) ** 2:.3e} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all",
                        choices=("all", "nodes", "steps", "capacity", "tangent", "tdvp"))
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--t-final", type=float, default=1.0)
    parser.add_argument("--dt", type=float, default=0.025)
    parser.add_argument("--t-tangent", type=float, default=0.45)
    parser.add_argument("--dt-tdvp", type=float, default=0.02)
    parser.add_argument("--rcond", type=float, default=1e-6)
    parser.add_argument("--model", default="transformer",
                        choices=("transformer", "table", "table-cartesian"),
                        help="table: TabularAR(machine_pow=2), polar or Cartesian conditionals")
    parser.add_argument("--n-layers", type=int, default=1)
    parser.add_argument("--d-model", type=int, default=16)
    parser.add_argument("--attention", default="standard", choices=("standard", "factored"))
    parser.add_argument("--optimizer", default="natural_gradient",
                        choices=("natural_gradient", "gauss_newton"))
    parser.add_argument("--max-iterations", type=int, default=10)
    parser.add_argument("--fit-iterations", type=int, default=150)
    parser.add_argument("--print-every", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    system = hamiltonians.tfim_chain(args.n, h=1.0)
    print(f"# {system}; {machine()}\n# {vars(args)}")
    parts = (("nodes", part_nodes), ("steps", part_steps), ("capacity", part_capacity),
             ("tangent", part_tangent), ("tdvp", part_tdvp))
    for part, run in parts:
        if args.part in ("all", part):
            run(system, args)


if __name__ == "__main__":
    main()
