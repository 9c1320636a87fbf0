"""Exact references for dynamics: expm_multiply in the sector against dense exponentials, the
published quantum-link quench table, and the exact Crank–Nicolson map (unitary, second order)."""

import numpy as np
import pytest
import scipy.linalg

import hamiltonians
import nqs
from hamiltonians.exact_dynamics import crank_nicolson_evolution, exact_evolution, state_vector
from nqs.errors import NQSError


@pytest.fixture(scope="module")
def tfim4():
    return hamiltonians.tfim_chain(4, h=0.7)


def _random_vector(n, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=n) + 1j * rng.normal(size=n)
    return v / np.linalg.norm(v)


def test_matches_the_dense_matrix_exponential(tfim4):
    # 16 states: e^{-iHt} from scipy.linalg.expm is exact to rounding.
    psi0 = _random_vector(16)
    times = [0.0, 0.3, 1.1]
    ref = exact_evolution(tfim4, psi0, times, keep_states=True)
    h = tfim4.hamiltonian.to_dense()
    mx = tfim4.observables["magnetization_x"].to_dense()
    for k, t in enumerate(times):
        psi = scipy.linalg.expm(-1j * t * h) @ psi0
        assert abs(np.vdot(psi, ref["states"][k])) == pytest.approx(1, abs=1e-12)
        assert ref["magnetization_x"][k] == pytest.approx(np.vdot(psi, mx @ psi).real, abs=1e-12)
    # The flow conserves the energy; the Loschmidt echo starts at 1.
    np.testing.assert_allclose(ref["energy"], ref["energy"][0], atol=1e-12)
    assert ref["loschmidt_echo"][0] == pytest.approx(1, abs=1e-14)


def test_quantum_link_bare_vacuum_quench_matches_the_published_table():
    # references.md §6: N = 12, w = 1, m = 0, bare vacuum; nu(t) given to 6 decimals, so the
    # tolerance is the rounding of the table (5e-7) plus the expm_multiply accuracy (<< 1e-9).
    ql = pytest.importorskip("hamiltonians.quantum_link")
    system = ql.quantum_link_model(12)
    states = np.asarray(system.hilbert.all_states())
    vacuum = np.all(states == np.asarray(ql.bare_vacuum(system)), axis=1)
    assert vacuum.sum() == 1
    ref = exact_evolution(system, vacuum.astype(complex), [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(
        ref["pair_density"], [0.0, 0.227746, 0.623394, 0.577906, 0.172846], atol=6e-7
    )
    np.testing.assert_allclose(ref["energy"], 0.0, atol=1e-12)  # <H> = -mN/2 = 0, conserved


def test_crank_nicolson_is_unitary_and_second_order(tfim4):
    # U_CN is the (1,1) Pade approximant of e^{-i tau H}: norm and <H> exactly conserved, and
    # the error of an observable at fixed t is c tau^2 (1 + O((||H|| tau)^2)). With
    # ||H|| tau <= 6 * 0.05 the correction to the log-log slope is below 0.05.
    psi0 = _random_vector(16, seed=1)
    t_final, errors = 1.0, []
    exact = exact_evolution(tfim4, psi0, [t_final])["magnetization_x"][0]
    for dt in (0.05, 0.025, 0.0125):
        cn = crank_nicolson_evolution(tfim4, psi0, dt, round(t_final / dt), keep_states=True)
        np.testing.assert_allclose(np.linalg.norm(cn["states"], axis=1), 1, atol=1e-12)
        np.testing.assert_allclose(cn["energy"], cn["energy"][0], atol=1e-12)
        errors.append(abs(cn["magnetization_x"][-1] - exact))
    slope = np.polyfit(np.log([0.05, 0.025, 0.0125]), np.log(errors), 1)[0]
    assert slope == pytest.approx(2, abs=0.05)


def test_energy_shift_changes_only_the_integrator_error(tfim4):
    # A shift is a global phase for the exact flow; for Crank–Nicolson it moves the phase error
    # ((E - E_s) tau)^3 / 12, and still conserves the norm and the energy.
    psi0 = _random_vector(16, seed=2)
    e0 = exact_evolution(tfim4, psi0, [0.0])["energy"][0]
    exact = exact_evolution(tfim4, psi0, [2.0])["magnetization_x"][0]
    plain = crank_nicolson_evolution(tfim4, psi0, 0.1, 20)
    shifted = crank_nicolson_evolution(tfim4, psi0, 0.1, 20, energy_shift=e0)
    np.testing.assert_allclose(shifted["energy"], e0, atol=1e-12)
    assert shifted["magnetization_x"][-1] != pytest.approx(plain["magnetization_x"][-1], abs=1e-9)
    assert abs(shifted["magnetization_x"][-1] - exact) < 0.05


def test_state_vector_of_an_autoregressive_model_is_normalised_on_the_sector():
    import jax

    system = hamiltonians.heisenberg_chain(6)  # S^z = 0: 20 states
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    variables = model.init(jax.random.PRNGKey(3), system.hilbert.all_states())
    psi = state_vector(model, variables, system.hilbert)
    assert psi.shape == (20,)
    assert np.linalg.norm(psi) == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize(
    "psi0, times, match",
    [(np.ones(15), [0.0], "shape"), (np.ones(16), [0.5, 0.1], "non-decreasing")],
)
def test_bad_input_is_refused(tfim4, psi0, times, match):
    with pytest.raises(NQSError, match=match):
        exact_evolution(tfim4, psi0, times)
