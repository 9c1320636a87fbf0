"""POVM frames (povm.md §2), rho <-> P conversions, and exact product-state probability models.

Every frame identity is a closed form, so tolerances are 1e-12 (a few hundred ulps: the dual frame
goes through one 4x4 inversion with cond(T) <= 13.3)."""

import jax
import numpy as np
import pytest

import nqs.povm_model as pm
from hamiltonians.povm import PAULI, density_matrix, povm, probabilities, purity
from nqs.errors import NQSError

X, Y, Z, I2 = PAULI["x"], PAULI["y"], PAULI["z"], PAULI["i"]
UP, DOWN = np.diag([1.0, 0.0]), np.diag([0.0, 1.0])

# povm.md §2: overlap matrices, inverses, condition numbers and observable vectors.
T_PAULI4 = np.array([[2, 1, 1, 2], [1, 2, 1, 2], [1, 1, 2, 2], [2, 2, 2, 12]]) / 18
T_INV_PAULI4 = np.array([[14, -4, -4, -1], [-4, 14, -4, -1], [-4, -4, 14, -1], [-1, -1, -1, 2]])
T_SIC = (np.eye(4) * 2 + 1) / 12
T_INV_SIC = 6 * np.eye(4) - 1
r2, r6 = np.sqrt(2), np.sqrt(6)
VECTORS = {
    "pauli4": {"z": [5, -1, -1, -1], "x": [-1, 5, -1, -1], "y": [-1, -1, 5, -1], "i": [1, 1, 1, 1]},
    "sic": {
        "z": [3, -1, -1, -1],
        "x": [0, 2 * r2, -r2, -r2],
        "y": [0, 0, r6, -r6],
        "i": [1, 1, 1, 1],
    },
}
FRAMES = ["pauli4", "sic"]


def _random_rho(n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(2**n, 2**n)) + 1j * rng.normal(size=(2**n, 2**n))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


@pytest.mark.parametrize("name", FRAMES)
def test_frame_identities(name):
    frame = povm(name)
    np.testing.assert_allclose(frame.M.sum(axis=0), I2, atol=1e-12)  # sum_a M^a = 1
    assert min(np.linalg.eigvalsh(m).min() for m in frame.M) > -1e-14  # M^a >= 0
    np.testing.assert_allclose(np.trace(frame.Q, axis1=1, axis2=2), np.ones(4), atol=1e-12)
    np.testing.assert_allclose(frame.T @ frame.T_inv, np.eye(4), atol=1e-12)
    # Biorthogonality tr(M^a Q^b) = delta_ab is what makes rho = sum_a P(a) Q^a exact.
    np.testing.assert_allclose(np.einsum("arc,bcr->ab", frame.M, frame.Q), np.eye(4), atol=1e-12)
    t, t_inv, cond = {
        "pauli4": (T_PAULI4, T_INV_PAULI4, 13.29),
        "sic": (T_SIC, T_INV_SIC, 3.0),
    }[name]
    np.testing.assert_allclose(frame.T, t, atol=1e-12)
    np.testing.assert_allclose(frame.T_inv, t_inv, atol=1e-12)
    assert abs(np.linalg.cond(frame.T) - cond) < 5e-3  # povm.md quotes two decimals


def test_pauli4_outcome_order_and_duals():
    frame = povm("pauli4")
    plus, plus_i = np.array([1, 1]) / r2, np.array([1, 1j]) / r2
    np.testing.assert_allclose(frame.M[0], UP / 3, atol=1e-15)
    np.testing.assert_allclose(frame.M[1], np.outer(plus, plus.conj()) / 3, atol=1e-15)
    np.testing.assert_allclose(frame.M[2], np.outer(plus_i, plus_i.conj()) / 3, atol=1e-15)
    duals = [
        (I2 + 5 * Z - X - Y) / 2,
        (I2 - Z + 5 * X - Y) / 2,
        (I2 - Z - X + 5 * Y) / 2,
        (I2 - Z - X - Y) / 2,
    ]
    np.testing.assert_allclose(frame.Q, np.stack(duals), atol=1e-12)


def test_sic_outcome_order_and_duals():
    frame = povm("tetrahedral")
    assert frame.name == "sic"
    r23 = np.sqrt(2 / 3)
    s = np.array(
        [[0, 0, 1], [2 * r2 / 3, 0, -1 / 3], [-r2 / 3, r23, -1 / 3], [-r2 / 3, -r23, -1 / 3]]
    )
    sigma = np.stack([X, Y, Z])
    np.testing.assert_allclose(frame.M, (I2 + np.einsum("ak,kij->aij", s, sigma)) / 4, atol=1e-15)
    np.testing.assert_allclose(
        frame.Q, (I2 + 3 * np.einsum("ak,kij->aij", s, sigma)) / 2, atol=1e-12
    )


