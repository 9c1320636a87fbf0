"""Walk automata from transfer matrices: sector sizes by counting DP and by enumeration, no dead
ends, exact uniform state, ranked NetKet indexing, empty sectors (constraints.md §1.2, §5–§7)."""

from math import comb

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

from nqs.constraints import AbstractConstraint, constraint_of
from nqs.constraints.check import enumerate_sector, random_sector_indices
from nqs.constraints.transfer import WalkAutomaton
from nqs.errors import EmptySectorError, NQSError

FIB = np.array([[0, 1], [1, 1]])  # no two adjacent 0's: golden chain / PXP
A4 = np.abs(np.subtract.outer(np.arange(4), np.arange(4))) == 1  # A_4 graph: SU(2)_3 spin-1/2


def lucas(n):
    return int(np.trace(np.linalg.matrix_power(FIB.astype(object), n)))


def dyck(n):
    """Dyck paths of n steps as an open chain of labels 2x in 0..n/2, x_0 = x_n = 0."""
    top = n // 2
    adjacent = np.abs(np.subtract.outer(np.arange(top + 1), np.arange(top + 1))) == 1
    return WalkAutomaton.open_chain(adjacent, start=0, end=0, length=n)


@pytest.mark.parametrize("L", [8, 12, 14])
def test_golden_ring_counts_are_lucas_with_no_dead_ends(L):
    # constraints.md §6.4: tr(F^L) = Lucas L_L = 47, 322, 843; exhaustive search: 0 dead ends.
    automaton = WalkAutomaton.periodic_chain(FIB, L)
    configs, dead_ends = enumerate_sector(automaton)
    assert dead_ends == 0
    assert len(configs) == automaton.sector_size() == lucas(L)
    ring = np.concatenate([configs, configs[:, :1]], axis=1)  # independent check of the rule
    assert FIB[ring[:, :-1], ring[:, 1:]].all()


def test_su2_level3_ring_doubles_lucas_and_odd_rings_are_empty():
    # constraints.md §6.4: 2 L_L for even L; the A_4 graph is bipartite, so odd rings are empty.
    configs, dead_ends = enumerate_sector(WalkAutomaton.periodic_chain(A4, 10))
    assert (len(configs), dead_ends) == (2 * lucas(10), 0)
    assert WalkAutomaton.periodic_chain(A4, 16).sector_size() == 2 * lucas(16) == 4414
    with pytest.raises(EmptySectorError, match=r"even length.*non-empty lengths: \[4, 6, 8, 10\]"):
        WalkAutomaton.periodic_chain(A4, 7)


@pytest.mark.parametrize("n", [8, 12, 16])
def test_dyck_paths_are_catalan_with_no_dead_ends(n):
    # constraints.md §7: C_{n/2} = 14, 132, 1430 singlet paths; the naive mask would dead-end.
    automaton = dyck(n)
    configs, dead_ends = enumerate_sector(automaton)
    catalan = comb(n, n // 2) // (n // 2 + 1)
    assert dead_ends == 0
    assert len(configs) == automaton.sector_size() == catalan


def test_sector_size_is_exact_beyond_machine_integers():
    # tr(F^200) = Lucas L_200 ~ 6e41 needs Python integers (float64 would round it).
    assert WalkAutomaton.periodic_chain(FIB, 200).sector_size() == lucas(200)


def test_first_token_chooses_only_labels_with_a_closed_walk():
    # Labels {0, 1, 2} with bonds 0->1, 1->1, 1->2: node 0 has no incoming bond and 2 no outgoing
    # one, so only x_0 = 1 closes a ring: one configuration, all ones.
    graph = np.array([[0, 1, 0], [0, 1, 1], [0, 0, 0]])
    automaton = WalkAutomaton.periodic_chain(graph, 5)
    allowed = np.asarray(automaton.allowed(automaton.init(1), 0))[0]
    assert allowed.tolist() == [False, True, False]
    configs, dead_ends = enumerate_sector(automaton)
    assert configs.tolist() == [[1] * 5] and dead_ends == 0


def test_uniform_logits_give_the_uniform_state():
    # constraints.md §1.2: p(v|s) = C_{i+1}(next)/C_i(s), so every Dyck path has p = 1/132,
    # although the numbers of allowed values differ along a path.
    automaton = dyck(12)
    configs, _ = enumerate_sector(automaton)
    idx = jnp.asarray(configs)
    state, log_p = automaton.init(len(configs)), jnp.zeros(len(configs))
    for i in range(automaton.n_sites):
        log_cond = jax.nn.log_softmax(automaton.uniform_logits(state, i), axis=-1)
        log_p = log_p + jnp.take_along_axis(log_cond, idx[:, i : i + 1], axis=1)[:, 0]
        state = automaton.update(state, i, idx[:, i])
    np.testing.assert_allclose(np.exp(log_p), 1 / 132, rtol=1e-12)


def test_vectorised_masks_equal_the_step_by_step_automaton():
    automaton = WalkAutomaton.periodic_chain(A4, 8)
    idx = random_sector_indices(automaton, jax.random.PRNGKey(0), 20)
    masks = automaton.masks(idx)
    state = automaton.init(20)
    for i in range(8):
        np.testing.assert_array_equal(masks[:, i], automaton.allowed(state, i))
        state = automaton.update(state, i, idx[:, i])
    assert bool(automaton.contains(idx).all())
    assert not bool(automaton.contains(jnp.zeros((1, 8), jnp.int32))[0])  # 0,0 not adjacent


def test_netket_space_is_indexed_by_rank_in_netkets_order():
    # 4^14 = 2.7e8 unconstrained configurations, 1686 in the sector: ranking never enumerates
    # the former. all_states is sorted like NetKet's own constrained spaces (last site fastest).
    automaton = WalkAutomaton.periodic_chain(A4, 14, local_states=range(4))
    hi = nk.hilbert.Fock(n_max=3, N=14, constraint=automaton.hilbert_constraint())
    assert hi.n_states == 1686
    states = np.asarray(hi.all_states())
    assert (np.lexsort(states.T[::-1]) == np.arange(1686)).all()
    np.testing.assert_array_equal(hi.states_to_numbers(states), np.arange(1686))
    assert bool(hi.constraint(states).all())
    assert constraint_of(hi) is automaton
    random = hi.random_state(jax.random.PRNGKey(1), 50)
    assert bool(hi.constraint(random).all())


def test_automata_are_hashable_values():
    a, b = WalkAutomaton.periodic_chain(FIB, 6), WalkAutomaton.periodic_chain(FIB, 6)
    assert a == b and hash(a) == hash(b) and a != WalkAutomaton.periodic_chain(FIB, 8)
    assert isinstance(a, AbstractConstraint) and "sector_size=18" in repr(a)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: WalkAutomaton.open_chain(FIB, start=0, end=0, length=1), "unreachable"),
        (lambda: WalkAutomaton.periodic_chain(FIB), "length="),
        (lambda: WalkAutomaton(np.zeros((3, 2, 2)), [[True, True]]), "integer array"),
        (lambda: WalkAutomaton(np.zeros((3, 2, 2), int), [[True]]), "accept must have shape"),
        (lambda: WalkAutomaton.periodic_chain(FIB, 4, local_states=(0, 1, 2)), "local_size=2"),
    ],
)
def test_bad_input_is_refused(build, match):
    with pytest.raises(NQSError, match=match):
        build()
