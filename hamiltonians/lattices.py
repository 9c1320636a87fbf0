r"""Links, stars, plaquettes and cubes of square (2D) and cubic (3D) tori, in the AR order.

Pure numpy. Degrees of freedom live on links, and every link is *owned* by one vertex, so that the
links of a vertex (its *gauge block*) are consecutive sites of the autoregressive order
(constraints.md §3.1 and §4).

**Square torus** (:math:`L\times L`, :math:`2L^2` links). Vertex :math:`v = (x, y)` has index
``v = x + L*y`` (row-major, x fastest: (0,0), (1,0), ..., (L-1, L-1)) and owns

* the right link :math:`r(v)` to :math:`(x+1, y)`: link ``2*v + 0``;
* the up link :math:`u(v)` to :math:`(x, y+1)`: link ``2*v + 1``.

Plaquette :math:`p = (x, y)` (index ``x + L*y``) is the square with lower-left corner :math:`v`;
its links are :math:`r(x,y),\ u(x+1,y),\ r(x,y+1),\ u(x,y)`. The star of :math:`v` is
:math:`r(v),\ u(v),\ r(v-\hat x),\ u(v-\hat y)`.

**Cubic torus** (:math:`L^3` vertices, :math:`3L^3` edges). Vertex :math:`v = (x, y, z)` has index
``v = x + L*y + L*L*z`` and owns its :math:`+\hat\mu` edges, ``e(v, mu) = 3*v + mu`` with
:math:`\mu = 0, 1, 2` for x, y, z. Plaquettes: one per vertex and plane :math:`\mu < \nu`
(index ``3*v + k`` with k = 0, 1, 2 for the planes xy, xz, yz), links
:math:`e(v,\mu),\ e(v+\hat\mu,\nu),\ e(v+\hat\nu,\mu),\ e(v,\nu)`. Cubes: one per vertex (the
unit cube with lowest corner :math:`v`), 12 edges. Planar stars :math:`A_v^\mu` (X-cube): the 4
edges at :math:`v` in the plane perpendicular to :math:`\mu`, index ``3*v + mu``.

All functions return ``int64`` arrays of link indices, one row per star / plaquette / cube.
"""

from __future__ import annotations

import numpy as np

from nqs.errors import NQSError, positive_int


def check_size(L, minimum: int = 2) -> int:
    """``L`` as an int if it is an integer ``>= minimum`` (2: all links of a term distinct)."""
    L = positive_int("L", L)
    if L < minimum:
        raise NQSError(
            f"A periodic lattice needs L >= {minimum} so that every link is distinct, got L={L}."
        )
    return L


# -- square torus ----------------------------------------------------------------------------
def vertex_index(L: int, x: int, y: int) -> int:
    """Index ``x + L*y`` of vertex (or plaquette) :math:`(x, y)`, coordinates taken mod L."""
    return int(x % L + L * (y % L))


def right_link(L: int, x, y):
    """Index of the link from :math:`(x, y)` to :math:`(x+1, y)`."""
    return 2 * (np.mod(x, L) + L * np.mod(y, L))


def up_link(L: int, x, y):
    """Index of the link from :math:`(x, y)` to :math:`(x, y+1)`."""
    return 2 * (np.mod(x, L) + L * np.mod(y, L)) + 1


def _square_coords(L: int):
    v = np.arange(L * L)
    return v % L, v // L


def square_stars(L: int) -> np.ndarray:
    r"""Links at each vertex, ``(L*L, 4)``: :math:`r(v), u(v), r(v-\hat x), u(v-\hat y)`."""
    L = check_size(L)
    x, y = _square_coords(L)
    return np.stack(
        [right_link(L, x, y), up_link(L, x, y), right_link(L, x - 1, y), up_link(L, x, y - 1)],
        axis=1,
    )


def square_plaquettes(L: int) -> np.ndarray:
    r"""Links of each plaquette, ``(L*L, 4)``: :math:`r(x,y), u(x+1,y), r(x,y+1), u(x,y)`."""
    L = check_size(L)
    x, y = _square_coords(L)
    return np.stack(
        [right_link(L, x, y), up_link(L, x + 1, y), right_link(L, x, y + 1), up_link(L, x, y)],
        axis=1,
    )


