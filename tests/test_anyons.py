"""Anyonic chains and SU(2) singlets in the fusion-path basis: projector algebra, sector sizes,
exact energies (references.md §7–§8), golden chain = SU(2)_3, singlets = spin-basis S = 0."""

import functools
from math import comb

import jax
import netket as nk
import numpy as np
import pytest

import hamiltonians
import nqs
import samplers
from hamiltonians import System
from hamiltonians.anyons import golden_chain, su2_singlet_chain, su2k_chain
from hamiltonians.fusion import pair_projector_tables
from nqs.constraints.check import enumerate_sector
from nqs.errors import ConstraintMismatchError, EmptySectorError, NQSError

PHI = (1 + 5**0.5) / 2


def lucas(n):
    return int(np.trace(np.linalg.matrix_power(np.array([[0, 1], [1, 1]], dtype=object), n)))


def spectrum(system):
    # scipy path: NetKet's to_dense() for JAX operators compiles many small BCOO kernels.
    return np.linalg.eigvalsh(system.hamiltonian.to_sparse().toarray())


@functools.cache
def build(family, *args):
    """Systems shared between tests: building one compiles its operator and index once."""
    return {"golden": golden_chain, "su2k": su2k_chain, "singlet": su2_singlet_chain}[family](*args)


@pytest.fixture(scope="module")
def golden12():
    return build("golden", 12)


def test_golden_pair_projector_matches_constraints_md():
    # constraints.md §6.2: P0|1 tau 1> = |1 tau 1>; on {tau 1 tau, tau tau tau} the block
    # [[phi^-2, phi^-3/2], [phi^-3/2, phi^-1]]; zero when x_{i-1} != x_{i+1}.
    diagonal, alternative, off = pair_projector_tables([0, 2], 2, 3)  # labels 1, tau as 2x = 0, 2
    assert diagonal[0, 1, 0] == pytest.approx(1)
    assert (diagonal[1, 0, 1], diagonal[1, 1, 1]) == pytest.approx((PHI**-2, PHI**-1))
    assert alternative[1, 0, 1] == 1 and alternative[1, 1, 1] == 0 and alternative[0, 1, 0] == -1
    assert off[1, 0, 1] == off[1, 1, 1] == pytest.approx(PHI**-1.5)
    assert diagonal[0, 1, 1] == diagonal[1, 1, 0] == 0


@pytest.mark.parametrize("k", [2, 3, 5, None])
def test_pair_projector_is_a_projector(k):
    # P0^2 = P0 on every (x_{i-1} = x_{i+1}) block; k=None is SU(2) (labels cut at 2x = 8, whose
    # own block is incomplete and excluded).
    top = k if k is not None else 8
    diagonal, alternative, off = pair_projector_tables(range(top + 1), 1, k)
    for a in range(top + 1 if k is not None else top):
        mids = [b for b in range(top + 1) if diagonal[a, b, a] > 0]
        block = np.diag([diagonal[a, b, a] for b in mids])
        for i, b in enumerate(mids):
            if alternative[a, b, a] >= 0:
                block[i, mids.index(alternative[a, b, a])] = off[a, b, a]
        np.testing.assert_allclose(block @ block, block, atol=1e-14)


@pytest.mark.parametrize("L, dim, energy", [(12, 322, -9.2231573333), (14, 843, -10.7429129583)])
def test_golden_chain_ground_state(L, dim, energy, golden12):
    # references.md §7: ED in the fusion-path basis; sector = Lucas numbers.
    system = golden12 if L == 12 else build("golden", L)
    assert system.hilbert.n_states == dim == lucas(L)
    assert system.exact_energy() == pytest.approx(energy, abs=1e-8)


def test_golden_sector_has_no_dead_ends(golden12):
    configs, dead_ends = enumerate_sector(golden12.constraint)
    assert (len(configs), dead_ends) == (322, 0)
    assert not ((configs == 0) & (np.roll(configs, 1, axis=1) == 0)).any()  # no adjacent 1's


def test_su2_level3_chain_is_the_golden_chain_twice(golden12):
    # constraints.md §6.1: same spectrum, every level exactly doubled (abelian j = 3/2 label).
    system = build("su2k", 12, 3)
    assert system.hilbert.n_states == 644 == 2 * lucas(12)
    configs, dead_ends = enumerate_sector(system.constraint)
    assert (len(configs), dead_ends) == (644, 0)
    np.testing.assert_allclose(spectrum(system), np.repeat(spectrum(golden12), 2), atol=1e-11)


