r"""Z2 lattice gauge theories and stabilizer codes with an exact Gauss-law sector.

* :func:`toric_code`: Kitaev's toric code, :math:`H = -\sum_v A_v - \sum_p B_p` (2D torus);
* :func:`z2_gauge_theory`: pure Z2 gauge theory in an electric field,
  :math:`H = -\sum_p B_p - h\sum_l \sigma^x_l`;
* :func:`toric_code_3d`: 3D toric code, :math:`H = -\sum_v A_v - \sum_p B_p`;
* :func:`x_cube`: X-cube fracton model (Vijay, Haah & Fu, PRB 94, 235157 (2016)),
  :math:`H = -\sum_c B_c - \sum_v\sum_\mu A_v^\mu`.

**Basis and units (Pauli, couplings 1).** One site per link, in the AR order of
:mod:`hamiltonians.lattices` (a vertex's links are consecutive). The computational basis is the
eigenbasis of the *constrained* operator, and the bit of link :math:`l` is NetKet's local index:

* toric codes and the gauge theory: the **electric basis**, :math:`n_l = (1-\sigma^x_l)/2`, so
  NetKet's value is :math:`\sigma^x_l` (value +1: no electric string). :math:`A_v` is
  diagonal (NetKet ``Z`` string on the star) and :math:`B_p = \prod\sigma^z` flips the plaquette
  (NetKet ``X`` string): the relabelling :math:`\sigma^x \leftrightarrow Z`,
  :math:`\sigma^z \leftrightarrow X` of models.md §4.
* X-cube: the :math:`\sigma^z` basis, NetKet's value is :math:`\sigma^z_l`; :math:`A_v^\mu` is a
  ``Z`` string and :math:`B_c` flips the 12 edges of the cube.

The Hilbert space is restricted exactly to the sector :math:`A_v = \pm 1` (resp.
:math:`A_v^\mu = +1`) by a :class:`~nqs.constraints.linear_code.LinearCode` (constraints.md §3.3,
§4). The diagonal terms are kept as operators (not constants), so the Hamiltonian is the physical
one on the unconstrained space too and the energies are the physical ones: :math:`E_0 = -2L^2`
(toric code), :math:`-4L^3` (3D toric code, X-cube). References: Kitaev, Ann. Phys. 303, 2 (2003);
Luo et al., PRR 5, 013216 (2023); references.md §4–§5.
"""

from __future__ import annotations

import netket as nk
import numpy as np

from hamiltonians import lattices
from hamiltonians.operators import weighted_sum
from hamiltonians.system import System
from nqs.constraints.linear_code import LinearCode
from nqs.errors import EmptySectorError, NQSError
from nqs.exact_states import sign_string_parameters, uniform_parameters

ENERGY_UNITS = "Pauli (sigma), couplings 1"


# -- building blocks -------------------------------------------------------------------------
def _pauli_sum(hilbert, supports, letter: str, weight: float):
    """``weight * sum_k prod_{l in supports[k]} letter_l`` as NetKet Pauli strings."""
    n = hilbert.size
    strings = []
    for support in supports:
        chars = ["I"] * n
        for link in support:
            chars[int(link)] = letter
        strings.append("".join(chars))
    return nk.operator.PauliStrings(hilbert, strings, [float(weight)] * len(strings))


def _code_space(n_links: int, checks, targets, name: str):
    code = LinearCode(n_links, tuple(map(tuple, checks)), tuple(targets), name=name)
    return nk.hilbert.Spin(0.5, n_links, constraint=code.hilbert_constraint()), code