@pytest.mark.parametrize("name", FRAMES)
@pytest.mark.parametrize("op", ["z", "x", "y", "i"])
def test_observable_vectors(name, op):
    np.testing.assert_allclose(povm(name).observable(PAULI[op]), VECTORS[name][op], atol=1e-12)


@pytest.mark.parametrize("name", FRAMES)
def test_two_site_vectors_factorise(name):
    # (O1 (x) O2)(a1, a2) = O1(a1) O2(a2), povm.md §1.
    frame = povm(name)
    np.testing.assert_allclose(
        frame.observable(np.kron(X, Z)),
        np.outer(VECTORS[name]["x"], VECTORS[name]["z"]),
        atol=1e-12,
    )


@pytest.mark.parametrize("name", FRAMES)
def test_density_matrix_round_trip_and_expectations(name):
    # Random 3-qubit state: P is a distribution, rho = sum P Q^a is recovered, and
    # sum_a P(a) O(a) = tr(rho O) for a 2-site observable on non-adjacent sites.
    frame, rho = povm(name), _random_rho(3)
    p = probabilities(rho, frame)
    assert p.shape == (64,) and p.min() >= 0 and abs(p.sum() - 1) < 1e-12
    np.testing.assert_allclose(density_matrix(p, frame), rho, atol=1e-12)
    assert abs(purity(p, frame) - np.trace(rho @ rho).real) < 1e-12
    xz = np.kron(np.kron(X, I2), Z)  # sigma^x_0 sigma^z_2
    table = frame.observable(np.kron(X, Z))
    a = np.indices((4, 4, 4)).reshape(3, -1).T
    assert abs(p @ table[a[:, 0], a[:, 2]] - np.trace(rho @ xz).real) < 1e-12


def test_bad_names_and_shapes():
    with pytest.raises(NQSError, match="did you mean 'pauli4'"):
        povm("pauli3")
    with pytest.raises(NQSError, match="did you mean 'sic'"):
        povm("sicc")
    with pytest.raises(NQSError, match="2\\^k x 2\\^k"):
        povm("sic").observable(np.eye(3))
    with pytest.raises(NQSError, match="4\\^N"):
        density_matrix(np.ones(10) / 10, "sic")


# --- exact product states in the probability transformer (povm.md §9) ---


@pytest.mark.parametrize(
    "name, rho1, expected",
    [
        ("pauli4", UP, [1 / 3, 1 / 6, 1 / 6, 1 / 3]),  # <up|M^a|up>
        ("sic", UP, [1 / 2, 1 / 6, 1 / 6, 1 / 6]),  # (1 + s_a^z) / 4
        ("pauli4", DOWN, [0, 1 / 6, 1 / 6, 2 / 3]),  # M^0 = |up><up|/3: zero for all down
    ],
)
def test_product_state_probabilities(name, rho1, expected):
    np.testing.assert_allclose(
        pm.product_state_probabilities(povm(name), rho1), expected, atol=1e-15
    )


@pytest.mark.parametrize("name", FRAMES)
def test_product_state_parameters_are_exact(name):
    # Zero output kernel, bias log p1: P(a) = prod_i p1(a_i) on all 64 strings of N = 3, to
    # rounding (the softmax of log p1 returns p1 up to a few ulps).
    model = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)
    x = model.hilbert.all_states()
    params = model.init(jax.random.PRNGKey(0), x)
    p1 = pm.product_state_probabilities(povm(name), UP)
    product = pm.product_state_parameters(model, params, p1)
    exact = np.prod(p1[np.asarray(x)], axis=1)
    np.testing.assert_allclose(np.exp(model.apply(product, x)), exact, rtol=0, atol=1e-12)
    # The same on the bare parameter tree (MCState.parameters), other parameters untouched.
    inner = pm.product_state_parameters(model, params["params"], p1)
    np.testing.assert_allclose(np.exp(model.apply({"params": inner}, x)), exact, atol=1e-12)
    untouched = params["params"]["position_embedding"]
    np.testing.assert_array_equal(inner["position_embedding"], untouched)


def test_zero_probability_product_state_is_refused():
    model = pm.probability_transformer(3, n_layers=1, d_model=8, n_heads=2)
    params = model.init(jax.random.PRNGKey(0), model.hilbert.all_states()[:2])
    p1 = pm.product_state_probabilities(povm("pauli4"), DOWN)  # all down: P(a_i = 0) = 0
    with pytest.raises(NQSError, match=r"zero probability for outcome\(s\) \[0\].*all up"):
        pm.product_state_parameters(model, params, p1)
    with pytest.raises(NQSError, match="sum to 1"):
        pm.product_state_parameters(model, params, [0.5, 0.5, 0.5, 0.5])
    with pytest.raises(NQSError, match="machine_pow"):
        pm.probability_transformer(3, machine_pow=2)
