"""What :func:`solvers.evolve` runs: the variational state, measurements, exact references, and
the two time-stepping methods behind one interface (advance, checkpoint, restore)."""

from __future__ import annotations

import math

import jax
import netket as nk
import numpy as np

import samplers
from nqs.errors import NonFiniteError
from nqs.io import flat_to_state, state_to_flat
from solvers._evolve_checks import grid_time


def variational_state(system, model, variables, n_samples, seed, chunk_size, full_sum):
    if full_sum:
        return nk.vqs.FullSumState(system.hilbert, model, variables=variables, seed=seed)
    sampler = samplers.ARDirectSampler(system.hilbert, chunk_size=chunk_size)
    return nk.vqs.MCState(
        sampler, model, n_samples=n_samples, seed=seed, sampler_seed=seed + 1,
        chunk_size=chunk_size, variables=variables,
    )


def measure(vstate, hamiltonian, observables) -> dict:
    """Fresh estimates of the energy and the observables (real parts for Hermitian ones)."""
    if isinstance(vstate, nk.vqs.MCState):
        vstate.reset()
    row = {}
    for name, op in {"energy": hamiltonian, **observables}.items():
        stats = vstate.expect(op)
        if name == "energy" or getattr(op, "is_hermitian", False):
            stats = stats.replace(mean=stats.mean.real)
        row[name] = stats
    return row


def initial_vector(system, vstate) -> np.ndarray:
    from hamiltonians.exact_dynamics import state_vector

    return state_vector(vstate.model, vstate.variables, system.hilbert)


def stored_vector(path):
    import h5py

    with h5py.File(path, "r") as f:
        return f["exact/initial_vector"][()] if "exact/initial_vector" in f else None


def exact_reference(system, psi0, times, observables):
    if psi0 is None:
        return None
    from hamiltonians.exact_dynamics import exact_evolution

    ref = exact_evolution(system, psi0, times, observables)
    return {"time": ref["times"], "energy": ref["energy"], **{n: ref[n] for n in observables}}


class Stepper:
    """The two methods behind one interface: advance to a save time, checkpoint, restore."""

    def __init__(self, system, vstate, method, options, dt, n_samples, seed, full_sum):
        self.method, self.dt, self._vstate = method, dt, vstate
        self.step_count = 0
        if method == "tdvp":
            from solvers.tdvp import TDVPStepper

            self._tdvp = TDVPStepper(system.hamiltonian, vstate, dt, options, seed=seed + 3)
            return
        from solvers.trapezoid import CrankNicolsonStepper

        variables = dict(vstate.variables)
        params = variables.pop("params")
        self._params = params
        self._key = jax.random.PRNGKey(seed + 2)
        self._cn = CrankNicolsonStepper(
            vstate.model, system.hamiltonian, None if full_sum else vstate.sampler, n_samples,
            options, model_state=variables,
            full_sum_states=system.hilbert.all_states() if full_sum else None,
        )

    @property
    def state(self):
        return self._tdvp.state if self.method == "tdvp" else self._vstate

    def describe(self) -> str:
        if self.method == "tdvp":
            options = self._tdvp.options
            mixing = f", mixing={options.mixing:g}" if options.mixing else ""
            return f", integrator={options.integrator}{mixing}"
        return f", inner={self._cn.options.optimizer}"

    def advance(self, t_target, n_steps, energy_shift) -> list[dict]:
        if self.method == "tdvp":
            rows = self._tdvp.advance(t_target)
            self.step_count += len(rows)
            return rows
        rows = []
        for _ in range(n_steps):
            params, key, info = self._cn.step(self._params, self._key, self.dt, energy_shift)
            loss = float(info["loss"])
            if not (math.isfinite(loss) and _finite(params)):
                raise NonFiniteError(
                    f"non-finite loss or parameters in time step {self.step_count}"
                )
            self._params, self._key = params, key
            self.step_count += 1
            rows.append({"time": grid_time(self.step_count, self.dt), "loss": loss,
                         "n_iterations": int(info["n_iterations"])})
        self._vstate.parameters = self._params
        return rows

    def checkpoint(self) -> dict:
        if self.method == "tdvp":
            return self._tdvp.checkpoint()
        self._vstate.parameters = self._params
        if isinstance(self._vstate, nk.vqs.MCState):
            self._vstate.reset()  # so that the current sampler key is what gets stored
        return state_to_flat({"state": self._vstate, "key": self._key})

    def restore(self, step: int, flat) -> None:
        """Continue from the checkpoint taken after ``step`` time steps."""
        self.step_count = step
        if self.method == "tdvp":
            self._tdvp.restore(flat)
            return
        restored = flat_to_state({"state": self._vstate, "key": self._key}, flat)
        self._vstate = restored["state"]
        self._params = self._vstate.parameters
        self._key = jax.numpy.asarray(restored["key"])


def _finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(tree))