def _charge_targets(L: int, charges) -> np.ndarray:
    """Gauss-law targets :math:`t_v = 1` at the charged vertices (``(x, y)`` pairs)."""
    targets = np.zeros(L * L, dtype=np.int64)
    seen = set()
    for charge in charges:
        if len(charge) != 2 or any(int(c) != c for c in charge):
            raise NQSError(f"Charges are (x, y) vertex coordinates, got {charge!r}.")
        v = lattices.vertex_index(L, int(charge[0]), int(charge[1]))
        if v in seen:
            raise NQSError(
                f"Vertex {tuple(charge)} is charged twice; Z2 charges cancel in pairs, so "
                "list each charged vertex once."
            )
        seen.add(v)
        targets[v] = 1
    if len(seen) % 2:
        raise EmptySectorError(
            f"{len(seen)} charges on the closed L={L} torus: the product of all Gauss laws is "
            "1, so the number of Z2 charges must be even. Add or remove a charge."
        )
    return targets


def _winding_rows(L: int, winding):
    """Extra parity checks fixing the winding sector ``(w_x, w_y)`` (constraints.md §3.4)."""
    if winding is None:
        return [], []
    if len(winding) != 2 or any(w not in (0, 1) for w in winding):
        raise NQSError(
            f"winding must be None (all sectors) or a pair of parities (w_x, w_y) in {{0, 1}}, "
            f"got {winding!r}."
        )
    x_links, y_links = lattices.winding_links(L)
    return [x_links, y_links], [int(winding[0]), int(winding[1])]


def _gauss_law_space(L: int, charges, winding):
    """Spin space and linear code of the 2D Gauss law with charges and winding sector."""
    targets = _charge_targets(L, charges)
    rows, row_targets = _winding_rows(L, winding)
    checks = list(lattices.square_stars(L)) + rows
    label = f"Z2 Gauss law L={L}" + (f", winding {tuple(winding)}" if winding is not None else "")
    return _code_space(2 * L * L, checks, list(targets) + row_targets, label)


def _square_observables(hilbert, L: int) -> dict:
    n_links = 2 * L * L
    observables = {
        "electric_field": weighted_sum(hilbert, np.ones(n_links), 1 / n_links, "mean sigma^x"),
        "plaquette": _pauli_sum(hilbert, lattices.square_plaquettes(L), "X", 1 / L**2),
    }
    for R in range(1, L):
        loop = lattices.wilson_loop_links(L, R, R)
        observables[f"wilson_loop_{R}x{R}"] = _pauli_sum(hilbert, [loop], "X", 1.0)
    return observables


# -- 2D ----------------------------------------------------------------------------------------
def toric_code(L: int, *, charges=(), winding=None) -> System:
    r"""Kitaev's toric code on the :math:`L\times L` torus, in the electric basis.

    .. math:: H = -\sum_v A_v - \sum_p B_p,\quad A_v = \prod_{l\ni v}\sigma^x_l,\quad
              B_p = \prod_{l\in\partial p}\sigma^z_l,

    restricted to :math:`A_v = +1` (closed electric loops), or :math:`A_v = -1` at the charged
    vertices. :math:`E_0 = -2L^2` (4-fold degenerate without ``winding``); each e- or
    m-excitation pair costs 4 (references.md §4).

    Args:
        L: linear size (``2L^2`` links).
        charges: ``(x, y)`` vertices with :math:`A_v = -1`; an even number (e-pairs).
        winding: ``None`` (all four winding sectors) or ``(w_x, w_y)`` in {0, 1}.

    Observables: ``electric_field`` (mean :math:`\sigma^x_l`), ``plaquette`` (mean
    :math:`B_p`), ``star`` (mean :math:`A_v`), ``wilson_loop_RxR`` for ``R < L``.

    Example:
        >>> system = toric_code(2)
        >>> system.hilbert.n_states, round(system.exact_energy(), 8)
        (32, -8.0)
    """
    L = lattices.check_size(L)
    hilbert, code = _gauss_law_space(L, charges, winding)
    stars = _pauli_sum(hilbert, lattices.square_stars(L), "Z", -1.0)
    plaquettes = _pauli_sum(hilbert, lattices.square_plaquettes(L), "X", -1.0)
    observables = _square_observables(hilbert, L)
    observables["star"] = _pauli_sum(hilbert, lattices.square_stars(L), "Z", 1 / L**2)
    return System(
        name="toric_code",
        hilbert=hilbert,
        hamiltonian=stars + plaquettes,
        constraint=code,
        observables=observables,
        parameters={"L": L, "charges": [list(c) for c in charges], "winding": winding},
        energy_units=ENERGY_UNITS,
        infinite_temperature_energy=-float(L * L - 2 * len(charges)),
    )


