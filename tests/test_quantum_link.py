"""1D U(1) quantum link model: Gauss-law sector, fermionic definition, exact references, bare
vacuum (models.md §8, constraints.md §5, references.md §6)."""

import jax
import netket as nk
import numpy as np
import pytest
import scipy.sparse as sp

import nqs
from hamiltonians import System
from hamiltonians.quantum_link import (
    QuantumLinkHamiltonian,
    bare_vacuum,
    bare_vacuum_parameters,
    gauss_law_automaton,
    quantum_link_model,
)
from nqs.constraints.check import enumerate_sector
from nqs.errors import ConstraintMismatchError, NQSError


@pytest.fixture(scope="module")
def qlm12():
    return quantum_link_model(12)


@pytest.fixture(scope="module")
def model12(qlm12):
    """A small transformer on the N = 12 sector and its jitted log-amplitude (compiled once)."""
    model = nqs.ARTransformer(hilbert=qlm12.hilbert, n_layers=1, d_model=8, n_heads=2)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), bare_vacuum(qlm12)[None])
    return model, jax.jit(model.apply), params


def dense(operator):
    # scipy path: NetKet's to_dense() for JAX operators compiles many small BCOO kernels.
    return operator.to_sparse().toarray()


def lucas(n):
    return int(np.trace(np.linalg.matrix_power(np.array([[0, 1], [1, 1]], dtype=object), n)))


@pytest.mark.parametrize("n, expected", [(8, 47), (12, 322), (16, 2207)])
def test_gauss_law_sector_is_lucas_and_has_no_dead_ends(n, expected):
    # constraints.md §5: Lucas numbers, zero dead ends with the look-ahead mask (enumerated).
    automaton = gauss_law_automaton(n)
    configs, dead_ends = enumerate_sector(automaton)
    assert dead_ends == 0
    assert len(configs) == automaton.sector_size() == expected == lucas(n)
    # Independent check: the matter n_j = e_j - e_{j-1} + j mod 2 fixed by Gauss's law is 0 or 1.
    e = (np.asarray(automaton.local_states)[configs] + 1) // 2
    matter = e - np.roll(e, 1, axis=1) + np.arange(n) % 2
    assert ((matter == 0) | (matter == 1)).all()


def test_ground_state_energy_n12(qlm12):
    # references.md §6: ED in the gauge-invariant sector, w = 1, m = 0.
    assert qlm12.hilbert.n_states == 322
    assert qlm12.exact_energy() == pytest.approx(-7.2429405547, abs=1e-8)


def _fermionic_qlm(n, m, w=1.0):
    """H on matter (Jordan–Wigner fermions) + links, projected on Gauss's law; models.md §8.

    Qubit q < n is matter site q (1 = occupied); qubit n + j is link (j, j+1) (1 = E = +1/2).
    """
    eye, z = sp.identity(2, format="csr"), sp.diags([1.0, -1.0])
    raise_ = sp.csr_matrix([[0.0, 0.0], [1.0, 0.0]])  # |1><0|: c^dagger on a site, S^+ on a link
    number = sp.diags([0.0, 1.0])

    def op(factors):
        out = sp.identity(1, format="csr")
        for q in range(2 * n):
            out = sp.kron(out, factors.get(q, eye), format="csr")
        return out

    def c_dag(j):  # Jordan–Wigner string over the matter sites before j
        return op({**{q: z for q in range(j)}, j: raise_})

    h = sp.csr_matrix((4**n, 4**n))
    for j in range(n):
        nxt = (j + 1) % n
        hop = c_dag(j) @ op({n + j: raise_}) @ c_dag(nxt).T  # psi_j^dag U_{j,j+1} psi_{j+1}
        h = h - w * (hop + hop.T) + m * (-1) ** j * op({j: number})
    bits = (np.arange(4**n)[:, None] >> (2 * n - 1 - np.arange(2 * n))) & 1
    occupation, field = bits[:, :n], bits[:, n:] - 0.5
    gauss = field - np.roll(field, 1, axis=1) - (occupation - np.arange(n) % 2)
    sector = np.flatnonzero((gauss == 0).all(axis=1))
    return h[sector][:, sector].toarray()


@pytest.mark.parametrize("n", [4, 6])
def test_link_model_equals_the_fermionic_definition(n):
    # Same spectrum in the gauge sector for both signs of m. n = 4 has the boundary
    # Jordan-Wigner sign (-1)^(n/2-1) = -1 that the link model gauges away, n = 6 has +1.
    system = quantum_link_model(n)
    for m in (0.0, 0.7, -0.4):
        fermions = np.linalg.eigvalsh(_fermionic_qlm(n, m))
        links = dense(QuantumLinkHamiltonian(system.hilbert, 1.0, m))
        assert len(fermions) == lucas(n)
        np.testing.assert_allclose(np.linalg.eigvalsh(links), fermions, atol=1e-12)


