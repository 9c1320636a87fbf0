"""The U(1) automaton: sector sizes, no dead ends, and agreement with NetKet's SumConstraint."""

from math import comb

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

from nqs.constraints import (
    U1,
    AbstractConstraint,
    AutomatonMembership,
    Unconstrained,
    constraint_of,
)
from nqs.constraints.check import enumerate_sector, random_sector_indices
from nqs.errors import ConstraintMismatchError, EmptySectorError


@pytest.mark.parametrize("n, expected", [(8, 70), (10, 252), (12, 924)])
def test_u1_zero_magnetisation_sector_size_and_no_dead_ends(n, expected):
    # constraints.md §2: binom(N, N/2) configurations and no dead-end prefix.
    configs, dead_ends = enumerate_sector(U1(n, (1, -1), 0))
    assert dead_ends == 0
    assert len(configs) == expected == comb(n, n // 2)
    assert len(np.unique(configs, axis=0)) == expected


def test_u1_nonzero_magnetisation_and_spin_one():
    configs, dead_ends = enumerate_sector(U1(6, (1, -1), 2))  # S^z = 1: 4 up, 2 down
    assert (len(configs), dead_ends) == (comb(6, 4), 0)
    hi = nk.hilbert.Spin(1.0, 4, total_sz=0)
    configs, dead_ends = enumerate_sector(U1.from_hilbert(hi))
    assert (len(configs), dead_ends) == (hi.n_states, 0)


def test_u1_generates_exactly_the_netket_sector():
    hi = nk.hilbert.Spin(0.5, 8, total_sz=0)
    c = U1.from_hilbert(hi)
    configs, _ = enumerate_sector(c)
    states = np.asarray(hi.local_states)[configs]
    assert sorted(map(tuple, states)) == sorted(map(tuple, np.asarray(hi.all_states())))
    assert c.hilbert_constraint() == hi.constraint
    assert constraint_of(hi) == c


def test_vectorised_masks_equal_the_automaton_scan():
    c = U1(8, (1, -1), 0)
    idx = jax.random.randint(jax.random.PRNGKey(0), (50, 8), 0, 2)
    scanned = AbstractConstraint.masks(c, idx)
    np.testing.assert_array_equal(c.masks(idx), scanned)


def test_random_sector_states_lie_in_the_sector():
    hi = nk.hilbert.Spin(0.5, 10, total_sz=0)
    idx = random_sector_indices(U1.from_hilbert(hi), jax.random.PRNGKey(1), 200)
    x = jnp.asarray(hi.local_states)[idx]
    assert bool(hi.constraint(x).all())


def test_automaton_membership_builds_a_netket_space():
    c = U1(6, (1, -1), 0)
    hi = nk.hilbert.Spin(0.5, 6, constraint=AutomatonMembership(c, (1, -1)))
    assert hi.n_states == comb(6, 3)
    assert constraint_of(hi) is c


def test_empty_sector_is_refused():
    with pytest.raises(EmptySectorError, match="even"):
        U1(7, (1, -1), 0)


def test_unknown_constraint_has_no_mask():
    class Odd(nk.hilbert.constraint.DiscreteHilbertConstraint):
        def __call__(self, x):
            return x.sum(-1) % 4 == 0

        def __hash__(self):
            return 1

        def __eq__(self, other):
            return isinstance(other, Odd)

    with pytest.raises(ConstraintMismatchError, match="No autoregressive mask"):
        constraint_of(nk.hilbert.Spin(0.5, 4, constraint=Odd()))


def test_unconstrained_allows_everything():
    configs, dead = enumerate_sector(Unconstrained(4, 2))
    assert (len(configs), dead) == (16, 0)
