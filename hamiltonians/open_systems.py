r"""Open quantum systems in the POVM formulation, with exact references for tiny sizes.

An :class:`OpenSystem` bundles the POVM Hilbert space ``Fock(n_max=3, N)``, the jittable POVM
generator :math:`\mathcal L` (:mod:`hamiltonians.lindblad`), the frame, the physical terms
(:math:`H` and the jump operators), named observables as POVM observable vectors (diagonal
operators whose local value is :math:`O(a) = \sum_\text{terms} c\,\mathrm{tr}(O\,Q^{a_S})`, so that
:math:`\langle O\rangle = \sum_a P(a)O(a) = \mathbb E_{a\sim P}[O(a)]`) and the parameters.

Families (``physics/models.md`` §11–12), with
:math:`\sigma^- = |{\downarrow}\rangle\langle{\uparrow}|`:

* :func:`dissipative_ising_chain`: :math:`H = \frac V4\sum_i\sigma^z_i\sigma^z_{i+1}
  + \frac g2\sum_i\sigma^x_i`, :math:`L_i = \sqrt\gamma\,\sigma^-_i` (Luo, Chen, Carrasquilla &
  Clark, PRL 128, 090501 (2022));
* :func:`dissipative_xyz`: :math:`H = \sum_{\langle ij\rangle}(J_x\sigma^x_i\sigma^x_j
  + J_y\sigma^y_i\sigma^y_j + J_z\sigma^z_i\sigma^z_j)`, :math:`L_i = \sqrt\gamma\,\sigma^-_i`,
  on the periodic :math:`L\times L` square lattice.

Exact references (:math:`N \le` :data:`MAX_EXACT_SITES`): the steady state (null vector of
:math:`\mathcal L`, or of the density-matrix superoperator), the evolution
:math:`P(t) = e^{\mathcal Lt}P(0)` (``scipy.sparse.linalg.expm_multiply``) and observables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import jax.numpy as jnp
import netket as nk
import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from netket.utils import HashablePartial

from hamiltonians import lindblad
from hamiltonians.operators import DiagonalOperator
from hamiltonians.povm import PAULI, POVM, density_matrix, probabilities
from hamiltonians.povm import povm as _frame
from nqs.errors import NQSError, check_choice, positive_int
from nqs.povm_model import product_state_probabilities

#: Largest system for exact references (4^N outcome strings).
MAX_EXACT_SITES = 6

SPIN_UP = np.array([[1, 0], [0, 0]], dtype=complex)


def _table_sum(x, local_states, single_sites, single_tables, pair_sites, pair_tables):
    idx = jnp.searchsorted(jnp.asarray(local_states, dtype=x.dtype), x)
    out = jnp.zeros(x.shape[:-1])
    if single_sites:
        t = jnp.asarray(single_tables)
        out += t[jnp.arange(len(single_sites)), idx[..., jnp.asarray(single_sites)]].sum(-1)
    if pair_sites:
        t, s = jnp.asarray(pair_tables), np.asarray(pair_sites)
        out += t[jnp.arange(len(pair_sites)), idx[..., s[:, 0]], idx[..., s[:, 1]]].sum(-1)
    return out


def povm_observable(hilbert, frame: str | POVM, terms, name: str) -> DiagonalOperator:
    r"""Observable :math:`O = \sum_t c_t O_t` as a POVM diagonal operator on ``hilbert``.

    Its local value is :math:`O(a) = \sum_t c_t\,\mathrm{tr}(O_t\,Q^{a_{S_t}})`, so the NetKet
    expectation on a probability model (``machine_pow=1``) is :math:`\sum_a P(a)O(a) =
    \mathrm{tr}(\rho O)`.

    Args:
        hilbert: the POVM Hilbert space (4 local states).
        frame: the POVM or its name.
        terms: sequence of ``(sites, operator, coefficient)``, Hermitian 1- or 2-site operators.
        name: label used in reprs.
    """
    frame = _frame(frame)
    singles, pairs = ([], []), ([], [])
    for sites, op, coefficient in terms:
        sites = tuple(int(s) for s in np.atleast_1d(sites))
        op = np.asarray(op, dtype=complex)
        if len(sites) not in (1, 2) or not np.allclose(op, op.conj().T):
            raise NQSError(f"Observable {name!r}: terms must be Hermitian 1- or 2-site operators.")
        table = coefficient * frame.observable(op)
        target = singles if len(sites) == 1 else pairs
        target[0].append(sites[0] if len(sites) == 1 else sites)
        target[1].append(_nested(table))
    fn = HashablePartial(
        _table_sum,
        local_states=tuple(np.asarray(hilbert.local_states).tolist()),
        single_sites=tuple(singles[0]),
        single_tables=tuple(singles[1]),
        pair_sites=tuple(pairs[0]),
        pair_tables=tuple(pairs[1]),
    )
    return DiagonalOperator(hilbert, fn, name)


def _nested(array: np.ndarray):
    return tuple(_nested(a) for a in array) if array.ndim else float(array)


def _pauli_observables(hilbert, frame, n: int, bonds) -> dict[str, DiagonalOperator]:
    """Site-averaged σ^α and bond-averaged σ^α σ^α (not connected)."""
    out = {}
    for a in "xyz":
        terms = [((i,), PAULI[a], 1 / n) for i in range(n)]
        out[f"sigma_{a}"] = povm_observable(hilbert, frame, terms, f"mean sigma^{a}")
    for a in "xyz" if bonds else "":
        pair = np.kron(PAULI[a], PAULI[a])
        terms = [(b, pair, 1 / len(bonds)) for b in bonds]
        label = f"mean nn sigma^{a} sigma^{a}"
        out[f"{a}{a}_nearest"] = povm_observable(hilbert, frame, terms, label)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class OpenSystem:
    """A Lindblad problem in the POVM formulation.

    Attributes:
        name: short identifier, e.g. ``"dissipative_ising_chain"``.
        hilbert: ``nk.hilbert.Fock(n_max=3, N)``; outcome strings, site 0 most significant.
        generator: the POVM generator, a NetKet JAX operator
            (``get_conn_padded(a) -> (a', L[a, a'])``, output index first).
        povm: the frame.
        hamiltonian: ``((sites, h), ...)`` local Hermitian terms.
        jump_ops: ``((sites, L, rate), ...)``.
        observables: named POVM observables (diagonal operators, :func:`povm_observable`).
        parameters: physical parameters, for metadata.
        bonds: the bonds (single-site terms are assigned to them, ``lindblad`` docstring).
        initial_site_state: 2×2 density matrix of the product initial state (all up).

    Example:
        >>> import hamiltonians.open_systems as hos
        >>> system = hos.dissipative_ising_chain(4, g=1.0)
        >>> obs = system.exact_observables(system.exact_steady_state())
        >>> round(obs["sigma_z"], 6)
        -0.812814
    """

    name: str
    hilbert: Any
    generator: lindblad.POVMGenerator
    povm: POVM
    hamiltonian: tuple
    jump_ops: tuple
    observables: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    bonds: tuple = ()
    initial_site_state: np.ndarray = dataclasses.field(default_factory=lambda: SPIN_UP.copy())
    _cache: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "observables", MappingProxyType(dict(self.observables)))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        if self.generator.hilbert != self.hilbert:
            raise NQSError(
                f"The generator acts on {self.generator.hilbert} but the system's space is "
                f"{self.hilbert}; build both on the same Fock(n_max=3, N) space."
            )

    @property
    def n_sites(self) -> int:
        return self.hilbert.size

    def _check_exact(self) -> None:
        if self.n_sites > MAX_EXACT_SITES:
            raise NQSError(
                f"Exact references need the 4^N x 4^N generator; N = {self.n_sites} exceeds "
                f"the limit N <= {MAX_EXACT_SITES}. Use a smaller system."
            )

    def generator_matrix(self) -> scipy.sparse.csr_matrix:
        """The full generator as a sparse matrix (rows are outputs; cached)."""
        self._check_exact()
        if "matrix" not in self._cache:
            self._cache["matrix"] = lindblad.generator_matrix(
                self.n_sites, self.generator.blocks, sparse=True
            )
        return self._cache["matrix"]

    def initial_probabilities(self) -> np.ndarray:
        """:math:`P_0(a) = \\prod_i p_1(a_i)` of the product initial state, shape ``(4^N,)``."""
        self._check_exact()
        p1 = product_state_probabilities(self.povm, self.initial_site_state)
        out = np.ones(1)
        for _ in range(self.n_sites):
            out = np.kron(out, p1)
        return out

    def exact_steady_state(self, method: str = "povm") -> np.ndarray:
        """The steady state :math:`P_\\mathrm{ss}`, ``(4^N,)``, with :math:`\\mathcal LP = 0`.

        Args:
            method: ``"povm"`` (sparse null vector of :math:`\\mathcal L`, any N up to
                :data:`MAX_EXACT_SITES`) or ``"superoperator"`` (null vector of the
                density-matrix Lindbladian, converted with :func:`~hamiltonians.povm.probabilities`;
                independent of the generator, N <= 5).

        The normalisation :math:`\\sum_a P(a) = 1` (resp. :math:`\\mathrm{tr}\\rho = 1`) replaces
        the first equation, which is redundant: the columns of the generator sum to zero (trace
        preservation), so its rows add up to zero.
        """
        check_choice("method", method, ("povm", "superoperator"))
        self._check_exact()
        if method == "povm":
            matrix = self.generator_matrix().tolil(copy=True)
            matrix[0, :] = np.ones(matrix.shape[1])
            rhs = np.zeros(matrix.shape[0])
            rhs[0] = 1.0
            p = scipy.sparse.linalg.spsolve(matrix.tocsc(), rhs)
        else:
            superop = lindblad.superoperator(self.n_sites, self.hamiltonian, self.jump_ops)
            dim = 2**self.n_sites
            superop[0, :] = np.eye(dim).reshape(-1)
            rhs = np.zeros(dim * dim, dtype=complex)
            rhs[0] = 1.0
            rho = np.linalg.solve(superop, rhs).reshape(dim, dim)
            p = probabilities(0.5 * (rho + rho.conj().T), self.povm)
        if not np.all(np.isfinite(p)) or np.abs(self.generator_matrix() @ p).max() > 1e-8:
            raise NQSError(
                f"{self.name}: no unique steady state (singular generator); check the rates."
            )
        return p

    def exact_evolution(self, times, p0=None) -> np.ndarray:
        """:math:`P(t) = e^{\\mathcal Lt}P_0` at each time, shape ``(len(times), 4^N)``.

        Args:
            times: non-decreasing, non-negative times.
            p0: initial distribution (default: :meth:`initial_probabilities`).
        """
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if times.ndim != 1 or np.any(times < 0) or np.any(np.diff(times) < 0):
            raise NQSError(f"times must be non-negative and non-decreasing, got {times}.")
        matrix = self.generator_matrix().tocsc()
        p = self.initial_probabilities() if p0 is None else np.asarray(p0, dtype=float)
        out, now = [], 0.0
        for t in times:
            if t > now:
                p = scipy.sparse.linalg.expm_multiply(matrix * (t - now), p)
                now = t
            out.append(p)
        return np.stack(out)

    def exact_observables(self, p) -> dict:
        """:math:`\\langle O\\rangle = \\sum_a P(a)O(a)` for every observable.

        ``p`` of shape ``(4^N,)`` gives floats, ``(T, 4^N)`` arrays of length ``T``.
        """
        self._check_exact()
        strings = self.hilbert.all_states()
        p = np.asarray(p)
        out = {}
        for key, op in self.observables.items():
            values = np.asarray(op.get_conn_padded(strings)[1][:, 0])
            out[key] = float(p @ values) if p.ndim == 1 else p @ values
        return out

    def density_matrix(self, p) -> np.ndarray:
        """:math:`\\rho = \\sum_a P(a)Q^a` (tiny systems)."""
        return density_matrix(p, self.povm)

    def __repr__(self):
        params = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        return f"OpenSystem({self.name}: {params}; {self.povm.name}, {self.hilbert})"


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not np.isfinite(value):
        raise NQSError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def _rate(name: str, value) -> float:
    value = _finite(name, value)
    if value < 0:
        raise NQSError(f"{name} is a dissipation rate and must be >= 0, got {value}.")
    return value


def _build(name, n, frame, hamiltonian, jumps, bonds, parameters) -> OpenSystem:
    hilbert = nk.hilbert.Fock(n_max=3, N=n)
    return OpenSystem(
        name=name,
        hilbert=hilbert,
        generator=lindblad.POVMGenerator(
            hilbert, lindblad.generator_blocks(n, hamiltonian, jumps, frame)
        ),
        povm=frame,
        hamiltonian=tuple(hamiltonian),
        jump_ops=tuple(jumps),
        observables=_pauli_observables(hilbert, frame, n, bonds),
        parameters={**parameters, "povm": frame.name},
        bonds=tuple(bonds),
    )


def dissipative_ising_chain(
    n: int,
    *,
    V: float = 2.0,
    g: float = 1.0,
    gamma: float = 1.0,
    pbc: bool = True,
    povm: str | POVM = "pauli4",
) -> OpenSystem:
    r"""Dissipative transverse-field Ising chain (``models.md`` §11).

    .. math::

        H = \frac V4\sum_i\sigma^z_i\sigma^z_{i+1} + \frac g2\sum_i\sigma^x_i,\qquad
        L_i = \sqrt\gamma\,\sigma^-_i,\quad \sigma^- = |{\downarrow}\rangle\langle{\uparrow}|.

    Defaults are those of Luo et al. (V = 2, γ = 1, PBC, Pauli-4). ``n = 1`` is the single spin
    (no bond), whose steady state is :math:`\langle\sigma^y\rangle = 2g\gamma/(\gamma^2+2g^2)`,
    :math:`\langle\sigma^z\rangle = -\gamma^2/(\gamma^2+2g^2)`. Observables: ``sigma_x``,
    ``sigma_y``, ``sigma_z`` (site averages) and ``xx_nearest``, ``yy_nearest``, ``zz_nearest``
    (bond averages, not connected).
    """
    n = positive_int("n", n)
    if n == 2 and pbc:
        raise NQSError(
            "A periodic chain of 2 sites counts its only bond twice; use pbc=False or n >= 3."
        )
    frame = _frame(povm)
    V, g, gamma = _finite("V", V), _finite("g", g), _rate("gamma", gamma)
    bonds = [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if pbc and n > 2 else [])
    zz = np.kron(PAULI["z"], PAULI["z"])
    hamiltonian = [(b, V / 4 * zz) for b in bonds] + [((i,), g / 2 * PAULI["x"]) for i in range(n)]
    jumps = [((i,), PAULI["-"], gamma) for i in range(n)]
    parameters = {"n": n, "V": V, "g": g, "gamma": gamma, "pbc": bool(pbc)}
    return _build("dissipative_ising_chain", n, frame, hamiltonian, jumps, bonds, parameters)


def dissipative_xyz(
    L: int,
    *,
    Jx: float = 0.9,
    Jy: float = 1.6,
    Jz: float = 1.0,
    gamma: float = 1.0,
    B: float = 0.0,
    povm: str | POVM = "pauli4",
) -> OpenSystem:
    r"""Dissipative XYZ model on the periodic :math:`L\times L` square lattice (``models.md`` §12).

    .. math::

        H = \sum_{\langle ij\rangle}\big(J_x\sigma^x_i\sigma^x_j + J_y\sigma^y_i\sigma^y_j
            + J_z\sigma^z_i\sigma^z_j\big) + B\sum_i\sigma^z_i,\qquad L_i = \sqrt\gamma\,\sigma^-_i.

    Sites are row-major (:math:`i = rL + c`); bonds go right and down from every site, so every
    site is the first site of two bonds and single-site terms enter each with weight ½. Needs
    :math:`L\ge3` (at :math:`L = 2` the right and left neighbours coincide and every bond would be
    counted twice). Exact references exist only for :math:`N = L^2 \le` :data:`MAX_EXACT_SITES`,
    i.e. not at all; use the generator with variational solvers.
    """
    L = positive_int("L", L)
    if L < 3:
        raise NQSError(
            f"The periodic square lattice needs L >= 3 (got L={L}): at L = 2 the bonds right and "
            "left (down and up) of a site are the same bond, which would be counted twice."
        )
    frame = _frame(povm)
    Jx, Jy, Jz, B = (_finite(k, v) for k, v in (("Jx", Jx), ("Jy", Jy), ("Jz", Jz), ("B", B)))
    gamma = _rate("gamma", gamma)
    n = L * L
    bonds = []
    for r in range(L):
        for c in range(L):
            bonds += [(r * L + c, r * L + (c + 1) % L), (r * L + c, ((r + 1) % L) * L + c)]
    coupling = sum(J * np.kron(PAULI[a], PAULI[a]) for J, a in ((Jx, "x"), (Jy, "y"), (Jz, "z")))
    hamiltonian = [(b, coupling) for b in bonds]
    hamiltonian += [((i,), B * PAULI["z"]) for i in range(n)] if B else []
    jumps = [((i,), PAULI["-"], gamma) for i in range(n)]
    parameters = {"L": L, "Jx": Jx, "Jy": Jy, "Jz": Jz, "gamma": gamma, "B": B, "pbc": True}
    return _build("dissipative_xyz", n, frame, hamiltonian, jumps, bonds, parameters)