def winding_links(L: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The link sets whose parities are the winding numbers (constraints.md §3.4).

    Returns:
        ``(x_links, y_links)``: :math:`w_x = \sum_y n_{r(0, y)}` counts electric strings that
        wind in the x direction (the right links of column 0), :math:`w_y = \sum_x n_{u(x, 0)}`
        those that wind in y (the up links of row 0). Both parities commute with every
        plaquette flip.
    """
    L = check_size(L)
    s = np.arange(L)
    return right_link(L, 0, s), up_link(L, s, 0)


def wilson_loop_links(L: int, width: int, height: int, x: int = 0, y: int = 0) -> np.ndarray:
    r"""Links of the boundary of the ``width`` × ``height`` rectangle with lower-left corner
    :math:`(x, y)`: the Wilson loop :math:`W(C) = \prod_{l\in C}\sigma^z_l` equals the product
    of :math:`B_p` over the enclosed plaquettes."""
    L = check_size(L)
    if not (1 <= width < L and 1 <= height < L):
        raise NQSError(
            f"A contractible Wilson loop on the L={L} torus needs 1 <= width, height <= {L - 1}, "
            f"got {width}x{height}."
        )
    i, j = np.arange(width), np.arange(height)
    return np.concatenate(
        [
            right_link(L, x + i, y),
            right_link(L, x + i, y + height),
            up_link(L, x, y + j),
            up_link(L, x + width, y + j),
        ]
    )


def dual_path_links(L: int, p1: tuple[int, int], p2: tuple[int, int]) -> np.ndarray:
    r"""Links crossed by a dual path from plaquette ``p1`` to plaquette ``p2`` (coordinates).

    The path goes first along x, then along y, without winding (each coordinate moves
    monotonically between the two values), so it is simple: the end plaquettes contain one link
    of the path and the interior ones two (constraints.md §3.5, m-pair). Plaquettes
    :math:`(x,y)` and :math:`(x+1,y)` share :math:`u(x+1, y)`; :math:`(x,y)` and
    :math:`(x,y+1)` share :math:`r(x, y+1)`.
    """
    L = check_size(L)
    (x1, y1), (x2, y2) = (int(p1[0]) % L, int(p1[1]) % L), (int(p2[0]) % L, int(p2[1]) % L)
    if (x1, y1) == (x2, y2):
        raise NQSError(f"A dual path needs two different plaquettes, got {p1} twice.")
    links = []
    step = 1 if x2 > x1 else -1
    for x in range(x1, x2, step):
        links.append(up_link(L, max(x, x + step), y1))
    step = 1 if y2 > y1 else -1
    for y in range(y1, y2, step):
        links.append(right_link(L, x2, max(y, y + step)))
    return np.asarray(links, dtype=np.int64)


# -- cubic torus -----------------------------------------------------------------------------
_UNIT = np.eye(3, dtype=np.int64)


def _cubic_coords(L: int) -> np.ndarray:
    v = np.arange(L**3)
    return np.stack([v % L, (v // L) % L, v // (L * L)], axis=1)


def edge_index(L: int, r, mu) -> np.ndarray:
    r"""Index ``3*v + mu`` of the edge from vertex position ``r`` (``(..., 3)``, taken mod L)
    in direction :math:`+\hat\mu`."""
    r = np.mod(np.asarray(r), L)
    return 3 * (r[..., 0] + L * r[..., 1] + L * L * r[..., 2]) + mu


def cubic_stars(L: int) -> np.ndarray:
    """The 6 edges at each vertex, ``(L**3, 6)``: the three owned ones, then the three incoming."""
    L = check_size(L)
    r = _cubic_coords(L)
    own = [edge_index(L, r, mu) for mu in range(3)]
    incoming = [edge_index(L, r - _UNIT[mu], mu) for mu in range(3)]
    return np.stack(own + incoming, axis=1)


def cubic_plaquettes(L: int) -> np.ndarray:
    r"""The 4 edges of each plaquette, ``(3 L**3, 4)``, index ``3*v + k`` for the planes
    (xy, xz, yz): :math:`e(v,\mu), e(v+\hat\mu,\nu), e(v+\hat\nu,\mu), e(v,\nu)`."""
    L = check_size(L)
    r = _cubic_coords(L)
    planes = []
    for mu, nu in ((0, 1), (0, 2), (1, 2)):
        planes.append(
            np.stack(
                [
                    edge_index(L, r, mu),
                    edge_index(L, r + _UNIT[mu], nu),
                    edge_index(L, r + _UNIT[nu], mu),
                    edge_index(L, r, nu),
                ],
                axis=1,
            )
        )
    return np.stack(planes, axis=1).reshape(3 * L**3, 4)


def cubes(L: int) -> np.ndarray:
    r"""The 12 edges of each unit cube, ``(L**3, 12)``.

    For each direction :math:`\mu`, the :math:`\hat\mu` edges at the four corners
    :math:`v,\ v+\hat\nu,\ v+\hat\rho,\ v+\hat\nu+\hat\rho` (:math:`\nu < \rho` the other two).
    """
    L = check_size(L)
    r = _cubic_coords(L)
    edges = []
    for mu in range(3):
        nu, rho = [d for d in range(3) if d != mu]
        for shift in (0, _UNIT[nu], _UNIT[rho], _UNIT[nu] + _UNIT[rho]):
            edges.append(edge_index(L, r + shift, mu))
    return np.stack(edges, axis=1)


def planar_stars(L: int) -> np.ndarray:
    r"""X-cube vertex terms :math:`A_v^\mu`, ``(3 L**3, 4)``, index ``3*v + mu``: the edges at
    :math:`v` along the two directions :math:`\nu \ne \mu` (owned and incoming)."""
    L = check_size(L)
    r = _cubic_coords(L)
    stars = []
    for mu in range(3):
        nu, rho = [d for d in range(3) if d != mu]
        stars.append(
            np.stack(
                [
                    edge_index(L, r, nu),
                    edge_index(L, r - _UNIT[nu], nu),
                    edge_index(L, r, rho),
                    edge_index(L, r - _UNIT[rho], rho),
                ],
                axis=1,
            )
        )
    return np.stack(stars, axis=1).reshape(3 * L**3, 4)
