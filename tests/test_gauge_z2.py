"""Z2 gauge constraints and systems: the pivot-last linear-code automaton (constraints.md §3.3),
sector sizes against the closed forms (§3.4, §4), exact diagonalisation against references.md
§4–§5, and exact autoregressive toric-code states with zero-variance local energies (§3.5)."""

import itertools

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

import nqs
import samplers
from hamiltonians import System, lattices
from hamiltonians.gauge_z2 import (
    toric_code,
    toric_code_3d,
    toric_code_state_parameters,
    x_cube,
    z2_gauge_theory,
)
from nqs.constraints import AbstractConstraint, AutomatonMembership, constraint_of
from nqs.constraints.check import enumerate_sector
from nqs.constraints.linear_code import LinearCode
from nqs.errors import ConstraintMismatchError, EmptySectorError, NQSError


def gauss_code(L, targets=None):
    return LinearCode(2 * L * L, tuple(map(tuple, lattices.square_stars(L))), targets)


# Systems are built once per module: JAX compilation, not physics, dominates the run time.
@pytest.fixture(scope="module")
def tc2():
    return toric_code(2)


@pytest.fixture(scope="module")
def tc3():
    return toric_code(3)


@pytest.fixture(scope="module")
def tc3_epair():
    return toric_code(3, charges=[(0, 0), (2, 1)])


@pytest.fixture(scope="module")
def lgt2():
    return z2_gauge_theory(2, 0.5)


@pytest.fixture(scope="module")
def tc3d():
    return toric_code_3d(2)


@pytest.fixture(scope="module")
def xcube():
    return x_cube(2)


@pytest.fixture(scope="module")
def lgt3():
    return {h: z2_gauge_theory(3, h) for h in (0.2, 0.5)}


# -- the automaton ---------------------------------------------------------------------------
def test_pivot_last_reduction_on_a_chain_of_equalities():
    # n0 = n1 = n2 = n3: rank 3, pivots at the last variable of each check after reduction.
    code = LinearCode(4, ((0, 1), (1, 2), (2, 3)))
    assert (code.rank, code.pivots, code.sector_size()) == (3, (1, 2, 3), 2)
    configs, dead_ends = enumerate_sector(code)
    assert dead_ends == 0 and sorted(map(tuple, configs)) == [(0,) * 4, (1,) * 4]
    assert not code.is_forced(0) and code.is_forced(3)


def test_linear_code_is_hashable_and_normalises_its_checks():
    a = LinearCode(4, ((1, 0), (2, 3)), (0, 1))
    b = LinearCode(4, [[0, 1], [3, 2]], [0, 1], name="another label")
    assert a == b and hash(a) == hash(b) and a != LinearCode(4, ((0, 1), (2, 3)))
    assert a.hilbert_constraint() == b.hilbert_constraint()


def test_vectorised_masks_and_membership_equal_the_automaton_scan():
    # L = 3 Gauss law with an e-pair: the one-matmul masks equal the step-by-step automaton.
    code = gauss_code(3, targets=[1, 1] + [0] * 7)
    inside = code.random_indices(jax.random.PRNGKey(0), 64)
    anything = jax.random.randint(jax.random.PRNGKey(1), (64, code.n_sites), 0, 2)
    idx = jnp.concatenate([inside, anything])
    np.testing.assert_array_equal(code.masks(idx), AbstractConstraint.masks(code, idx))
    np.testing.assert_array_equal(code.contains(idx), AbstractConstraint.contains(code, idx))
    assert bool(code.contains(inside).all())  # the uniform sampler stays in the sector


def test_uniform_sampler_covers_the_sector_uniformly():
    # 32 states (L = 2), 6400 draws: chi^2 with 31 degrees of freedom, P(chi^2 > 70) ~ 1e-4.
    code = gauss_code(2)
    idx = np.asarray(code.random_indices(jax.random.PRNGKey(3), 6400))
    _, counts = np.unique(idx, axis=0, return_counts=True)
    assert len(counts) == 32
    assert np.sum((counts - 200) ** 2 / 200) < 70


