r"""Informationally complete single-qubit POVMs: frames, dual frames, observables, ρ ↔ P.

A density matrix of :math:`N` qubits is represented by the probabilities of the outcomes
:math:`a = (a_1, \dots, a_N) \in \{0,1,2,3\}^N` of a product measurement
(Carrasquilla, Torlai, Melko & Aolita, PRA 99, 012113 (2019); Luo, Chen, Carrasquilla & Clark,
PRL 128, 090501 (2022)):

.. math::

    P(a) = \mathrm{tr}(\rho\, M^{a}),\qquad M^{a} = M^{a_1}\otimes\dots\otimes M^{a_N},\qquad
    \rho = \sum_a P(a)\, Q^{a},\qquad Q^{a} = \sum_b (T^{-1})_{ab} M^{b},\quad
    T_{ab} = \mathrm{tr}(M^a M^b),

and :math:`\langle O\rangle = \sum_a P(a)\,O(a)` with :math:`O(a) = \mathrm{tr}(O\,Q^a)`.

Conventions (``physics/povm.md`` §2, outcome order matters):

* qubit basis :math:`|0\rangle = |{\uparrow}\rangle` (:math:`\sigma^z = +1`),
  :math:`|1\rangle = |{\downarrow}\rangle`; multi-qubit basis and outcome strings with site 0
  most significant (``np.kron`` order, the order of ``nk.hilbert.Fock(3, N).all_states()``);
* ``"pauli4"``: :math:`M^0 = \tfrac13|0\rangle\langle0|,\ M^1 = \tfrac13|{+}\rangle\langle{+}|,\
  M^2 = \tfrac13|{+i}\rangle\langle{+i}|,\ M^3 = 1 - M^0 - M^1 - M^2` (Luo et al.);
* ``"sic"`` (tetrahedral): :math:`M^a = \tfrac14(1 + s_a\cdot\sigma)` with
  :math:`s_0 = (0,0,1)`, :math:`s_1 = (2\sqrt2/3, 0, -\tfrac13)`,
  :math:`s_{2,3} = (-\sqrt2/3, \pm\sqrt{2/3}, -\tfrac13)` (the jVMC frame; Reh, Schmitt &
  Gärttner, PRL 127, 230501 (2021)).

The dense conversions :func:`probabilities` and :func:`density_matrix` are for tests and tiny
systems (:math:`N \le` :data:`MAX_DENSE_SITES`).

Example:
    >>> from hamiltonians.povm import povm, PAULI
    >>> frame = povm("pauli4")
    >>> frame.observable(PAULI["z"]).round(12).tolist()
    [5.0, -1.0, -1.0, -1.0]
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nqs.errors import NQSError, did_you_mean

#: Pauli matrices in the basis (|↑>, |↓>); ``"-"`` is σ^− = |↓><↑|, ``"+"`` is σ^+ = |↑><↓|.
PAULI = {
    "i": np.eye(2, dtype=complex),
    "x": np.array([[0, 1], [1, 0]], dtype=complex),
    "y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "z": np.array([[1, 0], [0, -1]], dtype=complex),
    "-": np.array([[0, 0], [1, 0]], dtype=complex),
    "+": np.array([[0, 1], [0, 0]], dtype=complex),
}

#: Largest number of sites the dense ρ ↔ P conversions accept (4^N outcome strings).
MAX_DENSE_SITES = 8


@dataclasses.dataclass(frozen=True, eq=False)
class POVM:
    """A single-qubit informationally complete POVM with its dual frame.

    Attributes:
        name: ``"pauli4"`` or ``"sic"``.
        M: frame elements, shape ``(4, 2, 2)``; ``M[a]`` is :math:`M^a`.
        T: overlap matrix :math:`T_{ab} = \\mathrm{tr}(M^a M^b)`, shape ``(4, 4)``, real.
        T_inv: its inverse.
        Q: dual frame :math:`Q^a = \\sum_b (T^{-1})_{ab} M^b`, shape ``(4, 2, 2)``, with
            :math:`\\mathrm{tr}\\, Q^a = 1` and :math:`\\mathrm{tr}(M^a Q^b) = \\delta_{ab}`.
    """

    name: str
    M: np.ndarray
    T: np.ndarray
    T_inv: np.ndarray
    Q: np.ndarray

    @classmethod
    def from_elements(cls, name: str, M: np.ndarray) -> POVM:
        """Build the overlap matrix and dual frame of the frame elements ``M`` (4, 2, 2)."""
        M = np.asarray(M, dtype=complex)
        T = np.einsum("arc,bcr->ab", M, M).real
        T_inv = np.linalg.inv(T)
        Q = np.einsum("ab,bij->aij", T_inv, M)
        for array in (M, T, T_inv, Q):
            array.setflags(write=False)
        return cls(name, M, T, T_inv, Q)

    @property
    def n_outcomes(self) -> int:
        return self.M.shape[0]

    def elements(self, n_sites: int) -> np.ndarray:
        """Tensor-product frame :math:`M^{a_1}\\otimes\\dots`, shape ``(4^k, 2^k, 2^k)``."""
        return _tensor_power(self.M, n_sites)

    def duals(self, n_sites: int) -> np.ndarray:
        """Tensor-product dual frame :math:`Q^{a_1}\\otimes\\dots`, shape ``(4^k, 2^k, 2^k)``."""
        return _tensor_power(self.Q, n_sites)

    def observable(self, operator) -> np.ndarray:
        r"""Observable vector :math:`O(a) = \mathrm{tr}(O\, Q^{a_1}\otimes\dots\otimes Q^{a_k})`.

        Args:
            operator: a :math:`2^k \times 2^k` matrix acting on :math:`k` sites (basis order
                as in the module docstring).

        Returns:
            Array of shape ``(4,) * k`` with ``O[a_1, ..., a_k]``; real for Hermitian operators
            (then :math:`\langle O\rangle = \sum_a P(a) O(a)` is real for every P), complex
            otherwise.
        """
        op = np.asarray(operator, dtype=complex)
        k = _n_qubits(op.shape, "operator")
        values = np.einsum("rc,acr->a", op, self.duals(k))
        if np.allclose(values.imag, 0, atol=1e-13):
            values = values.real
        return values.reshape((self.n_outcomes,) * k)

    def __repr__(self):
        return f"POVM({self.name!r})"


def _tensor_power(frame: np.ndarray, k: int) -> np.ndarray:
    out = np.ones((1, 1, 1), dtype=frame.dtype)
    for _ in range(k):
        out = np.einsum("aij,bkl->abikjl", out, frame).reshape(
            out.shape[0] * frame.shape[0], out.shape[1] * 2, out.shape[2] * 2
        )
    return out


def _n_qubits(shape, what: str) -> int:
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 2 or shape[0] & (shape[0] - 1):
        raise NQSError(
            f"The {what} must be a square 2^k x 2^k matrix (k qubits), got shape {tuple(shape)}."
        )
    return int(shape[0]).bit_length() - 1


def _pauli4() -> POVM:
    up = np.array([1, 0], dtype=complex)
    plus = np.array([1, 1], dtype=complex) / np.sqrt(2)
    plus_i = np.array([1, 1j], dtype=complex) / np.sqrt(2)
    m = [np.outer(v, v.conj()) / 3 for v in (up, plus, plus_i)]
    return POVM.from_elements("pauli4", np.stack([*m, np.eye(2) - sum(m)]))


#: Bloch vectors of the tetrahedral SIC-POVM, in outcome order (povm.md §2.2).
SIC_VECTORS = np.array(
    [
        [0.0, 0.0, 1.0],
        [2 * np.sqrt(2) / 3, 0.0, -1 / 3],
        [-np.sqrt(2) / 3, np.sqrt(2 / 3), -1 / 3],
        [-np.sqrt(2) / 3, -np.sqrt(2 / 3), -1 / 3],
    ]
)


def _sic() -> POVM:
    sigma = np.stack([PAULI["x"], PAULI["y"], PAULI["z"]])
    m = (np.eye(2) + np.einsum("ak,kij->aij", SIC_VECTORS, sigma)) / 4
    return POVM.from_elements("sic", m)


_FRAMES = {"pauli4": _pauli4, "sic": _sic}
_ALIASES = {"tetrahedral": "sic"}


def povm(name: str | POVM) -> POVM:
    """The POVM called ``name``: ``"pauli4"`` or ``"sic"`` (alias ``"tetrahedral"``).

    A :class:`POVM` instance is returned unchanged, so functions can accept either.

    Raises:
        NQSError: for an unknown name, with the closest known one.
    """
    if isinstance(name, POVM):
        return name
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in _FRAMES:
        choices = [*_FRAMES, *_ALIASES]
        raise NQSError(
            f"Unknown POVM {name!r}{did_you_mean(str(name), choices)}; use 'pauli4' (Luo et "
            "al.) or 'sic' (tetrahedral, jVMC)."
        )
    return _FRAMES[key]()


def _n_sites_of(dim: int, base: int, what: str) -> int:
    n = round(np.log(dim) / np.log(base)) if dim > 0 else -1
    if n < 1 or base**n != dim:
        raise NQSError(f"The {what} has length {dim}, which is not {base}^N for N >= 1.")
    if n > MAX_DENSE_SITES:
        raise NQSError(
            f"Dense POVM conversions are limited to N <= {MAX_DENSE_SITES} sites (got N = {n}); "
            "use Monte Carlo estimates for larger systems."
        )
    return n


def probabilities(rho, frame: str | POVM) -> np.ndarray:
    r"""POVM distribution :math:`P(a) = \mathrm{tr}(\rho M^a)` of an N-qubit density matrix.

    Args:
        rho: ``(2^N, 2^N)`` density matrix (site 0 most significant).
        frame: the POVM or its name.

    Returns:
        Real array of shape ``(4^N,)``, indexed like ``nk.hilbert.Fock(3, N).all_states()``.
    """
    frame = povm(frame)
    rho = np.asarray(rho, dtype=complex)
    if rho.ndim != 2 or rho.shape[0] != rho.shape[1]:
        raise NQSError(f"rho must be a square matrix, got shape {rho.shape}.")
    n = _n_sites_of(rho.shape[0], 2, "density matrix")
    t = rho.reshape((2,) * (2 * n))
    # Contract site i's row and column with M[a, c, r] (tr(ρM) = Σ ρ_rc M_cr); the outcome
    # axis is appended last, so the outcomes end up in site order.
    for i in range(n):
        t = np.tensordot(t, frame.M, axes=([0, n - i], [2, 1]))
    return t.reshape(-1).real.copy()


def density_matrix(p, frame: str | POVM) -> np.ndarray:
    r"""Reconstruction :math:`\rho = \sum_a P(a)\, Q^a` (Hermitian with unit trace for normalised
    P; positivity is *not* guaranteed for an arbitrary P, ``povm.md`` §9).

    Args:
        p: ``(4^N,)`` probabilities indexed like ``nk.hilbert.Fock(3, N).all_states()``.
        frame: the POVM or its name.

    Returns:
        The ``(2^N, 2^N)`` density matrix.
    """
    frame = povm(frame)
    p = np.asarray(p)
    if p.ndim != 1:
        raise NQSError(f"p must be a vector of 4^N probabilities, got shape {p.shape}.")
    n = _n_sites_of(p.shape[0], 4, "probability vector")
    t = p.reshape((4,) * n).astype(complex)
    for _ in range(n):
        t = np.tensordot(t, frame.Q, axes=([0], [0]))  # appends (row, col) of the next site
    order = [2 * i for i in range(n)] + [2 * i + 1 for i in range(n)]
    return t.transpose(order).reshape(2**n, 2**n)


def purity(p, frame: str | POVM) -> float:
    r"""Purity :math:`\mathrm{tr}\rho^2 = \sum_{a,b} P(a)P(b)\,(T^{-1})^{\otimes N}_{ab}`.

    Uses :math:`\mathrm{tr}(Q^a Q^b) = (T^{-1})_{ab}`; no density matrix is built.
    """
    frame = povm(frame)
    p = np.asarray(p, dtype=float)
    n = _n_sites_of(p.shape[0], 4, "probability vector")
    t = p.reshape((4,) * n)
    for _ in range(n):
        t = np.tensordot(t, frame.T_inv, axes=([0], [0]))
    return float(np.dot(t.reshape(-1), p))
