r"""Spin-½ lattice models: transverse-field Ising chain, Heisenberg chain, square-lattice J1–J2.

Conventions (``models.md``): :math:`\sigma` are Pauli matrices and :math:`S = \sigma/2`; NetKet
stores a spin-½ as the value :math:`\sigma^z = \pm 1`. The Ising chain is in Pauli units,
Heisenberg-type models in :math:`S\cdot S` units. PBC includes the bond :math:`(N-1, 0)`.
"""

from __future__ import annotations

import netket as nk
import numpy as np

from hamiltonians.operators import pair_correlation, squared_sum, weighted_sum
from hamiltonians.system import System
from nqs.constraints import U1, Unconstrained
from nqs.errors import NQSError, positive_int


def _spin_half_space(n: int, total_sz):
    """Spin-½ Hilbert space and constraint; ``total_sz=None`` means unconstrained."""
    if total_sz is None:
        return nk.hilbert.Spin(0.5, n), Unconstrained(n, 2)
    constraint = U1(n, (1, -1), 2 * total_sz)  # raises EmptySectorError for impossible sectors
    return nk.hilbert.Spin(0.5, n, constraint=constraint.hilbert_constraint()), constraint


def _spin_observables(hilbert, graph, signs) -> dict:
    """Magnetisation, (staggered) structure factor and nearest-neighbour S^z S^z (S units)."""
    n = hilbert.size
    edges = [e for e in graph.edges(filter_color=0)] if graph.edges() else []
    return {
        "magnetization": weighted_sum(hilbert, np.ones(n), 0.5 / n, "sum S^z / N"),
        "structure_factor": squared_sum(hilbert, signs, 0.25 / n, "S(q) at q = pi"),
        "sz_sz_nearest": pair_correlation(
            hilbert, edges, 0.25 / max(len(edges), 1), "mean nearest-neighbour S^z S^z"
        ),
    }


def tfim_chain(n: int, h: float = 1.0, *, J: float = 1.0, pbc: bool = True) -> System:
    r"""Transverse-field Ising chain (Pauli units).

    .. math:: H = -J\sum_i \sigma^z_i\sigma^z_{i+1} - h\sum_i\sigma^x_i

    Critical at :math:`h = J`. Closed form (PBC, Jordan–Wigner):
    :math:`E_0 = -\sum_k \sqrt{J^2 + h^2 - 2Jh\cos k}`, :math:`k = \pi(2m+1)/N`.

    Observables: ``magnetization_x`` :math:`\langle\sum_i\sigma^x_i\rangle/N`,
    ``magnetization_z_squared`` :math:`\langle(\sum_i\sigma^z_i/N)^2\rangle`, ``zz_nearest``
    (mean :math:`\langle\sigma^z_i\sigma^z_{i+1}\rangle`).
    """
    n = positive_int("n", n)
    if n < 2:
        raise NQSError(f"A chain needs at least 2 sites, got n={n}.")
    graph = nk.graph.Chain(n, pbc=pbc)
    hilbert = nk.hilbert.Spin(0.5, n)
    hamiltonian = nk.operator.Ising(hilbert, graph, h=float(h), J=-float(J))
    edges = graph.edges()
    observables = {
        "magnetization_x": sum(nk.operator.spin.sigmax(hilbert, i) for i in range(n)) * (1 / n),
        "magnetization_z_squared": squared_sum(hilbert, np.ones(n), 1 / n**2, "(sum sz / N)^2"),
        "zz_nearest": pair_correlation(hilbert, edges, 1 / len(edges), "mean sz_i sz_i+1"),
    }
    return System(
        name="tfim_chain",
        hilbert=hilbert,
        hamiltonian=hamiltonian,
        constraint=Unconstrained(n, 2),
        observables=observables,
        parameters={"n": n, "h": float(h), "J": float(J), "pbc": bool(pbc)},
        graph=graph,
        energy_units="Pauli (sigma), J=1",
    )


