"""Exact ground states inside a symmetry sector (dense or sparse Lanczos)."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg

from nqs.errors import NQSError

#: Largest sector exact diagonalisation is attempted on (about 25 spins-1/2 in S^z = 0).
MAX_SECTOR_STATES = 6_000_000
_DENSE_LIMIT = 1024


def sector_size(hilbert) -> int:
    return int(hilbert.n_states)


def ground_state(hamiltonian, hilbert) -> tuple[float, np.ndarray]:
    """Lowest eigenpair of ``hamiltonian`` restricted to the (constrained) ``hilbert``.

    Returns:
        ``(energy, vector)`` with the vector indexed like ``hilbert.all_states()``.
    """
    n = sector_size(hilbert)
    if n > MAX_SECTOR_STATES:
        raise NQSError(
            f"The sector has {n} states, too many for exact diagonalisation "
            f"(limit {MAX_SECTOR_STATES}); use a smaller system for exact references."
        )
    matrix = hamiltonian.to_sparse()
    if n <= _DENSE_LIMIT:
        w, v = np.linalg.eigh(matrix.toarray())
        return float(w[0]), v[:, 0]
    v0 = np.random.default_rng(0).normal(size=n)
    w, v = scipy.sparse.linalg.eigsh(matrix, k=1, which="SA", v0=v0, tol=1e-12)
    return float(w[0]), v[:, 0]


def expectation(operator, vector: np.ndarray) -> complex:
    """<v|O|v> / <v|v> for a vector on the operator's (constrained) Hilbert space."""
    ov = operator.to_sparse() @ vector
    return complex(np.vdot(vector, ov) / np.vdot(vector, vector))