def test_inconsistent_or_malformed_checks_are_refused():
    with pytest.raises(EmptySectorError, match="checks \\[0, 1\\]"):
        LinearCode(2, ((0, 1), (0, 1)), (0, 1))
    with pytest.raises(EmptySectorError, match="pairs"):
        gauss_code(2, targets=[1, 0, 0, 0])  # one charge on a torus
    with pytest.raises(NQSError, match="distinct sites"):
        LinearCode(3, ((0, 0, 1),))
    with pytest.raises(NQSError, match="targets"):
        LinearCode(3, ((0, 1),), (2,))


# -- sectors ---------------------------------------------------------------------------------
def test_gauss_law_sector_sizes_and_no_dead_ends(tc2, tc3):
    # constraints.md §3.4: 2^(L^2 + 1) closed-loop configurations = 32, 1024 (L = 2, 3), from
    # the exhaustive prefix search (L = 2), the GF(2) rank and NetKet's enumeration.
    configs, dead_ends = enumerate_sector(tc2.constraint)
    assert dead_ends == 0 and len(np.unique(configs, axis=0)) == 32
    for system, expected in ((tc2, 32), (tc3, 1024)):
        assert system.hilbert.n_states == system.constraint.sector_size() == expected
        assert constraint_of(system.hilbert) is system.constraint


def test_winding_sectors_partition_the_gauss_law_sector():
    # §3.4: four winding sectors of 2^(L^2 - 1) = 256 states each at L = 3.
    x_links, y_links = lattices.winding_links(3)
    sectors = []
    for wx, wy in itertools.product((0, 1), repeat=2):
        checks = (*map(tuple, lattices.square_stars(3)), tuple(x_links), tuple(y_links))
        configs, dead_ends = enumerate_sector(LinearCode(18, checks, (*(0,) * 9, wx, wy)))
        assert (len(configs), dead_ends) == (256, 0)
        sectors.append(set(map(tuple, configs)))
    assert len(set.union(*sectors)) == 1024


def test_3d_toric_code_and_x_cube_sector_sizes(tc3d, xcube):
    # constraints.md §4, L = 2: 2^(2L^3+1) = 2^17 and 2^(L^3+3L-1) = 2^13, by GF(2) rank; the
    # X-cube mask (dependent planar checks) is also enumerated prefix by prefix.
    assert tc3d.constraint.sector_size() == 2**17
    configs, dead_ends = enumerate_sector(xcube.constraint)
    assert (xcube.constraint.sector_size(), len(configs), dead_ends) == (2**13, 2**13, 0)


def test_ranked_index_matches_netkets_enumeration_and_needs_none():
    # The free-bit rank reproduces NetKet's generic index (which tests all 2^8 configurations)
    # state by state, at L = 2 with an e-pair. At L = 4 (32 links) NetKet's generic index cannot
    # exist (2^32 > 2^31 - 1) but the sector has 2^(L^2+1) = 131072 ranked states.
    code = gauss_code(2, targets=[1, 1, 0, 0])
    ranked = nk.hilbert.Spin(0.5, 8, constraint=code.hilbert_constraint())
    generic = nk.hilbert.Spin(0.5, 8, constraint=AutomatonMembership(code, (1, -1)))
    assert ranked.n_states == generic.n_states == 32
    np.testing.assert_array_equal(ranked.all_states(), generic.all_states())
    np.testing.assert_array_equal(ranked.states_to_numbers(generic.all_states()), np.arange(32))
    assert nk.hilbert.Spin(0.5, 32, constraint=gauss_code(4).hilbert_constraint()).n_states == 2**17


def test_random_states_of_large_codes_need_no_enumeration():
    # 3D toric code at L = 3: 81 links, 2^55 states (not indexable), a fraction 2^-26 of all
    # configurations, so NetKet's rejection fallback would not terminate; the code's own
    # sampler is exact and uniform.
    code = LinearCode(81, tuple(map(tuple, lattices.cubic_stars(3))))
    hilbert = nk.hilbert.Spin(0.5, 81, constraint=code.hilbert_constraint())
    x = hilbert.random_state(jax.random.PRNGKey(0), 16)
    assert x.shape == (16, 81) and bool(hilbert.constraint(x).all())
    assert not hilbert.is_indexable