def test_bare_vacuum_observables_and_quench(qlm12):
    # models.md §8: nu(0) = 0, E(0) = -1/2, <H> = 0 at m = 0; references.md §6 gives nu(t).
    vac = bare_vacuum(qlm12)
    assert bool(qlm12.hilbert.constraint(vac[None])[0])
    psi0 = np.zeros(qlm12.hilbert.n_states)
    psi0[int(qlm12.hilbert.states_to_numbers(vac))] = 1.0
    h = dense(qlm12.hamiltonian)
    nu = np.diag(dense(qlm12.observables["pair_density"]))
    field = np.diag(dense(qlm12.observables["electric_field"]))
    assert (psi0 @ nu, psi0 @ field, psi0 @ h @ psi0) == (0.0, -0.5, 0.0)
    w, v = np.linalg.eigh(h)
    for t, expected in [(0.5, 0.227746), (1.0, 0.623394), (2.0, 0.172846)]:
        psi = v @ (np.exp(-1j * w * t) * (v.T @ psi0))
        assert np.sum(np.abs(psi) ** 2 * nu) == pytest.approx(expected, abs=1e-6)  # 6 digits


def test_bare_vacuum_parameters_give_the_vacuum_to_double_precision(qlm12, model12):
    model, log_psi, params = model12
    vac = bare_vacuum(qlm12)
    params = bare_vacuum_parameters(model, params)
    x = qlm12.hilbert.all_states()
    psi = np.exp(np.asarray(log_psi(params, x)))
    i0 = int(qlm12.hilbert.states_to_numbers(vac))
    assert psi[i0] == 1.0  # exactly: log-softmax of the favoured value rounds to 0
    assert np.abs(np.delete(psi, i0)).max() <= np.exp(-40) * (1 + 1e-12)  # gap 80 -> e^-40
    for m in (0.0, 0.7):
        h = dense(QuantumLinkHamiltonian(qlm12.hilbert, 1.0, m))
        energy = np.vdot(psi, h @ psi).real
        # <H> + mN/2 = -w N e^-40 = -5.1e-17: the vacuum's energy to double precision.
        assert abs(energy + m * 6) < 1e-15


def test_random_transformer_is_normalised_on_the_sector(qlm12, model12):
    _, log_psi, params = model12
    x = qlm12.hilbert.all_states()
    rng = np.random.default_rng(4)  # numpy noise: no compilation per parameter shape
    params = jax.tree.map(lambda p: np.asarray(p) + 0.5 * rng.normal(size=p.shape), params)
    norm = np.sum(np.exp(2 * np.asarray(log_psi(params, x)).real))
    assert abs(norm - 1) < 1e-10  # masked softmax: 1 to rounding over the 322 states


def test_an_operator_that_breaks_gauss_law_is_refused(qlm12):
    # sigma^x flips link 0 even where Gauss's law forbids it (no P X P projector).
    single_flip = nk.operator.spin.sigmax(qlm12.hilbert, 0)
    with pytest.raises(ConstraintMismatchError, match="outside the sector"):
        System("broken", qlm12.hilbert, single_flip, qlm12.constraint)


@pytest.mark.parametrize("n", [5, 2])
def test_odd_or_tiny_rings_are_refused(n):
    with pytest.raises(NQSError, match="even number"):
        quantum_link_model(n)


def test_hamiltonian_is_a_jittable_pytree(qlm12):
    # Changing m is a new leaf value, not a new operator structure: one compilation.
    @jax.jit
    def diagonal(op, x):
        return op.get_conn_padded(x)[1][..., 0]

    x = qlm12.hilbert.all_states()[:4]
    for m in (0.0, 1.0):
        d = diagonal(QuantumLinkHamiltonian(qlm12.hilbert, 1.0, m), x)
        np.testing.assert_allclose(d, m * np.asarray(_staggered_matter(x)), atol=1e-12)
    assert diagonal._cache_size() == 1


def _staggered_matter(x):
    e = (np.asarray(x) + 1) / 2
    n = e - np.roll(e, 1, axis=-1) + np.arange(x.shape[-1]) % 2
    return (n * (-1.0) ** np.arange(x.shape[-1])).sum(-1)
