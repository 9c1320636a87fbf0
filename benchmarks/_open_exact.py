"""Exact references for the open-system benchmarks beyond ``OpenSystem``'s N <= 6 limit.

* :func:`sparse_lindbladian`: the density-matrix Lindbladian as a sparse 4^N x 4^N matrix
  (row-major vectorisation, vec(A rho B) = (A kron B^T) vec(rho)), built from the system's
  local terms; independent of the POVM generator.
* :func:`exact_dynamics`: :math:`\\rho(t) = e^{\\mathcal L t}\\rho_0` with ``expm_multiply`` and
  site-averaged Pauli expectations (3x3 lattice: 262,144-dimensional vectors).
* :func:`povm_steady_state`: null vector of the sparse POVM generator for N <= 8.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from hamiltonians import lindblad
from hamiltonians.povm import PAULI


def _embed(op, sites, n):
    """Sparse :math:`2^N\\times2^N` matrix of a 1- or 2-site operator (site 0 most significant)."""
    op = sp.csr_matrix(np.asarray(op, dtype=complex))
    sites = tuple(sites)
    if len(sites) == 1:
        (i,) = sites
        return sp.kron(sp.kron(sp.identity(2**i), op), sp.identity(2 ** (n - i - 1))).tocsr()
    i, j = sites
    if j == i + 1:
        return sp.kron(sp.kron(sp.identity(2**i), op), sp.identity(2 ** (n - j - 1))).tocsr()
    # General pair: expand op = sum_k A_k (x) B_k (operator Schmidt decomposition).
    dense = np.asarray(op.todense()).reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    u, s, vh = np.linalg.svd(dense)
    out = sp.csr_matrix((2**n, 2**n), dtype=complex)
    for k in np.flatnonzero(s > 1e-14):
        a = (u[:, k] * s[k]).reshape(2, 2)
        b = vh[k].reshape(2, 2)
        out = out + _embed(a, (i,), n) @ _embed(b, (j,), n)
    return out.tocsr()


def sparse_lindbladian(system) -> sp.csr_matrix:
    """Sparse density-matrix Lindbladian of ``system`` (``OpenSystem``), shape ``(4^N, 4^N)``."""
    n = system.n_sites
    dim = 2**n
    one = sp.identity(dim, dtype=complex, format="csr")
    h = sp.csr_matrix((dim, dim), dtype=complex)
    for sites, term in system.hamiltonian:
        h = h + _embed(term, sites, n)
    out = -1j * (sp.kron(h, one) - sp.kron(one, h.T))
    for sites, op, rate in system.jump_ops:
        op = _embed(op, sites, n)
        decay = (op.conj().T @ op).tocsr()
        out = out + rate * (
            sp.kron(op, op.conj()) - 0.5 * sp.kron(decay, one) - 0.5 * sp.kron(one, decay.T)
        )
    return out.tocsr()


def _site_average(n, pauli):
    ops = [_embed(PAULI[pauli], (i,), n) for i in range(n)]
    return sum(ops[1:], ops[0]) / n


def exact_dynamics(system, times, observables=("x", "y", "z")) -> dict[str, np.ndarray]:
    """Site-averaged <sigma^alpha>(t) from rho(t) = exp(L t) rho_0, with the product state
    rho_0 = rho_1^(x N) of ``system.initial_site_state``."""
    n = system.n_sites
    rho = np.ones((1, 1), dtype=complex)
    for _ in range(n):
        rho = np.kron(rho, system.initial_site_state)
    liouvillian = sparse_lindbladian(system).tocsc()
    ops = {a: _site_average(n, a) for a in observables}
    vec, now = rho.reshape(-1), 0.0
    out = {f"sigma_{a}": [] for a in observables}
    for t in times:
        if t > now:
            vec = spla.expm_multiply(liouvillian * (t - now), vec)
            now = t
        matrix = vec.reshape(2**n, 2**n)
        for a, op in ops.items():
            out[f"sigma_{a}"].append((op.multiply(matrix.T)).sum().real)  # tr(O rho)
    return {k: np.asarray(v) for k, v in out.items()}


def povm_steady_state(system) -> dict[str, float]:
    """Exact steady-state observables from the sparse POVM generator (N <= 8, 4^N strings)."""
    n = system.n_sites
    matrix = lindblad.generator_matrix(n, system.generator.blocks, sparse=True).tolil()
    matrix[0, :] = np.ones(matrix.shape[1])  # normalisation replaces a redundant row
    rhs = np.zeros(matrix.shape[0])
    rhs[0] = 1.0
    p = spla.spsolve(matrix.tocsc(), rhs)
    strings = np.indices((4,) * n).reshape(n, -1).T
    return {
        name: float(p @ np.asarray(op.get_conn_padded(strings)[1][:, 0]))
        for name, op in system.observables.items()
    }