def heisenberg_chain(
    n: int,
    *,
    J: float = 1.0,
    pbc: bool = True,
    total_sz: float | None = 0,
    marshall_sign: bool = False,
) -> System:
    r"""Spin-½ Heisenberg chain, :math:`H = J\sum_i S_i\cdot S_{i+1}` (:math:`S\cdot S` units).

    Args:
        n: number of sites.
        J: coupling (``J > 0`` antiferromagnet).
        pbc: include the bond :math:`(N-1, 0)`.
        total_sz: fixed :math:`S^z_\mathrm{tot}` sector (``None``: no constraint). The ground
            state of the antiferromagnet on an even chain lies at ``total_sz=0``.
        marshall_sign: work in the Marshall-rotated basis (every spin of one sublattice rotated by
            :math:`\pi` about z). The spectrum is unchanged and the ground state becomes positive,
            so a model with ``phase=False`` can be exact in sign.

    Observables (S units): ``magnetization`` :math:`\langle\sum_i S^z_i\rangle/N`,
    ``structure_factor`` :math:`S(\pi) = \frac1N\langle(\sum_i (-1)^i S^z_i)^2\rangle`,
    ``sz_sz_nearest`` (mean :math:`\langle S^z_i S^z_{i+1}\rangle` over bonds).

    Thermodynamic limit: :math:`E_0/N = 1/4 - \ln 2` (Hulthén).
    """
    n = positive_int("n", n)
    if n < 2:
        raise NQSError(f"A chain needs at least 2 sites, got n={n}.")
    if marshall_sign and pbc and n % 2:
        raise NQSError(
            f"The Marshall sign rule needs a bipartite lattice, but a periodic chain of n={n} "
            "(odd) sites is not; use an even n or pbc=False."
        )
    hilbert, constraint = _spin_half_space(n, total_sz)
    graph = nk.graph.Chain(n, pbc=pbc)
    # NetKet's Heisenberg is in Pauli units (sigma.sigma = 4 S.S).
    hamiltonian = 0.25 * nk.operator.Heisenberg(
        hilbert, graph, J=float(J), sign_rule=bool(marshall_sign)
    )
    return System(
        name="heisenberg_chain",
        hilbert=hilbert,
        hamiltonian=hamiltonian,
        constraint=constraint,
        observables=_spin_observables(hilbert, graph, (-1.0) ** np.arange(n)),
        parameters={
            "n": n,
            "J": float(J),
            "pbc": bool(pbc),
            "total_sz": total_sz,
            "marshall_sign": bool(marshall_sign),
        },
        graph=graph,
        energy_units="S·S, J=1",
    )


def j1j2_square(
    L: int,
    j2: float = 0.0,
    *,
    J1: float = 1.0,
    pbc: bool = True,
    total_sz: float | None = 0,
    marshall_sign: bool = False,
) -> System:
    r"""Square-lattice :math:`J_1`–:math:`J_2` model (:math:`S\cdot S` units), sites row-major.

    .. math::

        H = J_1\sum_{\langle ij\rangle} S_i\cdot S_j
          + J_2\sum_{\langle\langle ij\rangle\rangle} S_i\cdot S_j

    ``j2=0`` is the square-lattice Heisenberg model, where the Marshall sign is exact;
    ``marshall_sign=True`` rotates only the :math:`J_1` bonds (an approximate prior at
    :math:`J_2 > 0`). Observables as for :func:`heisenberg_chain`, with the structure factor at
    :math:`q = (\pi, \pi)`.
    """
    L = positive_int("L", L)
    if L < 2:
        raise NQSError(f"The square lattice needs L >= 2, got L={L}.")
    if marshall_sign and pbc and L % 2:
        raise NQSError(
            f"The Marshall sign rule needs a bipartite lattice; a periodic L={L} (odd) square "
            "lattice is not. Use an even L or pbc=False."
        )
    hilbert, constraint = _spin_half_space(L * L, total_sz)
    if j2 == 0:
        graph = nk.graph.Square(L, pbc=pbc)
        couplings, signs = float(J1), bool(marshall_sign)
    else:
        graph = nk.graph.Square(L, pbc=pbc, max_neighbor_order=2)
        couplings, signs = [float(J1), float(j2)], [bool(marshall_sign), False]
    hamiltonian = 0.25 * nk.operator.Heisenberg(hilbert, graph, J=couplings, sign_rule=signs)
    x, y = np.divmod(np.arange(L * L), L)
    return System(
        name="j1j2_square",
        hilbert=hilbert,
        hamiltonian=hamiltonian,
        constraint=constraint,
        observables=_spin_observables(hilbert, graph, (-1.0) ** (x + y)),
        parameters={
            "L": L,
            "j2": float(j2),
            "J1": float(J1),
            "pbc": bool(pbc),
            "total_sz": total_sz,
            "marshall_sign": bool(marshall_sign),
        },
        graph=graph,
        energy_units="S·S, J1=1",
    )