def test_random_transformer_is_normalised_on_the_sector(tc2):
    # Masked conditionals: the sum over the 32 sector states of |psi|^2 is 1 up to float64
    # rounding, for generic (non-zero, non-uniform) weights.
    model = nqs.ARTransformer(hilbert=tc2.hilbert, n_layers=1, d_model=8, n_heads=2)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), tc2.hilbert.all_states()[:1])
    params = jax.tree.map(lambda p: p + 0.3 * jnp.sin(jnp.arange(p.size).reshape(p.shape)), params)
    log_psi = jax.jit(model.apply)(params, tc2.hilbert.all_states())
    assert abs(np.sum(np.exp(2 * log_psi.real)) - 1) < 1e-10


# -- Hamiltonians ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tc3_epair", "lgt2", "tc3d", "xcube"])
def test_hamiltonians_keep_the_sector(request, name):
    # System checks this at construction; here explicitly on 256 uniform sector states: every
    # connected configuration with a non-zero matrix element is in the sector.
    system = request.getfixturevalue(name)
    code = system.constraint
    x = system.hilbert.random_state(jax.random.PRNGKey(5), 256)
    xp, mels = system.hamiltonian.get_conn_padded(x)
    inside = code.contains(system.hilbert.states_to_local_indices(xp))
    assert bool(jnp.all(inside | (mels == 0)))


def test_a_gauge_breaking_term_is_refused(tc2):
    sigma_z = nk.operator.PauliStrings(tc2.hilbert, ["X" + "I" * 7], [1.0])  # flips one link
    with pytest.raises(ConstraintMismatchError, match="outside the sector"):
        System("broken", tc2.hilbert, tc2.hamiltonian + sigma_z, tc2.constraint)


_PAULI = {"I": np.eye(2), "X": np.array([[0.0, 1.0], [1.0, 0.0]]), "Z": np.diag([1.0, -1.0])}


def dense_pauli_sum(operator):
    """The Pauli-string operator on the full 2^N space by Kronecker products (no NetKet)."""
    total = 0
    for string, weight in zip(operator.operators, operator.weights, strict=True):
        term = np.ones((1, 1))
        for letter in string:
            term = np.kron(term, _PAULI[letter])
        total = total + weight.real * term
    return total


@pytest.mark.parametrize("name, expected", [("tc2", -8.0), ("lgt2", None)])
def test_sector_ed_equals_unconstrained_ed_at_l2(request, name, expected):
    # The global ground state lies in the Gauss-law sector (toric code: E0 = -2L^2 = -8;
    # Z2 gauge theory at h = 0.5: models.md §7). Dense ED of 256 vs 32 states: rounding level.
    system = request.getfixturevalue(name)
    e_free = np.linalg.eigvalsh(dense_pauli_sum(system.hamiltonian))[0]
    assert system.exact_energy() == pytest.approx(e_free, abs=1e-10)
    if expected is not None:
        assert e_free == pytest.approx(expected, abs=1e-10)


def test_toric_code_spectrum_and_e_pair_energy(tc2, tc3_epair):
    # references.md §4: E0 = -2L^2 = -8 at L = 2, 4-fold degenerate, then a gap of 4. Two
    # charges (an e-pair) at L = 3 cost +4: E = -18 + 4 = -14. Integer spectra: 1e-10 is rounding.
    w = np.linalg.eigvalsh(tc2.hamiltonian.to_dense())
    np.testing.assert_allclose(w[:5], [-8.0] * 4 + [-4.0], atol=1e-10)
    assert tc3_epair.exact_energy() == pytest.approx(-14.0, abs=1e-10)


