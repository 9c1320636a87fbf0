"""POVM Lindblad generator: trace preservation, agreement with the density-matrix Lindbladian,
the JAX operator and its local estimator, exact steady states and dynamics (references.md §9),
closed forms for one spin (povm.md §10), and bad input.

Exact linear algebra throughout, so tolerances are set by double-precision rounding (1e-12 for
algebraic identities, 1e-10 for quantities divided by small probabilities, 1e-8 against an ODE
integration run at rtol 1e-12), or by the 8 decimals printed in references.md (1e-6)."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
import scipy.integrate
import scipy.sparse.linalg

import hamiltonians.lindblad as lb
import hamiltonians.open_systems as hos
import nqs.povm_model as pm
from hamiltonians.povm import PAULI, povm, probabilities
from nqs.errors import NQSError

X, Y, Z, SM, SP = PAULI["x"], PAULI["y"], PAULI["z"], PAULI["-"], PAULI["+"]
FRAMES = ["pauli4", "sic"]


def _generic_open_chain():
    """3 open-chain sites: XYZ-type bonds, random fields, local and 2-site jumps, so that every
    assignment rule (first site, containing bond) and 2-site dissipators are exercised."""
    rng = np.random.default_rng(1)
    field = lambda: sum(c * P for c, P in zip(rng.normal(size=3), (X, Y, Z), strict=True))  # noqa: E731
    hamiltonian = [((0, 1), 0.9 * np.kron(X, X) + 1.6 * np.kron(Y, Y)), ((2, 1), np.kron(Z, X))]
    hamiltonian += [((i,), field()) for i in range(3)]
    jumps = [((i,), SM, 0.3 + i) for i in range(3)]
    jumps += [((1, 2), np.kron(SM, SP) + 0.5 * np.kron(Z, Z), 0.7), ((0,), Z, 0.2)]
    return hamiltonian, jumps


def _ising(n, g=1.0):
    return hos.dissipative_ising_chain(n, g=g)


@pytest.mark.parametrize("frame", FRAMES)
def test_blocks_are_the_conjugated_superoperator(frame):
    # L = A L_super A^-1 (povm.md §3): two independent constructions of the same 64x64 matrix.
    hamiltonian, jumps = _generic_open_chain()
    dense = lb.generator_matrix(3, lb.generator_blocks(3, hamiltonian, jumps, frame))
    reference = lb.superoperator_to_povm(lb.superoperator(3, hamiltonian, jumps), frame)
    np.testing.assert_allclose(dense, reference, atol=1e-12)
    # Trace preservation: every column sums to zero.
    assert np.abs(dense.sum(axis=0)).max() < 1e-12


@pytest.mark.parametrize(
    "frame, block_nnz, dense_nnz, max_conn",
    [
        ("pauli4", 168, 7936, 49),
        ("sic", 138, 6528, 37),
    ],
)
def test_ising_generator_sparsity(frame, block_nnz, dense_nnz, max_conn):
    # povm.md §3: bond block nnz 168/256 (Pauli-4), 138/256 (SIC); dense 256x256 nnz 7936/6528.
    system = hos.dissipative_ising_chain(4, povm=frame)
    blocks = system.generator.blocks
    assert [b.sites for b in blocks] == [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert all(np.count_nonzero(b.matrix) == block_nnz for b in blocks)
    dense = system.generator_matrix().toarray()
    assert np.count_nonzero(dense) == dense_nnz
    assert np.abs(dense.sum(axis=0)).max() < 1e-12
    # Distinct connections: max_conn_size is exactly the largest number of non-zeros in a row.
    assert system.generator.max_conn_size == (dense != 0).sum(axis=1).max() == max_conn


@pytest.mark.parametrize("frame", FRAMES)
def test_operator_is_the_dense_generator_with_distinct_connections(frame):
    hamiltonian, jumps = _generic_open_chain()
    op = lb.povm_generator(3, hamiltonian, jumps, povm=frame)
    dense = lb.generator_matrix(3, op.blocks)
    np.testing.assert_allclose(np.asarray(op.to_dense()), dense, atol=1e-14)
    xp, mels = op.get_conn_padded(op.hilbert.all_states())
    numbers = np.asarray(op.hilbert.states_to_numbers(xp.reshape(-1, 3))).reshape(mels.shape)
    for row, mel in zip(numbers, np.asarray(mels), strict=True):
        assert len(set(row[mel != 0])) == np.count_nonzero(mel)  # no string appears twice


@pytest.fixture(scope="module")
def random_probability_model():
    """A 3-site probability transformer with noisy parameters (all weights O(0.3) off init)."""
    model = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)

    @jax.jit
    def noisy(key):
        params = model.init(key, model.hilbert.all_states()[:1])
        leaves, tree = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.PRNGKey(6), len(leaves))
        noise = [0.3 * jax.random.normal(k, w.shape) for w, k in zip(leaves, keys, strict=True)]
        return tree.unflatten([w + dw for w, dw in zip(leaves, noise, strict=True)])

    return model, noisy(jax.random.PRNGKey(5))


@pytest.mark.parametrize("frame", FRAMES)
def test_local_estimator_of_a_random_probability_model(frame, random_probability_model):
    # L_loc(a) = sum_a' L[a, a'] P(a') / P(a) through get_conn_padded equals (L P)(a) / P(a)
    # with the independent dense generator, on all 64 strings; and <L_loc>_P = sum_a (L P)(a) = 0.
    hamiltonian, jumps = _generic_open_chain()
    op = lb.povm_generator(3, hamiltonian, jumps, povm=frame)
    model, params = random_probability_model
    x = op.hilbert.all_states()

    @jax.jit
    def local_estimator(params, op, x):
        xp, mels = op.get_conn_padded(x)
        log_p = model.apply(params, xp.reshape(-1, x.shape[-1])).reshape(mels.shape)
        return jnp.sum(mels * jnp.exp(log_p - model.apply(params, x)[:, None]), axis=-1)

    l_loc = np.asarray(local_estimator(params, op, x))
    p = np.exp(np.asarray(model.apply(params, x)))
    dense = lb.superoperator_to_povm(lb.superoperator(3, hamiltonian, jumps), frame)
    np.testing.assert_allclose(l_loc, dense @ p / p, rtol=0, atol=1e-10)
    assert abs(np.sum(p * l_loc)) < 1e-12


def test_new_couplings_do_not_recompile():
    # The operator is a pytree: same sparsity pattern (g = 1 -> 2) reuses the compiled kernel.
    conn = jax.jit(lambda op, x: op.get_conn_padded(x))
    x = jnp.asarray(_ising(4).hilbert.all_states()[:8])
    for g in (1.0, 2.0):
        conn(_ising(4, g).generator, x)
    assert conn._cache_size() == 1


def _lindblad_rhs(hamiltonian, jumps, n):
    """Direct density-matrix right-hand side with full 2^N matrices (no superoperator)."""
    h = sum(lb.embed(m, s, n) for s, m in hamiltonian)
    ops = [(lb.embed(m, s, n), rate) for s, m, rate in jumps]
    dim = 2**n

    def rhs(_, y):
        rho = y.reshape(dim, dim)
        out = -1j * (h @ rho - rho @ h)
        for op, rate in ops:
            decay = op.conj().T @ op
            out += rate * (op @ rho @ op.conj().T - 0.5 * (decay @ rho + rho @ decay))
        return out.reshape(-1)

    return rhs


@pytest.mark.parametrize("frame", FRAMES)
def test_povm_dynamics_match_density_matrix_integration(frame):
    # exp(L t) P0 (expm_multiply on the POVM generator) vs an rtol=1e-12 ODE integration of
    # the master equation for rho, converted to P afterwards; generic 3-site model, random rho0.
    hamiltonian, jumps = _generic_open_chain()
    rng = np.random.default_rng(3)
    a = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    rho0 = a @ a.conj().T / np.trace(a @ a.conj().T)
    times = [0.3, 1.0]
    solution = scipy.integrate.solve_ivp(
        _lindblad_rhs(hamiltonian, jumps, 3),
        (0, times[-1]),
        rho0.reshape(-1).astype(complex),
        t_eval=times,
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
    )
    matrix = lb.generator_matrix(3, lb.generator_blocks(3, hamiltonian, jumps, frame), sparse=True)
    p = probabilities(rho0, frame)
    for k, t in enumerate(times):
        exact = probabilities(solution.y[:, k].reshape(8, 8), frame)
        evolved = scipy.sparse.linalg.expm_multiply(matrix * t, p)
        np.testing.assert_allclose(evolved, exact, atol=1e-8)


# references.md §9: N = 4, V = 2, gamma = 1, PBC; steady state from the null vector.
STEADY = {
    0.5: (0.23706759, 0.06619058, -0.96690471, 0.93727126, -0.00977812),
    1.0: (0.43978125, 0.18718612, -0.81281388, 0.70286856, -0.00166633),
    2.0: (0.24508459, 0.37826156, -0.24347688, 0.12093458, 0.11109321),
}
KEYS = ("sigma_x", "sigma_y", "sigma_z", "zz_nearest", "yy_nearest")


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("g", sorted(STEADY))
def test_ising_steady_state_matches_references(frame, g):
    system = hos.dissipative_ising_chain(4, g=g, povm=frame)
    p = system.exact_steady_state()
    assert abs(p.sum() - 1) < 1e-12
    observed = system.exact_observables(p)
    np.testing.assert_allclose([observed[k] for k in KEYS], STEADY[g], atol=1e-6)
    # Independent route: null vector of the density-matrix superoperator.
    np.testing.assert_allclose(system.exact_steady_state("superoperator"), p, atol=1e-10)


# references.md §9: dynamics from all up at g = 1 (sigma_x, sigma_y, sigma_z, zz_nearest).
DYNAMICS = np.array(
    [
        [0.25, 0.03245610, -0.17208647, 0.53495577, 0.28635928],
        [0.5, 0.05672191, -0.20973098, 0.15095419, 0.02522605],
        [1.0, 0.01917319, -0.05247978, -0.35763714, 0.13800650],
        [1.5, 0.04528800, 0.18714800, -0.57883742, 0.34292663],
        [2.0, 0.17153120, 0.32479674, -0.63682844, 0.41805333],
        [3.0, 0.34649763, 0.29418757, -0.66203862, 0.49350476],
    ]
)


def test_ising_dynamics_match_references():
    system = hos.dissipative_ising_chain(4, g=1.0)
    p = system.exact_evolution(DYNAMICS[:, 0])
    observed = system.exact_observables(p)
    table = np.stack([observed[k] for k in ("sigma_x", "sigma_y", "sigma_z", "zz_nearest")], 1)
    np.testing.assert_allclose(table, DYNAMICS[:, 1:], atol=1e-6)
    assert np.abs(p.sum(axis=1) - 1).max() < 1e-12


@pytest.mark.parametrize("g, gamma", [(1.0, 1.0), (0.7, 1.3)])
def test_single_spin_steady_state(g, gamma):
    # povm.md §10: <sy> = 2 g gamma / (gamma^2 + 2 g^2), <sz> = -gamma^2 / (gamma^2 + 2 g^2).
    system = hos.dissipative_ising_chain(1, g=g, gamma=gamma)
    observed = system.exact_observables(system.exact_steady_state())
    d = gamma**2 + 2 * g**2
    np.testing.assert_allclose(
        [observed["sigma_x"], observed["sigma_y"], observed["sigma_z"]],
        [0, 2 * g * gamma / d, -(gamma**2) / d],
        atol=1e-10,
    )


@pytest.mark.parametrize("frame", FRAMES)
def test_single_spin_dephasing_closed_form(frame):
    # povm.md §10: H = 3 sx, L = sz, rho0 = |+y>, w = sqrt(35):
    # <Y> = e^-t (cos wt - sin(wt)/w), <Z> = (6/w) e^-t sin wt, <X> = 0. Fixes the sign of -i[H, .].
    op = lb.povm_generator(1, [((0,), 3 * X)], [((0,), Z, 1.0)], povm=frame)
    frame_ = povm(frame)
    plus_y = np.array([1, 1j]) / np.sqrt(2)
    p = probabilities(np.outer(plus_y, plus_y.conj()), frame_)
    w, t = np.sqrt(35), np.array([0.1, 0.5, 1.3])
    dense = lb.generator_matrix(1, op.blocks)
    evolved = np.stack([scipy.linalg.expm(dense * s) @ p for s in t])
    expect = {a: evolved @ frame_.observable(PAULI[a]) for a in "xyz"}
    np.testing.assert_allclose(expect["x"], 0, atol=1e-10)
    np.testing.assert_allclose(
        expect["y"], np.exp(-t) * (np.cos(w * t) - np.sin(w * t) / w), atol=1e-10
    )
    np.testing.assert_allclose(expect["z"], 6 / w * np.exp(-t) * np.sin(w * t), atol=1e-10)


def test_xyz_square_lattice_assigns_single_site_terms_with_weight_half():
    # Every site is the first site of two bonds (right, down), so each bond block carries half
    # of its first site's dissipator (povm.md §3).
    system = hos.dissipative_xyz(3, povm="sic")
    blocks = system.generator.blocks
    assert len(blocks) == 18 and blocks[0].sites == (0, 1) and blocks[1].sites == (0, 3)
    coupling = 0.9 * np.kron(X, X) + 1.6 * np.kron(Y, Y) + np.kron(Z, Z)
    expected = lb.local_generator("sic", coupling, [(np.kron(SM, np.eye(2)), 0.5)])
    for block in blocks:
        np.testing.assert_allclose(block.matrix, expected, atol=1e-14)
    x = jnp.asarray(system.hilbert.random_state(jax.random.PRNGKey(0), 4))
    xp, mels = system.generator.get_conn_padded(x)
    assert xp.shape == (4, system.generator.max_conn_size, 9)
    assert np.abs(np.asarray(mels).sum()) < np.inf


def test_bad_input_is_refused_before_any_work():
    three = np.eye(8)
    with pytest.raises(NQSError, match="jump operators acting on more than 2 sites are not"):
        lb.povm_generator(3, [], [((0, 1, 2), three, 1.0)])
    with pytest.raises(NQSError, match="more than 2 sites"):
        lb.povm_generator(3, [((0, 1, 2), three)], [])
    with pytest.raises(NQSError, match="not Hermitian"):
        lb.povm_generator(2, [((0,), SM)], [])
    with pytest.raises(NQSError, match=">= 0"):
        lb.povm_generator(2, [], [((0,), SM, -1.0)])
    with pytest.raises(NQSError, match="4x4"):
        lb.povm_generator(2, [((0, 1), X)], [])
    with pytest.raises(NQSError, match="Fock"):
        lb.povm_generator(nk.hilbert.Spin(0.5, 2), [((0,), X)], [])
    with pytest.raises(NQSError, match="L >= 3"):
        hos.dissipative_xyz(2)
    with pytest.raises(NQSError, match="pbc=False"):
        hos.dissipative_ising_chain(2)
    with pytest.raises(NQSError, match="did you mean 'sic'"):
        hos.dissipative_ising_chain(3, povm="sci")
    with pytest.raises(NQSError, match="N <= 6"):
        hos.dissipative_xyz(3).exact_steady_state()
