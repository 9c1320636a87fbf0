r"""Exact real-time evolution inside a symmetry sector, for references and tests.

:math:`|\psi(t)\rangle = e^{-iHt}|\psi_0\rangle` (:math:`\hbar = 1`, time in the inverse units of
the Hamiltonian's energies) with ``scipy.sparse.linalg.expm_multiply`` on the sparse Hamiltonian
of the sector (``system.hamiltonian.to_sparse()``, indexed like ``system.hilbert.all_states()``).
:func:`crank_nicolson_evolution` applies the exact Cayley map
:math:`(1 + i\tau H/2)^{-1}(1 - i\tau H/2)` instead, i.e. the trapezoid integrator without any
variational error (dynamics.md §3.1, §5).

Example:
    >>> import numpy as np, hamiltonians
    >>> from hamiltonians.exact_dynamics import exact_evolution
    >>> system = hamiltonians.tfim_chain(4, h=1.0)
    >>> plus = np.full(16, 0.25)                       # |+>^4
    >>> ref = exact_evolution(system, plus, [0.0, 0.5])
    >>> round(float(ref["magnetization_x"][0]), 12)
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from hamiltonians.exact import MAX_SECTOR_STATES
from nqs.errors import NQSError


def state_vector(model, variables, hilbert) -> np.ndarray:
    r""":math:`\psi(x)` for every ``x`` of ``hilbert.all_states()`` (full enumeration).

    Autoregressive models are normalised on their sector, so the vector has unit norm up to
    rounding; it is returned as computed (not renormalised).
    """
    _check_size(hilbert)
    states = hilbert.all_states()
    return np.exp(np.asarray(model.apply(variables, states), dtype=np.complex128))


def _check_size(hilbert) -> None:
    if hilbert.n_states > MAX_SECTOR_STATES:
        raise NQSError(
            f"The sector has {hilbert.n_states} states, too many for exact dynamics "
            f"(limit {MAX_SECTOR_STATES}); use a smaller system for exact references."
        )


def _check_times(times) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    if times.size == 0 or np.any(np.diff(times) < 0) or times[0] < 0:
        raise NQSError("times must be a non-empty, non-decreasing sequence of times >= 0.")
    return times


def _measure(vector, matrices: Mapping, out: dict) -> None:
    norm = np.vdot(vector, vector).real
    for name, matrix in matrices.items():
        value = np.vdot(vector, matrix @ vector) / norm
        out.setdefault(name, []).append(value)


def _finish(times, out: dict, states, keep_states: bool) -> dict:
    result = {"times": times}
    for name, values in out.items():
        values = np.asarray(values)
        result[name] = values.real if np.allclose(values.imag, 0, atol=1e-12) else values
    if keep_states:
        result["states"] = np.asarray(states)
    return result


def _matrices(system, observables) -> dict:
    if observables is None:
        observables = dict(system.observables)
    matrices = {"energy": system.hamiltonian.to_sparse()}
    matrices.update({name: op.to_sparse() for name, op in observables.items()})
    return matrices


def exact_evolution(
    system, psi0, times, observables: Mapping | None = None, *, keep_states: bool = False
) -> dict:
    r"""Exact :math:`e^{-iHt}\psi_0` at ``times`` and the expectation values along it.

    Args:
        system: a :class:`hamiltonians.System` (its sector is the space of ``psi0``).
        psi0: initial vector indexed like ``system.hilbert.all_states()`` (normalised here).
        times: non-decreasing times :math:`\ge 0`.
        observables: ``{name: operator}`` (default: the system's named observables).
        keep_states: also return the state vectors, shape ``(len(times), n_states)``.

    Returns:
        ``{"times", "energy", <observable>..., "loschmidt_echo"[, "states"]}``: arrays over
        ``times``; real where the imaginary part vanishes (Hermitian operators).
        ``loschmidt_echo`` is :math:`|\langle\psi_0|\psi(t)\rangle|^2`.
    """
    _check_size(system.hilbert)
    times = _check_times(times)
    psi = np.asarray(psi0, dtype=np.complex128)
    if psi.shape != (system.hilbert.n_states,):
        raise NQSError(
            f"psi0 has shape {psi.shape}, the sector of {system.hilbert} needs "
            f"({system.hilbert.n_states},); build it with state_vector(model, variables, "
            "system.hilbert)."
        )
    psi = psi / np.linalg.norm(psi)
    psi_start = psi.copy()
    generator = (-1j * system.hamiltonian.to_sparse()).tocsc()
    matrices = _matrices(system, observables)
    out, states, t_now = {}, [], 0.0
    for t in times:
        if t > t_now:
            psi = scipy.sparse.linalg.expm_multiply(generator * (t - t_now), psi)
            t_now = t
        _measure(psi, matrices, out)
        out.setdefault("loschmidt_echo", []).append(abs(np.vdot(psi_start, psi)) ** 2)
        states.append(psi.copy())
    return _finish(times, out, states, keep_states)


def crank_nicolson_evolution(
    system, psi0, dt: float, n_steps: int, observables: Mapping | None = None,
    *, energy_shift: float = 0.0, keep_states: bool = False,
) -> dict:
    r"""Exact Crank–Nicolson steps :math:`\psi_{k+1} = (1 + i\tau H'/2)^{-1}(1 - i\tau H'/2)\psi_k`
    with :math:`H' = H - E_s` (``energy_shift``; :func:`solvers.evolve` uses
    :math:`E_s = \langle H\rangle_0`).

    The integrator error alone, without variational error (``dt`` is the physical step
    :math:`\tau`). A shift changes the exact evolution by a global phase only, but the
    Crank–Nicolson phase error per step, :math:`((E - E_s)\tau)^3/12` in each eigenstate, depends
    on it. Returns the same dictionary as :func:`exact_evolution`, at
    ``times = dt * arange(n_steps + 1)``.
    """
    _check_size(system.hilbert)
    eye = scipy.sparse.identity(system.hilbert.n_states, format="csc", dtype=np.complex128)
    h = system.hamiltonian.to_sparse().tocsc() - energy_shift * eye
    lhs = scipy.sparse.linalg.splu((eye + 0.5j * dt * h).tocsc())
    rhs = (eye - 0.5j * dt * h).tocsr()
    psi = np.asarray(psi0, dtype=np.complex128)
    psi = psi / np.linalg.norm(psi)
    psi_start = psi.copy()
    matrices = _matrices(system, observables)
    out, states = {}, []
    for k in range(n_steps + 1):
        if k:
            psi = lhs.solve(rhs @ psi)
        _measure(psi, matrices, out)
        out.setdefault("loschmidt_echo", []).append(abs(np.vdot(psi_start, psi)) ** 2)
        states.append(psi.copy())
    return _finish(dt * np.arange(n_steps + 1), out, states, keep_states)
