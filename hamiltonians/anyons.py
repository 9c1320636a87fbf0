r"""Anyonic chains in the fusion-path basis: golden chain, SU(2)_k spin-½ chains, SU(2) singlets.

**Periodic anyonic chains** (models.md §9, constraints.md §6). :math:`L` anyons on a ring are
labelled by the fusion path :math:`x_0, \dots, x_{L-1}` (:math:`x_L \equiv x_0`), consecutive
labels related by the fusion rule :math:`x_i \in x_{i-1} \otimes j`. The Hamiltonian favours
(``J > 0``, "AFM") or disfavours (``J < 0``, "FM") the trivial fusion channel of neighbours,

.. math::

    H = -J \sum_{i=0}^{L-1} P^{(0)}_i, \qquad
    P^{(0)}_i \text{ acting on } (x_{i-1}, x_i, x_{i+1}) \text{ cyclically},

with the Temperley–Lieb form of :mod:`hamiltonians.fusion`. The AFM golden chain is critical with
central charge 7/10 (tricritical Ising; Feiguin et al., PRL 98, 160409 (2007)).

**SU(2) singlets** (models.md §10, constraints.md §7): the open Heisenberg chain
:math:`\sum_{i=1}^{N-1} S_i\cdot S_{i+1} = (N-1)/4 - \sum_i P^{(0)}_i` in the basis of partial
total spins :math:`x_i` (:math:`x_0 = x_N = 0`): Dyck paths, Catalan many.

Encodings (NetKet homogeneous spaces whose constraint is the walk automaton of
:mod:`nqs.constraints.transfer`, with ranked indexing so that exact diagonalisation costs the
sector size, not :math:`\text{local size}^L`):

* ``golden_chain``: ``Fock(n_max=1, N=L)``, value 0 = trivial label 1, value 1 = τ.
* ``su2k_chain``: ``Fock(n_max=k, N=L)``, value :math:`2x \in \{0, \dots, k\}`.
* ``su2_singlet_chain``: ``Spin(0.5, N)``, site ``i`` (spin ``i+1``) holds the step
  :math:`\sigma_i = 2(x_{i+1} - x_i) = \pm 1` of the partial total spin (*not* :math:`S^z`).
"""

from __future__ import annotations

import netket as nk
import numpy as np
from netket.utils import HashablePartial

from hamiltonians.fusion import FusionChainOperator, fusion_graph, pair_projector_tables
from hamiltonians.operators import DiagonalOperator
from hamiltonians.system import System
from nqs.constraints.transfer import WalkAutomaton
from nqs.errors import NQSError, positive_int


def _mean_value(x, scale):
    return scale * x.astype(float).mean(axis=-1)


def _mean_prefix_sum(x, scale):
    return scale * x.astype(float).cumsum(axis=-1).mean(axis=-1)


def _ring_bonds(L: int):
    return [((i - 1) % L, i, (i + 1) % L) for i in range(L)]


def _anyon_ring(name, L, labels2x, j2, k, J, observable, parameters):
    """Periodic fusion-path chain H = -J sum_i P0_i; label index = position in ``labels2x``."""
    local_states = tuple(range(len(labels2x)))  # Fock(n_max) values 0 .. n-1
    automaton = WalkAutomaton.periodic_chain(
        fusion_graph(labels2x, j2, k), L, local_states=local_states
    )  # raises EmptySectorError with the nearest valid lengths (e.g. odd L, SU(2)_k spin-1/2)
    hilbert = nk.hilbert.Fock(
        n_max=len(labels2x) - 1, N=L, constraint=automaton.hilbert_constraint()
    )
    hamiltonian = FusionChainOperator(
        hilbert, pair_projector_tables(labels2x, j2, k), _ring_bonds(L), "labels", J=float(J)
    )
    key, scale, label = observable
    return System(
        name=name,
        hilbert=hilbert,
        hamiltonian=hamiltonian,
        constraint=automaton,
        observables={
            key: DiagonalOperator(hilbert, HashablePartial(_mean_value, scale=scale), label)
        },
        parameters=parameters,
        energy_units="P0 (trivial-channel projector), |J|=1",
    )


def golden_chain(L: int, J: float = 1.0) -> System:
    r"""Golden chain of :math:`L` Fibonacci anyons on a ring, :math:`H = -J\sum_i P^{(0)}_i`.

    Labels :math:`\{1, \tau\}` with no two adjacent 1's (:math:`\tau\otimes\tau = 1\oplus\tau`),
    encoded as ``Fock(n_max=1)`` (0 = 1, 1 = τ); sector size :math:`\mathrm{tr}\,F^L` = Lucas
    :math:`L_L` (322 for :math:`L=12`). On :math:`\{|\tau1\tau\rangle, |\tau\tau\tau\rangle\}`
    :math:`P^{(0)} = [[\varphi^{-2}, \varphi^{-3/2}], [\varphi^{-3/2}, \varphi^{-1}]]`, and
    :math:`P^{(0)}|1\tau1\rangle = |1\tau1\rangle`. It is the integer-label sector of SU(2)_3
    spin-1 anyons, with the spectrum of :func:`su2k_chain` ``(L, 3)``.

    Args:
        L: number of anyons (= labels), ``>= 3``.
        J: ``+1`` antiferromagnetic (tricritical Ising, c = 7/10), ``-1`` ferromagnetic
            (3-state Potts, c = 4/5).

    Observables: ``tau_density`` :math:`\langle n_\tau\rangle` per label.

    Example:
        >>> import hamiltonians.anyons as anyons
        >>> round(anyons.golden_chain(12).exact_energy(), 8)  # references.md §7
        -9.22315733
    """
    L = _ring_length(L)
    tau_density = ("tau_density", 1.0, "mean tau occupation")
    return _anyon_ring("golden_chain", L, [0, 2], 2, 3, J, tau_density, {"L": L, "J": float(J)})