def test_odd_su2k_ring_is_an_empty_sector():
    with pytest.raises(EmptySectorError, match="even length"):
        su2k_chain(7, 3)


@pytest.mark.parametrize(
    "n, energy",
    # references.md §8 (= spin-basis OBC ED to 10 digits)
    [
        (8, -3.3749325987),
        (10, -4.2580352073),
        (12, -5.1420906328),
        (14, -6.0267246619),
        (16, -6.9117371456),
    ],
)
def test_singlet_chain_ground_state(n, energy):
    system = build("singlet", n)
    assert system.hilbert.n_states == comb(n, n // 2) // (n // 2 + 1)  # Catalan C_{n/2}
    assert system.exact_energy() == pytest.approx(energy, abs=1e-8)


def total_spin_squared(states):
    """S^2 = sum_ij S_i.S_j on spin-1/2 configurations sigma = +-1 (dense, numpy)."""
    states = np.asarray(states)
    index = {tuple(s): k for k, s in enumerate(states)}
    n_states, n = states.shape
    s2 = np.zeros((n_states, n_states))
    for k, s in enumerate(states):
        s2[k, k] = 0.75 * n + 0.5 * (np.sum(s) ** 2 - n) / 2  # 3N/4 + sum_{i != j} s_i s_j / 4
        for i in range(n):
            for j in range(i + 1, n):
                if s[i] != s[j]:  # S_i^+ S_j^- + h.c. swaps antiparallel spins, element 1/2 each
                    t = s.copy()
                    t[[i, j]] = t[[j, i]]
                    s2[index[tuple(t)], k] += 1.0
    return s2


@pytest.mark.parametrize("n", [8, 10])
def test_singlet_spectrum_is_the_spin_zero_part_of_the_heisenberg_chain(n):
    # H + 100 S^2 in the S^z = 0 sector: singlets keep their energies, every S >= 1 level moves
    # up by >= 200 > the bandwidth, so the lowest C_{n/2} levels are the singlet spectrum.
    spin = hamiltonians.heisenberg_chain(n, pbc=False)
    h = spin.hamiltonian.to_sparse().toarray()
    shifted = np.linalg.eigvalsh(h + 100 * total_spin_squared(spin.hilbert.all_states()))
    singlets = spectrum(build("singlet", n))
    np.testing.assert_allclose(shifted[: len(singlets)], singlets, atol=1e-10)
    assert shifted[len(singlets)] > 100


@pytest.mark.parametrize("family, args", [("golden", (12,)), ("su2k", (12, 3)), ("singlet", (10,))])
def test_random_transformer_is_normalised_on_the_sector(family, args):
    system = build(family, *args)
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    x = system.hilbert.all_states()
    params = jax.jit(model.init)(jax.random.PRNGKey(0), x[:2])
    rng = np.random.default_rng(1)  # numpy noise: no compilation per parameter shape
    params = jax.tree.map(lambda p: np.asarray(p) + 0.5 * rng.normal(size=p.shape), params)
    norm = np.sum(np.exp(2 * np.asarray(jax.jit(model.apply)(params, x)).real))
    assert abs(norm - 1) < 1e-10  # masked softmax, no dead ends: 1 to rounding


def test_chunked_local_energies_equal_the_unchunked_ones():
    # Regression: NetKet evaluates chunked local energies under shard_map, where the walk
    # automaton's mask scan once failed ("carry input and carry output must have equal types").
    system = build("golden", 8)
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    vs = nk.vqs.MCState(samplers.ARDirectSampler(system.hilbert), model, n_samples=32, seed=0)
    unchunked = np.asarray(vs.local_estimators(system.hamiltonian).data)
    vs.chunk_size = 8
    chunked = vs.local_estimators(system.hamiltonian).data
    np.testing.assert_allclose(np.asarray(chunked), unchunked, rtol=1e-12)


def test_a_label_flip_that_breaks_the_fusion_rule_is_refused(golden12):
    # Flipping one label regardless of its neighbours creates adjacent trivial labels.
    flip = nk.operator.LocalOperator(golden12.hilbert, [[0.0, 1.0], [1.0, 0.0]], [0])
    with pytest.raises(ConstraintMismatchError, match="outside the sector"):
        System("broken", golden12.hilbert, flip, golden12.constraint)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: golden_chain(2), "L >= 3"),
        (lambda: su2_singlet_chain(7), "even n"),
        (lambda: su2k_chain(8, 0), "positive"),
    ],
)
def test_impossible_chains_are_refused(build, match):
    with pytest.raises(NQSError, match=match):
        build()
