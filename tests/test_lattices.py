"""Lattice geometry of the square and cubic tori: incidence counts, commutation of the
stabilizers (even overlaps), GF(2) ranks against the closed forms of constraints.md §3.4 and §4,
and the AR block ordering. Pure integer arithmetic: every comparison is exact."""

import numpy as np
import pytest

from hamiltonians import lattices
from nqs.constraints.linear_code import LinearCode
from nqs.errors import NQSError


def incidence(sets, n):
    """0/1 matrix (n_sets, n) of the link sets."""
    m = np.zeros((len(sets), n), dtype=np.int64)
    for k, s in enumerate(sets):
        m[k, s] = 1
    return m


def rank_gf2(sets, n):
    return LinearCode(n, tuple(map(tuple, sets))).rank


@pytest.mark.parametrize("L", [2, 3, 4])
def test_square_torus_incidence_and_commutation(L):
    n = 2 * L * L
    stars, plaquettes = lattices.square_stars(L), lattices.square_plaquettes(L)
    a, b = incidence(stars, n), incidence(plaquettes, n)
    # Every link has two end vertices and borders two plaquettes; all four links are distinct.
    assert (a.sum(0) == 2).all() and (b.sum(0) == 2).all()
    assert (a.sum(1) == 4).all() and (b.sum(1) == 4).all()
    # [A_v, B_p] = 0 <=> every star shares an even number of links with every plaquette.
    assert ((a @ b.T) % 2 == 0).all()
    # Gauss law rank L^2 - 1 (prod_v A_v = 1), and likewise for the plaquettes (§3.4).
    assert rank_gf2(stars, n) == rank_gf2(plaquettes, n) == L * L - 1
    # Winding parities commute with every plaquette flip, and are independent of the stars.
    for links in lattices.winding_links(L):
        assert ((b @ incidence([links], n).T) % 2 == 0).all()
    assert rank_gf2(list(stars) + list(lattices.winding_links(L)), n) == L * L + 1


def test_square_block_order():
    # Vertex v = x + L y owns r(v) = 2v and u(v) = 2v + 1: its gauge block is consecutive.
    L = 3
    for v in range(L * L):
        x, y = v % L, v // L
        assert lattices.right_link(L, x, y) == 2 * v and lattices.up_link(L, x, y) == 2 * v + 1
        assert set(lattices.square_stars(L)[v][:2]) == {2 * v, 2 * v + 1}


def test_wilson_loop_is_the_product_of_the_enclosed_plaquettes():
    L = 4
    plaquettes = incidence(lattices.square_plaquettes(L), 2 * L * L)
    inside = [lattices.vertex_index(L, 1 + i, 1 + j) for i in range(2) for j in range(3)]
    loop = incidence([lattices.wilson_loop_links(L, 2, 3, x=1, y=1)], 2 * L * L)[0]
    np.testing.assert_array_equal(plaquettes[inside].sum(0) % 2, loop)
    assert loop.sum() == 2 * (2 + 3)  # the perimeter


@pytest.mark.parametrize("p1, p2", [((0, 0), (2, 1)), ((3, 3), (0, 1)), ((1, 2), (1, 0))])
def test_dual_path_excites_only_its_end_plaquettes(p1, p2):
    # constraints.md §3.5: end plaquettes contain one crossed link (B_p = -1), the others 0 or 2.
    L = 4
    path = incidence([lattices.dual_path_links(L, p1, p2)], 2 * L * L)[0]
    overlap = incidence(lattices.square_plaquettes(L), 2 * L * L) @ path
    ends = {lattices.vertex_index(L, *p1), lattices.vertex_index(L, *p2)}
    assert {p for p in range(L * L) if overlap[p] % 2} == ends


@pytest.mark.parametrize("L", [2, 3])
def test_cubic_torus_incidence_ranks_and_commutation(L):
    n = 3 * L**3
    stars, plaquettes = lattices.cubic_stars(L), lattices.cubic_plaquettes(L)
    cubes, planar = lattices.cubes(L), lattices.planar_stars(L)
    assert stars.shape == (L**3, 6) and plaquettes.shape == (3 * L**3, 4)
    assert cubes.shape == (L**3, 12) and planar.shape == (3 * L**3, 4)
    a, b = incidence(stars, n), incidence(plaquettes, n)
    c, s = incidence(cubes, n), incidence(planar, n)
    # An edge: 2 end vertices, 4 plaquettes, 4 cubes, 4 planar stars (2 ends x 2 planes).
    assert (a.sum(0) == 2).all() and (b.sum(0) == 4).all()
    assert (c.sum(0) == 4).all() and (s.sum(0) == 4).all()
    # All edges of a term are distinct, even at L = 2.
    assert (a.sum(1) == 6).all() and (b.sum(1) == 4).all()
    assert (c.sum(1) == 12).all() and (s.sum(1) == 4).all()
    assert ((a @ b.T) % 2 == 0).all() and ((c @ s.T) % 2 == 0).all()
    # constraints.md §4: ranks L^3 - 1, 2L^3 - 2 (3D toric code); 2L^3 - 3L + 1, L^3 - 3L + 2
    # (X-cube), hence log2 GSD = 3 and 6L - 3.
    assert rank_gf2(stars, n) == L**3 - 1
    assert rank_gf2(plaquettes, n) == 2 * L**3 - 2
    assert rank_gf2(planar, n) == 2 * L**3 - 3 * L + 1
    assert rank_gf2(cubes, n) == L**3 - 3 * L + 2
    assert n - rank_gf2(planar, n) - rank_gf2(cubes, n) == 6 * L - 3


def test_cubic_block_order():
    L = 3
    for v in (0, 5, 26):
        r = np.array([v % L, (v // L) % L, v // (L * L)])
        owned = [int(lattices.edge_index(L, r, mu)) for mu in range(3)]
        assert owned == [3 * v, 3 * v + 1, 3 * v + 2]
        assert set(lattices.cubic_stars(L)[v][:3]) == {3 * v, 3 * v + 1, 3 * v + 2}


def test_bad_sizes_and_paths_are_refused():
    with pytest.raises(NQSError, match="L >= 2"):
        lattices.square_stars(1)
    with pytest.raises(NQSError, match="width"):
        lattices.wilson_loop_links(3, 3, 1)
    with pytest.raises(NQSError, match="two different"):
        lattices.dual_path_links(3, (1, 1), (4, 1))