def z2_gauge_theory(L: int, h: float, *, charges=(), winding=None) -> System:
    r"""Pure Z2 lattice gauge theory in an electric field on the :math:`L\times L` torus.

    .. math:: H = -\sum_p B_p - h \sum_l \sigma^x_l,\qquad \sigma^x_l = 1 - 2 n_l,

    in the electric basis with the Gauss law :math:`A_v = +1` imposed exactly (``-1`` at
    static ``charges``). Deconfined for :math:`h < h_c \approx 0.33`, confined above
    (Wegner duality to the 2D TFIM; models.md §7). References (L = 3, references.md §5):
    :math:`E_0(0.2) = -9.2104956382`, :math:`E_0(0.5) = -11.3418905884`, equal in the full
    Gauss-law sector and in the zero-winding sector.

    Args:
        L: linear size (``2L^2`` links).
        h: electric field coupling.
        charges: static ``(x, y)`` charges (an even number).
        winding: ``None`` or ``(w_x, w_y)``; the ground state lies at ``(0, 0)``.

    Observables: ``electric_field`` (mean :math:`\sigma^x_l`), ``plaquette`` (mean
    :math:`B_p`), ``wilson_loop_RxR`` (:math:`R\times R` loop at the origin) for ``R < L``.
    """
    L = lattices.check_size(L)
    h = float(h)
    hilbert, code = _gauss_law_space(L, charges, winding)
    n_links = 2 * L * L
    plaquettes = _pauli_sum(hilbert, lattices.square_plaquettes(L), "X", -1.0)
    field = _pauli_sum(hilbert, [[link] for link in range(n_links)], "Z", -h)
    return System(
        name="z2_gauge_theory",
        hilbert=hilbert,
        hamiltonian=plaquettes + field,
        constraint=code,
        observables=_square_observables(hilbert, L),
        parameters={"L": L, "h": h, "charges": [list(c) for c in charges], "winding": winding},
        energy_units=ENERGY_UNITS,
        infinite_temperature_energy=0.0,  # no link is fixed by the Gauss law: <sigma^x> = 0
    )


# -- 3D ----------------------------------------------------------------------------------------
def toric_code_3d(L: int) -> System:
    r"""3D toric code on the :math:`L^3` cubic torus, electric basis, Gauss law imposed.

    .. math:: H = -\sum_v A_v - \sum_p B_p,\quad A_v = \prod_{6\ \text{edges}}\sigma^x,\quad
              B_p = \prod_{4\ \text{edges}}\sigma^z\ (3L^3\ \text{plaquettes}).

    Sector :math:`A_v = +1`: :math:`2^{2L^3+1}` configurations; :math:`E_0 = -4L^3` (GSD 8).
    Observables: ``electric_field``, ``plaquette`` (means).
    """
    L = lattices.check_size(L)
    n_links = 3 * L**3
    stars, plaquettes = lattices.cubic_stars(L), lattices.cubic_plaquettes(L)
    hilbert, code = _code_space(n_links, stars, [0] * len(stars), f"3D Z2 Gauss law L={L}")
    hamiltonian = _pauli_sum(hilbert, stars, "Z", -1.0) + _pauli_sum(hilbert, plaquettes, "X", -1.0)
    return System(
        name="toric_code_3d",
        hilbert=hilbert,
        hamiltonian=hamiltonian,
        constraint=code,
        observables={
            "electric_field": weighted_sum(hilbert, np.ones(n_links), 1 / n_links, "mean sigma^x"),
            "plaquette": _pauli_sum(hilbert, plaquettes, "X", 1 / len(plaquettes)),
        },
        parameters={"L": L},
        energy_units=ENERGY_UNITS,
        infinite_temperature_energy=-float(L**3),
    )