def su2k_chain(L: int, k: int, J: float = 1.0) -> System:
    r"""Ring of :math:`L` spin-½ SU(2)_k anyons, :math:`H = -J\sum_i P^{(0)}_i`.

    Labels :math:`x \in \{0, \tfrac12, \dots, \tfrac k2\}`, :math:`x_i = x_{i-1}\pm\tfrac12` (the
    :math:`A_{k+1}` graph), encoded as ``Fock(n_max=k)`` with value :math:`2x`. The graph is
    bipartite, so :math:`L` must be even; for ``k=3`` the sector has :math:`2L_L` paths and every
    level of the golden chain appears twice. The AFM chain (``J=1``) is the minimal model with
    :math:`c = 1 - 6/((k+1)(k+2))`.

    Observables: ``mean_label`` :math:`\langle \sum_i x_i\rangle / L`.

    Raises:
        EmptySectorError: for odd ``L`` (no closed path), naming the nearest valid lengths.
    """
    L = _ring_length(L)
    k = positive_int("k", k)
    mean_label = ("mean_label", 0.5, "mean fusion label x")
    parameters = {"L": L, "k": k, "J": float(J)}
    return _anyon_ring("su2k_chain", L, list(range(k + 1)), 1, k, J, mean_label, parameters)


def su2_singlet_chain(n: int, J: float = 1.0) -> System:
    r"""Open spin-½ Heisenberg chain in its singlet sector, fusion-path (Dyck-path) basis.

    .. math::

        H = J \sum_{i=1}^{N-1} S_i\cdot S_{i+1}
          = J\Big[\frac{N-1}{4} - \sum_{i=1}^{N-1} P^{(0)}_i\Big],

    with :math:`d_x = 2x+1`; for :math:`x_{i-1} = x_{i+1} = x > 0` the projector on
    :math:`x_i \in \{x-\tfrac12, x+\tfrac12\}` is
    :math:`[[x, \sqrt{x(x+1)}], [\sqrt{x(x+1)}, x+1]]/(2x+1)`.
    The spectrum is the total-spin-0 part of the spin-basis OBC spectrum. Site ``i`` holds the
    step :math:`\sigma_i = 2(x_{i+1} - x_i) = \pm1` (``Spin(0.5, N)`` values); the exact mask keeps
    :math:`0 \le x_i \le (N-i)/2` (constraints.md §7); sector size Catalan :math:`C_{N/2}`.

    Args:
        n: number of spins (even, ``>= 2``).
        J: Heisenberg coupling (``S·S`` units).

    Observables: ``mean_partial_spin`` :math:`\langle\sum_{i=1}^N x_i\rangle / N`.
    """
    n = positive_int("n", n)
    if n % 2:
        raise NQSError(f"An odd number of spins (n={n}) has no total-spin-0 state; use an even n.")
    top = n // 2  # largest 2x: x_{N/2} = N/4 on the all-up-then-all-down path
    hilbert_values = (1, -1)  # Spin(0.5).local_states: index 0 is +1 (a step up)
    nodes = np.arange(top + 1)
    steps = np.asarray(hilbert_values)
    nxt = nodes[:, None] + steps[None, :]
    nxt = np.where((nxt >= 0) & (nxt <= top), nxt, -1)
    automaton = WalkAutomaton(
        np.broadcast_to(nxt, (n, *nxt.shape)), (nodes == 0)[None, :], 0, False, hilbert_values
    )
    hilbert = nk.hilbert.Spin(0.5, n, constraint=automaton.hilbert_constraint())
    if tuple(np.asarray(hilbert.local_states).tolist()) != hilbert_values:
        raise NQSError("NetKet's Spin(0.5) local states changed order; update su2_singlet_chain.")
    hamiltonian = FusionChainOperator(
        hilbert,
        pair_projector_tables(range(top + 2), 1, None),  # one spare label: complete P0 blocks
        [(i - 1, i, i + 1) for i in range(1, n)],
        "steps",
        J=float(J),
        offset=(n - 1) / 4,
    )
    observables = {
        "mean_partial_spin": DiagonalOperator(
            hilbert, HashablePartial(_mean_prefix_sum, scale=0.5), "mean partial total spin"
        )
    }
    return System(
        name="su2_singlet_chain",
        hilbert=hilbert,
        hamiltonian=hamiltonian,
        constraint=automaton,
        observables=observables,
        parameters={"n": n, "J": float(J), "pbc": False},
        energy_units="S·S, J=1",
    )


def _ring_length(L) -> int:
    L = positive_int("L", L)
    if L < 3:
        raise NQSError(f"An anyonic ring needs L >= 3 anyons, got L={L}.")
    return L
