"""Product states written into the transformer's parameters: fidelity with the intended state
is 1 to 1e-12 by full enumeration, and the norm is exactly 1 (masked softmax)."""

import jax
import netket as nk
import numpy as np
import pytest

import hamiltonians
import nqs
from hamiltonians.exact_dynamics import state_vector
from nqs import initial_states
from nqs.errors import NQSError
from nqs.tabular_ar import TabularAR
from solvers.initial_state import initial_variables


def _model_and_variables(system, seed=0):
    model = nqs.ARTransformer(hilbert=system.hilbert, n_layers=1, d_model=8, n_heads=2)
    return model, model.init(jax.random.PRNGKey(seed), system.hilbert.all_states()[:2])


def _fidelity(psi, target):
    return abs(np.vdot(target, psi)) ** 2 / (np.vdot(psi, psi).real * np.vdot(target, target).real)


def test_x_polarised_is_the_uniform_product_state():
    # |+>^N has every amplitude 2^{-N/2} and zero phase: checked amplitude by amplitude.
    system = hamiltonians.tfim_chain(5)
    model, variables = _model_and_variables(system)
    psi = state_vector(model, initial_states.x_polarised(model, variables), system.hilbert)
    np.testing.assert_allclose(psi, 2 ** (-5 / 2), rtol=1e-12, atol=0)
    assert _fidelity(psi, np.ones(32)) == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("amplitudes", ["polar", "cartesian"])
def test_x_polarised_amplitude_table(amplitudes):
    # Polar: every logit and phase zero; Cartesian: real parts 1, imaginary parts 0. Both give
    # uniform conditionals with zero phase.
    system = hamiltonians.tfim_chain(4)
    model = TabularAR(hilbert=system.hilbert, machine_pow=2, amplitudes=amplitudes)
    variables = model.init(jax.random.PRNGKey(0), system.hilbert.all_states()[:2])
    random = jax.tree.map(lambda a: jax.random.normal(jax.random.PRNGKey(1), a.shape), variables)
    psi = state_vector(model, random, system.hilbert)
    assert np.vdot(psi, psi).real == pytest.approx(1, abs=1e-12)  # normalised with any entries
    assert np.ptp(np.angle(psi)) > 0.1  # and the phase table is used
    psi = state_vector(model, initial_states.x_polarised(model, random), system.hilbert)
    np.testing.assert_allclose(psi, 0.25, rtol=1e-12, atol=0)
    with pytest.raises(NQSError, match="machine_pow=2"):
        probabilities = TabularAR(hilbert=system.hilbert)
        initial_states.x_polarised(probabilities, probabilities.init(
            jax.random.PRNGKey(0), system.hilbert.all_states()[:2]))
    with pytest.raises(NQSError, match="machine_pow = 1"):
        TabularAR(hilbert=system.hilbert, machine_pow=3)
    with pytest.raises(NQSError, match="machine_pow=2, amplitudes='cartesian'"):
        TabularAR(hilbert=system.hilbert, amplitudes="cartesian")
    with pytest.raises(NQSError, match="did you mean 'polar'"):
        TabularAR(hilbert=system.hilbert, machine_pow=2, amplitudes="polr")


@pytest.mark.parametrize(
    "builder, value", [(initial_states.all_up, 1), (initial_states.all_down, -1)]
)
def test_basis_states_have_unit_fidelity_and_norm(builder, value):
    # Fidelity >= 1 - N (d-1) e^{-40} = 1 - 2e-17: exactly 1 in double precision.
    system = hamiltonians.tfim_chain(6)
    model, variables = _model_and_variables(system, seed=1)
    psi = state_vector(model, builder(model, variables), system.hilbert)
    target = np.all(np.asarray(system.hilbert.all_states()) == value, axis=1).astype(float)
    assert _fidelity(psi, target) == pytest.approx(1, abs=1e-12)
    assert np.vdot(psi, psi).real == pytest.approx(1, abs=1e-12)
    # Evolvable: the other amplitudes are tiny but not zero (DESIGN.md §3).
    assert 0 < np.abs(psi[target == 0]).max() < 1e-8


def test_bare_vacuum_of_the_quantum_link_model():
    # models.md §8: no charges, every E = -1/2; nu = 0 and <H> = -mN/2 = 0 (m = 0).
    ql = pytest.importorskip("hamiltonians.quantum_link")
    system = ql.quantum_link_model(8)  # 47 gauge-invariant states
    model, variables = _model_and_variables(system, seed=2)
    psi = state_vector(model, initial_variables(system, model, variables, "bare_vacuum"),
                       system.hilbert)
    states = np.asarray(system.hilbert.all_states())
    target = np.all(states == np.asarray(ql.bare_vacuum(system)), axis=1).astype(float)
    assert _fidelity(psi, target) == pytest.approx(1, abs=1e-12)
    assert np.vdot(psi, psi).real == pytest.approx(1, abs=1e-12)
    nu = system.observables["pair_density"].to_sparse()
    assert np.vdot(psi, nu @ psi).real == pytest.approx(0, abs=1e-12)


def test_product_states_are_refused_where_they_do_not_exist():
    sector = hamiltonians.heisenberg_chain(4)  # S^z = 0
    model, variables = _model_and_variables(sector)
    with pytest.raises(NQSError, match="outside the sector"):
        initial_states.x_polarised(model, variables)
    with pytest.raises(NQSError, match="not in the sector"):
        initial_states.all_up(model, variables)
    free = hamiltonians.tfim_chain(4)
    model, variables = _model_and_variables(free)
    with pytest.raises(NQSError, match="not a local state"):
        initial_states.basis_state(model, variables, 0)
    arnn = nk.models.ARNNDense(hilbert=free.hilbert, layers=1, features=2)
    with pytest.raises(NQSError, match="ARTransformer"):
        initial_states.x_polarised(arnn, arnn.init(jax.random.PRNGKey(0), np.ones((1, 4))))
    with pytest.raises(NQSError, match="quantum link"):
        initial_variables(free, model, variables, "bare_vacuum")