def x_cube(L: int) -> System:
    r"""X-cube fracton model on the :math:`L^3` cubic torus, :math:`\sigma^z` basis.

    .. math:: H = -\sum_c B_c - \sum_v\sum_{\mu} A_v^\mu,\quad
              B_c = \prod_{12\ \text{edges}}\sigma^x,\quad
              A_v^\mu = \prod_{4\ \text{edges}\,\perp\mu}\sigma^z .

    The sector :math:`A_v^\mu = +1` (three checks per vertex, two independent) has
    :math:`2^{L^3+3L-1}` configurations; :math:`E_0 = -4L^3`, :math:`\log_2 \mathrm{GSD} = 6L-3`
    (Vijay, Haah & Fu, PRB 94, 235157 (2016); constraints.md §4). Observables: ``cube`` (mean
    :math:`B_c`), ``magnetization_z`` (mean :math:`\sigma^z`).
    """
    L = lattices.check_size(L)
    n_links = 3 * L**3
    stars, cubes = lattices.planar_stars(L), lattices.cubes(L)
    hilbert, code = _code_space(n_links, stars, [0] * len(stars), f"X-cube vertex rules L={L}")
    hamiltonian = _pauli_sum(hilbert, cubes, "X", -1.0) + _pauli_sum(hilbert, stars, "Z", -1.0)
    return System(
        name="x_cube",
        hilbert=hilbert,
        hamiltonian=hamiltonian,
        constraint=code,
        observables={
            "cube": _pauli_sum(hilbert, cubes, "X", 1 / len(cubes)),
            "magnetization_z": weighted_sum(hilbert, np.ones(n_links), 1 / n_links, "mean sz"),
        },
        parameters={"L": L},
        energy_units=ENERGY_UNITS,
        infinite_temperature_energy=-float(3 * L**3),
    )


# -- exact autoregressive states ---------------------------------------------------------------
def toric_code_state_parameters(system: System, model, params, *, m_pair=None):
    r"""ARTransformer parameters of an exact toric-code eigenstate (constraints.md §3.5).

    * ``m_pair=None``: uniform conditionals, zero phase: the equal-weight superposition of the
      sector, :math:`E = E_0 = -2L^2` on ``toric_code(L)`` (a ground state) and
      :math:`E_0 + 4` on ``toric_code(L, charges=[v1, v2])`` (the e-pair state).
    * ``m_pair=(p1, p2)`` (plaquette coordinates): the sign string
      :math:`\psi \propto (-1)^{\sum_{l\in\gamma^*} n_l}` on the links crossed by a dual path
      from ``p1`` to ``p2``, i.e. :math:`\prod_{l\in\gamma^*}\sigma^x_l` applied to the ground
      state: :math:`B_{p_1} = B_{p_2} = -1`, :math:`E = E_0 + 4`.

    The local energy is the same on every configuration of the sector (zero variance).

    Args:
        system: a :func:`toric_code` system (or a :func:`z2_gauge_theory` one, where these are
            eigenstates only at ``h = 0``); the link order of :mod:`hamiltonians.lattices`.
        model: an :class:`~nqs.ARTransformer` on ``system.hilbert``.
        params: parameters of ``model`` (e.g. ``model.init(...)``), used as a template.
        m_pair: ``None`` or two different plaquettes ``((x1, y1), (x2, y2))``.
    """
    if system.name not in ("toric_code", "z2_gauge_theory") or model.hilbert != system.hilbert:
        raise NQSError(
            "toric_code_state_parameters needs a toric_code (or z2_gauge_theory) system and a "
            "model built with hilbert=system.hilbert."
        )
    if m_pair is None:
        return uniform_parameters(model, params)
    p1, p2 = m_pair
    links = lattices.dual_path_links(system.parameters["L"], p1, p2)
    return sign_string_parameters(model, params, links)