@pytest.mark.parametrize(
    "h, energy, electric_field",
    # references.md §5 (ED, zero-winding sector; equal in the full Gauss-law sector).
    [(0.2, -9.2104956382, 0.13127245), (0.5, -11.3418905884, 0.70521563)],
)
def test_z2_gauge_theory_l3_references(lgt3, h, energy, electric_field):
    # The references carry 10 (energy) and 8 (field) decimals: tolerances 1e-8 and 1e-8.
    system = lgt3[h]
    observables = system.exact_observables()
    assert system.exact_energy() == pytest.approx(energy, abs=1e-8)
    assert observables["electric_field"] == pytest.approx(electric_field, abs=1e-8)
    # The energy is the sum of its parts (9 plaquettes, 18 links), and the unique, translation
    # invariant ground state has W(1x1) = <B_p>: both exact up to the eigensolver's 1e-10.
    parts = -9 * observables["plaquette"] - h * 18 * observables["electric_field"]
    assert parts == pytest.approx(system.exact_energy(), abs=1e-9)
    assert observables["wilson_loop_1x1"] == pytest.approx(observables["plaquette"], abs=1e-9)
    assert 0 < observables["wilson_loop_2x2"] < observables["wilson_loop_1x1"]


def test_z2_gauge_theory_zero_winding_sector_holds_the_ground_state(lgt3):
    system = z2_gauge_theory(3, 0.5, winding=(0, 0))
    assert system.hilbert.n_states == 256
    assert system.exact_energy() == pytest.approx(lgt3[0.5].exact_energy(), abs=1e-10)


@pytest.mark.parametrize("name", ["tc3d", "xcube"])
def test_uniform_state_is_an_exact_3d_ground_state(request, name):
    # Stabilizer codes: every B term maps the sector onto itself with amplitude ratio 1 and
    # every A term is +1, so the uniform state has local energy -4L^3 = -32 on every
    # configuration (references.md §4).
    system = request.getfixturevalue(name)
    x = system.hilbert.random_state(jax.random.PRNGKey(2), 128)
    _, mels = system.hamiltonian.get_conn_padded(x)
    np.testing.assert_allclose(np.sum(mels, axis=-1), -32.0, atol=1e-12)


# -- exact autoregressive states -------------------------------------------------------------
def _exact_state_local_energies(system, m_pairs):
    """Local energies of the exact AR state on 64 exact samples, for each m-pair (or None)."""
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    vstate = nk.vqs.MCState(samplers.ARDirectSampler(system.hilbert), model, n_samples=64, seed=1)
    template = vstate.variables
    for m_pair in m_pairs:
        vstate.variables = toric_code_state_parameters(system, model, template, m_pair=m_pair)
        samples = system.hilbert.states_to_local_indices(vstate.samples.reshape(-1, system.n_sites))
        assert bool(system.constraint.contains(samples).all())
        yield np.asarray(vstate.local_estimators(system.hamiltonian).data)


def test_exact_toric_code_ground_state_and_m_pairs_have_zero_variance(tc3):
    # constraints.md §3.5, L = 3: the uniform state is a ground state, E0 = -2L^2 = -18 on every
    # sample; the sign string along a dual path makes an m-pair, E0 + 4 = -14 on every sample
    # (an exact eigenstate has zero-variance local energy; 1e-10 is rounding).
    pairs = [None, ((0, 0), (2, 1)), ((2, 2), (1, 2))]
    for m_pair, local_energies in zip(pairs, _exact_state_local_energies(tc3, pairs), strict=True):
        np.testing.assert_allclose(local_energies, -18.0 if m_pair is None else -14.0, atol=1e-10)


def test_exact_toric_code_e_pair_has_zero_variance(tc3_epair):
    # Gauss targets t = 1 at two vertices, uniform conditionals: E0 + 4 = -14 on every sample.
    (local_energies,) = _exact_state_local_energies(tc3_epair, [None])
    np.testing.assert_allclose(local_energies, -14.0, atol=1e-10)


def test_system_errors_name_the_fix(tc3):
    with pytest.raises(EmptySectorError, match="must be even"):
        toric_code(3, charges=[(0, 0)])
    with pytest.raises(NQSError, match="charged twice"):
        toric_code(3, charges=[(0, 0), (3, 0)])
    with pytest.raises(NQSError, match="winding"):
        z2_gauge_theory(3, 0.5, winding=(0, 2))
    with pytest.raises(NQSError, match="L >= 2"):
        x_cube(1)
    model = nqs.ARTransformer(hilbert=tc3.hilbert, n_layers=1, d_model=8, n_heads=2, phase=False)
    with pytest.raises(NQSError, match="phase=True"):
        toric_code_state_parameters(tc3, model, {}, m_pair=((0, 0), (1, 0)))
